/*
 * The StorPort miniport interface xenvbd uses, declared by the project
 * from Microsoft's documentation of storport.h and srb.h (mingw-w64's
 * storport.h clashes with its srb.h and lacks HwBuildIo, the
 * synchronization model and StorPortExtendedFunction).  Only what xenvbd
 * needs; layouts are those of Windows Vista/Server 2008 and later, and
 * the _Static_asserts pin every offset that crosses into StorPort on both
 * architectures.  storport_layout_check.c compares them with mingw's own
 * srb.h where the two overlap.
 *
 * Calling conventions on x86: the miniport callbacks and StorPortInitialize
 * are __stdcall (the WDK builds drivers with /Gz), the variadic
 * StorPortNotification and StorPortExtendedFunction are __cdecl.
 */
#ifndef GPLPV_STORPORT_DECLS_H
#define GPLPV_STORPORT_DECLS_H

#include "gplpv_win.h"
#include "storport_layout.h"

/* ---- SCSI request block ------------------------------------------------ */
typedef struct _SCSI_REQUEST_BLOCK {
    USHORT Length;
    UCHAR Function;
    UCHAR SrbStatus;
    UCHAR ScsiStatus;
    UCHAR PathId;
    UCHAR TargetId;
    UCHAR Lun;
    UCHAR QueueTag;
    UCHAR QueueAction;
    UCHAR CdbLength;
    UCHAR SenseInfoBufferLength;
    ULONG SrbFlags;
    ULONG DataTransferLength;
    ULONG TimeOutValue;
    PVOID DataBuffer;
    PVOID SenseInfoBuffer;
    struct _SCSI_REQUEST_BLOCK *NextSrb;
    PVOID OriginalRequest;
    PVOID SrbExtension;
    ULONG InternalStatus;            /* union with QueueSortKey, LinkTimeoutValue */
#ifdef _WIN64
    ULONG Reserved;
#endif
    UCHAR Cdb[16];
} SCSI_REQUEST_BLOCK, *PSCSI_REQUEST_BLOCK;

STOR_LAYOUT_CHECK_SRB;

#define SRB_FUNCTION_EXECUTE_SCSI       0x00
#define SRB_FUNCTION_IO_CONTROL         0x02
#define SRB_FUNCTION_SHUTDOWN           0x07
#define SRB_FUNCTION_DUMP_POINTERS      0x26
#define SRB_FUNCTION_FLUSH              0x08
#define SRB_FUNCTION_ABORT_COMMAND      0x10
#define SRB_FUNCTION_RESET_BUS          0x12
#define SRB_FUNCTION_RESET_DEVICE       0x13
#define SRB_FUNCTION_WMI                0x17
#define SRB_FUNCTION_RESET_LOGICAL_UNIT 0x20
#define SRB_FUNCTION_POWER              0x24
#define SRB_FUNCTION_PNP                0x25

#define SRB_STATUS_PENDING           0x00
#define SRB_STATUS_SUCCESS           0x01
#define SRB_STATUS_ABORTED           0x02
#define SRB_STATUS_ERROR             0x04
#define SRB_STATUS_BUSY              0x05
#define SRB_STATUS_INVALID_REQUEST   0x06
#define SRB_STATUS_NO_DEVICE         0x08
#define SRB_STATUS_TIMEOUT           0x09
#define SRB_STATUS_BUS_RESET         0x0E
#define SRB_STATUS_INVALID_LUN       0x20
#define SRB_STATUS_INVALID_TARGET_ID 0x21
#define SRB_STATUS_BAD_FUNCTION      0x22
#define SRB_STATUS_AUTOSENSE_VALID   0x80

#define SRB_FLAGS_DATA_IN  0x00000040
#define SRB_FLAGS_DATA_OUT 0x00000080

/* ---- configuration the port driver hands HwFindAdapter ------------------- */
typedef struct _STOR_ACCESS_RANGE {
    PHYSICAL_ADDRESS RangeStart;
    ULONG RangeLength;
    BOOLEAN RangeInMemory;
} STOR_ACCESS_RANGE;

typedef struct _STOR_MEMORY_REGION {
    PUCHAR VirtualBase;
    PHYSICAL_ADDRESS PhysicalBase;
    ULONG Length;
} STOR_MEMORY_REGION;

