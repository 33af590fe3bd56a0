/*
 * Offsets and sizes of the StorPort/SRB structures as Windows lays them
 * out, worked out from the documented field order and types (x64, x86).
 * storport_decls.h asserts its declarations against them, and
 * windows/xenvbd/storport_layout_check.c asserts mingw-w64's independent
 * srb.h against the same numbers, for the part both declare.
 */
#ifndef GPLPV_STORPORT_LAYOUT_H
#define GPLPV_STORPORT_LAYOUT_H

#ifdef _WIN64
#define STOR_LAYOUT(x64, x86) (x64)
#else
#define STOR_LAYOUT(x64, x86) (x86)
#endif

#define LAYOUT_SRB_SIZE               STOR_LAYOUT(88, 64)
#define LAYOUT_SRB_SRBFLAGS           STOR_LAYOUT(12, 12)
#define LAYOUT_SRB_DATATRANSFERLENGTH STOR_LAYOUT(16, 16)
#define LAYOUT_SRB_DATABUFFER         STOR_LAYOUT(24, 24)
#define LAYOUT_SRB_SRBEXTENSION       STOR_LAYOUT(56, 40)
#define LAYOUT_SRB_CDB                STOR_LAYOUT(72, 48)

#define LAYOUT_PCI_MAXIMUMTRANSFERLENGTH STOR_LAYOUT(24, 24)
#define LAYOUT_PCI_ACCESSRANGES          STOR_LAYOUT(56, 56)
#define LAYOUT_PCI_MAPBUFFERS            STOR_LAYOUT(89, 81)
#define LAYOUT_PCI_SRBEXTENSIONSIZE      STOR_LAYOUT(140, 132)
#define LAYOUT_PCI_WMIDATAPROVIDER       STOR_LAYOUT(147, 139)
#define LAYOUT_PCI_SYNCHRONIZATIONMODEL  STOR_LAYOUT(148, 140)
#define LAYOUT_PCI_HWMSINTERRUPTROUTINE  STOR_LAYOUT(152, 144)

#define LAYOUT_HID_HWFINDADAPTER    STOR_LAYOUT(32, 20)
#define LAYOUT_HID_MAPBUFFERS       STOR_LAYOUT(88, 56)
#define LAYOUT_HID_HWADAPTERCONTROL STOR_LAYOUT(120, 76)
#define LAYOUT_HID_SIZE_VISTA       STOR_LAYOUT(136, 84)   /* up to HwBuildIo (Vista, 7) */
/* Windows 8's layout adds six routine pointers after HwBuildIo, then
 * FeatureSupport, SrbTypeFlags, AddressTypeFlags, Reserved1 (ULONGs) and
 * HwUnitControl (Microsoft's HW_INITIALIZATION_DATA (storport.h) page). */
#define LAYOUT_HID_FEATURESUPPORT   STOR_LAYOUT(184, 108)
#define LAYOUT_HID_SIZE             STOR_LAYOUT(208, 128)

/* STOR_SCATTER_GATHER_ELEMENT: PHYSICAL_ADDRESS, ULONG, ULONG_PTR (aligned);
 * STOR_SCATTER_GATHER_LIST: ULONG, ULONG_PTR, then the elements. */
#define LAYOUT_SGE_SIZE   STOR_LAYOUT(24, 16)
#define LAYOUT_SGE_LENGTH STOR_LAYOUT(8, 8)
#define LAYOUT_SGL_LIST   STOR_LAYOUT(16, 8)

/* MINIPORT_DUMP_POINTERS: two USHORTs, WCHAR[15] (ends at 34), then the
 * pointers aligned to their size. */
#define LAYOUT_MDP_ADAPTEROBJECT           STOR_LAYOUT(40, 36)
#define LAYOUT_MDP_MINIPORTPRIVATEDUMPDATA STOR_LAYOUT(64, 48)
#define LAYOUT_MDP_MAXIMUMTRANSFERLENGTH   STOR_LAYOUT(80, 60)
#define LAYOUT_MDP_ACCESSRANGES            STOR_LAYOUT(96, 76)
#define LAYOUT_MDP_MAXIMUMNUMBEROFTARGETS  STOR_LAYOUT(107, 83)
#define LAYOUT_MDP_SIZE                    STOR_LAYOUT(112, 84)


/* The checks both declarations of the ABI make (storport_decls.h's own and
 * mingw-w64's srb.h in windows/xenvbd/storport_layout_check.c), each used
 * at file scope after the structures are declared: `STOR_LAYOUT_CHECK_SRB;`. */
#define STOR_LAYOUT_AT(type, field, at) \
    _Static_assert(offsetof(type, field) == (at), "layout: " #type "." #field)
#define STOR_LAYOUT_CHECK_SRB                                                          \
    _Static_assert(sizeof(SCSI_REQUEST_BLOCK) == LAYOUT_SRB_SIZE, "layout: SRB size"); \
    STOR_LAYOUT_AT(SCSI_REQUEST_BLOCK, SrbFlags, LAYOUT_SRB_SRBFLAGS);                 \
    STOR_LAYOUT_AT(SCSI_REQUEST_BLOCK, DataTransferLength, LAYOUT_SRB_DATATRANSFERLENGTH); \
    STOR_LAYOUT_AT(SCSI_REQUEST_BLOCK, DataBuffer, LAYOUT_SRB_DATABUFFER);             \
    STOR_LAYOUT_AT(SCSI_REQUEST_BLOCK, SrbExtension, LAYOUT_SRB_SRBEXTENSION);         \
    STOR_LAYOUT_AT(SCSI_REQUEST_BLOCK, Cdb, LAYOUT_SRB_CDB)
#define STOR_LAYOUT_CHECK_PCI                                                                   \
    STOR_LAYOUT_AT(PORT_CONFIGURATION_INFORMATION, MaximumTransferLength,                       \
                   LAYOUT_PCI_MAXIMUMTRANSFERLENGTH);                                           \
    STOR_LAYOUT_AT(PORT_CONFIGURATION_INFORMATION, AccessRanges, LAYOUT_PCI_ACCESSRANGES);      \
    STOR_LAYOUT_AT(PORT_CONFIGURATION_INFORMATION, MapBuffers, LAYOUT_PCI_MAPBUFFERS);          \
    STOR_LAYOUT_AT(PORT_CONFIGURATION_INFORMATION, SrbExtensionSize, LAYOUT_PCI_SRBEXTENSIONSIZE); \
    STOR_LAYOUT_AT(PORT_CONFIGURATION_INFORMATION, WmiDataProvider, LAYOUT_PCI_WMIDATAPROVIDER)
#define STOR_LAYOUT_CHECK_HID                                                              \
    STOR_LAYOUT_AT(HW_INITIALIZATION_DATA, HwFindAdapter, LAYOUT_HID_HWFINDADAPTER);       \
    STOR_LAYOUT_AT(HW_INITIALIZATION_DATA, MapBuffers, LAYOUT_HID_MAPBUFFERS);             \
    STOR_LAYOUT_AT(HW_INITIALIZATION_DATA, HwAdapterControl, LAYOUT_HID_HWADAPTERCONTROL)
/* The element and list of a scatter/gather list, under the names each
 * declaration gives them. */
#define STOR_LAYOUT_CHECK_SG(element, list, elements)                           \
    _Static_assert(sizeof(element) == LAYOUT_SGE_SIZE, "layout: SG element size"); \
    STOR_LAYOUT_AT(element, Length, LAYOUT_SGE_LENGTH);                         \
    STOR_LAYOUT_AT(list, elements, LAYOUT_SGL_LIST)

#endif
