/* NDIS's side of one miniport adapter, and a protocol bound to it:
 * AddDevice makes the adapter's FDO on the bus driver's PDO; START goes to
 * the PDO first, then MiniportInitializeEx (PASSIVE_LEVEL) must set the
 * registration and general attributes, and NDIS restarts the adapter
 * (MiniportRestart: Paused -> Running).  The protocol sends NBL chains at
 * DISPATCH_LEVEL, keeps what is indicated to it and returns it from a
 * thread of its own (MiniportReturnNetBufferLists at DISPATCH_LEVEL).
 * MiniportPause runs on a thread of its own and must return in bounded
 * time with every send completed and every indication returned; Windows
 * pauses adapters on the way to sleep and bug-checks 0x9F when that
 * stalls.  SURPRISE_REMOVAL gives the miniport
 * NdisDevicePnPEventSurpriseRemoved (2); REMOVE pauses a running adapter,
 * halts it (nothing of the protocol's left with it, nothing of NDIS's
 * left allocated) and deletes the FDO.  Power (NDIS owns the stack's
 * policy): a miniport without power management is halted
 * (NdisHaltDevicePoweredDown) for D3 and initialized again in D0.  Not
 * modelled: NdisMPauseComplete and NdisMOidRequestComplete for pended
 * requests, filter drivers, more than one adapter, power management
 * OIDs (OID_PNP_*) for miniports that declare it, resets, CheckForHang,
 * the NDIS-WDM interfaces. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh_ndis.h"

typedef int32_t WH_MSABI (*init_fn)(void *, void *, void *);
typedef void WH_MSABI (*halt_fn)(void *, uint32_t);
typedef int32_t WH_MSABI (*pause_fn)(void *, void *);
typedef void WH_MSABI (*send_fn)(void *, struct wh_nbl *, uint32_t, uint32_t);
typedef int32_t WH_MSABI (*oid_fn)(void *, uint8_t *);
typedef void WH_MSABI (*pnp_fn)(void *, uint8_t *);
typedef void WH_MSABI (*unload_fn)(struct wh_driver_object *);

enum { H_INIT = 0x18, H_HALT = 0x20, H_UNLOAD = 0x28, H_PAUSE = 0x30, H_RESTART = 0x38, H_OID = 0x40,
       H_SEND = 0x48, H_PNP = 0x70 };
#define NDIS_STATUS_PENDING 0x103

static pthread_t protocol;
static volatile bool protocol_stop, protocol_running;
static bool surprise_removed;

/* ---- the protocol's returns ----------------------------------------------------- */
static void *protocol_main(void *arg)
{
    (void)arg;
    wh_thread_enter();
    while (!__atomic_load_n(&protocol_stop, __ATOMIC_ACQUIRE)) {
        if (!wh_ndis_ad.hold_returns)
            wh_ndis_return_held();
        usleep(1000);
    }
    return NULL;
}

/* ---- PnP ------------------------------------------------------------------------ */
static NTSTATUS_ WH_MSABI nd_sync_done(struct wh_device_object *d, struct wh_irp *irp, void *ctx)
{
    (void)d;
    (void)irp;
    __atomic_store_n((volatile int *)ctx, 1, __ATOMIC_RELEASE);
    return WH_STATUS_MORE_PROCESSING_REQUIRED;
}

/* The IRP to the PDO, waited for; it comes back to us (more processing). */
static NTSTATUS_ nd_forward_and_wait(struct wh_irp *irp)
{
    struct wh_io_stack_location *cur = irp->Tail.CurrentStackLocation, *next = cur - 1;
    volatile int done = 0;
    memcpy(next, cur, offsetof(struct wh_io_stack_location, CompletionRoutine));
    next->Control = WH_SL_INVOKE_ON_SUCCESS | WH_SL_INVOKE_ON_ERROR | WH_SL_INVOKE_ON_CANCEL;
    next->CompletionRoutine = (void *)nd_sync_done;
    next->Context = (void *)&done;
    wh_IofCallDriver(wh_ndis_ad.lower, irp);
    for (int i = 0; i < 20000 && !__atomic_load_n(&done, __ATOMIC_ACQUIRE); i++)
        usleep(1000);
    return irp->IoStatus.Status;
}