typedef struct _PORT_CONFIGURATION_INFORMATION {
    ULONG Length;
    ULONG SystemIoBusNumber;
    INTERFACE_TYPE AdapterInterfaceType;
    ULONG BusInterruptLevel;
    ULONG BusInterruptVector;
    KINTERRUPT_MODE InterruptMode;
    ULONG MaximumTransferLength;
    ULONG NumberOfPhysicalBreaks;
    ULONG DmaChannel;
    ULONG DmaPort;
    DMA_WIDTH DmaWidth;
    DMA_SPEED DmaSpeed;
    ULONG AlignmentMask;
    ULONG NumberOfAccessRanges;
    STOR_ACCESS_RANGE (*AccessRanges)[];
    PVOID MiniportDumpData;
    UCHAR NumberOfBuses;
    CCHAR InitiatorBusId[8];
    BOOLEAN ScatterGather;
    BOOLEAN Master;
    BOOLEAN CachesData;
    BOOLEAN AdapterScansDown;
    BOOLEAN AtdiskPrimaryClaimed;
    BOOLEAN AtdiskSecondaryClaimed;
    BOOLEAN Dma32BitAddresses;
    BOOLEAN DemandMode;
    UCHAR MapBuffers;
    BOOLEAN NeedPhysicalAddresses;
    BOOLEAN TaggedQueuing;
    BOOLEAN AutoRequestSense;
    BOOLEAN MultipleRequestPerLu;
    BOOLEAN ReceiveEvent;
    BOOLEAN RealModeInitialized;
    BOOLEAN BufferAccessScsiPortControlled;
    UCHAR MaximumNumberOfTargets;
    UCHAR SrbType;
    UCHAR ReservedUchar;
    ULONG SlotNumber;
    ULONG BusInterruptLevel2;
    ULONG BusInterruptVector2;
    KINTERRUPT_MODE InterruptMode2;
    ULONG DmaChannel2;
    ULONG DmaPort2;
    DMA_WIDTH DmaWidth2;
    DMA_SPEED DmaSpeed2;
    ULONG DeviceExtensionSize;
    ULONG SpecificLuExtensionSize;
    ULONG SrbExtensionSize;
    UCHAR Dma64BitAddresses;
    BOOLEAN ResetTargetSupported;
    UCHAR MaximumNumberOfLogicalUnits;
    BOOLEAN WmiDataProvider;
    /* StorPort's additions */
    ULONG SynchronizationModel;      /* STOR_SYNCHRONIZATION_MODEL: an enum, 4 bytes */
    PVOID HwMSInterruptRoutine;
    ULONG InterruptSynchronizationMode;
    STOR_MEMORY_REGION DumpRegion;
    ULONG RequestedDumpBufferSize;
    BOOLEAN VirtualDevice;
} PORT_CONFIGURATION_INFORMATION, *PPORT_CONFIGURATION_INFORMATION;

STOR_LAYOUT_CHECK_PCI;
_Static_assert(offsetof(PORT_CONFIGURATION_INFORMATION, SynchronizationModel) ==
               LAYOUT_PCI_SYNCHRONIZATIONMODEL, "PCI SynchronizationModel");
_Static_assert(sizeof(((PORT_CONFIGURATION_INFORMATION *)0)->SynchronizationModel) == 4,
               "PCI SynchronizationModel is an enum");
_Static_assert(offsetof(PORT_CONFIGURATION_INFORMATION, HwMSInterruptRoutine) ==
               LAYOUT_PCI_HWMSINTERRUPTROUTINE, "PCI HwMSInterruptRoutine");

#define STOR_MAP_NO_BUFFERS             0
#define STOR_MAP_ALL_BUFFERS            1
#define STOR_MAP_NON_READ_WRITE_BUFFERS 2
#define StorSynchronizeHalfDuplex 0
#define StorSynchronizeFullDuplex 1
#define SP_RETURN_NOT_FOUND 0
#define SP_RETURN_FOUND     1
#define SP_RETURN_ERROR     2

typedef enum _SCSI_ADAPTER_CONTROL_TYPE {
    ScsiQuerySupportedControlTypes = 0,
    ScsiStopAdapter,
    ScsiRestartAdapter,
    ScsiSetBootConfig,
    ScsiSetRunningConfig,
    ScsiAdapterSurpriseRemoval = 16,    /* Windows 8 on; Parameters NULL, < DISPATCH_LEVEL */
    ScsiAdapterControlMax,
    MakeAdapterControlTypeSizeOfUlong = 0xffffffff
} SCSI_ADAPTER_CONTROL_TYPE;

typedef enum _SCSI_ADAPTER_CONTROL_STATUS {
    ScsiAdapterControlSuccess = 0,
    ScsiAdapterControlUnsuccessful
} SCSI_ADAPTER_CONTROL_STATUS;

typedef struct _SCSI_SUPPORTED_CONTROL_TYPE_LIST {
    ULONG MaxControlType;
    BOOLEAN SupportedTypeList[1];
} SCSI_SUPPORTED_CONTROL_TYPE_LIST;

