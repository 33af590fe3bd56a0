/* Non-executable memory where Windows has it (see win_platform.h).
 * Memory integrity (HVCI) runs no code outside signed images: executable
 * pool is refused by its rules and Driver Verifier flags it.  Windows 8
 * added NonPagedPoolNx and MdlMappingNoExecute; Vista and 7 know neither
 * (an unknown pool type there is a bad pool call), so the choice is made
 * at run time, once, as Microsoft's POOL_NX_OPTIN does (its
 * ExInitializeDriverRuntime asks RtlIsNtDdiVersionAvailable(NTDDI_WIN8),
 * which ntoskrnl exports from Vista on). */
#include "win_platform.h"

/* mingw-w64's wdm.h sends RtlIsNtDdiVersionAvailable to a static
 * library's copy (Rtlver.lib): call ntoskrnl's own export. */
#undef RtlIsNtDdiVersionAvailable
NTSYSAPI BOOLEAN NTAPI RtlIsNtDdiVersionAvailable(ULONG Version);

#ifndef NTDDI_WIN8
#define NTDDI_WIN8 0x06020000
#endif
#define WIN_MDL_MAPPING_NO_EXECUTE 0x40000000u   /* MdlMappingNoExecute */

POOL_TYPE win_nonpaged_pool = NonPagedPool;
ULONG win_mdl_nx;

void win_nx_init(void)
{
    if (RtlIsNtDdiVersionAvailable(NTDDI_WIN8)) {
        win_nonpaged_pool = NonPagedPoolNx;
        win_mdl_nx = WIN_MDL_MAPPING_NO_EXECUTE;
    }
}
