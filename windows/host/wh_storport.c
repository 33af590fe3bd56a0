/* StorPort, as far as a full-duplex virtual miniport (xenvbd) needs it:
 * StorPortInitialize takes the driver's PnP (AddDevice makes the adapter
 * FDO on the child PDO), START is passed to the PDO first and then runs
 * HwFindAdapter (PASSIVE_LEVEL) and HwInitialize (DIRQL); SRBs go to
 * HwStartIo at DISPATCH_LEVEL, each with its SRB extension, several in
 * flight at once, and each must come back exactly once through
 * StorPortNotification(RequestComplete).  REMOVE stops the adapter
 * (ScsiStopAdapter) and deletes its FDO.  After HwInitialize the
 * supported control types are queried (PASSIVE_LEVEL) and only those are
 * called.
 *
 * Surprise removal (Microsoft's HW_ADAPTER_CONTROL and
 * SCSI_ADAPTER_CONTROL_TYPE pages): SURPRISE_REMOVAL on the adapter's
 * stack calls HwAdapterControl(ScsiAdapterSurpriseRemoval, Parameters
 * NULL) below DISPATCH_LEVEL (here PASSIVE_LEVEL), Windows 8 on (before,
 * the list StorPort offers ends at ScsiSetRunningConfig), only for a
 * miniport that listed it, then goes to the PDO.  From then on StorPort
 * sends the miniport nothing: a new request fails at once with
 * SRB_STATUS_NO_DEVICE (the host's choice of status).  StorPort stops an
 * adapter only with no request uncompleted, so an SRB of the adapter
 * still outstanding when REMOVE comes to ScsiStopAdapter is a violation
 * (on a real system the removal waits for it, or it completes later into
 * a deleted adapter); wh_storport_stop_outstanding counts them.  Power: StorPort owns the stack's policy; a system set-power IRP
 * goes to the PDO, then StorPort requests D3 (ScsiStopAdapter at DIRQL,
 * then the PDO) or D0 (the PDO, then ScsiRestartAdapter at DIRQL).
 *
 * DMA (wh_storport_dma.c): a miniport declaring NeedPhysicalAddresses gets
 * each data SRB's scatter/gather list from StorPortGetScatterGatherList
 * (valid from HwStartIo until the SRB completes: asking for it later is a
 * violation).  With wh_storport_double_buffer set the host plays a
 * double-buffering HAL (or DMA Verifier) for READs and WRITEs: the list
 * names bounce pages, a read's are copied over the SRB's buffer when it
 * completes, so a miniport that moves the data through the buffer's
 * system address instead loses it.
 *
 * Resets (Microsoft's HW_RESET_BUS page): wh_storport_reset_bus calls
 * HwResetBus at DISPATCH_LEVEL under the StartIo lock, as StorPort does
 * after a timeout; every SRB HwStartIo received must have completed when
 * it returns.  wh_storport_reset_unit sends SRB_FUNCTION_RESET_LOGICAL_UNIT
 * or _RESET_DEVICE through HwStartIo; once it completed, nothing sent to
 * the unit before may be outstanding.  A later completion of an SRB given
 * back is a second completion (a violation).
 *
 * The dump stack (wh_storport_dump_*): SRB_FUNCTION_DUMP_POINTERS is sent
 * to the running adapter only if HW_INITIALIZATION_DATA.FeatureSupport
 * (the Windows 8 layout) has STOR_FEATURE_DUMP_POINTERS; a second copy of
 * the image is entered as Windows enters the dump port's miniport
 * (DriverEntry(NULL, NULL)), and after the bug check everything runs at
 * HIGH_LEVEL with the interrupt masked: HwFindAdapter with the handoff in
 * MiniportDumpData, HwInitialize, then HwStartIo, which must complete its
 * SRB before it returns (the miniport has no HwInterrupt to poll).  Every
 * DDI's own IRQL rule then reports any wait, lock or allocation.
 *
 * Not modelled: LUN PDOs and the class driver, StorPort's queue depth and
 * busy handling, timeouts (resets happen when a scenario says so),
 * HwBuildIo, StorPortCompleteRequest, SRB_FUNCTION_PNP (StorPort's
 * surprise-removal SRB to a unit), SG lists in the dump stack.
 * Layouts: x64 HW_INITIALIZATION_DATA (Windows 8 size, 208),
 * SCSI_REQUEST_BLOCK and STOR_SCATTER_GATHER_LIST as
 * windows/include/storport_layout.h records them. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh_storport.h"

enum { HID_INITIALIZE = 8, HID_STARTIO = 16, HID_FINDADAPTER = 32, HID_DEVEXT = 64,
       HID_SRBEXT = 72, HID_NEEDPHYS = 89, HID_ADAPTERCONTROL = 120, HID_SIZE_VISTA = 136,
       HID_FEATURESUPPORT = 184, HID_SIZE_WIN8 = 208, PCI_SIZE = 200, PCI_DUMPDATA = 64 };
enum { RequestComplete = 0, NextRequest = 1, BusChangeDetected = 7 };
enum { STOR_EXT_GET_SYSTEM_ADDRESS = 5, STOR_EXT_GET_DEVICE_OBJECTS = 8 };
enum { STOR_FEATURE_DUMP_POINTERS = 0x8, SRB_FUNCTION_DUMP_POINTERS = 0x26, MDP_SIZE = 112,
       MDP_PRIVATE = 64 };
#define SP_MAX_INFLIGHT 32

_Static_assert(sizeof(struct wh_srb) == 88, "SCSI_REQUEST_BLOCK (x64)");
_Static_assert(offsetof(struct wh_srb, DataBuffer) == 24, "SRB DataBuffer");
_Static_assert(offsetof(struct wh_srb, SrbExtension) == 56, "SRB SrbExtension");
_Static_assert(offsetof(struct wh_srb, Cdb) == 72, "SRB Cdb");

typedef uint8_t WH_MSABI (*hw_init_fn)(void *);
typedef uint8_t WH_MSABI (*hw_startio_fn)(void *, struct wh_srb *);
typedef uint32_t WH_MSABI (*hw_find_fn)(void *, void *, void *, char *, void *, uint8_t *);
typedef int32_t WH_MSABI (*entry_fn)(void *, void *);

/* What a miniport's StorPortInitialize said: the running one and the dump copy. */
struct sp_hid {
    uint8_t b[HID_SIZE_WIN8];
    bool have;
};
#define SP_CONTROL_TYPES 32
struct sp_adapter {
    struct wh_device_object *fdo, *pdo, *lower;
    uint8_t *devext;
    bool started;
    bool d3;                                 /* powered down (device power D3) */
    bool surprise_removed;                   /* SURPRISE_REMOVAL came: nothing more is sent */
    bool supported[SP_CONTROL_TYPES];        /* ScsiQuerySupportedControlTypes */
};
enum { ScsiQuerySupportedControlTypes = 0, ScsiStopAdapter = 1, ScsiRestartAdapter = 2,
       ScsiAdapterSurpriseRemoval = 16 };
