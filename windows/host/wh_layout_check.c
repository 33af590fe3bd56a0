/* Compiled by x86_64-w64-mingw32-gcc, never linked: the host's own
 * declarations of the kernel structures (wh_nt.h) against mingw-w64's
 * independent DDK headers, field by field. */
#include <ntddk.h>
#include <srb.h>

#include "wh_nt.h"

#define SAME(mine, theirs, field)                                                     \
    _Static_assert(offsetof(struct mine, field) == offsetof(theirs, field), #theirs "." #field)
#define SAME_SIZE(mine, theirs) _Static_assert(sizeof(struct mine) == sizeof(theirs), #theirs)

SAME_SIZE(wh_unicode_string, UNICODE_STRING);
SAME(wh_unicode_string, UNICODE_STRING, Buffer);
SAME_SIZE(wh_kevent, KEVENT);
_Static_assert(offsetof(struct wh_kevent, SignalState) == offsetof(KEVENT, Header.SignalState), "KEVENT.SignalState");
SAME_SIZE(wh_kdpc, KDPC);
SAME(wh_kdpc, KDPC, DeferredRoutine);
SAME(wh_kdpc, KDPC, DeferredContext);
SAME(wh_kdpc, KDPC, SystemArgument1);
SAME(wh_kdpc, KDPC, DpcData);
SAME_SIZE(wh_fast_mutex, FAST_MUTEX);
SAME(wh_fast_mutex, FAST_MUTEX, Event);
SAME(wh_fast_mutex, FAST_MUTEX, OldIrql);
SAME_SIZE(wh_work_queue_item, WORK_QUEUE_ITEM);
SAME(wh_work_queue_item, WORK_QUEUE_ITEM, WorkerRoutine);
SAME(wh_work_queue_item, WORK_QUEUE_ITEM, Parameter);
SAME_SIZE(wh_io_stack_location, IO_STACK_LOCATION);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.QueryInterface.Interface);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.QueryInterface.Version);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.UsageNotification.Type);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.StartDevice.AllocatedResourcesTranslated);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.QueryDeviceText.LocaleId);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.Power.State);
SAME(wh_io_stack_location, IO_STACK_LOCATION, DeviceObject);
SAME(wh_io_stack_location, IO_STACK_LOCATION, CompletionRoutine);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Context);
SAME_SIZE(wh_irp, IRP);
SAME(wh_irp, IRP, MdlAddress);
SAME(wh_irp, IRP, AssociatedIrp);
SAME(wh_irp, IRP, IoStatus);
SAME(wh_irp, IRP, IoStatus.Information);
SAME(wh_irp, IRP, PendingReturned);
SAME(wh_irp, IRP, StackCount);
SAME(wh_irp, IRP, CurrentLocation);
SAME(wh_irp, IRP, UserBuffer);
SAME(wh_irp, IRP, RequestorMode);
_Static_assert(offsetof(struct wh_irp, Tail.Thread) == offsetof(IRP, Tail.Overlay.Thread), "IRP.Thread");
_Static_assert(offsetof(struct wh_irp, Tail.CurrentStackLocation) == offsetof(IRP, Tail.Overlay.CurrentStackLocation), "IRP.CurrentStackLocation");
_Static_assert(offsetof(struct wh_irp, Tail.OriginalFileObject) == offsetof(IRP, Tail.Overlay.OriginalFileObject), "IRP.OriginalFileObject");
SAME(wh_device_object, DEVICE_OBJECT, DriverObject);
SAME(wh_device_object, DEVICE_OBJECT, AttachedDevice);
SAME(wh_device_object, DEVICE_OBJECT, Flags);
SAME(wh_device_object, DEVICE_OBJECT, DeviceExtension);
SAME(wh_device_object, DEVICE_OBJECT, DeviceType);
SAME(wh_device_object, DEVICE_OBJECT, StackSize);
SAME(wh_device_object, DEVICE_OBJECT, AlignmentRequirement);
SAME(wh_device_object, DEVICE_OBJECT, Dpc);
SAME(wh_device_object, DEVICE_OBJECT, DeviceLock);
SAME(wh_device_object, DEVICE_OBJECT, DeviceObjectExtension);
SAME(wh_driver_extension, DRIVER_EXTENSION, AddDevice);
SAME(wh_driver_extension, DRIVER_EXTENSION, ServiceKeyName);
SAME(wh_driver_object, DRIVER_OBJECT, DriverExtension);
SAME(wh_driver_object, DRIVER_OBJECT, DriverName);
SAME(wh_driver_object, DRIVER_OBJECT, DriverUnload);
SAME(wh_driver_object, DRIVER_OBJECT, MajorFunction);
SAME_SIZE(wh_driver_object, DRIVER_OBJECT);
SAME(wh_device_relations, DEVICE_RELATIONS, Objects);
SAME_SIZE(wh_cm_partial_descriptor, CM_PARTIAL_RESOURCE_DESCRIPTOR);
SAME(wh_cm_partial_descriptor, CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Interrupt.Vector);
SAME(wh_cm_partial_descriptor, CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Interrupt.Affinity);
SAME(wh_cm_partial_descriptor, CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Memory.Length);
_Static_assert(offsetof(struct wh_cm_full_descriptor, Count) == offsetof(CM_FULL_RESOURCE_DESCRIPTOR, PartialResourceList.Count), "CM_FULL.Count");
_Static_assert(offsetof(struct wh_cm_full_descriptor, PartialDescriptors) == offsetof(CM_FULL_RESOURCE_DESCRIPTOR, PartialResourceList.PartialDescriptors), "CM_FULL.PartialDescriptors");
SAME(wh_cm_resource_list, CM_RESOURCE_LIST, List);
SAME_SIZE(wh_mdl, MDL);
SAME_SIZE(wh_srb, SCSI_REQUEST_BLOCK);
SAME(wh_srb, SCSI_REQUEST_BLOCK, SrbFlags);
SAME(wh_srb, SCSI_REQUEST_BLOCK, DataTransferLength);
SAME(wh_srb, SCSI_REQUEST_BLOCK, DataBuffer);
SAME(wh_srb, SCSI_REQUEST_BLOCK, SenseInfoBuffer);
SAME(wh_srb, SCSI_REQUEST_BLOCK, SrbExtension);
SAME(wh_srb, SCSI_REQUEST_BLOCK, Cdb);
SAME(wh_file_object, FILE_OBJECT, DeviceObject);
SAME(wh_file_object, FILE_OBJECT, FsContext);
SAME(wh_file_object, FILE_OBJECT, FsContext2);
SAME_SIZE(wh_file_object, FILE_OBJECT);
SAME(wh_mdl, MDL, ByteCount);
_Static_assert((int)IRP_MN_DEVICE_USAGE_NOTIFICATION == (int)WH_IRP_MN_DEVICE_USAGE_NOTIFICATION, "minor");
_Static_assert((int)IRP_MN_QUERY_ID == (int)WH_IRP_MN_QUERY_ID, "minor");
_Static_assert(IRP_MJ_PNP == WH_IRP_MJ_PNP && IRP_MJ_POWER == WH_IRP_MJ_POWER, "major");
_Static_assert((int)IRP_MJ_DEVICE_CONTROL == (int)WH_IRP_MJ_DEVICE_CONTROL, "major");
_Static_assert((int)IRP_MJ_CLEANUP == (int)WH_IRP_MJ_CLEANUP, "major");
_Static_assert((int)DeviceUsageTypeDumpFile == (int)WH_DeviceUsageTypeDumpFile, "usage");
_Static_assert((int)DeviceUsageTypeHibernation == (int)WH_DeviceUsageTypeHibernation, "usage");
_Static_assert((int)DeviceUsageTypePaging == (int)WH_DeviceUsageTypePaging, "usage");
_Static_assert((int)TargetDeviceRelation == (int)WH_TargetDeviceRelation, "rel");
_Static_assert((int)BusQueryInstanceID == (int)WH_BusQueryInstanceID, "id");
_Static_assert((int)STATUS_NOT_SUPPORTED == (int)WH_STATUS_NOT_SUPPORTED, "status");
_Static_assert((int)DO_DEVICE_INITIALIZING == (int)WH_DO_DEVICE_INITIALIZING, "flag");
_Static_assert((int)SL_INVOKE_ON_SUCCESS == (int)WH_SL_INVOKE_ON_SUCCESS, "sl");
_Static_assert((int)DO_POWER_PAGABLE == (int)WH_DO_POWER_PAGABLE, "flag");
_Static_assert((int)IRP_MN_SET_POWER == (int)WH_IRP_MN_SET_POWER, "minor");
_Static_assert((int)IRP_MN_QUERY_POWER == (int)WH_IRP_MN_QUERY_POWER, "minor");
_Static_assert((int)SystemPowerState == (int)WH_SystemPowerState, "power type");
_Static_assert((int)DevicePowerState == (int)WH_DevicePowerState, "power type");
_Static_assert((int)PowerSystemWorking == (int)WH_PowerSystemWorking, "S0");
_Static_assert((int)PowerSystemHibernate == (int)WH_PowerSystemHibernate, "S4");
_Static_assert((int)PowerDeviceD0 == (int)WH_PowerDeviceD0, "D0");
_Static_assert((int)PowerDeviceD3 == (int)WH_PowerDeviceD3, "D3");
_Static_assert((int)PowerActionHibernate == (int)WH_PowerActionHibernate, "action");
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.Power.Type);
SAME(wh_io_stack_location, IO_STACK_LOCATION, Parameters.Power.ShutdownType);
