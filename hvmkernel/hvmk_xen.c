/* hvmkernel: the steps that need Xen. */
#include "hvmk.h"
#include "hvmk_steps.h"

#include <string.h>

void hvmk_run_xen_steps(const char *cmdline)
{
    bool expect_noxen = strstr(cmdline, "expect=noxen") != NULL;
    uint32_t r[4];
    char sig[13] = { 0 };
    bool found = false;
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        hvmk_cpuid(base, 0, r);
        memcpy(sig, &r[1], 4);
        memcpy(sig + 4, &r[2], 4);
        memcpy(sig + 8, &r[3], 4);
        if (strcmp(sig, "XenVMMXenVMM") == 0) {
            found = true;
            break;
        }
    }
    if (expect_noxen) {
        hvmk_step_result("xen-absent-reported", !found, "found Xen where none was expected");
        return;
    }
    hvmk_step_result("xen-detect", found, "no Xen CPUID signature (not running on Xen)");
}
