/* NDIS 6.0, the functions a miniport calls (those xennet imports), with
 * NDIS's rules checked in each: the IRQL Microsoft documents for it, the
 * DISPATCH_LEVEL flags matching the caller's IRQL, attributes set only
 * inside MiniportInitializeEx (registration first), no send completion or
 * receive indication once the adapter is Paused (Pause returned) or
 * Halted, every NET_BUFFER_LIST the protocol sent completed exactly once
 * and an LSO v2 one with LsoV2TransmitComplete.Type set and Reserved 0,
 * and at Halt and unload no pool, NBL or MDL of the miniport's left.
 * Advanced properties: the registry holds none, so NdisReadConfiguration
 * fails for every keyword and the driver's defaults apply. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wh_ndis.h"

struct wh_ndis_adapter wh_ndis_ad;
struct wh_image *wh_ndis_image;
void (*volatile wh_ndis_lock_hook)(void);

static uint8_t chars[0x88];             /* NDIS_MINIPORT_DRIVER_CHARACTERISTICS (x64) */
static bool have_chars;
static int handle_token;                /* NdisMiniportDriverHandle: &handle_token */
static pthread_mutex_t nd_m = PTHREAD_MUTEX_INITIALIZER;
static unsigned pools, nbls, mdls, configs;

void *wh_ndis_handler(unsigned offset)
{
    void *p = NULL;
    if (have_chars && offset + sizeof(p) <= sizeof(chars))
        memcpy(&p, chars + offset, sizeof(p));
    return p;
}

bool wh_ndis_registered(void)
{
    return have_chars;
}

unsigned wh_ndis_objects_left(bool print)
{
    pthread_mutex_lock(&nd_m);
    unsigned n = pools + nbls + mdls + configs;
    if (n && print)
        fprintf(stderr, "wh_ndis: left: %u NBL pool(s), %u NET_BUFFER_LIST(s), %u MDL(s), %u "
                "configuration handle(s)\n", pools, nbls, mdls, configs);
    pthread_mutex_unlock(&nd_m);
    return n;
}

static void count(unsigned *c, int d)
{
    pthread_mutex_lock(&nd_m);
    *c += (unsigned)d;
    pthread_mutex_unlock(&nd_m);
}

static void check_handle(const char *ddi, void *h)
{
    if (h != wh_ndis_ad.fdo || !wh_ndis_ad.fdo)
        wh_violation(ddi, "MiniportAdapterHandle %p is not the adapter's (%p)", h,
                     (void *)wh_ndis_ad.fdo);
}

static void check_dispatch_flag(const char *ddi, uint32_t flags)
{
    bool flag = flags & 1, at = wh_irql == WH_DISPATCH_LEVEL;
    if (flag != at)
        wh_violation(ddi, "the DISPATCH_LEVEL flag is %s at IRQL %u", flag ? "set" : "clear",
                     wh_irql);
}