unsigned wh_storport_stops, wh_storport_restarts;
unsigned wh_storport_surprise_notices, wh_storport_stop_outstanding;
static struct sp_hid live_hid, dump_hid;
static struct sp_adapter adapters[4];
static pthread_mutex_t sp_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sp_cv = PTHREAD_COND_INITIALIZER;
/* the SRBs the miniport has (srb) and those not yet given back to the
 * class driver (owner), with their DMA (wh_storport_dma.c) */
static struct {
    struct wh_srb *srb, *owner;
    struct sp_dma *dma;
    struct sp_adapter *a;
} inflight[SP_MAX_INFLIGHT];
static unsigned completions;
static volatile bool dump_mode;              /* after the bug check: the dump stack runs */
static uint8_t *dump_devext;

static void *hid_ptr(const struct sp_hid *h, unsigned off)
{
    void *p;
    memcpy(&p, h->b + off, sizeof(p));
    return p;
}

static uint32_t hid_u32(const struct sp_hid *h, unsigned off)
{
    uint32_t v;
    memcpy(&v, h->b + off, sizeof(v));
    return v;
}

static struct sp_adapter *by_devext(void *ext)
{
    for (int i = 0; i < 4; i++)
        if (adapters[i].devext && adapters[i].devext == ext)
            return &adapters[i];
    return NULL;
}

