/* hvmkernel's implementation of the core's platform interface. */
#ifndef HVMK_PLATFORM_H
#define HVMK_PLATFORM_H

#include "gplpv/platform.h"
#include "hvmk.h"

/* Fill p with the OS services and arch ops (the Xen services come from
 * the core's HVM bring-up: hvm_platform_xen). */
void hvmk_platform_init(struct gp_platform *p);
/* Run the deferred work queued so far. */
void hvmk_platform_poll(void);

#endif