/* ---- registration ------------------------------------------------------------ */
WH_DDI(int32_t, NdisMRegisterMiniportDriver, struct wh_driver_object *drv, void *regpath, void *ctx,
       uint8_t *mc, void **handle)
{
    (void)regpath;
    (void)ctx;
    wh_irql_exact("NdisMRegisterMiniportDriver", WH_PASSIVE_LEVEL);
    uint16_t size;
    memcpy(&size, mc + 2, 2);
    if (mc[0] != 0x8a || mc[1] != 1 || size < sizeof(chars) || mc[4] != 6) {
        wh_violation("NdisMRegisterMiniportDriver", "characteristics header type 0x%x revision %u "
                     "size %u, NDIS %u.%u", mc[0], mc[1], size, mc[4], mc[5]);
        return (int32_t)0xC0010004;             /* NDIS_STATUS_BAD_CHARACTERISTICS */
    }
    memcpy(chars, mc, sizeof(chars));
    static const struct { unsigned off; const char *name; } need[] = {
        { 0x18, "InitializeHandlerEx" }, { 0x20, "HaltHandlerEx" }, { 0x30, "PauseHandler" },
        { 0x38, "RestartHandler" }, { 0x40, "OidRequestHandler" },
        { 0x48, "SendNetBufferListsHandler" }, { 0x50, "ReturnNetBufferListsHandler" },
        { 0x58, "CancelSendHandler" }, { 0x70, "DevicePnPEventNotifyHandler" },
        { 0x78, "ShutdownHandlerEx" } };
    have_chars = true;
    for (unsigned i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (!wh_ndis_handler(need[i].off)) {
            wh_violation("NdisMRegisterMiniportDriver", "no %s (NDIS requires it)", need[i].name);
            have_chars = false;
        }
    if (!have_chars)
        return (int32_t)0xC0010004;
    drv->DriverExtension->AddDevice = (void *)wh_ndis_add_device;
    *handle = &handle_token;
    return 0;
}
WH_EXPORT(NdisMRegisterMiniportDriver);

WH_DDI(void, NdisMDeregisterMiniportDriver, void *handle)
{
    wh_irql_exact("NdisMDeregisterMiniportDriver", WH_PASSIVE_LEVEL);
    if (handle != &handle_token || !have_chars)
        wh_violation("NdisMDeregisterMiniportDriver", "handle %p was not registered", handle);
    if (wh_ndis_ad.fdo)
        wh_violation("NdisMDeregisterMiniportDriver", "an adapter is still there");
    have_chars = false;
}
WH_EXPORT(NdisMDeregisterMiniportDriver);

/* ---- attributes: only inside MiniportInitializeEx ----------------------------- */
WH_DDI(int32_t, NdisMSetMiniportAttributes, void *h, uint8_t *a)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    wh_irql_exact("NdisMSetMiniportAttributes", WH_PASSIVE_LEVEL);
    check_handle("NdisMSetMiniportAttributes", h);
    if (ad->state != WH_NDIS_NONE)
        wh_violation("NdisMSetMiniportAttributes", "called outside MiniportInitializeEx");
    uint16_t size;
    memcpy(&size, a + 2, 2);
    switch (a[0]) {
    case 0x9e:                                  /* registration */
        if (size < 0x1c)
            wh_violation("NdisMSetMiniportAttributes", "registration attributes of %u bytes", size);
        memcpy(&ad->ctx, a + 8, sizeof(void *));
        ad->registration_set = true;
        break;
    case 0x9f:                                  /* general */
        if (!ad->registration_set)
            wh_violation("NdisMSetMiniportAttributes", "general attributes before the registration "
                         "attributes");
        if (size < 0xd8 || a[0x5c] != 6)
            wh_violation("NdisMSetMiniportAttributes", "general attributes of %u bytes, MAC length %u",
                         size, a[0x5c]);
        memcpy(&ad->mtu, a + 0x10, 4);
        memcpy(ad->perm_mac, a + 0x5e, 6);
        memcpy(ad->cur_mac, a + 0x7e, 6);
        memcpy(&ad->oid_list_len, a + 0xd0, 4);
        ad->general_set = true;
        break;
    case 0xa0: {                                /* offload */
        void *def;
        memcpy(&def, a + 8, sizeof(def));
        if (!ad->registration_set || !def)
            wh_violation("NdisMSetMiniportAttributes", "offload attributes %s",
                         def ? "before the registration attributes" : "without a configuration");
        else
            memcpy(ad->offload, def, sizeof(ad->offload));
        ad->offload_set = true;
        break;
    }
    default:
        wh_fatal("NdisMSetMiniportAttributes: attributes of type 0x%x are not implemented by the host",
                 a[0]);
    }
    return 0;
}
WH_EXPORT(NdisMSetMiniportAttributes);

WH_DDI(void, NdisMGetDeviceProperty, void *h, void **pdo, void **fdo, void **next, void *a, void *b)
{
    wh_irql_exact("NdisMGetDeviceProperty", WH_PASSIVE_LEVEL);
    check_handle("NdisMGetDeviceProperty", h);
    if (pdo)
        *pdo = wh_ndis_ad.pdo;
    if (fdo)
        *fdo = wh_ndis_ad.fdo;
    if (next)
        *next = wh_ndis_ad.lower;
    if (a || b)
        wh_fatal("NdisMGetDeviceProperty: resource lists are not implemented by the host");
}
WH_EXPORT(NdisMGetDeviceProperty);

