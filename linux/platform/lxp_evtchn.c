/*
 * lxp_evtchn: event channels through /dev/xen/evtchn.  The device
 * delivers each event once, as the port number in read(), and keeps the
 * port disabled until we write the number back; a thread reads the
 * ports, runs each one's handler and then re-enables it.  evtchn_mask
 * holds the events of a port (the port stays disabled) until
 * evtchn_unmask, which runs the handler for what was held.  Unbind waits
 * for a handler of that port still running in the thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/sys/evtchn.h>

#include "lxp_internal.h"

#define LXP_EVTCHN_DEVICE "/dev/xen/evtchn"
#define LXP_EVTCHN_MAX_PORT (1u << 17)

static void lxp_evtchn_enable(struct lxp *x, gp_port_t port)
{
    uint32_t v = port;
    if (write(x->ev.fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        lxp_logf(x, GP_LOG_ERROR, "evtchn: re-enabling port %u: %s", port, strerror(errno));
}

/* The slot of a port (grown on demand).  Lock held. */
static struct lxp_port *lxp_evtchn_slot(struct lxp *x, gp_port_t port, bool grow)
{
    struct lxp_evtchn *e = &x->ev;
    if (port < e->nports)
        return &e->ports[port];
    if (!grow || port >= LXP_EVTCHN_MAX_PORT)
        return NULL;
    size_t n = e->nports ? e->nports : 64;
    while (n <= port)
        n *= 2;
    struct lxp_port *t = realloc(e->ports, n * sizeof(*t));
    if (!t)
        return NULL;
    memset(t + e->nports, 0, (n - e->nports) * sizeof(*t));
    e->ports = t;
    e->nports = n;
    return &e->ports[port];
}

/* Run the handler of port unless it is masked (then hold the event).
 * Called in the thread with the lock held; drops it around the handler. */
static void lxp_evtchn_deliver(struct lxp *x, gp_port_t port)
{
    struct lxp_evtchn *e = &x->ev;
    struct lxp_port *s = lxp_evtchn_slot(x, port, false);
    if (!s || !s->bound) {
        lxp_evtchn_enable(x, port);
        return;
    }
    if (s->masked || !s->fn) {
        s->held = true;          /* delivered on unmask / bind */
        return;
    }
    s->held = false;
    gp_evtchn_handler fn = s->fn;
    void *arg = s->arg;
    e->running = port;
    e->events++;
    pthread_mutex_unlock(&e->lock);
    if (fn)
        fn(arg, port);
    pthread_mutex_lock(&e->lock);
    e->running = 0;
    pthread_cond_broadcast(&e->idle);
    s = lxp_evtchn_slot(x, port, false);
    if (s && s->bound)
        lxp_evtchn_enable(x, port);
}

static void *lxp_evtchn_thread(void *arg)
{
    struct lxp *x = arg;
    struct lxp_evtchn *e = &x->ev;
    uint32_t ports[128];
    for (;;) {
        struct pollfd pf[2] = { { e->fd, POLLIN, 0 }, { e->wake_fd, POLLIN, 0 } };
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            lxp_logf(x, GP_LOG_ERROR, "evtchn: poll: %s", strerror(errno));
            break;
        }
        if (pf[1].revents & POLLIN) {
            uint64_t v;
            if (read(e->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                lxp_logf(x, GP_LOG_ERROR, "evtchn: wake: %s", strerror(errno));
        }
        pthread_mutex_lock(&e->lock);
        if (e->stopping) {
            pthread_mutex_unlock(&e->lock);
            break;
        }
        /* Events held while masked and since unmasked. */
        for (size_t p = 1; p < e->nports; p++)
            if (e->ports[p].bound && e->ports[p].held && !e->ports[p].masked)
                lxp_evtchn_deliver(x, (gp_port_t)p);
        pthread_mutex_unlock(&e->lock);
        if (!(pf[0].revents & POLLIN))
            continue;
        ssize_t n = read(e->fd, ports, sizeof(ports));
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            lxp_logf(x, GP_LOG_ERROR, "evtchn: read: %s", strerror(errno));
            break;
        }
        pthread_mutex_lock(&e->lock);
        for (size_t i = 0; i < (size_t)n / sizeof(ports[0]); i++)
            lxp_evtchn_deliver(x, ports[i]);
        pthread_mutex_unlock(&e->lock);
    }
    return NULL;
}

static void lxp_evtchn_wake(struct lxp *x)
{
    uint64_t one = 1;
    if (write(x->ev.wake_fd, &one, sizeof(one)) < 0)
        lxp_logf(x, GP_LOG_ERROR, "evtchn: wake: %s", strerror(errno));
}

static int lxp_evtchn_alloc_unbound(void *ctx, gp_domid_t remote, gp_port_t *port)
{
    struct lxp *x = ctx;
    struct ioctl_evtchn_bind_unbound_port op = { .remote_domain = remote };
    int rc = ioctl(x->ev.fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &op);
    if (rc < 0) {
        lxp_logf(x, GP_LOG_ERROR, "evtchn: allocating a port for domain %u: %s", remote,
                 strerror(errno));
        return GP_EIO;
    }
    if (rc == 0 || (unsigned)rc >= LXP_EVTCHN_MAX_PORT) {
        struct ioctl_evtchn_unbind u = { .port = (unsigned)rc };
        ioctl(x->ev.fd, IOCTL_EVTCHN_UNBIND, &u);
        lxp_logf(x, GP_LOG_ERROR, "evtchn: the kernel gave port %d", rc);
        return GP_EIO;
    }
    pthread_mutex_lock(&x->ev.lock);
    struct lxp_port *s = lxp_evtchn_slot(x, (gp_port_t)rc, true);
    if (s)
        *s = (struct lxp_port){ .bound = true };
    pthread_mutex_unlock(&x->ev.lock);
    if (!s) {
        struct ioctl_evtchn_unbind u = { .port = (unsigned)rc };
        ioctl(x->ev.fd, IOCTL_EVTCHN_UNBIND, &u);
        return GP_ENOMEM;
    }
    *port = (gp_port_t)rc;
    return 0;
}

