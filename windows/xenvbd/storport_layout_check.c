/* Compiled for both architectures, never linked: mingw-w64's srb.h, an
 * independent declaration of the same ABI, must agree with the layout
 * numbers storport_decls.h is asserted against (storport_layout.h). */
#include <ntddk.h>
#include <srb.h>

#include "storport_layout.h"

STOR_LAYOUT_CHECK_SRB;
STOR_LAYOUT_CHECK_PCI;
STOR_LAYOUT_CHECK_HID;
/* srb.h's (SCSI port) HW_INITIALIZATION_DATA ends at HwAdapterControl;
 * StorPort's Vista layout adds HwBuildIo, one pointer more. */
_Static_assert(sizeof(HW_INITIALIZATION_DATA) + sizeof(void *) == LAYOUT_HID_SIZE_VISTA, "srb.h: size");
/* StorPort's STOR_SCATTER_GATHER_LIST is the HAL's SCATTER_GATHER_LIST
 * (wdm.h) under another name; mingw-w64's storport.h cannot be included
 * beside srb.h, so the HAL's is compared. */
STOR_LAYOUT_CHECK_SG(SCATTER_GATHER_ELEMENT, SCATTER_GATHER_LIST, Elements);
