/* \\.\XenPci (see xenpci_ioctl.h): shutdown requests for shutdownmon, and
 * event channels and granted pages for user space, each owned by the
 * handle that made it and released when that handle is cleaned up. */
#include "xenpci.h"

#include <ntifs.h>

#include "gplpv/evtchn.h"
#include "gplpv/log.h"
#include "xenpci_ioctl.h"

#define XENPCI_USER_PORTS 16
#define XENPCI_USER_GRANTS 64

struct xenpci_user_port {
    gp_port_t port;
    KEVENT event;
};

struct xenpci_user_grant {
    gp_grant_ref_t ref;
    void *va;
    PVOID user_va;
    PEPROCESS owner;
};

struct xenpci_user {
    FAST_MUTEX lock;
    struct xenpci_user_port ports[XENPCI_USER_PORTS];
    struct xenpci_user_grant grants[XENPCI_USER_GRANTS];
};

static void xenpci_ioctl_port_event(void *arg, gp_port_t port)
{
    struct xenpci_user_port *up = arg;
    (void)port;
    KeSetEvent(&up->event, IO_NO_INCREMENT, FALSE);
}

static struct xenpci_user_port *xenpci_ioctl_find_port(struct xenpci_user *u, gp_port_t port)
{
    for (int i = 0; i < XENPCI_USER_PORTS; i++)
        if (u->ports[i].port == port && port != GP_INVALID_PORT)
            return &u->ports[i];
    return NULL;
}

static NTSTATUS xenpci_ioctl_nt(int err)
{
    switch (err) {
    case 0: return STATUS_SUCCESS;
    case GP_ENOMEM: return STATUS_INSUFFICIENT_RESOURCES;
    case GP_EBUSY: return STATUS_DEVICE_BUSY;
    case GP_ENOSPC: return STATUS_TOO_MANY_OPENED_FILES;
    case GP_EINVAL: return STATUS_INVALID_PARAMETER;
    default: return STATUS_UNSUCCESSFUL;
    }
}

static NTSTATUS xenpci_ioctl_wait_shutdown(struct xenpci_fdo *f, struct xenpci_ioctl_args *a)
{
    LARGE_INTEGER t;
    t.QuadPart = -(LONGLONG)a->timeout_ms * 10000;
    NTSTATUS st = KeWaitForSingleObject(&f->shutdown_event, Executive, UserMode, TRUE, &t);
    if (st == STATUS_USER_APC || st == STATUS_ALERTED)
        return STATUS_CANCELLED;
    KeClearEvent(&f->shutdown_event);
    a->result = (uint32_t)InterlockedExchange(&f->pending_action, 0);
    return STATUS_SUCCESS;
}

/* A new channel for the handle: unbound for 'domid' (ALLOC) or bound to
 * the remote's port (BIND). */
static NTSTATUS xenpci_ioctl_evtchn_open(struct xenpci_fdo *f, struct xenpci_user *u,
                                         struct xenpci_ioctl_args *a, BOOLEAN bind)
{
    struct gp_platform *p = &f->win.plat;
    struct xenpci_user_port *up = NULL;
    for (int i = 0; !up && i < XENPCI_USER_PORTS; i++)
        if (u->ports[i].port == GP_INVALID_PORT)
            up = &u->ports[i];
    if (!up)
        return STATUS_TOO_MANY_OPENED_FILES;
    gp_port_t port;
    int err = bind ? evtchn_bind_interdomain(hvm_evtchn(f->hvm), (gp_domid_t)a->domid,
                                             (gp_port_t)a->port, &port)
                   : p->evtchn_alloc_unbound(p->xen_ctx, (gp_domid_t)a->domid, &port);
    if (err)
        return xenpci_ioctl_nt(err);
    KeInitializeEvent(&up->event, SynchronizationEvent, FALSE);
    err = p->evtchn_bind(p->xen_ctx, port, xenpci_ioctl_port_event, up);
    if (err) {
        p->evtchn_unbind(p->xen_ctx, port);
        return xenpci_ioctl_nt(err);
    }
    up->port = port;
    p->evtchn_unmask(p->xen_ctx, port);
    a->port = port;
    return STATUS_SUCCESS;
}

