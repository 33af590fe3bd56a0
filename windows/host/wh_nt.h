/*
 * The Windows x64 kernel structures the host shares with the drivers, in
 * fixed-width types (Linux is LP64, Windows LLP64: a Windows ULONG is
 * uint32_t here).  Layouts from Microsoft's documentation of wdm.h; each
 * offset the host relies on is asserted here and, independently, against
 * mingw-w64's DDK headers by wh_layout_check.c (compiled by the mingw
 * compiler, never linked).  Only what the host reads or writes is named;
 * the rest is padding of the documented size.
 */
#ifndef GPLPV_WH_NT_H
#define GPLPV_WH_NT_H

#include <stddef.h>
#include <stdint.h>

#define WH_MSABI __attribute__((ms_abi))

typedef int32_t NTSTATUS_;
#define WH_STATUS_SUCCESS ((NTSTATUS_)0)
#define WH_STATUS_PENDING ((NTSTATUS_)0x103)
#define WH_STATUS_TIMEOUT ((NTSTATUS_)0x102)
#define WH_STATUS_MORE_PROCESSING_REQUIRED ((NTSTATUS_)0xC0000016)
#define WH_STATUS_NOT_SUPPORTED ((NTSTATUS_)0xC00000BB)
#define WH_STATUS_OBJECT_NAME_NOT_FOUND ((NTSTATUS_)0xC0000034)
#define WH_STATUS_OBJECT_NAME_COLLISION ((NTSTATUS_)0xC0000035)
#define WH_STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS_)0xC000009A)
#define WH_STATUS_INVALID_PARAMETER ((NTSTATUS_)0xC000000D)
#define WH_NT_SUCCESS(s) ((NTSTATUS_)(s) >= 0)

enum { WH_PASSIVE_LEVEL = 0, WH_APC_LEVEL = 1, WH_DISPATCH_LEVEL = 2, WH_HIGH_LEVEL = 15 };

struct wh_unicode_string {
    uint16_t Length, MaximumLength;
    uint32_t pad;
    uint16_t *Buffer;
};

struct wh_list_entry {
    struct wh_list_entry *Flink, *Blink;
};

/* DISPATCHER_HEADER + wait list: KEVENT is 24 bytes. */
struct wh_kevent {
    uint8_t Type;                /* 0 NotificationEvent, 1 SynchronizationEvent */
    uint8_t b1, b2, b3;
    volatile int32_t SignalState;
    struct wh_list_entry WaitListHead;
};

struct wh_kdpc {
    uint8_t Type, Importance;
    uint16_t Number;
    uint32_t pad;
    struct wh_list_entry DpcListEntry;
    void *DeferredRoutine;
    void *DeferredContext;
    void *SystemArgument1, *SystemArgument2;
    void *volatile DpcData;      /* non-NULL while queued */
};

struct wh_fast_mutex {
    volatile int32_t Count;      /* 1 free, 0 owned */
    uint32_t pad;
    void *Owner;
    uint32_t Contention;
    uint32_t pad2;
    struct wh_kevent Event;
    uint32_t OldIrql;
    uint32_t pad3;
};

struct wh_work_queue_item {
    struct wh_list_entry List;
    void *WorkerRoutine;
    void *Parameter;
};

struct wh_io_status_block {
    union { NTSTATUS_ Status; void *Pointer; };
    uint64_t Information;
};

struct wh_device_object;
struct wh_irp;

