/* The \\.\XenPci scenarios of the winhost stage: a page granted to dom0
 * and mapped into the caller (ioctl-user-grant), and hostile input from
 * user space (ioctl-hostile): codes, buffers, grants, event channels,
 * limits, and handles shared between processes.  Every hostile request
 * must end in an error status with nothing returned, the verifier silent,
 * and nothing left at unload (pool, views, process references) or in the
 * simulated Xen (grant entries, event channels). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh_scn.h"
#include "sim.h"
#include "../include/xenpci_ioctl.h"

typedef struct xenpci_ioctl_args args_t;

static NTSTATUS_ ioc(struct wh_file_object *f, uint32_t code, args_t *a, uint64_t *info)
{
    return wh_file_ioctl_user(f, code, a, sizeof(*a), a, sizeof(*a), info);
}

/* An error status and no byte returned. */
#define REFUSED(st, info) (!WH_NT_SUCCESS(st) && (info) == 0)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- ioctl-user-grant: a page granted to dom0, mapped into the caller ----- */
void scenario_ioctl(void)
{
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    NTSTATUS_ st;
    struct wh_file_object *f = wh_file_open(b.fdo, &st);
    CHECK(f, "CREATE on \\\\.\\XenPci: 0x%08x", (unsigned)st);
    if (!f)
        return;
    args_t a = { .domid = 0 };
    uint64_t info = 0;
    st = wh_file_ioctl(f, IOCTL_XENPCI_GNT_ALLOC, &a, sizeof(a), &info);
    CHECK(st == WH_STATUS_SUCCESS && info == sizeof(a) && a.address, "GNT_ALLOC: 0x%08x",
          (unsigned)st);
    if (st == WH_STATUS_SUCCESS && a.address) {
        char *back = sim_gnt_map(wh_lab.x, 0, 1, a.ref, true);
        CHECK(back, "dom0 maps grant %u", a.ref);
        if (back) {
            memcpy(back, "through the grant", 18);
            CHECK(!memcmp((void *)(uintptr_t)a.address, "through the grant", 18),
                  "the caller's view shows what dom0 wrote");
            sim_gnt_unmap(wh_lab.x, 0, 1, a.ref, true);
        }
        st = wh_file_ioctl(f, IOCTL_XENPCI_GNT_FREE, &a, sizeof(a), NULL);
        CHECK(st == WH_STATUS_SUCCESS, "GNT_FREE: 0x%08x", (unsigned)st);
    }
    args_t a2 = { .domid = 0 };
    st = wh_file_ioctl(f, IOCTL_XENPCI_GNT_ALLOC, &a2, sizeof(a2), NULL);
    CHECK(st == WH_STATUS_SUCCESS, "a second GNT_ALLOC, left to CLEANUP: 0x%08x", (unsigned)st);
    st = wh_file_close(f);
    CHECK(st == WH_STATUS_SUCCESS, "CLEANUP and CLOSE: 0x%08x", (unsigned)st);
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
}

/* ---- a request on a thread of its own (a user thread of some process) ---- */
struct req {
    struct wh_file_object *f;
    struct wh_process *proc;
    uint32_t code;
    args_t a;
    NTSTATUS_ st;
    volatile double done_at;           /* 0 while in the driver */
    unsigned waiting;                  /* 1 while it waits there (wh_wait_watch) */
    pthread_t t;
};

static void *req_main(void *arg)
{
    struct req *r = arg;
    wh_thread_enter();
    wh_process_enter(r->proc);
    wh_wait_watch(&r->waiting);
    r->st = ioc(r->f, r->code, &r->a, NULL);
    wh_wait_watch(NULL);
    r->done_at = now_s();
    return NULL;
}

/* Starts it and returns once it waits inside the driver. */
static void req_start(struct req *r)
{
    r->done_at = 0;
    r->waiting = 0;
    pthread_create(&r->t, NULL, req_main, r);
    /* Its own wait, not a count of all waiting threads: a thread of the
     * driver leaving a wait as this one enters would hide it, and the
     * caller would act only after the request had timed out. */
    for (int i = 0; i < 3000 && !wh_wait_watched(&r->waiting) && !r->done_at; i++)
        usleep(10000);
    usleep(100000);
}

/* Joins it: true if it had returned within 'bound' s of 'since'. */
static bool req_join(struct req *r, double since, double bound)
{
    pthread_join(r->t, NULL);
    return r->done_at - since <= bound;
}