/* Map our non-paged page into the calling process through the physical
 * memory section: every step reports failure by status (no exception to
 * catch), and the view is an ordinary one the process may not free. */
static NTSTATUS xenpci_ioctl_map_user(void *va, PVOID *user_va)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES oa;
    HANDLE sec;
    RtlInitUnicodeString(&name, L"\\Device\\PhysicalMemory");
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    NTSTATUS st = ZwOpenSection(&sec, SECTION_MAP_READ | SECTION_MAP_WRITE, &oa);
    if (!NT_SUCCESS(st))
        return st;
    LARGE_INTEGER off = MmGetPhysicalAddress(va);
    SIZE_T size = PAGE_SIZE;
    *user_va = NULL;
    st = ZwMapViewOfSection(sec, NtCurrentProcess(), user_va, 0, PAGE_SIZE, &off, &size, ViewUnmap,
                            0, PAGE_READWRITE);
    ZwClose(sec);
    return st;
}

/* The page is allocated, mapped into the caller (ZwOpenSection and
 * ZwMapViewOfSection: PASSIVE_LEVEL, so not under u->lock, a FAST_MUTEX
 * that holds the thread at APC_LEVEL) and granted first; the handle's
 * slot is claimed under the lock last, and everything undone if none is
 * free. */
static int xenpci_ioctl_gnt_release(struct xenpci_fdo *f, struct xenpci_user_grant *g);

static NTSTATUS xenpci_ioctl_gnt_alloc(struct xenpci_fdo *f, struct xenpci_user *u,
                                       struct xenpci_ioctl_args *a)
{
    struct gp_platform *p = &f->win.plat;
    uint64_t gfn;
    void *va = p->page_alloc(p->ctx, &gfn);
    if (!va)
        return STATUS_INSUFFICIENT_RESOURCES;
    PVOID user_va = NULL;
    NTSTATUS st = xenpci_ioctl_map_user(va, &user_va);
    if (!NT_SUCCESS(st)) {
        p->page_free(p->ctx, va);
        return st;
    }
    gp_grant_ref_t ref;
    int err = p->grant_access(p->xen_ctx, (gp_domid_t)a->domid, gfn, a->readonly != 0, &ref);
    if (err) {
        ZwUnmapViewOfSection(NtCurrentProcess(), user_va);
        p->page_free(p->ctx, va);
        return xenpci_ioctl_nt(err);
    }
    struct xenpci_user_grant made = { .ref = ref, .va = va, .user_va = user_va,
                                      .owner = IoGetCurrentProcess() };
    BOOLEAN kept = FALSE;
    ExAcquireFastMutex(&u->lock);
    for (int i = 0; !kept && i < XENPCI_USER_GRANTS; i++)
        if (!u->grants[i].va) {
            u->grants[i] = made;
            kept = TRUE;
        }
    ExReleaseFastMutex(&u->lock);
    if (!kept) {
        xenpci_ioctl_gnt_release(f, &made);       /* nobody else saw the grant */
        return STATUS_TOO_MANY_OPENED_FILES;
    }
    a->ref = ref;
    a->address = (uint64_t)(uintptr_t)user_va;
    return STATUS_SUCCESS;
}

/* GNT_FREE: the grant leaves the handle's table under the lock and is
 * ended outside it (the view is unmapped at PASSIVE_LEVEL); a page the
 * other domain still maps goes back into the table. */
