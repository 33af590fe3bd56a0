/* \\.\XenPci's event channels: each belongs to the handle that opened it
 * (EVTCHN_ALLOC, EVTCHN_BIND) and to no other.  A waiter (EVTCHN_WAIT)
 * leaves when an event comes, the time is up, the port is closed or the
 * handle is cleaned up; a slot is not reused while someone waits on it, so
 * its events are never initialised again under a waiter. */
#include "xenpci_ioctl_user.h"

#include "gplpv/evtchn.h"

static void xenpci_ioctl_port_event(void *arg, gp_port_t port)
{
    struct xenpci_user_port *up = arg;
    (void)port;
    KeSetEvent(&up->event, IO_NO_INCREMENT, FALSE);
}

/* Under u->lock. */
static struct xenpci_user_port *xenpci_ioctl_port_find(struct xenpci_user *u, uint32_t port)
{
    for (ULONG i = 0; port != GP_INVALID_PORT && i < XENPCI_USER_PORTS_PER_HANDLE; i++)
        if (u->ports[i].port == port)
            return &u->ports[i];
    return NULL;
}

/* Under u->lock: unbound, waiters sent away, the device's count given back. */
static void xenpci_ioctl_port_shut(struct xenpci_fdo *f, struct xenpci_user_port *up)
{
    struct gp_platform *p = &f->win.plat;
    gp_xen_evtchn_unbind(p, up->port);        /* waits for a running handler */
    up->port = GP_INVALID_PORT;
    KeSetEvent(&up->closed, IO_NO_INCREMENT, FALSE);
    InterlockedDecrement(&f->user_ports);
}

/* A new channel for the handle: unbound for 'domid' (ALLOC) or bound to
 * the remote's port (BIND).  The hypercalls run under the FAST_MUTEX
 * (APC_LEVEL), which they allow. */
NTSTATUS xenpci_ioctl_port_open(struct xenpci_fdo *f, struct xenpci_user *u,
                                struct xenpci_ioctl_args *a, BOOLEAN bind)
{
    struct gp_platform *p = &f->win.plat;
    if (!xenpci_ioctl_domid_ok(a->domid))
        return STATUS_INVALID_PARAMETER;
    NTSTATUS st = STATUS_TOO_MANY_OPENED_FILES;
    ExAcquireFastMutex(&u->lock);
    struct xenpci_user_port *up = NULL;
    for (ULONG i = 0; !up && i < XENPCI_USER_PORTS_PER_HANDLE; i++)
        if (u->ports[i].port == GP_INVALID_PORT && u->ports[i].waiters == 0)
            up = &u->ports[i];
    if (up && !xenpci_ioctl_take(&f->user_ports, XENPCI_USER_PORTS_MAX))
        st = STATUS_INSUFFICIENT_RESOURCES;
    else if (up) {
        gp_port_t port;
        int err = bind ? evtchn_bind_interdomain(hvm_evtchn(f->hvm), (gp_domid_t)a->domid,
                                                 (gp_port_t)a->port, &port)
                       : gp_xen_evtchn_alloc_unbound(p, (gp_domid_t)a->domid, &port);
        if (!err) {
            KeClearEvent(&up->event);               /* nobody waits: see above */
            KeClearEvent(&up->closed);
            err = gp_xen_evtchn_bind(p, port, xenpci_ioctl_port_event, up);
            if (err)
                gp_xen_evtchn_unbind(p, port);
        }
        if (err) {
            InterlockedDecrement(&f->user_ports);
            st = xenpci_ioctl_nt(err);
        } else {
            up->port = port;
            a->port = port;
            st = STATUS_SUCCESS;
        }
    }
    ExReleaseFastMutex(&u->lock);
    return st;
}

NTSTATUS xenpci_ioctl_port_notify(struct xenpci_fdo *f, struct xenpci_user *u, uint32_t port)
{
    struct gp_platform *p = &f->win.plat;
    ExAcquireFastMutex(&u->lock);
    struct xenpci_user_port *up = xenpci_ioctl_port_find(u, port);
    if (up)
        gp_xen_evtchn_notify(p, up->port);
    ExReleaseFastMutex(&u->lock);
    return up ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

/* result 1: an event; 0: the time ran out.  STATUS_CANCELLED when the
 * port was closed or the handle cleaned up meanwhile (or the thread is
 * being terminated). */
NTSTATUS xenpci_ioctl_port_wait(struct xenpci_user *u, struct xenpci_ioctl_args *a)
{
    ExAcquireFastMutex(&u->lock);
    struct xenpci_user_port *up = xenpci_ioctl_port_find(u, a->port);
    if (up)
        up->waiters++;
    ExReleaseFastMutex(&u->lock);
    if (!up)
        return STATUS_INVALID_HANDLE;
    PVOID objs[2] = { &up->event, &up->closed };
    LARGE_INTEGER t;
    t.QuadPart = -(LONGLONG)a->timeout_ms * 10000;
    NTSTATUS st = KeWaitForMultipleObjects(2, objs, WaitAny, Executive, UserMode, TRUE, &t, NULL);
    ExAcquireFastMutex(&u->lock);
    up->waiters--;
    ExReleaseFastMutex(&u->lock);
    if (st != STATUS_WAIT_0 && st != STATUS_TIMEOUT)
        return STATUS_CANCELLED;
    a->result = st == STATUS_WAIT_0;
    return STATUS_SUCCESS;
}

NTSTATUS xenpci_ioctl_port_close(struct xenpci_fdo *f, struct xenpci_user *u, uint32_t port)
{
    ExAcquireFastMutex(&u->lock);
    struct xenpci_user_port *up = xenpci_ioctl_port_find(u, port);
    if (up)
        xenpci_ioctl_port_shut(f, up);
    ExReleaseFastMutex(&u->lock);
    return up ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

void xenpci_ioctl_port_cleanup(struct xenpci_fdo *f, struct xenpci_user *u)
{
    ExAcquireFastMutex(&u->lock);
    for (ULONG i = 0; i < XENPCI_USER_PORTS_PER_HANDLE; i++)
        if (u->ports[i].port != GP_INVALID_PORT)
            xenpci_ioctl_port_shut(f, &u->ports[i]);
    ExReleaseFastMutex(&u->lock);
}