/* ---- the cases of ioctl-hostile ------------------------------------------ */
static void hostile_codes(struct wh_file_object *f)
{
    static const uint32_t codes[] = {
        XENPCI_IOCTL(8), XENPCI_IOCTL(99), 0, 0xffffffffu,
        IOCTL_XENPCI_GNT_ALLOC | 3,                  /* its function, METHOD_NEITHER */
        IOCTL_XENPCI_GNT_ALLOC | 1,                  /* METHOD_IN_DIRECT */
        IOCTL_XENPCI_EVTCHN_WAIT | 2,                /* METHOD_OUT_DIRECT */
        (IOCTL_XENPCI_GNT_ALLOC & 0xffffu) | 0x220000u,   /* another device type */
        IOCTL_XENPCI_GNT_ALLOC & ~(3u << 14),        /* FILE_ANY_ACCESS */
    };
    for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        args_t a = { .domid = 0, .port = 1, .ref = 1 };
        uint64_t info = 99;
        NTSTATUS_ st = ioc(f, codes[i], &a, &info);
        CHECK(REFUSED(st, info), "unknown code 0x%08x: 0x%08x, %llu bytes", codes[i],
              (unsigned)st, (unsigned long long)info);
    }
}

static void hostile_buffers(struct wh_file_object *f)
{
    static const struct { uint32_t in, out; bool null; } cases[] = {
        { 0, 0, true }, { sizeof(args_t) - 1, sizeof(args_t), false },
        { sizeof(args_t), sizeof(args_t) - 1, false }, { sizeof(args_t), 0, false },
        { 0, sizeof(args_t), false }, { 1, 1, false },
        { sizeof(args_t), sizeof(args_t), true },    /* NULL with a length: the I/O manager */
        { 0xfffffff0u, 0xfffffff0u, false },         /* absurd: the I/O manager */
    };
    static const uint32_t codes[] = { IOCTL_XENPCI_GNT_ALLOC, IOCTL_XENPCI_GNT_FREE,
                                      IOCTL_XENPCI_EVTCHN_ALLOC, IOCTL_XENPCI_EVTCHN_WAIT,
                                      IOCTL_XENPCI_WAIT_SHUTDOWN };
    for (unsigned c = 0; c < sizeof(codes) / sizeof(codes[0]); c++)
        for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            args_t a = { .domid = 0 };
            uint64_t info = 99;
            void *p = cases[i].null ? NULL : &a;
            NTSTATUS_ st = wh_file_ioctl_user(f, codes[c], p, cases[i].in, p, cases[i].out,
                                              &info);
            CHECK(REFUSED(st, info), "code 0x%08x with in %u, out %u%s: 0x%08x, %llu bytes",
                  codes[c], cases[i].in, cases[i].out, cases[i].null ? " (NULL)" : "",
                  (unsigned)st, (unsigned long long)info);
        }
    /* Larger than needed is fine: only the structure comes back. */
    static uint8_t big[65536];
    args_t *a = (args_t *)big;
    memset(big, 0, sizeof(big));
    uint64_t info = 0;
    NTSTATUS_ st = wh_file_ioctl_user(f, IOCTL_XENPCI_GNT_ALLOC, big, sizeof(big), big,
                                      sizeof(big), &info);
    CHECK(st == WH_STATUS_SUCCESS && info == sizeof(args_t), "GNT_ALLOC with 64 KiB buffers: "
          "0x%08x, %llu bytes", (unsigned)st, (unsigned long long)info);
    if (st == WH_STATUS_SUCCESS)
        CHECK(ioc(f, IOCTL_XENPCI_GNT_FREE, a, NULL) == WH_STATUS_SUCCESS, "its GNT_FREE");
}

static const uint32_t bad_domids[] = { 0x7ff0 /* DOMID_SELF */, 0x7ff2 /* DOMID_IO */,
                                       0x7ff4 /* DOMID_INVALID */, 0xffff,
                                       0x10000 /* dom0 once truncated */, 0x80000001u };