/* ---- the adapter's PnP ------------------------------------------------------ */
static NTSTATUS_ WH_MSABI sp_sync_done(struct wh_device_object *d, struct wh_irp *irp, void *ctx)
{
    (void)d;
    (void)irp;
    __atomic_store_n((volatile int *)ctx, 1, __ATOMIC_RELEASE);
    return WH_STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS_ sp_forward_and_wait(struct sp_adapter *a, struct wh_irp *irp)
{
    struct wh_io_stack_location *cur = irp->Tail.CurrentStackLocation, *next = cur - 1;
    volatile int done = 0;
    memcpy(next, cur, offsetof(struct wh_io_stack_location, CompletionRoutine));
    next->Control = WH_SL_INVOKE_ON_SUCCESS | WH_SL_INVOKE_ON_ERROR | WH_SL_INVOKE_ON_CANCEL;
    next->CompletionRoutine = (void *)sp_sync_done;
    next->Context = (void *)&done;
    wh_IofCallDriver(a->lower, irp);
    for (int i = 0; i < 20000 && !__atomic_load_n(&done, __ATOMIC_ACQUIRE); i++)
        usleep(1000);
    return irp->IoStatus.Status;
}

static void sp_query_control_types(struct sp_adapter *a);

/* SRBs of adapter a the miniport has not completed. */
static unsigned sp_outstanding_on(struct sp_adapter *a)
{
    unsigned n = 0;
    pthread_mutex_lock(&sp_m);
    for (unsigned i = 0; i < SP_MAX_INFLIGHT; i++)
        n += inflight[i].srb && inflight[i].a == a;
    pthread_mutex_unlock(&sp_m);
    return n;
}

static NTSTATUS_ sp_start(struct sp_adapter *a, struct wh_irp *irp)
{
    NTSTATUS_ st = sp_forward_and_wait(a, irp);
    if (!WH_NT_SUCCESS(st))
        return st;
    uint8_t pci[PCI_SIZE];
    memset(pci, 0, sizeof(pci));
    uint32_t len = PCI_SIZE;
    memcpy(pci, &len, sizeof(len));              /* MiniportDumpData (64) stays NULL */
    uint8_t again = 0;
    uint32_t r = ((hw_find_fn)hid_ptr(&live_hid, HID_FINDADAPTER))(a->devext, NULL, NULL, NULL, pci,
                                                                  &again);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("HwFindAdapter", "returned at IRQL %u", wh_irql);
    if (r != 1) {                                /* SP_RETURN_FOUND */
        fprintf(stderr, "wh_storport: HwFindAdapter returned %u\n", r);
        return (NTSTATUS_)0xC000000E;            /* STATUS_NO_SUCH_DEVICE */
    }
    wh_irql = WH_PLATFORM_DIRQL;                 /* HwInitialize runs at DIRQL */
    uint8_t ok = ((hw_init_fn)hid_ptr(&live_hid, HID_INITIALIZE))(a->devext);
    if (wh_irql != WH_PLATFORM_DIRQL)
        wh_violation("HwInitialize", "returned at IRQL %u", wh_irql);
    wh_irql = WH_PASSIVE_LEVEL;
    a->started = ok;
    if (ok)
        sp_query_control_types(a);
    return ok ? WH_STATUS_SUCCESS : (NTSTATUS_)0xC0000001;
}

/* ---- the adapter's power (StorPort owns the stack's power policy) ----------------- */
typedef int WH_MSABI (*ctl_fn)(void *, int, void *);

/* HwAdapterControl for one control type, at the IRQL the StorPort
 * documentation gives it (PASSIVE_LEVEL for the query, DIRQL under the
 * interrupt lock for stop and restart, below DISPATCH_LEVEL for surprise
 * removal), only if the miniport listed it. */
static int sp_adapter_control(struct sp_adapter *a, int type, void *params)
{
    ctl_fn ctl = (ctl_fn)hid_ptr(&live_hid, HID_ADAPTERCONTROL);
    if (!ctl || (type != ScsiQuerySupportedControlTypes && !a->supported[type]))
        return -1;
    uint8_t old = wh_irql, at = type == ScsiStopAdapter || type == ScsiRestartAdapter
                                    ? WH_PLATFORM_DIRQL : WH_PASSIVE_LEVEL;
    wh_irql = at;
    int r = ctl(a->devext, type, params);
    if (wh_irql != at)
        wh_violation("HwAdapterControl", "type %d returned at IRQL %u, called at %u", type, wh_irql,
                     at);
    wh_irql = old;
    if (r != 0)                                  /* ScsiAdapterControlSuccess */
        wh_violation("HwAdapterControl", "type %d returned %d: it must return "
                     "ScsiAdapterControlSuccess", type, r);
    return r;
}

/* After HwInitialize, before the first I/O: which control types the
 * miniport supports (StorPort calls only those afterwards). */
static void sp_query_control_types(struct sp_adapter *a)
{
    uint8_t list[4 + SP_CONTROL_TYPES];          /* SCSI_SUPPORTED_CONTROL_TYPE_LIST */
    memset(list, 0, sizeof(list));
    /* Windows 8's StorPort knows ScsiAdapterSurpriseRemoval (16) and more;
     * an earlier one is taken to offer the types up to ScsiSetRunningConfig */
    uint32_t max = wh_ntddi >= WH_NTDDI_WIN8 ? SP_CONTROL_TYPES : 5;
    memcpy(list, &max, sizeof(max));
    sp_adapter_control(a, ScsiQuerySupportedControlTypes, list);
    for (unsigned i = 0; i < SP_CONTROL_TYPES; i++) {
        a->supported[i] = i < max && list[4 + i] != 0;
        if (i >= max && list[4 + i])
            wh_violation("HwAdapterControl", "ScsiQuerySupportedControlTypes wrote "
                         "SupportedTypeList[%u], beyond MaxControlType %u", i, max);
    }
    if (!a->supported[ScsiStopAdapter] || !a->supported[ScsiRestartAdapter])
        wh_violation("HwAdapterControl", "ScsiStopAdapter and ScsiRestartAdapter not both "
                     "supported (a StorPort miniport must support them)");
}

/* A device power IRP (StorPort requested it as the stack's power policy
 * owner): D3 stops the adapter (nothing is outstanding then: StorPort
 * holds new requests), then goes to the PDO; D0 goes to the PDO first,
 * then restarts the adapter (ScsiRestartAdapter, or HwFindAdapter and
 * HwInitialize again for a miniport without it). */
static NTSTATUS_ sp_device_power(struct sp_adapter *a, struct wh_irp *irp, uint32_t state)
{
    NTSTATUS_ st;
    if (state != WH_PowerDeviceD0) {
        if (wh_storport_outstanding())
            wh_violation("StorPort", "D%u with %u SRB(s) outstanding", state - 1,
                         wh_storport_outstanding());
        if (a->started && !a->d3) {
            sp_adapter_control(a, ScsiStopAdapter, NULL);
            wh_storport_stops++;
        }
        a->d3 = true;
        st = sp_forward_and_wait(a, irp);
    } else {
        st = sp_forward_and_wait(a, irp);
        if (WH_NT_SUCCESS(st) && a->started && a->d3) {
            if (a->supported[ScsiRestartAdapter]) {
                sp_adapter_control(a, ScsiRestartAdapter, NULL);
            } else {
                wh_violation("StorPort", "a miniport without ScsiRestartAdapter (not modelled: "
                             "HwFindAdapter and HwInitialize again)");
            }
            wh_storport_restarts++;
        }
        a->d3 = false;
    }
    return st;
}

/* A system power IRP: passed down (only the PDO's driver completes it),
 * and for a set-power StorPort asks for the matching device power state
 * for its stack once the PDO has it: D3 for a sleeping state (for the disk
 * with the hibernation file too: D3 without powering it off), D0 for S0. */
static NTSTATUS_ sp_system_power(struct sp_adapter *a, struct wh_irp *irp, uint8_t minor,
                                 uint32_t state, uint32_t action)
{
    NTSTATUS_ st = sp_forward_and_wait(a, irp);
    if (minor == WH_IRP_MN_SET_POWER && WH_NT_SUCCESS(st)) {
        uint32_t d = state == WH_PowerSystemWorking ? WH_PowerDeviceD0 : WH_PowerDeviceD3;
        NTSTATUS_ dst = wh_power_irp(a->pdo, WH_IRP_MN_SET_POWER, WH_DevicePowerState, d, action);
        if (!WH_NT_SUCCESS(dst))
            fprintf(stderr, "wh_storport: D%u for the adapter: 0x%08x\n", d - 1, (unsigned)dst);
    }
    return st;
}

static NTSTATUS_ WH_MSABI sp_dispatch(struct wh_device_object *dev, struct wh_irp *irp)
{
    struct sp_adapter *a = *(struct sp_adapter **)dev->DeviceExtension;
    struct wh_io_stack_location *sl = irp->Tail.CurrentStackLocation;
    if (sl->MajorFunction == WH_IRP_MJ_PNP && sl->MinorFunction == WH_IRP_MN_START_DEVICE) {
        NTSTATUS_ st = sp_start(a, irp);
        irp->IoStatus.Status = st;
        wh_IofCompleteRequest(irp, 0);
        return st;
    }
    if (sl->MajorFunction == WH_IRP_MJ_POWER &&
        (sl->MinorFunction == WH_IRP_MN_SET_POWER || sl->MinorFunction == WH_IRP_MN_QUERY_POWER)) {
        uint8_t minor = sl->MinorFunction;
        uint32_t type = sl->Parameters.Power.Type, state = sl->Parameters.Power.State;
        uint32_t action = sl->Parameters.Power.ShutdownType;
        NTSTATUS_ st = type == WH_DevicePowerState && minor == WH_IRP_MN_SET_POWER
                           ? sp_device_power(a, irp, state)
                           : type == WH_SystemPowerState ? sp_system_power(a, irp, minor, state, action)
                                                         : sp_forward_and_wait(a, irp);
        irp->IoStatus.Status = st;
        wh_IofCompleteRequest(irp, 0);
        return st;
    }
    if (sl->MajorFunction == WH_IRP_MJ_PNP && sl->MinorFunction == WH_IRP_MN_SURPRISE_REMOVAL) {
        /* the miniport hears of it (if it listed the control type), StorPort
         * sends it nothing more; then the PDO */
        a->surprise_removed = true;
        if (a->started && sp_adapter_control(a, ScsiAdapterSurpriseRemoval, NULL) == 0)
            wh_storport_surprise_notices++;
    }
    if (sl->MajorFunction == WH_IRP_MJ_PNP && sl->MinorFunction == WH_IRP_MN_REMOVE_DEVICE) {
        /* the adapter stops (HwAdapterControl(ScsiStopAdapter) at DIRQL)
         * with nothing outstanding, the IRP goes down, the FDO goes */
        unsigned left = sp_outstanding_on(a);
        if (left) {
            wh_storport_stop_outstanding += left;
            wh_violation("StorPort", "REMOVE: ScsiStopAdapter with %u SRB(s) of the adapter still "
                         "outstanding%s: StorPort stops an adapter only when no request is "
                         "uncompleted", left, a->surprise_removed ? " after SURPRISE_REMOVAL" : "");
        }
        if (a->started && !a->d3)
            sp_adapter_control(a, ScsiStopAdapter, NULL);
        a->started = false;
        irp->CurrentLocation++;
        irp->Tail.CurrentStackLocation++;
        NTSTATUS_ st = wh_IofCallDriver(a->lower, irp);
        wh_IoDetachDevice(a->lower);
        wh_IoDeleteDevice(a->fdo);
        wh_pool_free(a->devext, "(StorPort) device extension");
        *a = (struct sp_adapter){ 0 };
        return st;
    }
    irp->CurrentLocation++;                      /* pass it down untouched */
    irp->Tail.CurrentStackLocation++;
    return wh_IofCallDriver(a->lower, irp);
}

static NTSTATUS_ WH_MSABI sp_add_device(struct wh_driver_object *drv, struct wh_device_object *pdo)
{
    struct sp_adapter *a = NULL;
    for (int i = 0; i < 4 && !a; i++)
        if (!adapters[i].fdo)
            a = &adapters[i];
    if (!a || !live_hid.have)
        return WH_STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS_ st = wh_IoCreateDevice(drv, sizeof(void *), NULL, 4 /* FILE_DEVICE_CONTROLLER */,
                                     0x80, 0, &a->fdo);
    if (!WH_NT_SUCCESS(st))
        return st;
    *(struct sp_adapter **)a->fdo->DeviceExtension = a;
    a->pdo = pdo;
    a->lower = wh_IoAttachDeviceToDeviceStack(a->fdo, pdo);
    a->devext = wh_pool_alloc(hid_u32(&live_hid, HID_DEVEXT), 0x65645053 /* SPde */, false);
    memset(a->devext, 0, hid_u32(&live_hid, HID_DEVEXT));
    a->fdo->Flags &= ~(uint32_t)WH_DO_DEVICE_INITIALIZING;
    return WH_STATUS_SUCCESS;
}

/* ---- StorPort's exports --------------------------------------------------------- */
/* The running miniport's DriverEntry passes its driver object; the dump
 * port enters the dump copy with none (after the bug check, HIGH_LEVEL). */
WH_DDI(uint32_t, StorPortInitialize, struct wh_driver_object *drv, void *regpath, void *init,
       void *ctx)
{
    (void)regpath;
    (void)ctx;
    if (drv)
        wh_irql_exact("StorPortInitialize", WH_PASSIVE_LEVEL);
    uint32_t size;
    memcpy(&size, init, sizeof(size));
    if (size < HID_SIZE_VISTA)
        return (uint32_t)0xC0000004;             /* STATUS_INFO_LENGTH_MISMATCH */
    struct sp_hid *h = drv ? &live_hid : &dump_hid;
    memset(h->b, 0, sizeof(h->b));
    memcpy(h->b, init, size < HID_SIZE_WIN8 ? size : HID_SIZE_WIN8);
    h->have = true;
    if (!drv)
        return 0;
    drv->DriverExtension->AddDevice = (void *)sp_add_device;
    for (int i = 0; i <= WH_IRP_MJ_MAXIMUM; i++)
        drv->MajorFunction[i] = (void *)sp_dispatch;
    return 0;
}
WH_EXPORT(StorPortInitialize);

WH_DDI(void, StorPortNotification, int type, void *ext, ...)
{
    __builtin_ms_va_list ap;
    __builtin_ms_va_start(ap, ext);
    if (type == RequestComplete) {
        struct wh_srb *srb = __builtin_va_arg(ap, struct wh_srb *);
        if (!dump_mode)
            wh_irql_max("StorPortNotification(RequestComplete)", WH_DISPATCH_LEVEL);
        pthread_mutex_lock(&sp_m);
        bool ours = false;
        for (unsigned i = 0; srb && i < SP_MAX_INFLIGHT && !ours; i++)
            if (inflight[i].srb == srb) {
                inflight[i].srb = NULL;
                sp_dma_invalidate(inflight[i].dma);   /* its SG list is gone */
                ours = true;
            }
        completions++;
        pthread_cond_broadcast(&sp_cv);
        pthread_mutex_unlock(&sp_m);
        if (!ours)
            wh_violation("StorPortNotification", "RequestComplete for SRB %p, which is not "
                         "outstanding (completed twice?)", (void *)srb);
    } else if (type == NextRequest || type == BusChangeDetected) {
        if (dump_mode && type == BusChangeDetected)
            wh_violation("StorPortNotification", "BusChangeDetected in the dump stack");
    } else {
        wh_fatal("StorPortNotification type %d is not implemented by the host", type);
    }
    __builtin_ms_va_end(ap);
}
WH_EXPORT(StorPortNotification);

WH_DDI(uint32_t, StorPortExtendedFunction, int code, void *ext, ...)
{
    struct sp_adapter *a = by_devext(ext);
    __builtin_ms_va_list ap;
    __builtin_ms_va_start(ap, ext);
    uint32_t rc = 0;
    if (dump_mode && ext == dump_devext) {
        /* the dump port has no device objects and maps nothing */
        wh_violation("StorPortExtendedFunction", "function %d called by the dump copy at IRQL %u: "
                     "the dump stack has no device objects or mappings (the live path?)", code,
                     wh_irql);
        rc = 0xC1000002;                         /* STOR_STATUS_NOT_IMPLEMENTED */
    } else if (code == STOR_EXT_GET_DEVICE_OBJECTS && a) {
        wh_irql_max("StorPortGetDeviceObjects", WH_DISPATCH_LEVEL);
        void **fdo = __builtin_va_arg(ap, void **), **pdo = __builtin_va_arg(ap, void **);
        void **lower = __builtin_va_arg(ap, void **);
        *fdo = a->fdo;
        *pdo = a->pdo;
        *lower = a->lower;
    } else if (code == STOR_EXT_GET_SYSTEM_ADDRESS && a) {
        wh_irql_max("StorPortGetSystemAddress", WH_DISPATCH_LEVEL);
        struct wh_srb *srb = __builtin_va_arg(ap, struct wh_srb *);
        void **va = __builtin_va_arg(ap, void **);
        *va = srb->DataBuffer;
    } else {
        wh_fatal("StorPortExtendedFunction %d is not implemented by the host", code);
    }
    __builtin_ms_va_end(ap);
    return rc;
}
WH_EXPORT(StorPortExtendedFunction);

/* Valid from HwStartIo until the SRB completes; the miniport must not
 * change or free it.  (Microsoft's page names no IRQL: any is taken.) */
WH_DDI(void *, StorPortGetScatterGatherList, void *ext, struct wh_srb *srb)
{
    if (dump_mode)
        wh_fatal("StorPortGetScatterGatherList from the dump copy is not modelled by the host");
    if (!by_devext(ext))
        wh_violation("StorPortGetScatterGatherList", "%p is not an adapter's device extension",
                     ext);
    void *list = NULL;
    bool outstanding = false, known = false;
    pthread_mutex_lock(&sp_m);
    for (unsigned i = 0; i < SP_MAX_INFLIGHT && !known; i++)
        if (inflight[i].owner == srb) {
            known = true;
            outstanding = inflight[i].srb == srb;
            list = sp_dma_list(inflight[i].dma);
        }
    pthread_mutex_unlock(&sp_m);
    if (!outstanding) {
        wh_violation("StorPortGetScatterGatherList", "SRB %p is not outstanding (%s): its list "
                     "is valid only until it completes", (void *)srb,
                     known ? "completed already" : "never given to HwStartIo");
        return NULL;
    }
    return list;
}
WH_EXPORT(StorPortGetScatterGatherList);

WH_DDI(void, StorPortStallExecution, uint32_t us)
{
    usleep(us);
}
WH_EXPORT(StorPortStallExecution);

/* ---- the class driver's part: SRBs issued together, waited for ----------------- */
struct wh_device_object *wh_storport_fdo(unsigned i)
{
    return i < 4 ? adapters[i].fdo : NULL;
}

uint32_t wh_storport_features(void)
{
    return hid_u32(&live_hid, HID_FEATURESUPPORT);
}

static unsigned sp_slot(struct wh_srb *srb)
{
    for (unsigned i = 0; i < SP_MAX_INFLIGHT; i++)
        if (!inflight[i].owner) {
            inflight[i].srb = inflight[i].owner = srb;
            return i;
        }
    wh_fatal("wh_storport: more than %u SRBs in flight", SP_MAX_INFLIGHT);
}

static int sp_find(struct wh_srb *srb)
{
    for (unsigned i = 0; i < SP_MAX_INFLIGHT; i++)
        if (inflight[i].owner == srb)
            return (int)i;
    return -1;
}

int wh_storport_srbs_start(struct wh_device_object *fdo, struct wh_srb **srbs, unsigned n)
{
    struct sp_adapter *a = *(struct sp_adapter **)fdo->DeviceExtension;
    if (a->surprise_removed) {                   /* StorPort fails them itself */
        for (unsigned k = 0; k < n; k++)
            srbs[k]->SrbStatus = 0x08;           /* SRB_STATUS_NO_DEVICE */
        return -1;
    }
    if (!a->started || a->d3)
        return -1;                               /* StorPort holds them (not modelled) */
    for (unsigned k = 0; k < n; k++) {
        struct wh_srb *srb = srbs[k];
        srb->Length = sizeof(*srb);
        srb->SrbExtension = wh_pool_alloc(hid_u32(&live_hid, HID_SRBEXT), 0x78655253, false);
        memset(srb->SrbExtension, 0, hid_u32(&live_hid, HID_SRBEXT));
        /* the HAL maps the transfer for DMA (scatter/gather list, bounce pages) */
        struct sp_dma *dma = live_hid.b[HID_NEEDPHYS] ? sp_dma_map(srb) : NULL;
        pthread_mutex_lock(&sp_m);
        unsigned s = sp_slot(srb);
        inflight[s].dma = dma;
        inflight[s].a = a;
        pthread_mutex_unlock(&sp_m);
    }
    wh_processor_wait();
    wh_irql = WH_DISPATCH_LEVEL;                 /* StorPort's start-I/O lock, full duplex */
    for (unsigned k = 0; k < n; k++) {
        ((hw_startio_fn)hid_ptr(&live_hid, HID_STARTIO))(a->devext, srbs[k]);
        if (wh_irql != WH_DISPATCH_LEVEL)
            wh_violation("HwStartIo", "returned at IRQL %u", wh_irql);
        wh_irql = WH_DISPATCH_LEVEL;
    }
    wh_irql = WH_PASSIVE_LEVEL;
    return 0;
}

unsigned wh_storport_outstanding(void)
{
    unsigned n = 0;
    pthread_mutex_lock(&sp_m);
    for (unsigned i = 0; i < SP_MAX_INFLIGHT; i++)
        n += inflight[i].srb != NULL;
    pthread_mutex_unlock(&sp_m);
    return n;
}

int wh_storport_srbs_wait(struct wh_srb **srbs, unsigned n, unsigned timeout_ms, bool report)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000 + 1;
    int rc = 0;
    pthread_mutex_lock(&sp_m);
    for (unsigned k = 0; k < n; k++) {
        int slot = sp_find(srbs[k]);
        if (slot < 0)
            continue;
        while (inflight[slot].srb == srbs[k])
            if (pthread_cond_timedwait(&sp_cv, &sp_m, &until))
                break;
        if (inflight[slot].srb == srbs[k]) {
            if (report)
                wh_violation("HwStartIo", "SRB (CDB 0x%02x) never completed", srbs[k]->Cdb[0]);
            rc = -1;
            continue;                            /* still the miniport's */
        }
        struct sp_dma *dma = inflight[slot].dma;
        inflight[slot].dma = NULL;
        inflight[slot].owner = NULL;
        inflight[slot].a = NULL;
        pthread_mutex_unlock(&sp_m);
        sp_dma_unmap(dma);                       /* the HAL flushes the adapter buffers */
        wh_pool_free(srbs[k]->SrbExtension, "(StorPort) SRB extension");
        pthread_mutex_lock(&sp_m);
    }
    pthread_mutex_unlock(&sp_m);
    return rc;
}