struct wh_io_stack_location {
    uint8_t MajorFunction, MinorFunction, Flags, Control;
    uint32_t pad;
    union {
        struct { void *SecurityContext; uint32_t Options; uint16_t FileAttributes, ShareAccess; uint32_t EaLength; } Create;
        struct { uint32_t OutputBufferLength; uint32_t p1; uint32_t InputBufferLength; uint32_t p2;
                 uint32_t IoControlCode; uint32_t p3; void *Type3InputBuffer; } DeviceIoControl;
        struct { uint32_t Type; } QueryDeviceRelations;
        struct { const void *InterfaceType; uint16_t Size, Version; uint32_t p; void *Interface;
                 void *InterfaceSpecificData; } QueryInterface;
        struct { void *Capabilities; } DeviceCapabilities;
        struct { uint32_t IdType; } QueryId;
        struct { uint32_t DeviceTextType; uint32_t p; uint32_t LocaleId; } QueryDeviceText;
        struct { uint8_t InPath; uint8_t Reserved[7]; uint32_t Type; } UsageNotification;
        struct { void *AllocatedResources; void *AllocatedResourcesTranslated; } StartDevice;
        struct { uint32_t SystemContext; uint32_t p; uint32_t Type; uint32_t p2; uint32_t State;
                 uint32_t p3; uint32_t ShutdownType; } Power;
        void *Others[4];
    } Parameters;
    struct wh_device_object *DeviceObject;
    void *FileObject;
    void *CompletionRoutine;
    void *Context;
};

#define WH_SL_PENDING_RETURNED 0x01
#define WH_SL_INVOKE_ON_CANCEL 0x20
#define WH_SL_INVOKE_ON_SUCCESS 0x40
#define WH_SL_INVOKE_ON_ERROR 0x80

struct wh_irp {
    int16_t Type;
    uint16_t Size;
    uint32_t pad0;
    void *MdlAddress;
    uint32_t Flags;
    uint32_t pad1;
    void *AssociatedIrp;
    struct wh_list_entry ThreadListEntry;
    struct wh_io_status_block IoStatus;
    int8_t RequestorMode;
    uint8_t PendingReturned;
    int8_t StackCount;
    int8_t CurrentLocation;
    uint8_t Cancel, CancelIrql;
    int8_t ApcEnvironment;
    uint8_t AllocationFlags;
    void *UserIosb;
    void *UserEvent;
    uint8_t Overlay[16];
    void *CancelRoutine;
    void *UserBuffer;
    struct {
        void *DriverContext[4];
        void *Thread;
        void *AuxiliaryBuffer;
        struct wh_list_entry ListEntry;
        struct wh_io_stack_location *CurrentStackLocation;
        void *OriginalFileObject;
        void *apc_rest;          /* the union with a KAPC is 0x58 bytes */
    } Tail;
    /* the stack locations follow */
};

struct wh_driver_object;

struct wh_device_object {
    int16_t Type;
    uint16_t Size;
    int32_t ReferenceCount;
    struct wh_driver_object *DriverObject;
    struct wh_device_object *NextDevice;
    struct wh_device_object *AttachedDevice;
    struct wh_irp *CurrentIrp;
    void *Timer;
    uint32_t Flags;
    uint32_t Characteristics;
    void *Vpb;
    void *DeviceExtension;
    uint32_t DeviceType;
    int8_t StackSize;
    uint8_t pad[3];
    uint8_t Queue[0x48];
    uint32_t AlignmentRequirement;
    uint32_t pad2;
    uint8_t DeviceQueue[0x28];
    struct wh_kdpc Dpc;
    uint32_t ActiveThreadCount;
    uint32_t pad3;
    void *SecurityDescriptor;
    struct wh_kevent DeviceLock;
    uint16_t SectorSize, Spare1;
    uint32_t pad4;
    void *DeviceObjectExtension;
    void *Reserved;
    uint64_t align16;            /* the object is 16-byte aligned on x64 */
};

#define WH_DO_DEVICE_INITIALIZING 0x80
#define WH_DO_POWER_PAGABLE 0x2000

struct wh_driver_extension {
    struct wh_driver_object *DriverObject;
    void *AddDevice;
    uint32_t Count;
    uint32_t pad;
    struct wh_unicode_string ServiceKeyName;
};

