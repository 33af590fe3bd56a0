/*
 * The Windows kernel's struct gp_platform: OS services from ntoskrnl
 * (non-paged pool, spin locks, KEVENTs, interrupt time, DbgPrintEx, an
 * ordered work queue) and HVM arch access (CPUID, WRMSR, port I/O,
 * VMCALL/VMMCALL, MmMapIoSpace, the platform PCI device's interrupt).
 * Non-paged pool is NonPagedPoolNx on Windows 8 and later (win_nx.c).
 *
 * The event-channel upcall arrives on the Xen platform PCI device's
 * level-triggered line.  The ISR only acknowledges it (hvm_upcall_ack, so
 * Xen lowers the line) and queues a DPC; the DPC runs the core's port scan
 * at DISPATCH_LEVEL, where every handler may take spin locks, signal
 * events and queue work.  The core's [any] level is DISPATCH_LEVEL here.
 */
#ifndef GPLPV_WIN_PLATFORM_H
#define GPLPV_WIN_PLATFORM_H

#include "gplpv_win.h"

#define WIN_DEFER_MAX 512

struct win_interrupt_res {
    BOOLEAN present;
    ULONG gsi;                 /* raw resource: the line Xen raises */
    ULONG vector;              /* translated resource: what IoConnectInterrupt takes */
    KIRQL irql;
    KAFFINITY affinity;
    KINTERRUPT_MODE mode;
    BOOLEAN shared;
};

struct win_platform {
    struct gp_platform plat;            /* os and arch below; xen from hvm_platform_xen */
    struct gp_os os;
    struct gp_arch arch;
    const char *name;                   /* driver name in log lines */
    enum gp_log_level max_level;
    BOOLEAN on_xen;                     /* set after detection: port 0xe9 may be used */

    /* defer(): one ordered queue drained by one system work item */
    KSPIN_LOCK defer_lock;
    struct { gp_work_fn fn; void *arg; } defer_q[WIN_DEFER_MAX];
    unsigned defer_head, defer_tail;
    BOOLEAN defer_running;
    WORK_QUEUE_ITEM defer_item;
    KEVENT defer_idle;

    /* arch */
    enum gp_hypercall_via hypercall_via;
    void *hypercall_page;               /* GP_HYPERCALL_PAGE only */
    struct win_interrupt_res irq;
    PKINTERRUPT interrupt;
    KDPC upcall_dpc;
    void (*upcall_fn)(void *arg, unsigned vcpu);
    void *upcall_arg;
    volatile LONG upcall_enabled;
};

/* Fill w->plat with the OS services and arch ops (no Xen services: the
 * bring-up gives them, hvm_platform_xen).  name: "xenpci". */
void win_platform_init(struct win_platform *w, const char *name);
/* Wait until deferred work queued so far has run (PASSIVE_LEVEL). */
void win_platform_flush_deferred(struct win_platform *w);
/* Safe mode, read from ntoskrnl's InitSafeBootMode when it exports it. */
BOOLEAN win_platform_safe_mode(void);

/* Read value 'value' of registry key 'key' (a full \\Registry\\... path):
 * REG_SZ into str as ASCII (non-ASCII characters become '?'), REG_DWORD
 * into *dword.  FALSE when the key or value is absent or of another type. */
BOOLEAN win_registry_read(PCWSTR key, PCWSTR value, char *str, size_t str_len, ULONG *dword);

/* Get xenpci's interface from the device below a child's FDO (PASSIVE):
 * checks the interface version and that xenpci is the same build.  'who'
 * names the caller in log lines.  On success one reference is held. */
struct xenpci_interface;
NTSTATUS win_xenpci_query(PDEVICE_OBJECT lower, struct xenpci_interface *xi, const char *who);

/* Arch ops (win_arch.c). */
extern const struct gp_arch win_arch_ops;

#endif