int wh_storport_srbs(struct wh_device_object *fdo, struct wh_srb **srbs, unsigned n,
                     unsigned timeout_ms)
{
    if (wh_storport_srbs_start(fdo, srbs, n))
        return -1;
    return wh_storport_srbs_wait(srbs, n, timeout_ms, true);
}

/* HwResetBus as StorPort sends it after a timeout (Microsoft's
 * HW_RESET_BUS page): device queues paused, DISPATCH_LEVEL, under the
 * StartIo lock; the miniport completes the SRBs HwStartIo received for
 * the bus during the call (SRB_STATUS_BUS_RESET) and returns TRUE.  One
 * still outstanding when it returns is a violation.  Returns how many. */
unsigned wh_storport_reset_bus(struct wh_device_object *fdo, bool *ok)
{
    struct sp_adapter *a = *(struct sp_adapter **)fdo->DeviceExtension;
    typedef uint8_t WH_MSABI (*reset_fn)(void *, uint32_t);
    reset_fn reset = (reset_fn)hid_ptr(&live_hid, 40 /* HwResetBus */);
    if (!reset)
        wh_fatal("wh_storport: the miniport has no HwResetBus");
    wh_irql = WH_DISPATCH_LEVEL;
    *ok = reset(a->devext, 0) != 0;
    if (wh_irql != WH_DISPATCH_LEVEL)
        wh_violation("HwResetBus", "returned at IRQL %u", wh_irql);
    wh_irql = WH_PASSIVE_LEVEL;
    unsigned left = wh_storport_outstanding();
    if (left)
        wh_violation("HwResetBus", "returned with %u SRB(s) of the bus still outstanding: they "
                     "must complete during the call", left);
    return left;
}