/* ---- configuration: no advanced property in the registry ----------------------- */
WH_DDI(int32_t, NdisOpenConfigurationEx, uint8_t *obj, void **cfg)
{
    wh_irql_exact("NdisOpenConfigurationEx", WH_PASSIVE_LEVEL);
    void *h;
    memcpy(&h, obj + 8, sizeof(h));
    if (obj[0] != 0xa9)
        wh_violation("NdisOpenConfigurationEx", "object header type 0x%x", obj[0]);
    check_handle("NdisOpenConfigurationEx", h);
    *cfg = &configs;
    count(&configs, 1);
    return 0;
}
WH_EXPORT(NdisOpenConfigurationEx);

WH_DDI(void, NdisReadConfiguration, int32_t *st, void **param, void *cfg, void *key, uint32_t type)
{
    (void)key;
    (void)type;
    wh_irql_exact("NdisReadConfiguration", WH_PASSIVE_LEVEL);
    if (cfg != &configs)
        wh_violation("NdisReadConfiguration", "configuration handle %p not open", cfg);
    *param = NULL;
    *st = (int32_t)0xC0000001;                  /* NDIS_STATUS_FAILURE: not in the registry */
}
WH_EXPORT(NdisReadConfiguration);

WH_DDI(void, NdisCloseConfiguration, void *cfg)
{
    wh_irql_exact("NdisCloseConfiguration", WH_PASSIVE_LEVEL);
    if (cfg != &configs || !configs)
        wh_violation("NdisCloseConfiguration", "configuration handle %p not open", cfg);
    else
        count(&configs, -1);
}
WH_EXPORT(NdisCloseConfiguration);

/* ---- pools, NET_BUFFER_LISTs, MDLs ---------------------------------------------- */
struct nbl_pool {
    uint32_t magic, tag;
    bool with_nb;
};
struct nbl_block {                              /* what NdisAllocateNetBufferAndNetBufferList gives */
    struct wh_nbl nbl;
    struct wh_nb nb;
};

WH_DDI(void *, NdisAllocateNetBufferListPool, void *h, uint8_t *pp)
{
    wh_irql_max("NdisAllocateNetBufferListPool", WH_DISPATCH_LEVEL);
    check_handle("NdisAllocateNetBufferListPool", h);
    struct nbl_pool *p = calloc(1, sizeof(*p));
    p->magic = 0x4c424e50;
    p->with_nb = pp[5];
    memcpy(&p->tag, pp + 8, 4);
    count(&pools, 1);
    return p;
}
WH_EXPORT(NdisAllocateNetBufferListPool);

WH_DDI(void, NdisFreeNetBufferListPool, struct nbl_pool *p)
{
    wh_irql_max("NdisFreeNetBufferListPool", WH_DISPATCH_LEVEL);
    if (!p || p->magic != 0x4c424e50) {
        wh_violation("NdisFreeNetBufferListPool", "%p is not a pool", (void *)p);
        return;
    }
    p->magic = 0;
    free(p);
    count(&pools, -1);
}
WH_EXPORT(NdisFreeNetBufferListPool);

WH_DDI(struct wh_nbl *, NdisAllocateNetBufferAndNetBufferList, struct nbl_pool *p, uint16_t ctx,
       uint16_t backfill, struct wh_mdl *mdl, uint32_t off, size_t len)
{
    wh_irql_max("NdisAllocateNetBufferAndNetBufferList", WH_DISPATCH_LEVEL);
    if (!p || p->magic != 0x4c424e50 || !p->with_nb)
        wh_violation("NdisAllocateNetBufferAndNetBufferList", "pool %p without NET_BUFFERs", (void *)p);
    if (ctx || backfill)
        wh_fatal("NdisAllocateNetBufferAndNetBufferList: context or backfill space is not "
                 "implemented by the host");
    struct nbl_block *b = aligned_alloc(16, sizeof(*b));
    memset(b, 0, sizeof(*b));
    b->nbl.FirstNetBuffer = &b->nb;
    b->nbl.NdisPoolHandle = p;
    b->nb.NdisPoolHandle = p;
    b->nb.MdlChain = b->nb.CurrentMdl = mdl;
    b->nb.DataOffset = b->nb.CurrentMdlOffset = off;
    b->nb.DataLength = len;
    count(&nbls, 1);
    return &b->nbl;
}
WH_EXPORT(NdisAllocateNetBufferAndNetBufferList);

