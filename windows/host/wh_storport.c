/* StorPort, as far as a full-duplex virtual miniport (xenvbd) needs it:
 * StorPortInitialize takes the driver's PnP (AddDevice makes the adapter
 * FDO on the child PDO), START is passed to the PDO first and then runs
 * HwFindAdapter (PASSIVE_LEVEL) and HwInitialize (DIRQL); SRBs go to
 * HwStartIo at DISPATCH_LEVEL, each with its SRB extension, and must come
 * back exactly once through StorPortNotification(RequestComplete).
 * Not modelled: StorPort's queueing (one SRB at a time here), LUN PDOs,
 * the class driver, timeouts and resets, the dump stack.  REMOVE stops
 * the adapter (ScsiStopAdapter) and deletes its FDO.  Layouts: x64 HW_INITIALIZATION_DATA and SCSI_REQUEST_BLOCK as
 * windows/include/storport_layout.h records them. */
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh.h"

enum { HID_INITIALIZE = 8, HID_STARTIO = 16, HID_FINDADAPTER = 32, HID_DEVEXT = 64,
       HID_SRBEXT = 72, HID_SIZE = 136, PCI_SIZE = 200 };
enum { RequestComplete = 0, NextRequest = 1, BusChangeDetected = 7 };
enum { STOR_EXT_GET_SYSTEM_ADDRESS = 5, STOR_EXT_GET_DEVICE_OBJECTS = 8 };

_Static_assert(sizeof(struct wh_srb) == 88, "SCSI_REQUEST_BLOCK (x64)");
_Static_assert(offsetof(struct wh_srb, DataBuffer) == 24, "SRB DataBuffer");
_Static_assert(offsetof(struct wh_srb, SrbExtension) == 56, "SRB SrbExtension");
_Static_assert(offsetof(struct wh_srb, Cdb) == 72, "SRB Cdb");

typedef uint8_t WH_MSABI (*hw_init_fn)(void *);
typedef uint8_t WH_MSABI (*hw_startio_fn)(void *, struct wh_srb *);
typedef uint32_t WH_MSABI (*hw_find_fn)(void *, void *, void *, char *, void *, uint8_t *);

struct sp_adapter {
    struct wh_device_object *fdo, *pdo, *lower;
    uint8_t *devext;
    bool started;
};
static uint8_t hid[HID_SIZE];
static bool have_hid;
static struct sp_adapter adapters[4];
static pthread_mutex_t sp_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sp_cv = PTHREAD_COND_INITIALIZER;
static struct wh_srb *outstanding;           /* the SRB HwStartIo has (one at a time) */
static unsigned completions;

static void *hid_ptr(unsigned off)
{
    void *p;
    memcpy(&p, hid + off, sizeof(p));
    return p;
}