/* A logical-unit or target reset (SRB_FUNCTION_RESET_LOGICAL_UNIT 0x20,
 * SRB_FUNCTION_RESET_DEVICE 0x13) as StorPort sends it: an SRB of its own
 * through HwStartIo at DISPATCH_LEVEL.  Once it has completed, nothing
 * sent to the unit before it may be outstanding (one target, one LU here).
 * Returns how many are; *status is the reset SRB's SrbStatus. */
unsigned wh_storport_reset_unit(struct wh_device_object *fdo, uint8_t function, uint8_t *status)
{
    struct wh_srb srb;
    memset(&srb, 0, sizeof(srb));
    srb.Function = function;
    srb.TimeOutValue = 10;
    *status = 0xff;
    if (wh_storport_srbs_start(fdo, (struct wh_srb *[]){ &srb }, 1))
        return wh_storport_outstanding();
    if (!wh_storport_srbs_wait((struct wh_srb *[]){ &srb }, 1, 10000, true))
        *status = srb.SrbStatus;
    unsigned left = wh_storport_outstanding();
    if (left)
        wh_violation("HwStartIo", "the %s reset completed with %u SRB(s) of the unit still "
                     "outstanding", function == 0x20 ? "LU" : "device", left);
    return left;
}

int wh_storport_srb(struct wh_device_object *fdo, struct wh_srb *srb, unsigned timeout_ms)
{
    return wh_storport_srbs(fdo, &srb, 1, timeout_ms);
}

