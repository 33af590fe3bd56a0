/*
 * The Xen ABI oracle of the Windows build: every Xen structure the drivers
 * share with Xen or a backend, with the offsets of its fields that move
 * when a compiler lays types out differently.  Compiled twice:
 *   - by Linux's gcc for x86-64 (-m64) and i386 (-m32), with -DXEN_ABI_REF
 *     (its sizes and offsets as data) and -DXEN_ABI_NAMES (their names):
 *     the layouts Xen and the backends use (the "x86_64-abi" and
 *     "x86_32-abi" of xen/io/protocols.h), written out as _Static_asserts;
 *   - by mingw-w64 for x64 and x86 with the Xen headers the drivers build
 *     against, with those asserts included: a layout that differs fails
 *     the compile, naming the structure or field.
 * Windows breaks both: x64 is LLP64 (long is 32 bits, Xen's x86-64 ABI
 * has 64-bit longs) and x86 aligns 64-bit fields to 8 (i386's ABI to 4).
 * windows/tools/check-xen-abi runs it (make check-win).
 */
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <xen/io/xs_wire.h>

#define XEN_ABI_TYPES(T)                                                                   \
    T(struct shared_info) T(struct vcpu_info) T(struct vcpu_time_info)                    \
    T(struct arch_vcpu_info) T(struct arch_shared_info)                                   \
    T(struct evtchn_alloc_unbound) T(struct evtchn_bind_interdomain) T(struct evtchn_send) \
    T(struct evtchn_close) T(struct evtchn_unmask) T(struct evtchn_bind_vcpu)              \
    T(struct gnttab_query_size) T(struct gnttab_setup_table) T(grant_entry_v1_t)          \
    T(struct xen_add_to_physmap) T(struct xen_remove_from_physmap)                        \
    T(struct xen_memory_reservation) T(struct sched_shutdown) T(struct xen_hvm_param)     \
    T(struct xen_hvm_evtchn_upcall_vector)                                                \
    T(blkif_request_t) T(blkif_response_t) T(blkif_request_indirect_t)                    \
    T(blkif_request_discard_t) T(struct blkif_request_segment) T(blkif_sring_t)           \
    T(netif_tx_request_t) T(netif_tx_response_t) T(netif_rx_request_t)                    \
    T(netif_rx_response_t) T(netif_extra_info_t) T(netif_tx_sring_t) T(netif_rx_sring_t)  \
    T(struct xen_netif_ctrl_request) T(struct xen_netif_ctrl_response)                    \
    T(xen_netif_ctrl_sring_t) T(struct xenstore_domain_interface) T(struct xsd_sockmsg)

#define XEN_ABI_FIELDS(F)                                                                  \
    F(struct shared_info, evtchn_pending) F(struct shared_info, evtchn_mask)              \
    F(struct shared_info, wc_version) F(struct shared_info, arch)                         \
    F(struct vcpu_info, evtchn_upcall_mask) F(struct vcpu_info, evtchn_pending_sel)       \
    F(struct vcpu_info, arch) F(struct vcpu_info, time)                                   \
    F(struct vcpu_time_info, tsc_timestamp) F(struct vcpu_time_info, system_time)         \
    F(struct vcpu_time_info, tsc_to_system_mul)                                           \
    F(struct gnttab_setup_table, nr_frames) F(struct gnttab_setup_table, status)          \
    F(struct gnttab_setup_table, frame_list)                                              \
    F(struct xen_add_to_physmap, space) F(struct xen_add_to_physmap, idx)                 \
    F(struct xen_add_to_physmap, gpfn) F(struct xen_remove_from_physmap, gpfn)            \
    F(struct xen_memory_reservation, nr_extents)                                          \
    F(struct xen_memory_reservation, extent_order) F(struct xen_memory_reservation, domid) \
    F(struct xen_hvm_param, index) F(struct xen_hvm_param, value)                         \
    F(blkif_request_t, id) F(blkif_request_t, sector_number) F(blkif_request_t, seg)      \
    F(blkif_response_t, operation) F(blkif_response_t, status)                            \
    F(blkif_request_indirect_t, id) F(blkif_request_indirect_t, sector_number)            \
    F(blkif_request_indirect_t, handle) F(blkif_request_indirect_t, indirect_grefs)       \
    F(blkif_request_discard_t, id) F(blkif_request_discard_t, sector_number)              \
    F(blkif_request_discard_t, nr_sectors)                                                \
    F(blkif_sring_t, ring) F(netif_tx_sring_t, ring) F(netif_rx_sring_t, ring)            \
    F(netif_extra_info_t, u) F(struct xen_netif_ctrl_request, data)                       \
    F(struct xen_netif_ctrl_response, data) F(xen_netif_ctrl_sring_t, ring)               \
    F(struct xenstore_domain_interface, rsp) F(struct xenstore_domain_interface, req_cons) \
    F(struct xenstore_domain_interface, server_features)

#if defined(XEN_ABI_NAMES)
/* gcc -E: one line per value, in the order of xen_abi_ref */
#define XEN_ABI_NAME_TYPE(t) XEN_ABI_NAME sizeof(t) @
#define XEN_ABI_NAME_FIELD(t, f) XEN_ABI_NAME offsetof(t, f) @
XEN_ABI_TYPES(XEN_ABI_NAME_TYPE)
XEN_ABI_FIELDS(XEN_ABI_NAME_FIELD)
#elif defined(XEN_ABI_REF)
/* gcc -S: the values, as .long lines of xen_abi_ref */
#define XEN_ABI_REF_TYPE(t) (uint32_t)sizeof(t),
#define XEN_ABI_REF_FIELD(t, f) (uint32_t)offsetof(t, f),
const uint32_t xen_abi_ref[] = { XEN_ABI_TYPES(XEN_ABI_REF_TYPE) XEN_ABI_FIELDS(XEN_ABI_REF_FIELD) };
#else
#include XEN_ABI_EXPECTED
#endif