/* ---- crash dump and hibernation ------------------------------------------
 * SRB_FUNCTION_DUMP_POINTERS asks the running miniport for this; what it
 * puts in MiniportPrivateDumpData reaches the dump-mode instance as
 * PORT_CONFIGURATION_INFORMATION.MiniportDumpData. */
#define DUMP_MINIPORT_VERSION_1   0x0100
#define DUMP_MINIPORT_NAME_LENGTH 15

typedef struct _MINIPORT_DUMP_POINTERS {
    USHORT Version;
    USHORT Size;
    WCHAR DriverName[DUMP_MINIPORT_NAME_LENGTH];
    PVOID AdapterObject;
    PVOID MappedRegisterBase;
    ULONG CommonBufferSize;
    PVOID MiniportPrivateDumpData;
    ULONG SystemIoBusNumber;
    INTERFACE_TYPE AdapterInterfaceType;
    ULONG MaximumTransferLength;
    ULONG NumberOfPhysicalBreaks;
    ULONG AlignmentMask;
    ULONG NumberOfAccessRanges;
    STOR_ACCESS_RANGE (*AccessRanges)[];
    UCHAR NumberOfBuses;
    BOOLEAN Master;
    BOOLEAN MapBuffers;
    UCHAR MaximumNumberOfTargets;
} MINIPORT_DUMP_POINTERS, *PMINIPORT_DUMP_POINTERS;

_Static_assert(offsetof(MINIPORT_DUMP_POINTERS, AdapterObject) == LAYOUT_MDP_ADAPTEROBJECT,
               "MDP AdapterObject");
_Static_assert(offsetof(MINIPORT_DUMP_POINTERS, MiniportPrivateDumpData) ==
               LAYOUT_MDP_MINIPORTPRIVATEDUMPDATA, "MDP MiniportPrivateDumpData");
_Static_assert(offsetof(MINIPORT_DUMP_POINTERS, MaximumTransferLength) ==
               LAYOUT_MDP_MAXIMUMTRANSFERLENGTH, "MDP MaximumTransferLength");
_Static_assert(offsetof(MINIPORT_DUMP_POINTERS, AccessRanges) == LAYOUT_MDP_ACCESSRANGES,
               "MDP AccessRanges");
_Static_assert(offsetof(MINIPORT_DUMP_POINTERS, MaximumNumberOfTargets) ==
               LAYOUT_MDP_MAXIMUMNUMBEROFTARGETS, "MDP MaximumNumberOfTargets");
_Static_assert(sizeof(MINIPORT_DUMP_POINTERS) == LAYOUT_MDP_SIZE, "MDP size");

/* ---- miniport callbacks and HW_INITIALIZATION_DATA ---------------------- */
typedef BOOLEAN (NTAPI *PHW_INITIALIZE)(PVOID DeviceExtension);
typedef BOOLEAN (NTAPI *PHW_STARTIO)(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb);
typedef BOOLEAN (NTAPI *PHW_BUILDIO)(PVOID DeviceExtension, PSCSI_REQUEST_BLOCK Srb);
typedef BOOLEAN (NTAPI *PHW_INTERRUPT)(PVOID DeviceExtension);
typedef ULONG (NTAPI *PHW_FIND_ADAPTER)(PVOID DeviceExtension, PVOID HwContext, PVOID BusInformation,
                                        PCHAR ArgumentString, PPORT_CONFIGURATION_INFORMATION Config,
                                        PBOOLEAN Again);
typedef BOOLEAN (NTAPI *PHW_RESET_BUS)(PVOID DeviceExtension, ULONG PathId);
typedef SCSI_ADAPTER_CONTROL_STATUS (NTAPI *PHW_ADAPTER_CONTROL)(PVOID DeviceExtension,
                                                                 SCSI_ADAPTER_CONTROL_TYPE Type,
                                                                 PVOID Parameters);