/* MiniportInitializeEx, then MiniportRestart (START, and D0 after a
 * power-down that halted the adapter). */
static NTSTATUS_ nd_initialize(void)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    ad->registration_set = ad->general_set = false;
    /* NDIS_MINIPORT_INIT_PARAMETERS: the header; no resources (a virtual
     * device), no IfIndex or NetLuid (xennet reads none of it) */
    static uint8_t params[0x80];
    memset(params, 0, sizeof(params));
    params[0] = 0x81;                            /* NDIS_OBJECT_TYPE_MINIPORT_INIT_PARAMETERS */
    params[1] = 1;
    params[2] = (uint8_t)sizeof(params);
    ad->state = WH_NDIS_NONE;
    wh_irql = WH_PASSIVE_LEVEL;
    int32_t ns = ((init_fn)wh_ndis_handler(H_INIT))(ad->fdo, NULL, params);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("MiniportInitializeEx", "returned at IRQL %u", wh_irql);
    if (ns != 0) {
        fprintf(stderr, "wh_ndis: MiniportInitializeEx returned 0x%08x\n", (unsigned)ns);
        if (wh_ndis_objects_left(true))
            wh_violation("MiniportInitializeEx", "failed leaving NDIS objects allocated");
        ad->state = WH_NDIS_HALTED;
        return (NTSTATUS_)0xC0000001;
    }
    if (!ad->registration_set || !ad->general_set)
        wh_violation("MiniportInitializeEx", "returned success without %s attributes",
                     ad->registration_set ? "general" : "registration");
    ad->state = WH_NDIS_PAUSED;
    protocol_stop = false;
    pthread_create(&protocol, NULL, protocol_main, NULL);
    protocol_running = true;
    return wh_ndis_restart() ? (NTSTATUS_)0xC0000001 : WH_STATUS_SUCCESS;
}

static NTSTATUS_ nd_start(struct wh_irp *irp)
{
    NTSTATUS_ st = nd_forward_and_wait(irp);
    if (!WH_NT_SUCCESS(st))
        return st;
    return nd_initialize();
}

static void nd_halt(uint32_t action)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    if (ad->state == WH_NDIS_RUNNING && wh_ndis_pause(10000))
        return;                                  /* reported; the adapter is stuck */
    if (ad->state != WH_NDIS_PAUSED)
        return;
    if (protocol_running) {
        protocol_stop = true;
        pthread_join(protocol, NULL);
        protocol_running = false;
    }
    wh_irql = WH_PASSIVE_LEVEL;
    ((halt_fn)wh_ndis_handler(H_HALT))(ad->ctx, action);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("MiniportHaltEx", "returned at IRQL %u", wh_irql);
    ad->state = WH_NDIS_HALTED;
    if (ad->sends_outstanding)
        wh_violation("MiniportHaltEx", "%u send(s) never completed", ad->sends_outstanding);
    if (wh_ndis_objects_left(true))
        wh_violation("MiniportHaltEx", "NBL pools, NBLs, MDLs or configuration handles left");
}

/* Power: NDIS owns the stack's power policy.  A miniport that declares
 * no power management (no PM capabilities in its general attributes, no
 * NDIS_MINIPORT_ATTRIBUTES_NO_HALT_ON_SUSPEND) is halted on the way to a
 * sleeping state (MiniportHaltEx with NdisHaltDevicePoweredDown, after a
 * pause) and initialized again when the device is back in D0.  The system
 * IRP goes to the PDO first; then NDIS asks for the device state. */
static bool powered_down;
/* The packet filter the protocol set: NDIS sets it again on a miniport it
 * initialized again (after a power-down), the protocol knowing nothing of it. */