static void hostile_grants(struct wh_file_object *f, struct wh_file_object *other)
{
    uint64_t info;
    NTSTATUS_ st;
    static const uint32_t never[] = { 0, 1, 12345, 0xffffffffu };
    for (unsigned i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        args_t a = { .ref = never[i] };
        st = ioc(f, IOCTL_XENPCI_GNT_FREE, &a, &info);
        CHECK(REFUSED(st, info), "GNT_FREE of ref %u never allocated: 0x%08x", never[i],
              (unsigned)st);
    }
    args_t g = { .domid = 0 };
    st = ioc(f, IOCTL_XENPCI_GNT_ALLOC, &g, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "GNT_ALLOC: 0x%08x", (unsigned)st);
    args_t x = g;
    st = ioc(other, IOCTL_XENPCI_GNT_FREE, &x, &info);
    CHECK(REFUSED(st, info), "GNT_FREE of another handle's ref %u: 0x%08x", g.ref, (unsigned)st);
    void *back = sim_gnt_map(wh_lab.x, 0, 1, g.ref, true);
    CHECK(back, "the grant still stands after the other handle's GNT_FREE");
    if (back) {
        st = ioc(f, IOCTL_XENPCI_GNT_FREE, &x, &info);
        CHECK(REFUSED(st, info), "GNT_FREE while dom0 maps the page: 0x%08x", (unsigned)st);
        sim_gnt_unmap(wh_lab.x, 0, 1, g.ref, true);
    }
    st = ioc(f, IOCTL_XENPCI_GNT_FREE, &x, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "GNT_FREE: 0x%08x", (unsigned)st);
    st = ioc(f, IOCTL_XENPCI_GNT_FREE, &x, &info);
    CHECK(REFUSED(st, info), "GNT_FREE again (double free): 0x%08x", (unsigned)st);
    for (unsigned i = 0; i < sizeof(bad_domids) / sizeof(bad_domids[0]); i++) {
        args_t a = { .domid = bad_domids[i] };
        st = ioc(f, IOCTL_XENPCI_GNT_ALLOC, &a, &info);
        CHECK(REFUSED(st, info), "GNT_ALLOC for domid 0x%x: 0x%08x", bad_domids[i],
              (unsigned)st);
        if (WH_NT_SUCCESS(st))
            ioc(f, IOCTL_XENPCI_GNT_FREE, &a, NULL);
    }
}