/* ---- the crash-dump stack --------------------------------------------------------- */
/* What the running adapter answers to SRB_FUNCTION_DUMP_POINTERS (the
 * crash-dump driver asks at boot and at each paging-file notification),
 * or NULL: StorPort sends it only to a miniport declaring
 * STOR_FEATURE_DUMP_POINTERS. */
void *wh_storport_dump_pointers(struct wh_device_object *fdo)
{
    uint32_t features = wh_storport_features();
    if (!(features & STOR_FEATURE_DUMP_POINTERS)) {
        fprintf(stderr, "wh_storport: FeatureSupport 0x%x lacks STOR_FEATURE_DUMP_POINTERS: no "
                "SRB_FUNCTION_DUMP_POINTERS is sent\n", features);
        return NULL;
    }
    uint8_t *mdp = wh_pool_alloc(MDP_SIZE, 0x7044504d /* MPDp */, false);
    memset(mdp, 0, MDP_SIZE);
    struct wh_srb srb;
    memset(&srb, 0, sizeof(srb));
    srb.Function = SRB_FUNCTION_DUMP_POINTERS;
    srb.DataBuffer = mdp;
    srb.DataTransferLength = MDP_SIZE;
    void *priv = NULL;
    if (!wh_storport_srb(fdo, &srb, 5000) && srb.SrbStatus == 1) {
        uint16_t ver, size;
        memcpy(&ver, mdp, 2);
        memcpy(&size, mdp + 2, 2);
        if (ver != 0x0100 || size != MDP_SIZE)
            fprintf(stderr, "wh_storport: MINIPORT_DUMP_POINTERS version 0x%x size %u\n", ver, size);
        else
            memcpy(&priv, mdp + MDP_PRIVATE, sizeof(priv));
    } else {
        fprintf(stderr, "wh_storport: SRB_FUNCTION_DUMP_POINTERS: status 0x%02x\n", srb.SrbStatus);
    }
    wh_pool_free(mdp, "(StorPort) dump pointers");
    return priv;
}