#define WH_IRP_MJ_MAXIMUM 0x1b
struct wh_driver_object {
    int16_t Type;
    int16_t Size;
    uint32_t pad;
    struct wh_device_object *DeviceObject;
    uint32_t Flags;
    uint32_t pad1;
    void *DriverStart;
    uint32_t DriverSize;
    uint32_t pad2;
    void *DriverSection;
    struct wh_driver_extension *DriverExtension;
    struct wh_unicode_string DriverName;
    struct wh_unicode_string *HardwareDatabase;
    void *FastIoDispatch;
    void *DriverInit;
    void *DriverStartIo;
    void *DriverUnload;
    void *MajorFunction[WH_IRP_MJ_MAXIMUM + 1];
};

struct wh_device_relations {
    uint32_t Count;
    uint32_t pad;
    struct wh_device_object *Objects[];
};

/* CM_* resource descriptors are packed to 4 bytes. */
#pragma pack(push, 4)
struct wh_cm_partial_descriptor {
    uint8_t Type, ShareDisposition;
    uint16_t Flags;
    union {
        struct { int64_t Start; uint32_t Length; } Port;
        struct { int64_t Start; uint32_t Length; } Memory;
        struct { uint32_t Level, Vector; uint64_t Affinity; } Interrupt;
        uint32_t Raw[4];
    } u;
};
struct wh_cm_full_descriptor {
    int32_t InterfaceType;
    uint32_t BusNumber;
    uint16_t Version, Revision;
    uint32_t Count;
    struct wh_cm_partial_descriptor PartialDescriptors[];
};
struct wh_cm_resource_list {
    uint32_t Count;
    struct wh_cm_full_descriptor List[];
};
#pragma pack(pop)

/* FILE_OBJECT: the host needs the fields up to FsContext2; the object is
 * 0xd8 bytes on x64. */
struct wh_file_object {
    int16_t Type, Size;
    uint32_t pad;
    struct wh_device_object *DeviceObject;
    void *Vpb;
    void *FsContext;
    void *FsContext2;
    uint8_t rest[0xd8 - 0x28];
};

/* SCSI_REQUEST_BLOCK, x64 (88 bytes) */
struct wh_srb {
    uint16_t Length;
    uint8_t Function, SrbStatus, ScsiStatus, PathId, TargetId, Lun, QueueTag, QueueAction;
    uint8_t CdbLength, SenseInfoBufferLength;
    uint32_t SrbFlags;
    uint32_t DataTransferLength;
    uint32_t TimeOutValue;
    void *DataBuffer;
    void *SenseInfoBuffer;
    struct wh_srb *NextSrb;
    void *OriginalRequest;
    void *SrbExtension;
    uint32_t InternalStatus;
    uint32_t Reserved;
    uint8_t Cdb[16];
};

struct wh_mdl {
    struct wh_mdl *Next;
    int16_t Size, MdlFlags;
    uint32_t pad;
    void *Process;
    void *MappedSystemVa;
    void *StartVa;
    uint32_t ByteCount, ByteOffset;
    /* PFN_NUMBER array follows */
};

/* IRP major and minor codes (wdm.h) */
enum {
    WH_IRP_MJ_CREATE = 0x00, WH_IRP_MJ_CLOSE = 0x02, WH_IRP_MJ_DEVICE_CONTROL = 0x0e,
    WH_IRP_MJ_CLEANUP = 0x12, WH_IRP_MJ_POWER = 0x16, WH_IRP_MJ_SYSTEM_CONTROL = 0x17,
    WH_IRP_MJ_PNP = 0x1b,
};
enum {
    WH_IRP_MN_START_DEVICE = 0x00, WH_IRP_MN_QUERY_REMOVE_DEVICE = 0x01,
    WH_IRP_MN_REMOVE_DEVICE = 0x02, WH_IRP_MN_CANCEL_REMOVE_DEVICE = 0x03,
    WH_IRP_MN_STOP_DEVICE = 0x04, WH_IRP_MN_QUERY_DEVICE_RELATIONS = 0x07,
    WH_IRP_MN_QUERY_INTERFACE = 0x08, WH_IRP_MN_QUERY_CAPABILITIES = 0x09,
    WH_IRP_MN_QUERY_DEVICE_TEXT = 0x0c, WH_IRP_MN_QUERY_ID = 0x13,
    WH_IRP_MN_DEVICE_USAGE_NOTIFICATION = 0x16, WH_IRP_MN_SURPRISE_REMOVAL = 0x17,
};
/* power: minor codes, POWER_STATE_TYPE, SYSTEM_POWER_STATE, DEVICE_POWER_STATE,
 * POWER_ACTION (wdm.h) */