WH_DDI(void, NdisFreeNetBufferList, struct wh_nbl *nbl)
{
    wh_irql_max("NdisFreeNetBufferList", WH_DISPATCH_LEVEL);
    struct nbl_block *b = (struct nbl_block *)nbl;
    struct nbl_pool *p = nbl ? nbl->NdisPoolHandle : NULL;
    if (!p || p->magic != 0x4c424e50) {
        wh_violation("NdisFreeNetBufferList", "%p was not allocated from a live pool", (void *)nbl);
        return;
    }
    b->nbl.NdisPoolHandle = NULL;
    free(b);
    count(&nbls, -1);
}
WH_EXPORT(NdisFreeNetBufferList);

WH_DDI(struct wh_mdl *, NdisAllocateMdl, void *h, void *va, uint32_t len)
{
    wh_irql_max("NdisAllocateMdl", WH_DISPATCH_LEVEL);
    check_handle("NdisAllocateMdl", h);
    struct wh_mdl *m = calloc(1, sizeof(*m) + 8 * 2);
    m->MdlFlags = 0x4;                          /* MDL_SOURCE_IS_NONPAGED_POOL */
    m->MappedSystemVa = va;
    m->StartVa = (void *)((uintptr_t)va & ~(uintptr_t)4095);
    m->ByteOffset = (uint32_t)((uintptr_t)va & 4095);
    m->ByteCount = len;
    m->Size = (int16_t)(sizeof(*m) + 16);
    count(&mdls, 1);
    return m;
}
WH_EXPORT(NdisAllocateMdl);

WH_DDI(void, NdisFreeMdl, struct wh_mdl *m)
{
    wh_irql_max("NdisFreeMdl", WH_DISPATCH_LEVEL);
    free(m);
    count(&mdls, -1);
}
WH_EXPORT(NdisFreeMdl);

/* ---- the data path ---------------------------------------------------------------- */
static bool paused_or_halted(void)
{
    int s = wh_ndis_ad.state;
    return s == WH_NDIS_PAUSED || s == WH_NDIS_HALTED || s == WH_NDIS_NONE;
}

static const char *state_name(void)
{
    static const char *const n[] = { "not initialized", "Paused", "Restarting", "Running",
                                     "Pausing", "Halted" };
    return n[wh_ndis_ad.state];
}

/* Sent NBLs carry the protocol's record in ProtocolReserved[0..1]: a magic
 * and the LSO request they were sent with. */

WH_DDI(void, NdisMSendNetBufferListsComplete, void *h, struct wh_nbl *nbl, uint32_t flags)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    wh_irql_max("NdisMSendNetBufferListsComplete", WH_DISPATCH_LEVEL);
    check_handle("NdisMSendNetBufferListsComplete", h);
    check_dispatch_flag("NdisMSendNetBufferListsComplete", flags);
    if (paused_or_halted())
        wh_violation("NdisMSendNetBufferListsComplete", "a send completed while the adapter is %s",
                     state_name());
    for (; nbl; nbl = nbl->Next) {
        if (nbl->ProtocolReserved[0] != WH_SENT_MAGIC) {
            wh_violation("NdisMSendNetBufferListsComplete", "NBL %p %s", (void *)nbl,
                         nbl->ProtocolReserved[0] == WH_DONE_MAGIC ? "completed twice"
                                                                   : "was never sent");
            continue;
        }
        uint64_t sent = (uint64_t)(uintptr_t)nbl->ProtocolReserved[1];
        uint64_t now = (uint64_t)(uintptr_t)nbl->NetBufferListInfo[WH_NBL_LSO];
        if ((sent & WH_LSO_V2_TYPE) && (sent & 0xfffff) && nbl->Status == 0 &&
            (!(now & WH_LSO_V2_TYPE) || (now & 0x3fffffff)))
            wh_violation("NdisMSendNetBufferListsComplete", "LSO v2 NBL %p completed with "
                         "LsoV2TransmitComplete 0x%llx (Type must be "
                         "NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE, Reserved 0)", (void *)nbl,
                         (unsigned long long)now);
        nbl->ProtocolReserved[0] = WH_DONE_MAGIC;
        __atomic_fetch_sub(&ad->sends_outstanding, 1, __ATOMIC_ACQ_REL);
        __atomic_fetch_add(&ad->sends_completed, 1, __ATOMIC_ACQ_REL);
    }
}
WH_EXPORT(NdisMSendNetBufferListsComplete);

