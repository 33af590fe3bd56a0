/*
 * Common include of the Windows kernel shells (xenpci, xenvbd, xennet):
 * mingw-w64's DDK, the core's platform interface and the driver's build
 * flavour.  GPLPV_CHECKED (the "chk" build) logs at debug level and mirrors
 * the log to QEMU's debug port; the "fre" build logs warnings and errors.
 */
#ifndef GPLPV_WIN_H
#define GPLPV_WIN_H

#include <ntddk.h>

#include "gplpv/platform.h"

/* "Gplv" as pool tools show it */
#define GPLPV_POOL_TAG ((ULONG)'G' | ((ULONG)'p' << 8) | ((ULONG)'l' << 16) | ((ULONG)'v' << 24))

#ifdef GPLPV_CHECKED
#define GPLPV_FLAVOUR "chk"
#else
#define GPLPV_FLAVOUR "fre"
#endif

#ifndef GPLPV_VERSION
#define GPLPV_VERSION "0.0.0"
#endif

/* Non-executable memory (windows/platform/win_nx.c), for memory integrity
 * (HVCI): each driver's DriverEntry calls win_nx_init() first, which picks
 * NonPagedPoolNx (512) for win_nonpaged_pool and MdlMappingNoExecute for
 * win_mdl_nx where Windows has them (8 and later, asked with
 * RtlIsNtDdiVersionAvailable); on Vista and 7 they stay NonPagedPool and
 * 0.  Every non-paged allocation takes win_nonpaged_pool. */
extern POOL_TYPE win_nonpaged_pool;
extern ULONG win_mdl_nx;
void win_nx_init(void);

#endif