enum { WH_IRP_MN_SET_POWER = 0x02, WH_IRP_MN_QUERY_POWER = 0x03 };
enum { WH_SystemPowerState = 0, WH_DevicePowerState = 1 };
enum { WH_PowerSystemWorking = 1, WH_PowerSystemSleeping3 = 4, WH_PowerSystemHibernate = 5 };
enum { WH_PowerDeviceD0 = 1, WH_PowerDeviceD3 = 4 };
enum { WH_PowerActionNone = 0, WH_PowerActionSleep = 2, WH_PowerActionHibernate = 3 };
enum { WH_BusRelations = 0, WH_TargetDeviceRelation = 4 };
enum { WH_BusQueryDeviceID = 0, WH_BusQueryHardwareIDs = 1, WH_BusQueryCompatibleIDs = 2,
       WH_BusQueryInstanceID = 3 };
enum { WH_DeviceUsageTypePaging = 1, WH_DeviceUsageTypeHibernation = 2,
       WH_DeviceUsageTypeDumpFile = 3 };
enum { WH_CmResourceTypePort = 1, WH_CmResourceTypeInterrupt = 2, WH_CmResourceTypeMemory = 3 };

_Static_assert(sizeof(struct wh_kevent) == 0x18, "KEVENT");
_Static_assert(sizeof(struct wh_kdpc) == 0x40, "KDPC");
_Static_assert(sizeof(struct wh_fast_mutex) == 0x38, "FAST_MUTEX");
_Static_assert(offsetof(struct wh_fast_mutex, OldIrql) == 0x30, "FAST_MUTEX.OldIrql");
_Static_assert(sizeof(struct wh_io_stack_location) == 0x48, "IO_STACK_LOCATION");
_Static_assert(offsetof(struct wh_irp, IoStatus) == 0x30, "IRP.IoStatus");
_Static_assert(offsetof(struct wh_irp, PendingReturned) == 0x41, "IRP.PendingReturned");
_Static_assert(offsetof(struct wh_irp, CurrentLocation) == 0x43, "IRP.CurrentLocation");
_Static_assert(offsetof(struct wh_irp, Tail.CurrentStackLocation) == 0xb8, "IRP.Tail...CSL");
_Static_assert(sizeof(struct wh_irp) == 0xd0, "IRP");
_Static_assert(offsetof(struct wh_device_object, DeviceExtension) == 0x40, "DO.DeviceExtension");
_Static_assert(offsetof(struct wh_device_object, StackSize) == 0x4c, "DO.StackSize");
_Static_assert(offsetof(struct wh_device_object, Dpc) == 0xc8, "DO.Dpc");
_Static_assert(sizeof(struct wh_device_object) == 0x150, "DEVICE_OBJECT");
_Static_assert(offsetof(struct wh_driver_object, DriverExtension) == 0x30, "DRV.DriverExtension");
_Static_assert(offsetof(struct wh_driver_object, DriverUnload) == 0x68, "DRV.DriverUnload");
_Static_assert(offsetof(struct wh_driver_object, MajorFunction) == 0x70, "DRV.MajorFunction");
_Static_assert(sizeof(struct wh_cm_partial_descriptor) == 0x14, "CM_PARTIAL_RESOURCE_DESCRIPTOR");
_Static_assert(sizeof(struct wh_mdl) == 0x30, "MDL");
_Static_assert(offsetof(struct wh_file_object, FsContext) == 0x18, "FILE_OBJECT.FsContext");

#endif