static pthread_mutex_t held_m = PTHREAD_MUTEX_INITIALIZER;
static struct wh_nbl *held;

typedef void WH_MSABI (*return_fn)(void *, struct wh_nbl *, uint32_t);

void wh_ndis_return_held(void)
{
    pthread_mutex_lock(&held_m);
    struct wh_nbl *chain = held;
    held = NULL;
    pthread_mutex_unlock(&held_m);
    if (!chain)
        return;
    unsigned n = 0;
    for (struct wh_nbl *x = chain; x; x = x->Next)
        n++;
    uint8_t old = wh_irql;
    wh_irql = WH_DISPATCH_LEVEL;
    __atomic_fetch_add(&wh_ndis_ad.rx_returned, n, __ATOMIC_ACQ_REL);
    __atomic_fetch_sub(&wh_ndis_ad.rx_held, n, __ATOMIC_ACQ_REL);
    ((return_fn)wh_ndis_handler(0x50))(wh_ndis_ad.ctx, chain, 1 /* DISPATCH_LEVEL */);
    if (wh_irql != WH_DISPATCH_LEVEL)
        wh_violation("MiniportReturnNetBufferLists", "returned at IRQL %u", wh_irql);
    wh_irql = old;
}

static void take_frame(struct wh_nbl *nbl)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    struct wh_nb *nb = nbl->FirstNetBuffer;
    unsigned i = __atomic_fetch_add(&ad->nframes, 1, __ATOMIC_ACQ_REL);
    if (i >= WH_NDIS_MAX_FRAMES)
        return;
    struct wh_ndis_frame *f = &ad->frames[i];
    uint32_t len = (uint32_t)nb->DataLength, off = nb->CurrentMdlOffset, got = 0;
    for (struct wh_mdl *m = nb->CurrentMdl; m && got < len && got < sizeof(f->data); m = m->Next) {
        uint32_t take = m->ByteCount - off;
        if (take > len - got)
            take = len - got;
        if (take > sizeof(f->data) - got)
            take = (uint32_t)sizeof(f->data) - got;
        memcpy(f->data + got, (uint8_t *)m->MappedSystemVa + off, take);
        got += take;
        off = 0;
    }
    if (got != len)
        wh_violation("NdisMIndicateReceiveNetBufferLists", "NET_BUFFER of %u bytes has MDLs for %u",
                     len, got);
    f->csum_info = (uint64_t)(uintptr_t)nbl->NetBufferListInfo[WH_NBL_CSUM];
    __atomic_store_n(&f->len, len, __ATOMIC_RELEASE);
}

