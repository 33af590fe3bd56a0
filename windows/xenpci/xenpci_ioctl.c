/* \\.\XenPci (see xenpci_ioctl.h): shutdown requests for shutdownmon, and
 * event channels (xenpci_ioctl_port.c) and granted pages
 * (xenpci_ioctl_gnt.c) for user space, each owned by the handle that made
 * it and released when that handle is cleaned up.
 *
 * Every request comes from user mode: the control code is checked before
 * anything else (all of ours are METHOD_BUFFERED; for any other code the
 * system buffer is not what it seems, or absent), then both buffer
 * lengths, then each field (domids, ports, refs, counts against the
 * limits).  CLEANUP (in the context of the process that closed the last
 * handle, not necessarily the one that made the resources) ends every
 * wait of the handle at once and releases all it holds; CLOSE (in any
 * context) frees what is left. */
#include "xenpci_ioctl_user.h"

#include "gplpv/log.h"

NTSTATUS xenpci_ioctl_nt(int err)
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

/* The device-wide shutdown event, or the handle's CLEANUP: whichever
 * comes first. */
static NTSTATUS xenpci_ioctl_wait_shutdown(struct xenpci_fdo *f, struct xenpci_user *u,
                                           struct xenpci_ioctl_args *a)
{
    LARGE_INTEGER t;
    t.QuadPart = -(LONGLONG)a->timeout_ms * 10000;
    PVOID objs[2] = { &f->shutdown_event, &u->gone };
    NTSTATUS st = KeWaitForMultipleObjects(2, objs, WaitAny, Executive, UserMode, TRUE, &t, NULL);
    if (st != STATUS_WAIT_0 && st != STATUS_TIMEOUT)
        return STATUS_CANCELLED;
    KeClearEvent(&f->shutdown_event);
    a->result = (uint32_t)InterlockedExchange(&f->pending_action, 0);
    return STATUS_SUCCESS;
}

static BOOLEAN xenpci_ioctl_known(ULONG code)
{
    switch (code) {
    case IOCTL_XENPCI_WAIT_SHUTDOWN: case IOCTL_XENPCI_EVTCHN_ALLOC:
    case IOCTL_XENPCI_EVTCHN_NOTIFY: case IOCTL_XENPCI_EVTCHN_WAIT:
    case IOCTL_XENPCI_EVTCHN_CLOSE: case IOCTL_XENPCI_GNT_ALLOC:
    case IOCTL_XENPCI_GNT_FREE: case IOCTL_XENPCI_EVTCHN_BIND:
        return TRUE;
    default:
        return FALSE;
    }
}

NTSTATUS xenpci_ioctl(struct xenpci_fdo *f, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    struct xenpci_user *u = sl->FileObject ? sl->FileObject->FsContext : NULL;
    ULONG code = sl->Parameters.DeviceIoControl.IoControlCode;
    if (!xenpci_ioctl_known(code))
        return xenpci_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    struct xenpci_ioctl_args *a = irp->AssociatedIrp.SystemBuffer;
    if (!u || !a || sl->Parameters.DeviceIoControl.InputBufferLength < sizeof(*a) ||
        sl->Parameters.DeviceIoControl.OutputBufferLength < sizeof(*a))
        return xenpci_complete(irp, STATUS_INVALID_PARAMETER, 0);
    if (!f->started && code != IOCTL_XENPCI_WAIT_SHUTDOWN)
        return xenpci_complete(irp, STATUS_DEVICE_NOT_READY, 0);
    NTSTATUS st;
    switch (code) {
    case IOCTL_XENPCI_WAIT_SHUTDOWN:
        st = xenpci_ioctl_wait_shutdown(f, u, a);
        break;
    case IOCTL_XENPCI_GNT_ALLOC:
        st = xenpci_ioctl_gnt_alloc(f, u, a);
        break;
    case IOCTL_XENPCI_GNT_FREE:
        st = xenpci_ioctl_gnt_free(f, u, a->ref);
        break;
    case IOCTL_XENPCI_EVTCHN_ALLOC:
    case IOCTL_XENPCI_EVTCHN_BIND:
        st = xenpci_ioctl_port_open(f, u, a, code == IOCTL_XENPCI_EVTCHN_BIND);
        break;
    case IOCTL_XENPCI_EVTCHN_NOTIFY:
        st = xenpci_ioctl_port_notify(f, u, a->port);
        break;
    case IOCTL_XENPCI_EVTCHN_WAIT:
        st = xenpci_ioctl_port_wait(u, a);
        break;
    default:                                        /* IOCTL_XENPCI_EVTCHN_CLOSE */
        st = xenpci_ioctl_port_close(f, u, a->port);
        break;
    }
    return xenpci_complete(irp, st, NT_SUCCESS(st) ? sizeof(*a) : 0);
}

/* Everything a handle's waits use is initialised here, once. */
NTSTATUS xenpci_ioctl_create(struct xenpci_fdo *f, PIRP irp)
{
    (void)f;
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    struct xenpci_user *u = ExAllocatePoolWithTag(win_nonpaged_pool, sizeof(*u), GPLPV_POOL_TAG);
    if (!u)
        return xenpci_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    RtlZeroMemory(u, sizeof(*u));
    ExInitializeFastMutex(&u->lock);
    KeInitializeEvent(&u->gone, NotificationEvent, FALSE);
    for (ULONG i = 0; i < XENPCI_USER_PORTS_PER_HANDLE; i++) {
        KeInitializeEvent(&u->ports[i].event, SynchronizationEvent, FALSE);
        KeInitializeEvent(&u->ports[i].closed, NotificationEvent, FALSE);
    }
    sl->FileObject->FsContext = u;
    return xenpci_complete(irp, STATUS_SUCCESS, 0);
}

/* The last handle is closed: waits end (the IRPs complete, then CLOSE can
 * come), ports close, grants end and their views go from their owners. */
NTSTATUS xenpci_ioctl_cleanup(struct xenpci_fdo *f, PIRP irp)
{
    PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
    struct xenpci_user *u = sl->FileObject->FsContext;
    if (u) {
        KeSetEvent(&u->gone, IO_NO_INCREMENT, FALSE);
        xenpci_ioctl_port_cleanup(f, u);
        xenpci_ioctl_gnt_cleanup(f, u);
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