static void hostile_ports(struct wh_file_object *f, struct wh_file_object *other)
{
    uint64_t info;
    args_t p = { .domid = 0 };
    NTSTATUS_ st = ioc(f, IOCTL_XENPCI_EVTCHN_ALLOC, &p, NULL);
    CHECK(st == WH_STATUS_SUCCESS && p.port, "EVTCHN_ALLOC for dom0: 0x%08x", (unsigned)st);
    const uint32_t bad[] = { 0, 0xffffffffu, 4095, 4096, p.port + 1000 };
    static const uint32_t ops[] = { IOCTL_XENPCI_EVTCHN_NOTIFY, IOCTL_XENPCI_EVTCHN_WAIT,
                                    IOCTL_XENPCI_EVTCHN_CLOSE };
    for (unsigned o = 0; o < 3; o++) {
        for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            args_t a = { .port = bad[i] };
            st = ioc(f, ops[o], &a, &info);
            CHECK(REFUSED(st, info), "code 0x%08x on port %u not ours: 0x%08x", ops[o], bad[i],
                  (unsigned)st);
        }
        args_t a = { .port = p.port };
        st = ioc(other, ops[o], &a, &info);
        CHECK(REFUSED(st, info), "code 0x%08x on another handle's port %u: 0x%08x", ops[o],
              p.port, (unsigned)st);
    }
    for (unsigned i = 0; i < sizeof(bad_domids) / sizeof(bad_domids[0]); i++) {
        args_t a = { .domid = bad_domids[i] };
        st = ioc(f, IOCTL_XENPCI_EVTCHN_ALLOC, &a, &info);
        CHECK(REFUSED(st, info), "EVTCHN_ALLOC for domid 0x%x: 0x%08x", bad_domids[i],
              (unsigned)st);
        if (WH_NT_SUCCESS(st))
            ioc(f, IOCTL_XENPCI_EVTCHN_CLOSE, &a, NULL);
    }
    static const struct { uint32_t domid, port; } binds[] = {
        { 0, 0 }, { 0, 99999 }, { 0, 4095 }, { 5, 1 }, { 1, 0 }, { 0x7ff0, 1 } };
    for (unsigned i = 0; i < sizeof(binds) / sizeof(binds[0]); i++) {
        args_t a = { .domid = binds[i].domid, .port = binds[i].port };
        st = ioc(f, IOCTL_XENPCI_EVTCHN_BIND, &a, &info);
        CHECK(REFUSED(st, info), "EVTCHN_BIND to dom%u port %u: 0x%08x", binds[i].domid,
              binds[i].port, (unsigned)st);
        if (WH_NT_SUCCESS(st))
            ioc(f, IOCTL_XENPCI_EVTCHN_CLOSE, &a, NULL);
    }
    args_t self = { .domid = 1, .port = p.port };
    st = ioc(other, IOCTL_XENPCI_EVTCHN_BIND, &self, &info);
    CHECK(REFUSED(st, info), "EVTCHN_BIND to our own port %u (unbound for dom0): 0x%08x",
          p.port, (unsigned)st);
    /* dom0 binds to it and signals: a waiter sees the event */
    const struct gp_platform *d0 = sim_domain_platform(wh_lab.dom0);
    gp_port_t back = 0;
    int err = sim_evtchn_bind_interdomain(wh_lab.x, 0, 1, p.port, &back);
    CHECK(!err, "dom0 binds to port %u", p.port);
    if (!err) {
        struct req w = { .f = f, .code = IOCTL_XENPCI_EVTCHN_WAIT,
                         .a = { .port = p.port, .timeout_ms = 30000 } };
        args_t drain = { .port = p.port, .timeout_ms = 0 };
        ioc(f, IOCTL_XENPCI_EVTCHN_WAIT, &drain, NULL);   /* the bind's own pending event */
        req_start(&w);
        gp_xen_evtchn_notify(d0, back);
        bool quick = req_join(&w, now_s(), 15.0);
        CHECK(quick && w.st == WH_STATUS_SUCCESS && w.a.result == 1, "EVTCHN_WAIT sees dom0's "
              "event: 0x%08x, result %u", (unsigned)w.st, w.a.result);
        gp_xen_evtchn_unbind(d0, back);
    }
    args_t c = { .port = p.port };
    st = ioc(f, IOCTL_XENPCI_EVTCHN_CLOSE, &c, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "EVTCHN_CLOSE: 0x%08x", (unsigned)st);
    st = ioc(f, IOCTL_XENPCI_EVTCHN_CLOSE, &c, &info);
    CHECK(REFUSED(st, info), "EVTCHN_CLOSE again: 0x%08x", (unsigned)st);
}

/* A thread waits on a port; another closes it and allocates a new one
 * (which takes the same slot of the handle): the waiter must return at
 * once, cancelled, and its event must not be initialised under it. */
static void hostile_close_under_wait(struct wh_file_object *f)
{
    args_t p = { .domid = 0 };
    NTSTATUS_ st = ioc(f, IOCTL_XENPCI_EVTCHN_ALLOC, &p, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "EVTCHN_ALLOC: 0x%08x", (unsigned)st);
    struct req w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (struct req){ .f = f, .code = IOCTL_XENPCI_EVTCHN_WAIT,
                             .a = { .port = p.port, .timeout_ms = 30000 } };
        req_start(&w[i]);
    }
    double t0 = now_s();
    args_t c = { .port = p.port };
    st = ioc(f, IOCTL_XENPCI_EVTCHN_CLOSE, &c, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "EVTCHN_CLOSE while two threads wait on it: 0x%08x",
          (unsigned)st);
    args_t n = { .domid = 0 };
    st = ioc(f, IOCTL_XENPCI_EVTCHN_ALLOC, &n, NULL);
    CHECK(st == WH_STATUS_SUCCESS, "EVTCHN_ALLOC after it: 0x%08x", (unsigned)st);
    for (int i = 0; i < 2; i++) {
        bool quick = req_join(&w[i], t0, 15.0);
        CHECK(quick && !WH_NT_SUCCESS(w[i].st), "waiter %d on the closed port: 0x%08x after "
              "%.1f s (want an error at once)", i, (unsigned)w[i].st, w[i].done_at - t0);
    }
    CHECK(!wh_violation_seen("KeInitializeEvent"), "an event was initialised under a waiter");
    args_t c2 = { .port = n.port };
    ioc(f, IOCTL_XENPCI_EVTCHN_CLOSE, &c2, NULL);
}

/* Allocations on several handles until refused: one handle stops at its
 * limit, all of them together at the device's. */