static int lxp_evtchn_bind(void *ctx, gp_port_t port, gp_evtchn_handler fn, void *arg)
{
    struct lxp *x = ctx;
    pthread_mutex_lock(&x->ev.lock);
    struct lxp_port *s = lxp_evtchn_slot(x, port, false);
    bool ok = s && s->bound;
    if (ok) {
        s->fn = fn;
        s->arg = arg;
    }
    bool held = ok && s->held && !s->masked && fn;
    pthread_mutex_unlock(&x->ev.lock);
    if (!ok) {
        lxp_logf(x, GP_LOG_ERROR, "evtchn: bind of port %u we did not allocate", port);
        return GP_EINVAL;
    }
    if (held)
        lxp_evtchn_wake(x);
    return 0;
}

static void lxp_evtchn_unbind(void *ctx, gp_port_t port)
{
    struct lxp *x = ctx;
    struct lxp_evtchn *e = &x->ev;
    pthread_mutex_lock(&e->lock);
    struct lxp_port *s = lxp_evtchn_slot(x, port, false);
    if (!s || !s->bound) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    s->bound = false;
    s->fn = NULL;
    s->held = false;
    /* A handler of this port running in the thread finishes first
     * (unless we are that handler). */
    while (e->started && e->running == port && !pthread_equal(pthread_self(), e->thread))
        pthread_cond_wait(&e->idle, &e->lock);
    pthread_mutex_unlock(&e->lock);
    struct ioctl_evtchn_unbind op = { .port = port };
    if (ioctl(e->fd, IOCTL_EVTCHN_UNBIND, &op) < 0)
        lxp_logf(x, GP_LOG_ERROR, "evtchn: unbinding port %u: %s", port, strerror(errno));
}

static void lxp_evtchn_notify(void *ctx, gp_port_t port)
{
    struct lxp *x = ctx;
    struct ioctl_evtchn_notify op = { .port = port };
    if (ioctl(x->ev.fd, IOCTL_EVTCHN_NOTIFY, &op) < 0)
        lxp_logf(x, GP_LOG_ERROR, "evtchn: notify on port %u: %s", port, strerror(errno));
    __atomic_add_fetch(&x->ev.notifies, 1, __ATOMIC_RELAXED);
}

static void lxp_evtchn_mask(void *ctx, gp_port_t port)
{
    struct lxp *x = ctx;
    pthread_mutex_lock(&x->ev.lock);
    struct lxp_port *s = lxp_evtchn_slot(x, port, false);
    if (s && s->bound)
        s->masked = true;
    pthread_mutex_unlock(&x->ev.lock);
}

static void lxp_evtchn_unmask(void *ctx, gp_port_t port)
{
    struct lxp *x = ctx;
    pthread_mutex_lock(&x->ev.lock);
    struct lxp_port *s = lxp_evtchn_slot(x, port, false);
    bool held = false;
    if (s && s->bound) {
        s->masked = false;
        held = s->held;
    }
    pthread_mutex_unlock(&x->ev.lock);
    if (held)
        lxp_evtchn_wake(x);      /* the thread runs the handler, then re-enables */
}

int lxp_evtchn_open(struct lxp *x)
{
    struct lxp_evtchn *e = &x->ev;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->idle, NULL);
    e->wake_fd = -1;
    e->fd = open(LXP_EVTCHN_DEVICE, O_RDWR | O_CLOEXEC);
    if (e->fd < 0) {
        lxp_logf(x, GP_LOG_ERROR, "%s: %s (is xen-evtchn loaded?)", LXP_EVTCHN_DEVICE,
                 strerror(errno));
        return GP_ENODEV;
    }
    e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->wake_fd < 0)
        return GP_ENOMEM;
    if (pthread_create(&e->thread, NULL, lxp_evtchn_thread, x) != 0)
        return GP_ENOMEM;
    e->started = true;
    return 0;
}

void lxp_evtchn_close(struct lxp *x)
{
    struct lxp_evtchn *e = &x->ev;
    if (e->started) {
        pthread_mutex_lock(&e->lock);
        e->stopping = true;
        pthread_mutex_unlock(&e->lock);
        lxp_evtchn_wake(x);
        pthread_join(e->thread, NULL);
        e->started = false;
    }
    if (e->fd >= 0)
        close(e->fd);            /* unbinds whatever is left */
    if (e->wake_fd >= 0)
        close(e->wake_fd);
    e->fd = e->wake_fd = -1;
    free(e->ports);
    e->ports = NULL;
    e->nports = 0;
    pthread_cond_destroy(&e->idle);
    pthread_mutex_destroy(&e->lock);
}

void lxp_evtchn_fill(struct lxp *x)
{
    struct gp_xen *xe = &x->xen;
    xe->evtchn_alloc_unbound = lxp_evtchn_alloc_unbound;
    xe->evtchn_bind = lxp_evtchn_bind;
    xe->evtchn_unbind = lxp_evtchn_unbind;
    xe->evtchn_notify = lxp_evtchn_notify;
    xe->evtchn_mask = lxp_evtchn_mask;
    xe->evtchn_unmask = lxp_evtchn_unmask;
}