static NTSTATUS xenpci_ioctl_gnt_free(struct xenpci_fdo *f, struct xenpci_user *u, uint32_t ref)
{
    struct xenpci_user_grant g = { 0 };
    ExAcquireFastMutex(&u->lock);
    for (int i = 0; !g.va && i < XENPCI_USER_GRANTS; i++)
        if (u->grants[i].va && u->grants[i].ref == ref) {
            g = u->grants[i];
            RtlZeroMemory(&u->grants[i], sizeof(u->grants[i]));
        }
    ExReleaseFastMutex(&u->lock);
    if (!g.va)
        return STATUS_INVALID_HANDLE;
    int err = xenpci_ioctl_gnt_release(f, &g);
    if (err) {
        ExAcquireFastMutex(&u->lock);
        for (int i = 0; g.va && i < XENPCI_USER_GRANTS; i++)
            if (!u->grants[i].va) {
                u->grants[i] = g;
                g.va = NULL;
            }
        ExReleaseFastMutex(&u->lock);
    }
    return xenpci_ioctl_nt(err);
}

/* Unmap the page from the process that asked for it. */
static void xenpci_ioctl_unmap_user(struct xenpci_user_grant *g)
{
    if (IoGetCurrentProcess() == g->owner) {
        ZwUnmapViewOfSection(NtCurrentProcess(), g->user_va);
    } else {
        KAPC_STATE apc;
        KeStackAttachProcess((PKPROCESS)g->owner, &apc);
        ZwUnmapViewOfSection(NtCurrentProcess(), g->user_va);
        KeUnstackDetachProcess(&apc);
    }
}

/* GP_EBUSY while the other domain still maps it: then the page stays. */
static int xenpci_ioctl_gnt_release(struct xenpci_fdo *f, struct xenpci_user_grant *g)
{
    struct gp_platform *p = &f->win.plat;
    int err = p->grant_end(p->xen_ctx, g->ref);
    if (err)
        return err;
    xenpci_ioctl_unmap_user(g);
    p->page_free(p->ctx, g->va);
    RtlZeroMemory(g, sizeof(*g));
    return 0;
}

NTSTATUS xenpci_ioctl(struct xenpci_fdo *f, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    struct xenpci_user *u = sl->FileObject ? sl->FileObject->FsContext : NULL;
    ULONG code = sl->Parameters.DeviceIoControl.IoControlCode;
    struct xenpci_ioctl_args *a = irp->AssociatedIrp.SystemBuffer;
    if (!u || sl->Parameters.DeviceIoControl.InputBufferLength < sizeof(*a) ||
        sl->Parameters.DeviceIoControl.OutputBufferLength < sizeof(*a))
        return xenpci_complete(irp, STATUS_INVALID_PARAMETER, 0);
    if (!f->started && code != IOCTL_XENPCI_WAIT_SHUTDOWN)
        return xenpci_complete(irp, STATUS_DEVICE_NOT_READY, 0);
    struct gp_platform *p = &f->win.plat;
    NTSTATUS st = STATUS_INVALID_DEVICE_REQUEST;
    if (code == IOCTL_XENPCI_WAIT_SHUTDOWN)
        return xenpci_complete(irp, xenpci_ioctl_wait_shutdown(f, a), sizeof(*a));
    if (code == IOCTL_XENPCI_GNT_ALLOC || code == IOCTL_XENPCI_GNT_FREE) {
        st = code == IOCTL_XENPCI_GNT_ALLOC ? xenpci_ioctl_gnt_alloc(f, u, a)
                                            : xenpci_ioctl_gnt_free(f, u, a->ref);
        return xenpci_complete(irp, st, NT_SUCCESS(st) ? sizeof(*a) : 0);
    }
    ExAcquireFastMutex(&u->lock);
    struct xenpci_user_port *up = xenpci_ioctl_find_port(u, a->port);
    switch (code) {
    case IOCTL_XENPCI_EVTCHN_ALLOC:
        st = xenpci_ioctl_evtchn_open(f, u, a, FALSE);
        break;
    case IOCTL_XENPCI_EVTCHN_BIND:
        st = xenpci_ioctl_evtchn_open(f, u, a, TRUE);
        break;
    case IOCTL_XENPCI_EVTCHN_NOTIFY:
        st = up ? (p->evtchn_notify(p->xen_ctx, up->port), STATUS_SUCCESS) : STATUS_INVALID_HANDLE;
        break;
    case IOCTL_XENPCI_EVTCHN_WAIT:
        if (up) {
            ExReleaseFastMutex(&u->lock);
            LARGE_INTEGER t;
            t.QuadPart = -(LONGLONG)a->timeout_ms * 10000;
            st = KeWaitForSingleObject(&up->event, Executive, UserMode, TRUE, &t);
            a->result = st == STATUS_SUCCESS;
            return xenpci_complete(irp, st == STATUS_USER_APC ? STATUS_CANCELLED : STATUS_SUCCESS,
                                   sizeof(*a));
        }
        st = STATUS_INVALID_HANDLE;
        break;
    case IOCTL_XENPCI_EVTCHN_CLOSE:
        if (up) {
            p->evtchn_unbind(p->xen_ctx, up->port);
            up->port = GP_INVALID_PORT;
            st = STATUS_SUCCESS;
        } else {
            st = STATUS_INVALID_HANDLE;
        }
        break;
    default:
        break;
    }
    ExReleaseFastMutex(&u->lock);
    return xenpci_complete(irp, st, NT_SUCCESS(st) ? sizeof(*a) : 0);
}