static uint32_t hid_u32(unsigned off)
{
    uint32_t v;
    memcpy(&v, hid + off, sizeof(v));
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
    uint32_t r = ((hw_find_fn)hid_ptr(HID_FINDADAPTER))(a->devext, NULL, NULL, NULL, pci, &again);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("HwFindAdapter", "returned at IRQL %u", wh_irql);
    if (r != 1) {                                /* SP_RETURN_FOUND */
        fprintf(stderr, "wh_storport: HwFindAdapter returned %u\n", r);
        return (NTSTATUS_)0xC000000E;            /* STATUS_NO_SUCH_DEVICE */
    }
    wh_irql = WH_PLATFORM_DIRQL;                 /* HwInitialize runs at DIRQL */
    uint8_t ok = ((hw_init_fn)hid_ptr(HID_INITIALIZE))(a->devext);
    if (wh_irql != WH_PLATFORM_DIRQL)
        wh_violation("HwInitialize", "returned at IRQL %u", wh_irql);
    wh_irql = WH_PASSIVE_LEVEL;
    a->started = ok;
    return ok ? WH_STATUS_SUCCESS : (NTSTATUS_)0xC0000001;
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
    if (sl->MajorFunction == WH_IRP_MJ_PNP && sl->MinorFunction == WH_IRP_MN_REMOVE_DEVICE) {
        /* the adapter stops (HwAdapterControl(ScsiStopAdapter) at DIRQL),
         * the IRP goes down, the FDO goes */
        typedef int WH_MSABI (*ctl_fn)(void *, int, void *);
        ctl_fn ctl = (ctl_fn)hid_ptr(120);
        if (ctl && a->started) {
            wh_irql = WH_PLATFORM_DIRQL;
            ctl(a->devext, 1 /* ScsiStopAdapter */, NULL);
            wh_irql = WH_PASSIVE_LEVEL;
        }
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
    if (!a || !have_hid)
        return WH_STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS_ st = wh_IoCreateDevice(drv, sizeof(void *), NULL, 4 /* FILE_DEVICE_CONTROLLER */,
                                     0x80, 0, &a->fdo);
    if (!WH_NT_SUCCESS(st))
        return st;
    *(struct sp_adapter **)a->fdo->DeviceExtension = a;
    a->pdo = pdo;
    a->lower = wh_IoAttachDeviceToDeviceStack(a->fdo, pdo);
    a->devext = wh_pool_alloc(hid_u32(HID_DEVEXT), 0x65645053 /* SPde */, false);
    memset(a->devext, 0, hid_u32(HID_DEVEXT));
    a->fdo->Flags &= ~(uint32_t)WH_DO_DEVICE_INITIALIZING;
    return WH_STATUS_SUCCESS;
}

/* ---- StorPort's exports --------------------------------------------------------- */
WH_DDI(uint32_t, StorPortInitialize, struct wh_driver_object *drv, void *regpath, void *init,
       void *ctx)
{
    (void)regpath;
    (void)ctx;
    wh_irql_exact("StorPortInitialize", WH_PASSIVE_LEVEL);
    uint32_t size;
    memcpy(&size, init, sizeof(size));
    if (size < HID_SIZE)
        return (uint32_t)0xC0000004;             /* STATUS_INFO_LENGTH_MISMATCH */
    memcpy(hid, init, HID_SIZE);
    have_hid = true;
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
        wh_irql_max("StorPortNotification(RequestComplete)", WH_DISPATCH_LEVEL);
        pthread_mutex_lock(&sp_m);
        bool ours = srb && srb == outstanding;
        if (ours)
            outstanding = NULL;
        completions++;
        pthread_cond_broadcast(&sp_cv);
        pthread_mutex_unlock(&sp_m);
        if (!ours)
            wh_violation("StorPortNotification", "RequestComplete for SRB %p, which is not "
                         "outstanding (completed twice?)", (void *)srb);
    } else if (type != NextRequest && type != BusChangeDetected) {
        wh_fatal("StorPortNotification type %d is not implemented by the host", type);
    }
    __builtin_ms_va_end(ap);
    (void)by_devext;
}
WH_EXPORT(StorPortNotification);

WH_DDI(uint32_t, StorPortExtendedFunction, int code, void *ext, ...)
{
    struct sp_adapter *a = by_devext(ext);
    __builtin_ms_va_list ap;
    __builtin_ms_va_start(ap, ext);
    uint32_t rc = 0;
    if (code == STOR_EXT_GET_DEVICE_OBJECTS && a) {
        void **fdo = __builtin_va_arg(ap, void **), **pdo = __builtin_va_arg(ap, void **);
        void **lower = __builtin_va_arg(ap, void **);
        *fdo = a->fdo;
        *pdo = a->pdo;
        *lower = a->lower;
    } else if (code == STOR_EXT_GET_SYSTEM_ADDRESS && a) {
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

WH_DDI(void, StorPortStallExecution, uint32_t us)
{
    usleep(us);
}
WH_EXPORT(StorPortStallExecution);

/* ---- the class driver's part: one SRB, waited for ------------------------------- */
struct wh_device_object *wh_storport_fdo(unsigned i)
{
    return i < 4 ? adapters[i].fdo : NULL;
}

int wh_storport_srb(struct wh_device_object *fdo, struct wh_srb *srb, unsigned timeout_ms)
{
    struct sp_adapter *a = *(struct sp_adapter **)fdo->DeviceExtension;
    if (!a->started)
        return -1;
    srb->Length = sizeof(*srb);
    srb->SrbExtension = wh_pool_alloc(hid_u32(HID_SRBEXT), 0x78655253 /* SRex */, false);
    memset(srb->SrbExtension, 0, hid_u32(HID_SRBEXT));
    pthread_mutex_lock(&sp_m);
    outstanding = srb;
    pthread_mutex_unlock(&sp_m);
    wh_irql = WH_DISPATCH_LEVEL;
    ((hw_startio_fn)hid_ptr(HID_STARTIO))(a->devext, srb);
    if (wh_irql != WH_DISPATCH_LEVEL)
        wh_violation("HwStartIo", "returned at IRQL %u", wh_irql);
    wh_irql = WH_PASSIVE_LEVEL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000 + 1;
    pthread_mutex_lock(&sp_m);
    while (outstanding == srb)
        if (pthread_cond_timedwait(&sp_cv, &sp_m, &until))
            break;
    bool done = outstanding != srb;
    outstanding = NULL;
    pthread_mutex_unlock(&sp_m);
    wh_pool_free(srb->SrbExtension, "(StorPort) SRB extension");
    if (!done)
        wh_violation("HwStartIo", "SRB (CDB 0x%02x) never completed", srb->Cdb[0]);
    return done ? 0 : -1;
}