static void hostile_limits(struct wh_device_object *fdo, uint32_t code, unsigned per_handle,
                           unsigned max, const char *what)
{
    enum { NH = 6 };
    struct wh_file_object *h[NH];
    unsigned n[NH] = { 0 }, total = 0;
    NTSTATUS_ st;
    for (int i = 0; i < NH; i++) {
        h[i] = wh_file_open(fdo, &st);
        CHECK(h[i], "CREATE %d: 0x%08x", i, (unsigned)st);
        if (!h[i])
            return;
        for (unsigned k = 0; k < per_handle + 8; k++) {
            args_t a = { .domid = 0 };
            uint64_t info = 99;
            st = ioc(h[i], code, &a, &info);
            if (!WH_NT_SUCCESS(st)) {
                CHECK(info == 0, "the refused %s returned %llu bytes", what,
                      (unsigned long long)info);
                break;
            }
            n[i]++;
        }
        total += n[i];
    }
    CHECK(n[0] == per_handle, "one handle got %u %s (per-handle limit %u)", n[0], what,
          per_handle);
    CHECK(total == max, "%d handles got %u %s together (device-wide limit %u)", NH, total, what,
          max);
    for (int i = 0; i < NH; i++)
        wh_file_close(h[i]);
}

/* A handle shared by two processes (DuplicateHandle): A allocates and
 * waits, A closes its handle, B closes the last one: CLEANUP runs in B,
 * must end A's waits at once and unmap A's page in A. */
static void hostile_cross_process(struct wh_device_object *fdo, struct wh_process *a_proc,
                                  struct wh_process *b_proc)
{
    wh_process_enter(a_proc);
    NTSTATUS_ st;
    struct wh_file_object *f = wh_file_open(fdo, &st);
    CHECK(f, "CREATE in process A: 0x%08x", (unsigned)st);
    if (!f)
        return;
    args_t g = { .domid = 0 }, p = { .domid = 0 };
    CHECK(ioc(f, IOCTL_XENPCI_GNT_ALLOC, &g, NULL) == WH_STATUS_SUCCESS, "GNT_ALLOC in A");
    CHECK(ioc(f, IOCTL_XENPCI_EVTCHN_ALLOC, &p, NULL) == WH_STATUS_SUCCESS, "EVTCHN_ALLOC in A");
    args_t g2 = { .domid = 0 };
    CHECK(ioc(f, IOCTL_XENPCI_GNT_ALLOC, &g2, NULL) == WH_STATUS_SUCCESS, "a second GNT_ALLOC");
    CHECK(wh_process_views(a_proc) == 2, "A maps its %u pages", wh_process_views(a_proc));
    wh_file_dup(f);                                  /* B holds a handle too */
    struct req ev = { .f = f, .proc = a_proc, .code = IOCTL_XENPCI_EVTCHN_WAIT,
                      .a = { .port = p.port, .timeout_ms = 30000 } };
    struct req sd = { .f = f, .proc = a_proc, .code = IOCTL_XENPCI_WAIT_SHUTDOWN,
                      .a = { .timeout_ms = 30000 } };
    req_start(&ev);
    req_start(&sd);
    /* B ends one of A's grants through the shared handle: unmapped in A */
    wh_process_enter(b_proc);
    st = ioc(f, IOCTL_XENPCI_GNT_FREE, &g2, NULL);
    CHECK(st == WH_STATUS_SUCCESS && wh_process_views(a_proc) == 1, "GNT_FREE from B of A's "
          "grant: 0x%08x, A maps %u", (unsigned)st, wh_process_views(a_proc));
    wh_process_enter(a_proc);
    wh_file_close(f);                                /* A's handle: no CLEANUP yet */
    wh_process_enter(b_proc);
    double t0 = now_s();
    st = wh_file_close(f);                           /* the last: CLEANUP in B */
    CHECK(st == WH_STATUS_SUCCESS, "CLEANUP and CLOSE from B: 0x%08x", (unsigned)st);
    bool q1 = req_join(&ev, t0, 15.0), q2 = req_join(&sd, t0, 15.0);
    CHECK(q1 && !WH_NT_SUCCESS(ev.st), "A's EVTCHN_WAIT after B's CLEANUP: 0x%08x after %.1f s "
          "(want an error at once)", (unsigned)ev.st, ev.done_at - t0);
    CHECK(q2 && !WH_NT_SUCCESS(sd.st), "A's WAIT_SHUTDOWN after B's CLEANUP: 0x%08x after "
          "%.1f s (want an error at once)", (unsigned)sd.st, sd.done_at - t0);
    CHECK(wh_process_views(a_proc) == 0, "A still maps %u page(s) after CLEANUP",
          wh_process_views(a_proc));
    CHECK(wh_process_refs(a_proc) == 1, "A's object has %d references (its own only)",
          wh_process_refs(a_proc));
    wh_process_enter(NULL);
}

