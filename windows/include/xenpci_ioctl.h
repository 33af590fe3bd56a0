/*
 * \\.\XenPci: what user space may ask of xenpci.  Shared by the driver
 * and its user-space clients (shutdownmon, tools); plain C, no DDK.
 *
 *   WAIT_SHUTDOWN      waits up to timeout_ms for a power request from
 *                      control/shutdown; returns the action (0 = none).
 *   EVTCHN_ALLOC       an unbound event channel for domain 'domid'.
 *   EVTCHN_BIND        bind to port 'port' of domain 'domid' (its unbound
 *                      channel for us); returns our end in 'port'.
 *   EVTCHN_NOTIFY      signal the other end of a port we own.
 *   EVTCHN_WAIT        wait up to timeout_ms for an event on our port
 *                      (STATUS_CANCELLED if the port is closed meanwhile).
 *   EVTCHN_CLOSE       close a port we own.
 *   GNT_ALLOC          a zeroed page granted to 'domid' and mapped into
 *                      the caller; returns the grant reference and address.
 *   GNT_FREE           end the grant and unmap (refused while mapped by
 *                      the other domain).
 * Every port and grant belongs to the handle that made it and goes when
 * the handle is closed; the waits of a handle end (STATUS_CANCELLED) when
 * its last handle is closed, whichever process closes it.  Each request
 * takes the structure below as input and output (METHOD_BUFFERED, both
 * lengths at least its size; any other code or a shorter buffer fails);
 * 'domid' must be a domain's id (below DOMID_FIRST_RESERVED, 0x7ff0).
 *
 * Limits: a handle holds at most XENPCI_USER_GRANTS_PER_HANDLE grants and
 * XENPCI_USER_PORTS_PER_HANDLE ports, and all handles together at most
 * XENPCI_USER_GRANTS_MAX and XENPCI_USER_PORTS_MAX (the pool pages, grant
 * references and event channels user space takes are those the PV disk
 * and NIC need too); past a limit the request fails.
 */
#ifndef GPLPV_XENPCI_IOCTL_H
#define GPLPV_XENPCI_IOCTL_H

#include <stdint.h>

#define XENPCI_DEVICE_PATH "\\\\.\\XenPci"

#define XENPCI_USER_GRANTS_PER_HANDLE 64u
#define XENPCI_USER_GRANTS_MAX 256u
#define XENPCI_USER_PORTS_PER_HANDLE 16u
#define XENPCI_USER_PORTS_MAX 64u

#define XENPCI_IOCTL(n) (((0x8000u) << 16) | ((0x0003u) << 14) | ((0x800u + (n)) << 2) | 0u)
#define IOCTL_XENPCI_WAIT_SHUTDOWN XENPCI_IOCTL(0)
#define IOCTL_XENPCI_EVTCHN_ALLOC  XENPCI_IOCTL(1)
#define IOCTL_XENPCI_EVTCHN_NOTIFY XENPCI_IOCTL(2)
#define IOCTL_XENPCI_EVTCHN_WAIT   XENPCI_IOCTL(3)
#define IOCTL_XENPCI_EVTCHN_CLOSE  XENPCI_IOCTL(4)
#define IOCTL_XENPCI_GNT_ALLOC     XENPCI_IOCTL(5)
#define IOCTL_XENPCI_GNT_FREE      XENPCI_IOCTL(6)
#define IOCTL_XENPCI_EVTCHN_BIND   XENPCI_IOCTL(7)

/* Actions WAIT_SHUTDOWN returns (enum control_action + 1). */
#define XENPCI_ACTION_NONE      0u
#define XENPCI_ACTION_POWEROFF  1u
#define XENPCI_ACTION_REBOOT    2u
#define XENPCI_ACTION_HALT      3u
#define XENPCI_ACTION_HIBERNATE 5u

struct xenpci_ioctl_args {
    uint32_t timeout_ms;    /* WAIT_SHUTDOWN, EVTCHN_WAIT */
    uint32_t port;          /* EVTCHN_*: in (NOTIFY, WAIT, CLOSE, BIND: the remote's), out (ALLOC, BIND) */
    uint32_t domid;         /* EVTCHN_ALLOC/BIND remote, GNT_ALLOC grantee */
    uint32_t readonly;      /* GNT_ALLOC */
    uint32_t ref;           /* GNT_*: out (ALLOC) or in (FREE) */
    uint32_t result;        /* WAIT_SHUTDOWN action; EVTCHN_WAIT 1 = event, 0 = timeout */
    uint64_t address;       /* GNT_ALLOC: the page in the caller's address space */
};

#endif