WH_DDI(void, NdisMIndicateReceiveNetBufferLists, void *h, struct wh_nbl *nbl, uint32_t port,
       uint32_t n, uint32_t flags)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    wh_irql_max("NdisMIndicateReceiveNetBufferLists", WH_DISPATCH_LEVEL);
    check_handle("NdisMIndicateReceiveNetBufferLists", h);
    check_dispatch_flag("NdisMIndicateReceiveNetBufferLists", flags);
    if (paused_or_halted())
        wh_violation("NdisMIndicateReceiveNetBufferLists", "a receive indicated while the adapter "
                     "is %s", state_name());
    if (port != 0)
        wh_violation("NdisMIndicateReceiveNetBufferLists", "port %u (the adapter has port 0 only)",
                     port);
    unsigned k = 0;
    for (struct wh_nbl *x = nbl; x; x = x->Next, k++)
        if (!x->FirstNetBuffer)
            wh_violation("NdisMIndicateReceiveNetBufferLists", "NBL %p without a NET_BUFFER",
                         (void *)x);
    if (k != n)
        wh_violation("NdisMIndicateReceiveNetBufferLists", "%u NBLs indicated as %u", k, n);
    for (struct wh_nbl *x = nbl; x; x = x->Next)
        take_frame(x);
    __atomic_fetch_add(&ad->rx_indicated, k, __ATOMIC_ACQ_REL);
    if (flags & 2) {                            /* NDIS_RECEIVE_FLAGS_RESOURCES: copied, ours no more */
        __atomic_fetch_add(&ad->rx_resources, k, __ATOMIC_ACQ_REL);
        return;
    }
    struct wh_nbl *last = nbl;
    while (last->Next)
        last = last->Next;
    pthread_mutex_lock(&held_m);
    last->Next = held;
    held = nbl;
    __atomic_fetch_add(&ad->rx_held, k, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&held_m);
}
WH_EXPORT(NdisMIndicateReceiveNetBufferLists);

WH_DDI(void, NdisMIndicateStatusEx, void *h, uint8_t *si)
{
    struct wh_ndis_adapter *ad = &wh_ndis_ad;
    wh_irql_max("NdisMIndicateStatusEx", WH_DISPATCH_LEVEL);
    check_handle("NdisMIndicateStatusEx", h);
    void *src, *buf;
    int32_t code;
    memcpy(&src, si + 8, sizeof(src));
    memcpy(&code, si + 0x14, 4);
    memcpy(&buf, si + 0x30, sizeof(buf));
    if (si[0] != 0x98 || src != h)
        wh_violation("NdisMIndicateStatusEx", "header type 0x%x, SourceHandle %p", si[0], src);
    if (ad->state == WH_NDIS_NONE && code == 0x40010017)
        wh_violation("NdisMIndicateStatusEx", "link state indicated inside MiniportInitializeEx");
    __atomic_fetch_add(&ad->status_indications, 1, __ATOMIC_ACQ_REL);
    if (code == 0x40010017 && buf) {            /* NDIS_STATUS_LINK_STATE: MediaConnectState at 4 */
        uint32_t connect;
        memcpy(&connect, (uint8_t *)buf + 4, 4);
        __atomic_fetch_add(connect == 1 ? &ad->link_up_indications : &ad->link_down_indications, 1,
                           __ATOMIC_ACQ_REL);
    } else if (code == 0x40020006) {            /* NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG */
        __atomic_fetch_add(&ad->offload_config_indications, 1, __ATOMIC_ACQ_REL);
    }
}
WH_EXPORT(NdisMIndicateStatusEx);

WH_DDI(void, NdisMOidRequestComplete, void *h, void *req, int32_t st)
{
    (void)req;
    (void)st;
    wh_irql_max("NdisMOidRequestComplete", WH_DISPATCH_LEVEL);
    check_handle("NdisMOidRequestComplete", h);
    wh_violation("NdisMOidRequestComplete", "no OID request is pending (the host's requests "
                 "that returned NDIS_STATUS_PENDING are reported as such)");
}
WH_EXPORT(NdisMOidRequestComplete);

/* The hook on the miniport's own spin locks (see wh_ndis.h). */
static void lock_hook(void *caller)
{
    if (!wh_ndis_image || !wh_pe_contains(wh_ndis_image, caller))
        return;
    void (*h)(void) = __atomic_exchange_n(&wh_ndis_lock_hook, NULL, __ATOMIC_ACQ_REL);
    if (h)
        h();
}

void wh_ndis_arm_lock_hook(void (*h)(void))
{
    wh_lock_hook = lock_hook;
    __atomic_store_n(&wh_ndis_lock_hook, h, __ATOMIC_RELEASE);
}