/* The bug check: the processor stops taking the interrupt, and the dump
 * copy of the image (loaded into img) is entered as the dump port enters
 * it, then HwFindAdapter gets the handoff in MiniportDumpData and
 * HwInitialize runs; all at HIGH_LEVEL.  0 if the adapter was found. */
int wh_storport_dump_start(struct wh_image *img, void *handoff)
{
    wh_interrupts_mask(true);
    dump_mode = true;
    wh_irql = WH_HIGH_LEVEL;
    int32_t st = ((entry_fn)img->entry)(NULL, NULL);
    if (st != 0 || !dump_hid.have) {
        fprintf(stderr, "wh_storport: the dump copy's DriverEntry returned 0x%08x\n", (unsigned)st);
        return -1;
    }
    if (!(hid_u32(&dump_hid, HID_FEATURESUPPORT) & STOR_FEATURE_DUMP_POINTERS))
        fprintf(stderr, "wh_storport: note: the dump copy's FeatureSupport lacks "
                "STOR_FEATURE_DUMP_POINTERS\n");
    uint32_t extsize = hid_u32(&dump_hid, HID_DEVEXT);
    dump_devext = calloc(1, extsize);            /* the dump port's memory, set aside at boot */
    uint8_t pci[PCI_SIZE];
    memset(pci, 0, sizeof(pci));
    uint32_t len = PCI_SIZE;
    memcpy(pci, &len, sizeof(len));
    memcpy(pci + PCI_DUMPDATA, &handoff, sizeof(handoff));
    uint8_t again = 0;
    uint32_t r = ((hw_find_fn)hid_ptr(&dump_hid, HID_FINDADAPTER))(dump_devext, NULL, NULL, NULL,
                                                                  pci, &again);
    if (wh_irql != WH_HIGH_LEVEL)
        wh_violation("HwFindAdapter (dump)", "returned at IRQL %u", wh_irql);
    if (r != 1) {
        fprintf(stderr, "wh_storport: the dump copy's HwFindAdapter returned %u\n", r);
        return -1;
    }
    uint8_t ok = ((hw_init_fn)hid_ptr(&dump_hid, HID_INITIALIZE))(dump_devext);
    if (wh_irql != WH_HIGH_LEVEL)
        wh_violation("HwInitialize (dump)", "returned at IRQL %u", wh_irql);
    return ok ? 0 : -1;
}

