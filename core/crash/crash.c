/* crash: the bug-check report (see crash.h). */
#include "gplpv/crash.h"
#include "gplpv/hypercall.h"
#include "gplpv/log.h"

void crash_report(const struct gp_platform *p, uint32_t code, const uint64_t params[4],
                  const char *reason)
{
    char line[256];
    int n = gp_snprintf(line, sizeof(line),
                        "gplpv: BUGCHECK 0x%08x (0x%llx, 0x%llx, 0x%llx, 0x%llx) %s\n", code,
                        (unsigned long long)params[0], (unsigned long long)params[1],
                        (unsigned long long)params[2], (unsigned long long)params[3],
                        reason ? reason : "");
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    if (p->arch && p->arch->io_out)
        for (int i = 0; i < n; i++)
            gp_arch_io_out(p, 0xe9, 1, (uint8_t)line[i]);
    gp_console_io(p, CONSOLEIO_write, (unsigned)n, line);
}