static uint32_t filter_set;
static bool filter_known;

static NTSTATUS_ nd_power(struct wh_irp *irp, struct wh_io_stack_location *sl)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    uint8_t minor = sl->MinorFunction;
    uint32_t type = sl->Parameters.Power.Type, state = sl->Parameters.Power.State;
    uint32_t action = sl->Parameters.Power.ShutdownType;
    NTSTATUS_ st;
    if (type == WH_SystemPowerState) {
        st = nd_forward_and_wait(irp);
        if (minor == WH_IRP_MN_SET_POWER && WH_NT_SUCCESS(st))
            wh_power_irp(ad->pdo, WH_IRP_MN_SET_POWER, WH_DevicePowerState,
                         state == WH_PowerSystemWorking ? WH_PowerDeviceD0 : WH_PowerDeviceD3,
                         action);
    } else if (minor == WH_IRP_MN_SET_POWER && state != WH_PowerDeviceD0) {
        if (!powered_down && (ad->state == WH_NDIS_RUNNING || ad->state == WH_NDIS_PAUSED)) {
            nd_halt(2);                          /* NdisHaltDevicePoweredDown */
            powered_down = true;
        }
        st = nd_forward_and_wait(irp);
    } else {
        st = nd_forward_and_wait(irp);
        if (minor == WH_IRP_MN_SET_POWER && WH_NT_SUCCESS(st) && powered_down) {
            powered_down = false;
            NTSTATUS_ is = nd_initialize();
            if (!WH_NT_SUCCESS(is))
                fprintf(stderr, "wh_ndis: the adapter did not come back in D0: 0x%08x\n",
                        (unsigned)is);
            uint32_t f = filter_set;
            if (WH_NT_SUCCESS(is) && filter_known && wh_ndis_oid(true, 0x0001010e, &f, 4, NULL))
                fprintf(stderr, "wh_ndis: the packet filter was refused after D0\n");
        }
    }
    irp->IoStatus.Status = st;
    wh_IofCompleteRequest(irp, 0);
    return st;
}

static NTSTATUS_ WH_MSABI nd_dispatch(struct wh_device_object *dev, struct wh_irp *irp)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    struct wh_io_stack_location *sl = irp->Tail.CurrentStackLocation;
    (void)dev;
    if (sl->MajorFunction == WH_IRP_MJ_POWER &&
        (sl->MinorFunction == WH_IRP_MN_SET_POWER || sl->MinorFunction == WH_IRP_MN_QUERY_POWER))
        return nd_power(irp, sl);
    if (sl->MajorFunction == WH_IRP_MJ_PNP && sl->MinorFunction == WH_IRP_MN_START_DEVICE) {
        NTSTATUS_ st = nd_start(irp);
        irp->IoStatus.Status = st;
        wh_IofCompleteRequest(irp, 0);
        return st;
    }
    if (sl->MajorFunction == WH_IRP_MJ_PNP && sl->MinorFunction == WH_IRP_MN_SURPRISE_REMOVAL) {
        surprise_removed = true;
        wh_ndis_pnp_event(2);                    /* NdisDevicePnPEventSurpriseRemoved */
    }
    if (sl->MajorFunction == WH_IRP_MJ_PNP && sl->MinorFunction == WH_IRP_MN_REMOVE_DEVICE) {
        nd_halt(surprise_removed ? 3 /* NdisHaltDeviceSurpriseRemoved */ : 0 /* Disabled */);
        irp->CurrentLocation++;
        irp->Tail.CurrentStackLocation++;
        struct wh_device_object *lower = ad->lower, *fdo = ad->fdo;
        NTSTATUS_ st = wh_IofCallDriver(lower, irp);
        wh_IoDetachDevice(lower);
        wh_IoDeleteDevice(fdo);
        ad->fdo = ad->lower = NULL;
        return st;
    }
    irp->CurrentLocation++;
    irp->Tail.CurrentStackLocation++;
    return wh_IofCallDriver(ad->lower, irp);
}