/* One SRB through the dump copy: HwStartIo at HIGH_LEVEL; it must have
 * completed when HwStartIo returns (no HwInterrupt to poll). */
int wh_storport_dump_srb(struct wh_srb *srb)
{
    uint32_t extsize = hid_u32(&dump_hid, HID_SRBEXT);
    void *ext = calloc(1, extsize ? extsize : 1);
    srb->Length = sizeof(*srb);
    srb->SrbExtension = ext;
    pthread_mutex_lock(&sp_m);
    unsigned s = sp_slot(srb);
    pthread_mutex_unlock(&sp_m);
    ((hw_startio_fn)hid_ptr(&dump_hid, HID_STARTIO))(dump_devext, srb);
    if (wh_irql != WH_HIGH_LEVEL)
        wh_violation("HwStartIo (dump)", "returned at IRQL %u", wh_irql);
    wh_irql = WH_HIGH_LEVEL;
    pthread_mutex_lock(&sp_m);
    bool done = inflight[s].srb != srb;
    inflight[s].srb = inflight[s].owner = NULL;
    pthread_mutex_unlock(&sp_m);
    free(ext);
    if (!done)
        wh_violation("HwStartIo (dump)", "SRB (CDB 0x%02x) not complete when HwStartIo returned, "
                     "and the miniport has no HwInterrupt to poll", srb->Cdb[0]);
    return done ? 0 : -1;
}

/* The machine is "restarted": the dump copy is forgotten. */
void wh_storport_dump_end(void)
{
    free(dump_devext);
    dump_devext = NULL;
    dump_mode = false;
    wh_irql = WH_PASSIVE_LEVEL;
    wh_interrupts_mask(false);
}
