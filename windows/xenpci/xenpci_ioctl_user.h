/* What a handle on \\.\XenPci holds (FILE_OBJECT->FsContext, from CREATE
 * to CLOSE): its event channels and its granted pages, shared by
 * xenpci_ioctl.c (dispatch, CREATE, CLEANUP, CLOSE), xenpci_ioctl_port.c
 * and xenpci_ioctl_gnt.c.  Limits: xenpci_ioctl.h. */
#ifndef GPLPV_XENPCI_IOCTL_USER_H
#define GPLPV_XENPCI_IOCTL_USER_H

#include "xenpci.h"
#include "xenpci_ioctl.h"

/* A channel slot.  Its events are initialised once, at CREATE, and never
 * again: a slot is reused only when no EVTCHN_WAIT is on it. */
struct xenpci_user_port {
    gp_port_t port;                  /* GP_INVALID_PORT: free */
    LONG waiters;                    /* EVTCHN_WAITs on it now (under the lock) */
    KEVENT event;                    /* synchronization: an event came */
    KEVENT closed;                   /* notification: closed, waiters leave */
};

/* A granted page mapped into its owner process, whose object is
 * referenced until the view is gone. */
struct xenpci_user_grant {
    gp_grant_ref_t ref;
    void *va;                        /* NULL: free */
    PVOID user_va;
    PEPROCESS owner;
};

struct xenpci_user {
    FAST_MUTEX lock;                 /* ports[], grants[] */
    KEVENT gone;                     /* notification: CLEANUP came, every wait ends */
    LONG grants_held;                /* made or being made (the per-handle limit) */
    struct xenpci_user_port ports[XENPCI_USER_PORTS_PER_HANDLE];
    struct xenpci_user_grant grants[XENPCI_USER_GRANTS_PER_HANDLE];
};

/* A domain user space may name: not a reserved id (DOMID_SELF and up),
 * and nothing cut off when made a domid_t. */
#define XENPCI_DOMID_FIRST_RESERVED 0x7ff0u
static inline BOOLEAN xenpci_ioctl_domid_ok(uint32_t domid)
{
    return domid < XENPCI_DOMID_FIRST_RESERVED;
}

/* One of 'max' units of *count taken; FALSE (nothing taken) past it. */
static inline BOOLEAN xenpci_ioctl_take(volatile LONG *count, LONG max)
{
    if (InterlockedIncrement(count) <= max)
        return TRUE;
    InterlockedDecrement(count);
    return FALSE;
}

NTSTATUS xenpci_ioctl_nt(int err);

/* xenpci_ioctl_port.c (PASSIVE_LEVEL) */
NTSTATUS xenpci_ioctl_port_open(struct xenpci_fdo *f, struct xenpci_user *u,
                                struct xenpci_ioctl_args *a, BOOLEAN bind);
NTSTATUS xenpci_ioctl_port_notify(struct xenpci_fdo *f, struct xenpci_user *u, uint32_t port);
NTSTATUS xenpci_ioctl_port_wait(struct xenpci_user *u, struct xenpci_ioctl_args *a);
NTSTATUS xenpci_ioctl_port_close(struct xenpci_fdo *f, struct xenpci_user *u, uint32_t port);
void xenpci_ioctl_port_cleanup(struct xenpci_fdo *f, struct xenpci_user *u);

/* xenpci_ioctl_gnt.c (PASSIVE_LEVEL) */
NTSTATUS xenpci_ioctl_gnt_alloc(struct xenpci_fdo *f, struct xenpci_user *u,
                                struct xenpci_ioctl_args *a);
NTSTATUS xenpci_ioctl_gnt_free(struct xenpci_fdo *f, struct xenpci_user *u, uint32_t ref);
void xenpci_ioctl_gnt_cleanup(struct xenpci_fdo *f, struct xenpci_user *u);

#endif