static void WH_MSABI nd_unload(struct wh_driver_object *drv)
{
    unload_fn u = (unload_fn)wh_ndis_handler(H_UNLOAD);
    if (u)
        u(drv);
    if (wh_ndis_registered())
        wh_violation("MiniportDriverUnload", "the driver did not deregister "
                     "(NdisMDeregisterMiniportDriver)");
}

NTSTATUS_ WH_MSABI wh_ndis_add_device(struct wh_driver_object *drv, struct wh_device_object *pdo)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    if (ad->fdo)
        wh_fatal("NDIS: a second adapter is not implemented by the host");
    memset(ad, 0, sizeof(*ad));
    powered_down = filter_known = false;
    for (int i = 0; i <= WH_IRP_MJ_MAXIMUM; i++)
        drv->MajorFunction[i] = (void *)nd_dispatch;
    drv->DriverUnload = (void *)nd_unload;
    NTSTATUS_ st = wh_IoCreateDevice(drv, 0, NULL, 0x17 /* FILE_DEVICE_PHYSICAL_NETCARD */, 0x100,
                                     0, &ad->fdo);
    if (!WH_NT_SUCCESS(st))
        return st;
    ad->pdo = pdo;
    ad->lower = wh_IoAttachDeviceToDeviceStack(ad->fdo, pdo);
    ad->fdo->Flags &= ~(uint32_t)WH_DO_DEVICE_INITIALIZING;
    return WH_STATUS_SUCCESS;
}

/* ---- Pause and Restart -------------------------------------------------------------- */
static pthread_mutex_t p_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t p_cv = PTHREAD_COND_INITIALIZER;
static volatile int pause_done;
static int32_t pause_status;

static void *pause_main(void *arg)
{
    (void)arg;
    wh_thread_enter();
    wh_irql = WH_PASSIVE_LEVEL;
    uint8_t params[0x10] = { 0x80, 1, 0x10 };    /* NDIS_MINIPORT_PAUSE_PARAMETERS */
    int32_t st = ((pause_fn)wh_ndis_handler(H_PAUSE))(wh_ndis_ad.ctx, params);
    if (st != NDIS_STATUS_PENDING)               /* Paused from the moment it returns */
        wh_ndis_ad.state = WH_NDIS_PAUSED;
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("MiniportPause", "returned at IRQL %u", wh_irql);
    pthread_mutex_lock(&p_m);
    pause_status = st;
    pause_done = 1;
    pthread_cond_broadcast(&p_cv);
    pthread_mutex_unlock(&p_m);
    return NULL;
}

int wh_ndis_pause(unsigned timeout_ms)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    if (ad->state != WH_NDIS_RUNNING)
        wh_fatal("wh_ndis_pause: the adapter is not Running");
    ad->state = WH_NDIS_PAUSING;
    pause_done = 0;
    pthread_t t;
    pthread_create(&t, NULL, pause_main, NULL);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p_m);
    while (!pause_done)
        if (pthread_cond_timedwait(&p_cv, &p_m, &until))
            break;
    int done = pause_done;
    pthread_mutex_unlock(&p_m);
    if (!done) {
        wh_violation("MiniportPause", "did not complete in %u ms (sends outstanding %u, receives "
                     "held %u): Windows bug-checks 0x9F when a pause holds up a power transition",
                     timeout_ms, ad->sends_outstanding, ad->rx_held);
        pthread_detach(t);
        return -1;
    }
    pthread_join(t, NULL);
    if (pause_status == NDIS_STATUS_PENDING)
        wh_fatal("MiniportPause returned NDIS_STATUS_PENDING: NdisMPauseComplete is not "
                 "implemented by the host");
    /* Paused (since pause_main saw it return): anything indicated or
     * completed from then on is a violation */
    if (pause_status != 0)
        wh_violation("MiniportPause", "returned 0x%08x (it must succeed)", (unsigned)pause_status);
    unsigned s = __atomic_load_n(&ad->sends_outstanding, __ATOMIC_ACQUIRE);
    if (s)
        wh_violation("MiniportPause", "completed with %u send(s) not completed", s);
    unsigned h = __atomic_load_n(&ad->rx_held, __ATOMIC_ACQUIRE);
    if (h)
        wh_violation("MiniportPause", "completed with %u receive indication(s) not returned", h);
    return 0;
}

