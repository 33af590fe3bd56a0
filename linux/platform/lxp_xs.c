/*
 * lxp_xs: the xenstore transport over /dev/xen/xenbus.  The guest kernel
 * takes whole xs_wire messages in write() (one per send), answers with
 * our req_id kept, registers our watches under our tokens and queues
 * their events in the same byte stream.  A thread reads that stream into
 * a buffer and calls the client's rx handler; recv copies out of the
 * buffer.  Nothing in the stream is trusted here: the client parses it.
 *
 * One request at a time: the guest kernel's device does not copy a
 * request's payload when it queues it for xenstored, it points into the
 * file's one message buffer, which the next write() overwrites; a request
 * still waiting for the ring then goes out with the header it had and the
 * next one's payload (seen in the lab as a READ of "/local/domain/0/b"
 * answered ENOENT, and worse).  And XS_WATCH / XS_UNWATCH are carried out
 * inside write() with that buffer's mutex held, waiting for xenstored,
 * while the kernel's xenbus thread needs the mutex to hand over the reply
 * to any other request of ours in flight: neither moves again ("task
 * xenbus blocked for more than 120 seconds").  So a message is written
 * only once every earlier one has its reply; the incoming stream is
 * framed (headers only) to count the replies.  The xs client may still
 * have many requests waiting; they leave one after the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lxp_internal.h"

#include <xen/io/xs_wire.h>

#define LXP_XS_DEVICE "/dev/xen/xenbus"
#define LXP_XS_BUF (64u * 1024u)

/* Wait on the transport's condition for at most ms milliseconds (lock held). */
static void lxp_xs_wait(struct lxp_xs *s, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

static int lxp_xs_send(void *ctx, const void *buf, size_t len)
{
    struct lxp *x = ctx;
    struct lxp_xs *s = &x->xs;
    struct xsd_sockmsg hdr = { 0 };
    if (len >= sizeof(hdr))
        memcpy(&hdr, buf, sizeof(hdr));
    bool whole = len >= sizeof(hdr) && hdr.len == len - sizeof(hdr);
    pthread_mutex_lock(&s->lock);
    /* The wire is ours once the previous request has its reply (bounded:
     * a reply that never comes must not stop us for good). */
    unsigned waited = 0;
    while ((s->outstanding || s->watch_gate) && waited < 30000 && !s->stopping && !s->failed) {
        lxp_xs_wait(s, 10);
        waited += 10;
    }
    if (s->outstanding) {
        lxp_logf(x, GP_LOG_ERROR, "xenbus: no reply for 30 s: sending the next request anyway");
        s->outstanding = 0;
    }
    s->watch_gate = true;                 /* ours until the write returns */
    if (whole)
        s->outstanding++;
    pthread_mutex_unlock(&s->lock);

    const char *p = buf;
    int rc = 0;
    pthread_mutex_lock(&s->send_lock);
    while (len) {
        ssize_t n = write(s->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            lxp_logf(x, GP_LOG_ERROR, "xenbus: write: %s", n < 0 ? strerror(errno) : "short");
            rc = GP_EIO;
            break;
        }
        p += n;
        len -= (size_t)n;
        s->bytes_out += (uint64_t)n;
    }
    pthread_mutex_unlock(&s->send_lock);

    pthread_mutex_lock(&s->lock);
    if (rc && whole && s->outstanding)
        s->outstanding--;              /* refused: no reply will come */
    s->watch_gate = false;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Frame the bytes just received: every message that is not a watch
 * event answers one request.  Lock held. */
static void lxp_xs_scan(struct lxp_xs *s, const char *p, size_t n)
{
    while (n) {
        if (s->scan_skip) {
            size_t k = n < s->scan_skip ? n : s->scan_skip;
            s->scan_skip -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        size_t k = sizeof(s->scan_hdr) - s->scan_hdr_got;
        if (k > n)
            k = n;
        memcpy(s->scan_hdr + s->scan_hdr_got, p, k);
        s->scan_hdr_got += (uint32_t)k;
        p += k;
        n -= k;
        if (s->scan_hdr_got < sizeof(s->scan_hdr))
            continue;
        struct xsd_sockmsg h;
        memcpy(&h, s->scan_hdr, sizeof(h));
        s->scan_hdr_got = 0;
        if (h.len > XENSTORE_PAYLOAD_MAX) {
            s->outstanding = 0;        /* framing lost: stop holding watches back */
            continue;
        }
        s->scan_skip = h.len;
        if (h.type != XS_WATCH_EVENT && s->outstanding)
            s->outstanding--;
    }
    pthread_cond_broadcast(&s->cond);
}

static long lxp_xs_recv(void *ctx, void *buf, size_t len)
{
    struct lxp *x = ctx;
    struct lxp_xs *s = &x->xs;
    pthread_mutex_lock(&s->lock);
    size_t n = len < s->len ? len : s->len;
    size_t first = s->cap - s->head < n ? s->cap - s->head : n;
    memcpy(buf, s->buf + s->head, first);
    memcpy((char *)buf + first, s->buf, n - first);
    s->head = (s->head + n) % s->cap;
    s->len -= n;
    bool failed = s->failed && !s->len && !n;
    if (n)
        pthread_cond_broadcast(&s->cond);     /* room for the reader */
    pthread_mutex_unlock(&s->lock);
    return failed ? GP_EIO : (long)n;
}

static void lxp_xs_set_rx_handler(void *ctx, gp_work_fn fn, void *arg)
{
    struct lxp *x = ctx;
    struct lxp_xs *s = &x->xs;
    pthread_mutex_lock(&s->lock);
    /* The old handler may be running in the reader: let it finish (the
     * caller may free its argument next), unless we are that handler. */
    while (s->in_handler && s->started && !pthread_equal(pthread_self(), s->thread))
        pthread_cond_wait(&s->cond, &s->lock);
    s->rx_fn = fn;
    s->rx_arg = arg;
    bool pending = fn && s->len;
    pthread_mutex_unlock(&s->lock);
    if (pending) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0)
            lxp_logf(x, GP_LOG_ERROR, "xenbus: wake: %s", strerror(errno));
    }
}

/* Run the rx handler (lock held on entry and exit). */
static void lxp_xs_call_handler(struct lxp_xs *s)
{
    gp_work_fn fn = s->rx_fn;
    void *arg = s->rx_arg;
    if (!fn)
        return;
    s->in_handler = true;
    pthread_mutex_unlock(&s->lock);
    fn(arg);
    pthread_mutex_lock(&s->lock);
    s->in_handler = false;
    pthread_cond_broadcast(&s->cond);
}

static void *lxp_xs_thread(void *arg)
{
    struct lxp *x = arg;
    struct lxp_xs *s = &x->xs;
    char tmp[4096];
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        /* Wait for room: the handler drains the buffer as it parses. */
        if (s->cap - s->len < sizeof(tmp)) {
            lxp_xs_call_handler(s);
            if (s->cap - s->len < sizeof(tmp)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 10000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&s->cond, &s->lock, &ts);
                continue;
            }
        }
        pthread_mutex_unlock(&s->lock);
        struct pollfd pf[2] = { { s->fd, POLLIN, 0 }, { s->wake_fd, POLLIN, 0 } };
        int pr = poll(pf, 2, -1);
        ssize_t n = 0;
        if (pr > 0 && (pf[1].revents & POLLIN)) {
            uint64_t v;
            if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                lxp_logf(x, GP_LOG_ERROR, "xenbus: wake: %s", strerror(errno));
        }
        if (pr > 0 && (pf[0].revents & (POLLIN | POLLERR | POLLHUP))) {
            n = read(s->fd, tmp, sizeof(tmp));
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                n = 0;
            else if (n <= 0) {
                lxp_logf(x, GP_LOG_ERROR, "xenbus: read: %s", n < 0 ? strerror(errno) : "EOF");
                pthread_mutex_lock(&s->lock);
                s->failed = true;
                lxp_xs_call_handler(s);
                break;
            }
        }
        pthread_mutex_lock(&s->lock);
        for (ssize_t i = 0; i < n;) {
            size_t tail = (s->head + s->len) % s->cap;
            size_t room = s->cap - tail;
            if (room > (size_t)(n - i))
                room = (size_t)(n - i);
            memcpy(s->buf + tail, tmp + i, room);
            s->len += room;
            i += (ssize_t)room;
        }
        s->bytes_in += (uint64_t)n;
        if (n > 0)
            lxp_xs_scan(s, tmp, (size_t)n);
        if (s->len)
            lxp_xs_call_handler(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int lxp_xs_open(struct lxp *x)
{
    struct lxp_xs *s = &x->xs;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->send_lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->wake_fd = -1;
    s->cap = LXP_XS_BUF;
    s->buf = malloc(s->cap);
    if (!s->buf)
        return GP_ENOMEM;
    s->fd = open(LXP_XS_DEVICE, O_RDWR | O_CLOEXEC);
    if (s->fd < 0) {
        lxp_logf(x, GP_LOG_ERROR, "%s: %s", LXP_XS_DEVICE, strerror(errno));
        return GP_ENODEV;
    }
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0)
        return GP_ENOMEM;
    s->t.ctx = x;
    s->t.send = lxp_xs_send;
    s->t.recv = lxp_xs_recv;
    s->t.set_rx_handler = lxp_xs_set_rx_handler;
    if (pthread_create(&s->thread, NULL, lxp_xs_thread, x) != 0)
        return GP_ENOMEM;
    s->started = true;
    x->xen.xs = &s->t;
    return 0;
}

void lxp_xs_close(struct lxp *x)
{
    struct lxp_xs *s = &x->xs;
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0)
            lxp_logf(x, GP_LOG_ERROR, "xenbus: wake: %s", strerror(errno));
        pthread_join(s->thread, NULL);
        s->started = false;
    }
    if (s->fd >= 0)
        close(s->fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    s->fd = s->wake_fd = -1;
    free(s->buf);
    s->buf = NULL;
    x->xen.xs = NULL;
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->send_lock);
    pthread_mutex_destroy(&s->lock);
}
