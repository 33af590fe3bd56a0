/*
 * crash: report a bug check to dom0's logs, the way the Windows bus driver
 * does from its bug-check callback: one line on the debug port 0xe9 (Xen
 * prints an HVM guest's port-0xe9 output on its console as "(dN) ...") and
 * through console_io (which release builds of Xen refuse to domUs; debug
 * builds print it).  No allocation, no lock.
 */
#ifndef GPLPV_CRASH_H
#define GPLPV_CRASH_H

#include "gplpv/platform.h"

void crash_report(const struct gp_platform *p, uint32_t code, const uint64_t params[4],
                  const char *reason);

#endif