int wh_ndis_restart(void)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    if (ad->state != WH_NDIS_PAUSED)
        wh_fatal("wh_ndis_restart: the adapter is not Paused");
    ad->state = WH_NDIS_RESTARTING;
    uint8_t params[0x40] = { 0x80, 1, 0x40 };    /* NDIS_MINIPORT_RESTART_PARAMETERS */
    wh_irql = WH_PASSIVE_LEVEL;
    int32_t st = ((pause_fn)wh_ndis_handler(H_RESTART))(ad->ctx, params);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("MiniportRestart", "returned at IRQL %u", wh_irql);
    if (st == NDIS_STATUS_PENDING)
        wh_fatal("MiniportRestart returned NDIS_STATUS_PENDING: NdisMRestartComplete is not "
                 "implemented by the host");
    ad->state = st == 0 ? WH_NDIS_RUNNING : WH_NDIS_PAUSED;
    return st == 0 ? 0 : -1;
}

/* ---- the protocol ------------------------------------------------------------------- */
void wh_ndis_send(struct wh_nbl *chain)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    if (ad->state != WH_NDIS_RUNNING)
        wh_fatal("wh_ndis_send: NDIS sends nothing to an adapter that is not Running");
    unsigned n = 0;
    for (struct wh_nbl *x = chain; x; x = x->Next, n++) {
        x->ProtocolReserved[0] = WH_SENT_MAGIC;
        x->ProtocolReserved[1] = x->NetBufferListInfo[WH_NBL_LSO];
        x->SourceHandle = ad->fdo;
    }
    __atomic_fetch_add(&ad->sends_outstanding, n, __ATOMIC_ACQ_REL);
    uint8_t old = wh_irql;
    wh_processor_wait();
    wh_irql = WH_DISPATCH_LEVEL;
    ((send_fn)wh_ndis_handler(H_SEND))(ad->ctx, chain, 0, 1 /* NDIS_SEND_FLAGS_DISPATCH_LEVEL */);
    if (wh_irql != WH_DISPATCH_LEVEL)
        wh_violation("MiniportSendNetBufferLists", "returned at IRQL %u", wh_irql);
    wh_irql = old;
}

struct wh_nbl *wh_ndis_nbl(const uint8_t *const *data, const uint32_t *len, unsigned nbs,
                           uint32_t mdl_max)
{
    struct wh_nbl *nbl = aligned_alloc(16, sizeof(*nbl));
    memset(nbl, 0, sizeof(*nbl));
    struct wh_nb **link = &nbl->FirstNetBuffer;
    for (unsigned i = 0; i < nbs; i++) {
        struct wh_nb *nb = aligned_alloc(16, sizeof(*nb));
        memset(nb, 0, sizeof(*nb));
        uint8_t *copy = malloc(len[i] ? len[i] : 1);
        memcpy(copy, data[i], len[i]);
        struct wh_mdl **ml = &nb->MdlChain;
        for (uint32_t off = 0; off < len[i]; off += mdl_max) {
            struct wh_mdl *m = calloc(1, sizeof(*m));
            m->MdlFlags = 0x4;
            m->MappedSystemVa = copy + off;
            m->StartVa = (void *)((uintptr_t)(copy + off) & ~(uintptr_t)4095);
            m->ByteOffset = (uint32_t)((uintptr_t)(copy + off) & 4095);
            m->ByteCount = len[i] - off < mdl_max ? len[i] - off : mdl_max;
            *ml = m;
            ml = &m->Next;
        }
        nb->CurrentMdl = nb->MdlChain;
        nb->DataLength = len[i];
        *link = nb;
        link = &nb->Next;
    }
    return nbl;
}

