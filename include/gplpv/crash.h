/*
 * crash: report a bug check to dom0's logs, the way the Windows bus driver
 * does from its bug-check callback: one line on the QEMU/Xen debug port
 * 0xe9 and on the Xen console (console_io).  No allocation, no lock.
 */
#ifndef GPLPV_CRASH_H
#define GPLPV_CRASH_H

#include "gplpv/platform.h"

void crash_report(const struct gp_platform *p, uint32_t code, const uint64_t params[4],
                  const char *reason);

#endif