/* Process C allocates, shares its handle with B and exits; B closes it
 * later: the driver must still hold C's process object. */
static void hostile_owner_exits(struct wh_device_object *fdo, struct wh_process *c_proc,
                                struct wh_process *b_proc)
{
    wh_process_enter(c_proc);
    NTSTATUS_ st;
    struct wh_file_object *f = wh_file_open(fdo, &st);
    CHECK(f, "CREATE in process C: 0x%08x", (unsigned)st);
    if (!f)
        return;
    args_t g = { .domid = 0 };
    CHECK(ioc(f, IOCTL_XENPCI_GNT_ALLOC, &g, NULL) == WH_STATUS_SUCCESS, "GNT_ALLOC in C");
    wh_file_dup(f);
    wh_file_close(f);                                /* C's handle goes as it exits */
    wh_process_exit(c_proc);
    CHECK(wh_process_refs(c_proc) >= 1, "C exited while the driver keeps a pointer to it "
          "without a reference (%d left)", wh_process_refs(c_proc));
    wh_process_enter(b_proc);
    st = wh_file_close(f);
    CHECK(st == WH_STATUS_SUCCESS, "CLEANUP and CLOSE from B: 0x%08x", (unsigned)st);
    CHECK(!wh_violation_seen("used after its last reference"), "C's process object was used "
          "after it was freed");
    CHECK(wh_process_refs(c_proc) == 0, "C's object still has %d reference(s)",
          wh_process_refs(c_proc));
    wh_process_enter(NULL);
}

void scenario_ioctl_hostile(void)
{
    struct wh_bus b;
    if (!wh_boot(&b))
        return;
    struct sim_domain_state before, after;
    sim_domain_state(wh_m.dom, &before);
    struct wh_process *a_proc = wh_process_create("tool-a"), *b_proc = wh_process_create("tool-b");
    struct wh_process *c_proc = wh_process_create("tool-c");
    wh_process_enter(a_proc);
    NTSTATUS_ st, st2;
    struct wh_file_object *f = wh_file_open(b.fdo, &st), *other = wh_file_open(b.fdo, &st2);
    CHECK(f && other, "CREATE twice: 0x%08x 0x%08x", (unsigned)st, (unsigned)st2);
    if (!f || !other)
        return;
    hostile_codes(f);
    hostile_buffers(f);
    hostile_grants(f, other);
    hostile_ports(f, other);
    hostile_close_under_wait(f);
    wh_file_close(other);
    CHECK(wh_file_close(f) == WH_STATUS_SUCCESS, "CLEANUP and CLOSE");
    hostile_limits(b.fdo, IOCTL_XENPCI_GNT_ALLOC, XENPCI_USER_GRANTS_PER_HANDLE,
                   XENPCI_USER_GRANTS_MAX, "grants");
    hostile_limits(b.fdo, IOCTL_XENPCI_EVTCHN_ALLOC, XENPCI_USER_PORTS_PER_HANDLE,
                   XENPCI_USER_PORTS_MAX, "ports");
    CHECK(wh_process_views(a_proc) == 0, "process A still maps %u page(s) after its handles "
          "were closed", wh_process_views(a_proc));
    hostile_cross_process(b.fdo, a_proc, b_proc);
    hostile_owner_exits(b.fdo, c_proc, b_proc);
    wh_dispatch_flush();
    sim_domain_state(wh_m.dom, &after);
    CHECK(after.grants_active == before.grants_active, "grant entries in use: %u before the "
          "handles, %u after they closed", before.grants_active, after.grants_active);
    CHECK(after.ports_unbound + after.ports_interdomain ==
              before.ports_unbound + before.ports_interdomain,
          "event channels: %u before the handles, %u after they closed",
          before.ports_unbound + before.ports_interdomain,
          after.ports_unbound + after.ports_interdomain);
    wh_pnp_remove_all(&b);
    wh_pnp_unload(&b);
}