void wh_ndis_nbl_free(struct wh_nbl *nbl)
{
    for (struct wh_nb *nb = nbl->FirstNetBuffer, *nn; nb; nb = nn) {
        nn = nb->Next;
        void *copy = nb->MdlChain ? nb->MdlChain->MappedSystemVa : NULL;
        for (struct wh_mdl *m = nb->MdlChain, *mn; m; m = mn) {
            mn = m->Next;
            free(m);
        }
        free(copy);
        free(nb);
    }
    free(nbl);
}

bool wh_ndis_nbl_completed(const struct wh_nbl *nbl)
{
    return nbl->ProtocolReserved[0] != WH_SENT_MAGIC;
}

int32_t wh_ndis_oid(bool set, uint32_t oid, void *buf, uint32_t len, uint32_t *done)
{
    if (set && oid == 0x0001010e /* OID_GEN_CURRENT_PACKET_FILTER */ && len == 4) {
        memcpy(&filter_set, buf, 4);
        filter_known = true;
    }
    uint8_t req[0xf0];
    memset(req, 0, sizeof(req));
    req[0] = 0x96;                               /* NDIS_OBJECT_TYPE_OID_REQUEST */
    req[1] = 1;
    req[2] = 0xf0;
    uint32_t type = set ? 1 : 0;                 /* NdisRequestSetInformation / QueryInformation */
    memcpy(req + 4, &type, 4);
    memcpy(req + 0x20, &oid, 4);
    memcpy(req + 0x28, &buf, sizeof(buf));
    memcpy(req + 0x30, &len, 4);
    wh_irql = WH_PASSIVE_LEVEL;
    int32_t st = ((oid_fn)wh_ndis_handler(H_OID))(wh_ndis_ad.ctx, req);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("MiniportOidRequest", "returned at IRQL %u", wh_irql);
    if (st == NDIS_STATUS_PENDING)
        wh_fatal("MiniportOidRequest pended OID 0x%08x: NdisMOidRequestComplete is not "
                 "implemented by the host", oid);
    uint32_t written;
    memcpy(&written, req + 0x34, 4);
    if (written > len)
        wh_violation("MiniportOidRequest", "OID 0x%08x: %u bytes written into a buffer of %u", oid,
                     written, len);
    if (done)
        *done = written;
    return st;
}

void wh_ndis_pnp_event(uint32_t event)
{
    uint8_t ev[0x30];
    memset(ev, 0, sizeof(ev));
    ev[0] = 0x80;                                /* NDIS_OBJECT_TYPE_DEFAULT, revision 1 */
    ev[1] = 1;
    ev[2] = 0x30;
    memcpy(ev + 8, &event, 4);
    wh_irql = WH_PASSIVE_LEVEL;
    ((pnp_fn)wh_ndis_handler(H_PNP))(wh_ndis_ad.ctx, ev);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("MiniportDevicePnPEventNotify", "returned at IRQL %u", wh_irql);
}

static bool wait_for(volatile unsigned *v, unsigned want, bool at_least, unsigned timeout_ms)
{
    for (unsigned i = 0; i < timeout_ms; i++) {
        unsigned x = __atomic_load_n(v, __ATOMIC_ACQUIRE);
        if (at_least ? x >= want : x == want)
            return true;
        usleep(1000);
    }
    return false;
}

bool wh_ndis_wait_frames(unsigned n, unsigned timeout_ms)
{
    return wait_for(&wh_ndis_ad.nframes, n, true, timeout_ms);
}

bool wh_ndis_wait_sends(unsigned timeout_ms)
{
    return wait_for(&wh_ndis_ad.sends_outstanding, 0, false, timeout_ms);
}