NTSTATUS xenpci_ioctl_create(struct xenpci_fdo *f, PIRP irp)
{
    (void)f;
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    struct xenpci_user *u = ExAllocatePoolWithTag(win_nonpaged_pool, sizeof(*u), GPLPV_POOL_TAG);
    if (!u)
        return xenpci_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    RtlZeroMemory(u, sizeof(*u));
    ExInitializeFastMutex(&u->lock);
    sl->FileObject->FsContext = u;
    return xenpci_complete(irp, STATUS_SUCCESS, 0);
}

/* The handle is going: close its ports and end its grants.  A page the
 * other domain still maps cannot be freed safely: it is left allocated
 * (and logged) rather than reused while someone writes to it. */
NTSTATUS xenpci_ioctl_cleanup(struct xenpci_fdo *f, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    struct xenpci_user *u = sl->FileObject->FsContext;
    struct gp_platform *p = &f->win.plat;
    if (u) {
        ExAcquireFastMutex(&u->lock);
        for (int i = 0; i < XENPCI_USER_PORTS; i++)
            if (u->ports[i].port != GP_INVALID_PORT) {
                p->evtchn_unbind(p->xen_ctx, u->ports[i].port);
                u->ports[i].port = GP_INVALID_PORT;
            }
        struct xenpci_user_grant gone[XENPCI_USER_GRANTS];
        RtlCopyMemory(gone, u->grants, sizeof(gone));
        RtlZeroMemory(u->grants, sizeof(u->grants));
        ExReleaseFastMutex(&u->lock);
        /* the views are unmapped at PASSIVE_LEVEL, outside u->lock */
        for (int i = 0; i < XENPCI_USER_GRANTS; i++)
            if (gone[i].va && xenpci_ioctl_gnt_release(f, &gone[i]) != 0) {
                GP_WARN(p, "user grant %u still mapped by the other domain: page kept",
                        (unsigned)gone[i].ref);
                xenpci_ioctl_unmap_user(&gone[i]);
            }
    }
    return xenpci_complete(irp, STATUS_SUCCESS, 0);
}

NTSTATUS xenpci_ioctl_close(struct xenpci_fdo *f, PIRP irp)
{
    (void)f;
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    if (sl->FileObject->FsContext)
        ExFreePoolWithTag(sl->FileObject->FsContext, GPLPV_POOL_TAG);
    sl->FileObject->FsContext = NULL;
    return xenpci_complete(irp, STATUS_SUCCESS, 0);
}
