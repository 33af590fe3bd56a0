/* Compiled for both architectures, never linked: mingw-w64's srb.h, an
 * independent declaration of the same ABI, must agree with the layout
 * numbers storport_decls.h is asserted against (storport_layout.h). */
#include <ntddk.h>
#include <srb.h>

#include "storport_layout.h"

_Static_assert(sizeof(SCSI_REQUEST_BLOCK) == LAYOUT_SRB_SIZE, "srb.h: SRB size");
_Static_assert(offsetof(SCSI_REQUEST_BLOCK, SrbFlags) == LAYOUT_SRB_SRBFLAGS, "srb.h: SrbFlags");
_Static_assert(offsetof(SCSI_REQUEST_BLOCK, DataTransferLength) == LAYOUT_SRB_DATATRANSFERLENGTH,
               "srb.h: DataTransferLength");
_Static_assert(offsetof(SCSI_REQUEST_BLOCK, DataBuffer) == LAYOUT_SRB_DATABUFFER, "srb.h: DataBuffer");
_Static_assert(offsetof(SCSI_REQUEST_BLOCK, SrbExtension) == LAYOUT_SRB_SRBEXTENSION,
               "srb.h: SrbExtension");
_Static_assert(offsetof(SCSI_REQUEST_BLOCK, Cdb) == LAYOUT_SRB_CDB, "srb.h: Cdb");
_Static_assert(offsetof(PORT_CONFIGURATION_INFORMATION, MaximumTransferLength) ==
               LAYOUT_PCI_MAXIMUMTRANSFERLENGTH, "srb.h: MaximumTransferLength");
_Static_assert(offsetof(PORT_CONFIGURATION_INFORMATION, AccessRanges) == LAYOUT_PCI_ACCESSRANGES,
               "srb.h: AccessRanges");
_Static_assert(offsetof(PORT_CONFIGURATION_INFORMATION, MapBuffers) == LAYOUT_PCI_MAPBUFFERS,
               "srb.h: MapBuffers");
_Static_assert(offsetof(PORT_CONFIGURATION_INFORMATION, SrbExtensionSize) == LAYOUT_PCI_SRBEXTENSIONSIZE,
               "srb.h: SrbExtensionSize");
_Static_assert(offsetof(PORT_CONFIGURATION_INFORMATION, WmiDataProvider) == LAYOUT_PCI_WMIDATAPROVIDER,
               "srb.h: WmiDataProvider");
_Static_assert(offsetof(HW_INITIALIZATION_DATA, HwFindAdapter) == LAYOUT_HID_HWFINDADAPTER,
               "srb.h: HwFindAdapter");
_Static_assert(offsetof(HW_INITIALIZATION_DATA, MapBuffers) == LAYOUT_HID_MAPBUFFERS, "srb.h: MapBuffers");
_Static_assert(offsetof(HW_INITIALIZATION_DATA, HwAdapterControl) == LAYOUT_HID_HWADAPTERCONTROL,
               "srb.h: HwAdapterControl");
/* srb.h's (SCSI port) HW_INITIALIZATION_DATA ends at HwAdapterControl;
 * StorPort's Vista layout adds HwBuildIo, one pointer more. */
_Static_assert(sizeof(HW_INITIALIZATION_DATA) + sizeof(void *) == LAYOUT_HID_SIZE_VISTA, "srb.h: size");
/* StorPort's STOR_SCATTER_GATHER_LIST is the HAL's SCATTER_GATHER_LIST
 * (wdm.h) under another name; mingw-w64's storport.h cannot be included
 * beside srb.h, so the HAL's is compared. */
_Static_assert(sizeof(SCATTER_GATHER_ELEMENT) == LAYOUT_SGE_SIZE, "wdm.h: SG element size");
_Static_assert(offsetof(SCATTER_GATHER_ELEMENT, Length) == LAYOUT_SGE_LENGTH, "wdm.h: SG Length");
_Static_assert(offsetof(SCATTER_GATHER_LIST, Elements) == LAYOUT_SGL_LIST, "wdm.h: SG list");