typedef struct _HW_INITIALIZATION_DATA {
    ULONG HwInitializationDataSize;
    INTERFACE_TYPE AdapterInterfaceType;
    PHW_INITIALIZE HwInitialize;
    PHW_STARTIO HwStartIo;
    PHW_INTERRUPT HwInterrupt;
    PHW_FIND_ADAPTER HwFindAdapter;
    PHW_RESET_BUS HwResetBus;
    PVOID HwDmaStarted;
    PVOID HwAdapterState;
    ULONG DeviceExtensionSize;
    ULONG SpecificLuExtensionSize;
    ULONG SrbExtensionSize;
    ULONG NumberOfAccessRanges;
    PVOID Reserved;
    UCHAR MapBuffers;
    BOOLEAN NeedPhysicalAddresses;
    BOOLEAN TaggedQueuing;
    BOOLEAN AutoRequestSense;
    BOOLEAN MultipleRequestPerLu;
    BOOLEAN ReceiveEvent;
    USHORT VendorIdLength;
    PVOID VendorId;
    USHORT PortVersionFlags;
    USHORT DeviceIdLength;
    PVOID DeviceId;
    PHW_ADAPTER_CONTROL HwAdapterControl;
    PHW_BUILDIO HwBuildIo;
    /* Windows 8 and later: StorPort reads these only when
     * HwInitializationDataSize covers them (older ones stop at HwBuildIo) */
    PVOID HwFreeAdapterResources;
    PVOID HwProcessServiceRequest;
    PVOID HwCompleteServiceIrp;
    PVOID HwInitializeTracing;
    PVOID HwCleanupTracing;
    PVOID HwTracingEnabled;
    ULONG FeatureSupport;            /* STOR_FEATURE_* */
    ULONG SrbTypeFlags;
    ULONG AddressTypeFlags;
    ULONG Reserved1;
    PVOID HwUnitControl;
} HW_INITIALIZATION_DATA, *PHW_INITIALIZATION_DATA;

/* HwInitializationDataSize for a StorPort older than Windows 8. */
#define HW_INITIALIZATION_DATA_SIZE_VISTA offsetof(HW_INITIALIZATION_DATA, HwFreeAdapterResources)
/* FeatureSupport: answers SRB_FUNCTION_DUMP_POINTERS (StorPort sends it
 * only to a miniport that says so). */
#define STOR_FEATURE_DUMP_POINTERS 0x00000008

STOR_LAYOUT_CHECK_HID;
_Static_assert(offsetof(HW_INITIALIZATION_DATA, HwFreeAdapterResources) == LAYOUT_HID_SIZE_VISTA,
               "HID size (Vista)");
_Static_assert(offsetof(HW_INITIALIZATION_DATA, FeatureSupport) == LAYOUT_HID_FEATURESUPPORT,
               "HID FeatureSupport");
_Static_assert(sizeof(HW_INITIALIZATION_DATA) == LAYOUT_HID_SIZE, "HID size");

/* ---- port driver services ---------------------------------------------- */
typedef enum _SCSI_NOTIFICATION_TYPE {
    RequestComplete,
    NextRequest,
    NextLuRequest,
    ResetDetected,
    CallDisableInterrupts,
    CallEnableInterrupts,
    RequestTimerCall,
    BusChangeDetected,
} SCSI_NOTIFICATION_TYPE;

/* What StorPortGetScatterGatherList returns: the physical memory of an
 * SRB's transfer, valid until the SRB completes (storport.h). */
typedef struct _STOR_SCATTER_GATHER_ELEMENT {
    PHYSICAL_ADDRESS PhysicalAddress;
    ULONG Length;
    ULONG_PTR Reserved;
} STOR_SCATTER_GATHER_ELEMENT, *PSTOR_SCATTER_GATHER_ELEMENT;

typedef struct _STOR_SCATTER_GATHER_LIST {
    ULONG NumberOfElements;
    ULONG_PTR Reserved;
    STOR_SCATTER_GATHER_ELEMENT List[];
} STOR_SCATTER_GATHER_LIST, *PSTOR_SCATTER_GATHER_LIST;

STOR_LAYOUT_CHECK_SG(STOR_SCATTER_GATHER_ELEMENT, STOR_SCATTER_GATHER_LIST, List);

/* StorPortExtendedFunction codes (storport.h's STORPORT_FUNCTION_CODE). */
#define STOR_EXT_GET_SYSTEM_ADDRESS 5
#define STOR_EXT_GET_DEVICE_OBJECTS 8
#define STOR_STATUS_SUCCESS 0

__declspec(dllimport) VOID NTAPI StorPortStallExecution(ULONG Delay);   /* microseconds */
__declspec(dllimport) ULONG NTAPI StorPortInitialize(PVOID Argument1, PVOID Argument2,
                                                     PHW_INITIALIZATION_DATA HwInitializationData,
                                                     PVOID HwContext);
__declspec(dllimport) PSTOR_SCATTER_GATHER_LIST NTAPI
StorPortGetScatterGatherList(PVOID HwDeviceExtension, PSCSI_REQUEST_BLOCK Srb);
__declspec(dllimport) VOID __cdecl StorPortNotification(SCSI_NOTIFICATION_TYPE NotificationType,
                                                        PVOID HwDeviceExtension, ...);
__declspec(dllimport) ULONG __cdecl StorPortExtendedFunction(ULONG FunctionCode,
                                                             PVOID HwDeviceExtension, ...);

#endif
