/* The host's NDIS 6.0 (wh_ndis.c: the exports a miniport calls;
 * wh_ndis_adapter.c: NDIS's side of the adapter's life - AddDevice,
 * START, MiniportInitializeEx, Restart, Pause, Halt, OID requests, sends
 * from a protocol, the protocol's receive and returns).  Layouts are the
 * x64 ones of windows/include/ndis6_decls.h (checked there against
 * Microsoft's PDB layouts), asserted here again. */
#ifndef GPLPV_WH_NDIS_H
#define GPLPV_WH_NDIS_H

#include "wh.h"

struct wh_nb {
    struct wh_nb *Next;
    struct wh_mdl *CurrentMdl;
    uint32_t CurrentMdlOffset, pad0;
    uint64_t DataLength;                /* union with SIZE_T: low 32 bits are DataLength */
    struct wh_mdl *MdlChain;
    uint32_t DataOffset, pad1;
    uint16_t ChecksumBias, Reserved;
    uint32_t pad2;
    void *NdisPoolHandle;
    void *NdisReserved[2];
    void *ProtocolReserved[6];
    void *MiniportReserved[4];
    int64_t DataPhysicalAddress;
    uint64_t pad3;
};
_Static_assert(offsetof(struct wh_nb, DataLength) == 0x18, "NB DataLength");
_Static_assert(offsetof(struct wh_nb, MdlChain) == 0x20, "NB MdlChain");
_Static_assert(offsetof(struct wh_nb, ChecksumBias) == 0x30, "NB ChecksumBias");
_Static_assert(offsetof(struct wh_nb, MiniportReserved) == 0x80, "NB MiniportReserved");
_Static_assert(offsetof(struct wh_nb, DataPhysicalAddress) == 0xa0, "NB DataPhysicalAddress");

#define WH_NBL_INFO 12
struct wh_nbl {
    struct wh_nbl *Next;
    struct wh_nb *FirstNetBuffer;
    void *Context, *ParentNetBufferList, *NdisPoolHandle, *pad0;
    void *NdisReserved[2];
    void *ProtocolReserved[4];
    void *MiniportReserved[2];
    void *Scratch, *SourceHandle;
    uint32_t NblFlags;
    int32_t ChildRefCount;
    uint32_t Flags;
    int32_t Status;
    void *NetBufferListInfo[WH_NBL_INFO];
};
_Static_assert(offsetof(struct wh_nbl, NdisReserved) == 0x30, "NBL NdisReserved");
_Static_assert(offsetof(struct wh_nbl, MiniportReserved) == 0x60, "NBL MiniportReserved");
_Static_assert(offsetof(struct wh_nbl, SourceHandle) == 0x78, "NBL SourceHandle");
_Static_assert(offsetof(struct wh_nbl, Status) == 0x8c, "NBL Status");
_Static_assert(offsetof(struct wh_nbl, NetBufferListInfo) == 0x90, "NBL Info");

enum { WH_NBL_CSUM = 0, WH_NBL_LSO = 2 };
#define WH_LSO_V2_TYPE (1ull << 30)     /* NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE in Type */
/* The protocol's record of an NBL it sent, in ProtocolReserved[0]. */
#define WH_SENT_MAGIC ((void *)(uintptr_t)0x53454e54)
#define WH_DONE_MAGIC ((void *)(uintptr_t)0x444f4e45)

enum wh_ndis_state { WH_NDIS_NONE, WH_NDIS_PAUSED, WH_NDIS_RESTARTING, WH_NDIS_RUNNING,
                     WH_NDIS_PAUSING, WH_NDIS_HALTED };

#define WH_NDIS_MAX_FRAMES 256
struct wh_ndis_frame {                  /* what the protocol received */
    uint32_t len;
    uint64_t csum_info;
    uint8_t data[2048];
};

struct wh_ndis_adapter {
    struct wh_device_object *fdo, *pdo, *lower;
    void *ctx;                          /* MiniportAdapterContext */
    volatile int state;                 /* enum wh_ndis_state */
    bool registration_set, general_set, offload_set;
    uint8_t perm_mac[6], cur_mac[6];
    uint32_t mtu, oid_list_len;
    uint8_t offload[0x70];              /* NDIS_OFFLOAD revision 1 the miniport set */
    volatile unsigned link_up_indications, link_down_indications, status_indications;
    volatile unsigned offload_config_indications;
    /* the protocol: NBLs it sent and the miniport has not completed */
    volatile unsigned sends_outstanding, sends_completed;
    /* receive NBLs the protocol holds (returned by a thread of its own) */
    volatile unsigned rx_held, rx_indicated, rx_returned, rx_resources;
    volatile bool hold_returns;
    struct wh_ndis_frame frames[WH_NDIS_MAX_FRAMES];
    volatile unsigned nframes;
};

/* wh_ndis.c */
struct wh_driver_object;
extern struct wh_ndis_adapter wh_ndis_ad;
/* The characteristics the driver registered (NULL: none). */
void *wh_ndis_handler(unsigned offset);
bool wh_ndis_registered(void);
/* NBLs and pools the miniport allocated and has not freed. */
unsigned wh_ndis_objects_left(bool print);
/* The protocol returns what it holds (at DISPATCH_LEVEL, as NDIS does). */
void wh_ndis_return_held(void);
/* A hook run on the DPC thread when the miniport's own code takes a spin
 * lock (KeAcquireSpinLockRaiseToDpc from its image), once per arming. */
extern void (*volatile wh_ndis_lock_hook)(void);
void wh_ndis_arm_lock_hook(void (*h)(void));
extern struct wh_image *wh_ndis_image;

/* wh_ndis_adapter.c */
NTSTATUS_ WH_MSABI wh_ndis_add_device(struct wh_driver_object *drv, struct wh_device_object *pdo);
/* MiniportPause (PASSIVE_LEVEL) on a thread of its own, waited for up to
 * timeout_ms: 0 if it completed (and then everything is back), -1 if not. */
int wh_ndis_pause(unsigned timeout_ms);
int wh_ndis_restart(void);
/* Sends a chain from the protocol at DISPATCH_LEVEL. */
void wh_ndis_send(struct wh_nbl *chain);
/* A protocol's NBL with one NET_BUFFER per (data, len) pair, each NET_BUFFER's
 * bytes split over MDLs of at most mdl_max bytes; freed by wh_ndis_nbl_free. */
struct wh_nbl *wh_ndis_nbl(const uint8_t *const *data, const uint32_t *len, unsigned nbs,
                           uint32_t mdl_max);
void wh_ndis_nbl_free(struct wh_nbl *nbl);
bool wh_ndis_nbl_completed(const struct wh_nbl *nbl);
/* OID query or set at PASSIVE_LEVEL; returns the NDIS_STATUS. */
int32_t wh_ndis_oid(bool set, uint32_t oid, void *buf, uint32_t len, uint32_t *done);
void wh_ndis_pnp_event(uint32_t event);
/* Waits until the protocol has received n frames (true) or timeout_ms passed. */
bool wh_ndis_wait_frames(unsigned n, unsigned timeout_ms);
bool wh_ndis_wait_sends(unsigned timeout_ms);

#endif
