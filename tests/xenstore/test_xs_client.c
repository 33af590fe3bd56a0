/* The xenstore client (core/xenstore) against the simulator's xenstored,
 * over a direct byte stream: every operation, errors, transactions,
 * watches, concurrency, malformed replies, timeouts, suspend/resume. */
#include "gp_test.h"
#include "xs_test_env.h"

static struct sim_xenstored *xsd;
static struct xs_env dom0, guest;
static struct xs_client *c0, *c1;

static void setup(void)
{
    xsd = sim_xenstored_create(42);
    xs_env_init(&dom0, xsd, 0, false);
    xs_env_init(&guest, xsd, 5, false);
    if (xs_client_create(&dom0.plat, dom0.t, &c0) || xs_client_create(&guest.plat, guest.t, &c1)) {
        fprintf(stderr, "client create failed\n");
        exit(1);
    }
}

static void teardown(void)
{
    xs_client_destroy(c0);
    xs_client_destroy(c1);
    xs_env_fini(&dom0, false);
    xs_env_fini(&guest, false);
    sim_xenstored_destroy(xsd);
}

static void test_read_write_mkdir_rm_directory(void)
{
    char *v = NULL;
    size_t len = 0;
    CHECK_EQ(xs_write_str(c0, XS_TXN_NONE, "/tool/a/b", "hello"), 0);
    CHECK_EQ(xs_read(c0, XS_TXN_NONE, "/tool/a/b", &v, &len), 0);
    CHECK_STR(v, "hello");
    CHECK_EQ(len, 5);
    xs_free(c0, v);
    CHECK_EQ(xs_mkdir(c0, XS_TXN_NONE, "/tool/a/c"), 0);
    CHECK_EQ(xs_printf(c0, XS_TXN_NONE, "/tool/a/d", "%u-%s", 7u, "x"), 0);
    char **names = NULL;
    unsigned n = 0;
    CHECK_EQ(xs_directory(c0, XS_TXN_NONE, "/tool/a", &names, &n), 0);
    CHECK_EQ(n, 3);
    bool b = false, c = false, d = false;
    for (unsigned i = 0; i < n; i++) {
        b |= strcmp(names[i], "b") == 0;
        c |= strcmp(names[i], "c") == 0;
        d |= strcmp(names[i], "d") == 0;
    }
    CHECK(b && c && d);
    xs_free(c0, names);
    CHECK_EQ(xs_rm(c0, XS_TXN_NONE, "/tool/a"), 0);
    CHECK_EQ(xs_read(c0, XS_TXN_NONE, "/tool/a/b", &v, NULL), GP_ENOENT);
    CHECK_EQ(xs_rm(c0, XS_TXN_NONE, "/tool/a"), GP_ENOENT);
    /* Binary values with embedded NULs round-trip. */
    const char bin[6] = { 'a', 0, 'b', 0, 'c', 0 };
    CHECK_EQ(xs_write(c0, XS_TXN_NONE, "/tool/bin", bin, sizeof(bin)), 0);
    CHECK_EQ(xs_read(c0, XS_TXN_NONE, "/tool/bin", &v, &len), 0);
    CHECK_EQ(len, 6);
    CHECK(v && memcmp(v, bin, 6) == 0);
    xs_free(c0, v);
}

static void test_permissions_and_relative_paths(void)
{
    char *v = NULL;
    /* The guest owns its home and writes relative paths into it. */
    CHECK_EQ(xs_write_str(c1, XS_TXN_NONE, "data/x", "1"), 0);
    CHECK_EQ(xs_read(c0, XS_TXN_NONE, "/local/domain/5/data/x", &v, NULL), 0);
    CHECK_STR(v, "1");
    xs_free(c0, v);
    /* dom0-only nodes are neither readable nor writable by the guest. */
    CHECK_EQ(xs_write_str(c0, XS_TXN_NONE, "/tool/secret", "s"), 0);
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "/tool/secret", &v, NULL), GP_EACCES);
    CHECK_EQ(xs_write_str(c1, XS_TXN_NONE, "/tool/secret", "x"), GP_EACCES);
    /* Permissions: read them, grant the guest read access, see it work. */
    char **perms = NULL;
    unsigned n = 0;
    CHECK_EQ(xs_get_perms(c0, XS_TXN_NONE, "/tool/secret", &perms, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_STR(perms ? perms[0] : NULL, "n0");
    xs_free(c0, perms);
    const char *np[2] = { "n0", "r5" };
    CHECK_EQ(xs_set_perms(c0, XS_TXN_NONE, "/tool/secret", np, 2), 0);
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "/tool/secret", &v, NULL), 0);
    xs_free(c1, v);
    CHECK_EQ(xs_write_str(c1, XS_TXN_NONE, "/tool/secret", "x"), GP_EACCES);
    const char *bad[1] = { "q5" };
    CHECK_EQ(xs_set_perms(c0, XS_TXN_NONE, "/tool/secret", bad, 1), GP_EINVAL);
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "", &v, NULL), GP_EINVAL);
}

static void test_number_parsing_is_strict(void)
{
    uint64_t u = 0;
    long long i = 0;
    xs_write_str(c0, XS_TXN_NONE, "/tool/n/dec", "1234");
    xs_write_str(c0, XS_TXN_NONE, "/tool/n/hex", "0x1f");
    xs_write_str(c0, XS_TXN_NONE, "/tool/n/junk", "12a");
    xs_write_str(c0, XS_TXN_NONE, "/tool/n/empty", "");
    xs_write_str(c0, XS_TXN_NONE, "/tool/n/neg", "-17");
    xs_write_str(c0, XS_TXN_NONE, "/tool/n/huge", "99999999999999999999999");
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/n/dec", &u), 0);
    CHECK_EQ(u, 1234);
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/n/hex", &u), 0);
    CHECK_EQ(u, 31);
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/n/junk", &u), GP_EINVAL);
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/n/empty", &u), GP_EINVAL);
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/n/neg", &u), GP_EINVAL);
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/n/huge", &u), GP_EINVAL);
    CHECK_EQ(xs_read_int(c0, XS_TXN_NONE, "/tool/n/neg", &i), 0);
    CHECK_EQ(i, -17);
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/n/missing", &u), GP_ENOENT);
}

static int txn_body(struct xs_client *c, xs_txn_t t, void *arg)
{
    int *runs = arg;
    (*runs)++;
    uint64_t v = 0;
    int err = xs_read_u64(c, t, "/tool/t/counter", &v);
    if (err)
        return err;
    if (*runs == 1) /* someone else changes the node while we are inside */
        xs_printf(c0, XS_TXN_NONE, "/tool/t/counter", "%u", 100u);
    return xs_printf(c, t, "/tool/t/counter", "%llu", (unsigned long long)v + 1);
}

static void test_transactions_commit_abort_conflict(void)
{
    char *v = NULL;
    xs_txn_t t;
    CHECK_EQ(xs_txn_start(c1, &t), 0);
    CHECK_EQ(xs_write_str(c1, t, "txn/a", "in"), 0);
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "txn/a", &v, NULL), GP_ENOENT);  /* not yet */
    CHECK_EQ(xs_read(c1, t, "txn/a", &v, NULL), 0);
    xs_free(c1, v);
    CHECK_EQ(xs_txn_end(c1, t, true), 0);
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "txn/a", &v, NULL), 0);
    CHECK_STR(v, "in");
    xs_free(c1, v);
    /* Abort leaves nothing behind. */
    CHECK_EQ(xs_txn_start(c1, &t), 0);
    CHECK_EQ(xs_write_str(c1, t, "txn/b", "x"), 0);
    CHECK_EQ(xs_txn_end(c1, t, false), 0);
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "txn/b", &v, NULL), GP_ENOENT);
    /* A conflicting commit gets EAGAIN; xs_txn_run retries it. */
    xs_write_str(c0, XS_TXN_NONE, "/tool/t/counter", "5");
    int runs = 0;
    CHECK_EQ(xs_txn_run(c0, 5, txn_body, &runs), 0);
    CHECK_EQ(runs, 2);
    uint64_t u = 0;
    CHECK_EQ(xs_read_u64(c0, XS_TXN_NONE, "/tool/t/counter", &u), 0);
    CHECK_EQ(u, 101);
    CHECK_EQ(xs_txn_end(c1, 9999, true), GP_ENOENT);
}

struct watch_log {
    pthread_mutex_t m;
    unsigned count;
    char last[256];
    char token[64];
};

static void watch_cb(void *arg, const char *path, const char *token)
{
    struct watch_log *l = arg;
    pthread_mutex_lock(&l->m);
    l->count++;
    snprintf(l->last, sizeof(l->last), "%s", path);
    snprintf(l->token, sizeof(l->token), "%s", token);
    pthread_mutex_unlock(&l->m);
}

static unsigned wait_count(struct watch_log *l, unsigned want)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&l->m);
        unsigned n = l->count;
        pthread_mutex_unlock(&l->m);
        if (n >= want)
            return n;
        usleep(1000);
    }
    return l->count;
}

static void test_watches(void)
{
    struct watch_log l = { .m = PTHREAD_MUTEX_INITIALIZER };
    struct xs_watch *w = NULL;
    CHECK_EQ(xs_watch_add(c1, "w", watch_cb, &l, &w), 0);
    CHECK_EQ(wait_count(&l, 1), 1);                 /* fires once when added */
    CHECK_STR(l.last, "w");
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/w/deep/node", "1");
    CHECK(wait_count(&l, 2) >= 2);
    CHECK_STR(l.last, "w/deep/node");               /* relative, as registered */
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/other", "1");
    usleep(20000);
    unsigned before = l.count;
    xs_rm(c0, XS_TXN_NONE, "/local/domain/5/w");
    CHECK(wait_count(&l, before + 1) > before);
    xs_watch_remove(c1, w);
    usleep(10000);
    before = l.count;
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/w/again", "1");
    usleep(30000);
    CHECK_EQ(l.count, before);
    /* Absolute watch on a dom0 path the guest cannot read: no events leak. */
    struct watch_log l2 = { .m = PTHREAD_MUTEX_INITIALIZER };
    struct xs_watch *w2 = NULL;
    xs_write_str(c0, XS_TXN_NONE, "/tool/private/x", "1");
    CHECK_EQ(xs_watch_add(c1, "/tool/private", watch_cb, &l2, &w2), 0);
    wait_count(&l2, 1);
    before = l2.count;
    xs_write_str(c0, XS_TXN_NONE, "/tool/private/x", "2");
    usleep(30000);
    CHECK_EQ(l2.count, before);
    xs_watch_remove(c1, w2);
    struct xs_client_stats st;
    xs_client_get_stats(c1, &st);
    CHECK(st.watch_events >= 3);
}

/* Send one request on a raw connection (payload: NUL-separated strings). */
static void raw_send(struct gp_xs_transport *t, uint32_t type, const char *payload, size_t len)
{
    struct xsd_sockmsg h = { .type = type, .req_id = 1, .tx_id = 0, .len = (uint32_t)len };
    CHECK_EQ(t->send(t->ctx, &h, sizeof(h)), 0);
    CHECK_EQ(t->send(t->ctx, payload, len), 0);
}

/* Read what xenstored queued for a raw connection; count its watch events
 * and replies of the given type. */
static void raw_drain(struct gp_xs_transport *t, unsigned *events, unsigned *replies, uint32_t type)
{
    static char buf[65536];
    size_t have = 0;
    usleep(20000);                          /* the simulated xenstored runs on its own thread */
    long n;
    while ((n = t->recv(t->ctx, buf + have, sizeof(buf) - have)) > 0)
        have += (size_t)n;
    for (size_t off = 0; off + sizeof(struct xsd_sockmsg) <= have;) {
        struct xsd_sockmsg h;
        memcpy(&h, buf + off, sizeof(h));
        if (h.type == XS_WATCH_EVENT)
            (*events)++;
        else if (h.type == type)
            (*replies)++;
        off += sizeof(h) + h.len;
    }
}

/* What xenstored promises a watcher: an event after each change, not one
 * per change.  Like C xenstored, the simulated one drops an event identical
 * to one still queued for the connection; the client reads the node on
 * each event, so it still sees the last value.  (The core relies on no
 * event count anywhere: every watch callback reads the node it watches.) */
static void test_duplicate_watch_events_are_dropped_while_queued(void)
{
    struct sim_xenstored_stats s0, s1;
    sim_xenstored_get_stats(xsd, &s0);
    struct gp_xs_transport *raw = sim_xenstored_direct(xsd, 0);
    raw_send(raw, XS_WATCH, "/dup/w\0tok", 11);
    for (int i = 0; i < 3; i++)                      /* three writes while nothing is read */
        xs_printf(c0, XS_TXN_NONE, "/dup/w", "%d", i);
    unsigned events = 0, replies = 0;
    raw_drain(raw, &events, &replies, XS_WATCH);
    CHECK_EQ(replies, 1u);
    CHECK_EQ(events, 1u);                            /* the registration's, the others dropped */
    sim_xenstored_get_stats(xsd, &s1);
    CHECK_EQ(s1.duplicate_events - s0.duplicate_events, 3u);
    xs_write_str(c0, XS_TXN_NONE, "/dup/w", "last");  /* the queue was read: a new event */
    events = replies = 0;
    raw_drain(raw, &events, &replies, XS_WATCH);
    CHECK_EQ(events, 1u);
    sim_xenstored_direct_close(xsd, raw);
}

struct worker_arg {
    int id;
    int errors;
};

static void *worker(void *arg)
{
    struct worker_arg *a = arg;
    int n = xs_env_slow() ? 40 : 200;
    for (int i = 0; i < n; i++) {
        char path[64], val[32];
        snprintf(path, sizeof(path), "par/%d/%d", a->id, i % 7);
        snprintf(val, sizeof(val), "%d-%d", a->id, i);
        if (xs_write_str(c1, XS_TXN_NONE, path, val) != 0) {
            a->errors++;
            continue;
        }
        char *v = NULL;
        if (xs_read(c1, XS_TXN_NONE, path, &v, NULL) != 0 || strcmp(v, val) != 0)
            a->errors++;
        xs_free(c1, v);
    }
    return NULL;
}

static void test_many_threads_many_requests_in_flight(void)
{
    pthread_t th[8];
    struct worker_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (struct worker_arg){ .id = i };
        pthread_create(&th[i], NULL, worker, &a[i]);
    }
    int errors = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        errors += a[i].errors;
    }
    CHECK_EQ(errors, 0);
}

static void test_large_values(void)
{
    xs_env_big_round_trip(c1, 'a', 26);
    char huge[5000];
    memset(huge, 'x', sizeof(huge));
    CHECK_EQ(xs_write(c1, XS_TXN_NONE, "huge", huge, sizeof(huge)), GP_E2BIG);
}

static void test_malformed_replies_are_survived(void)
{
    xs_write_str(c1, XS_TXN_NONE, "m/key", "value");
    xs_client_set_timeout(c1, GP_MS(200));         /* 200 ms */
    sim_os_set_quiet(guest.os, true);
    sim_xenstored_set_faults(xsd, 200000, 0);          /* 20 % of replies */
    int ok = 0, failed = 0, wrong = 0;
    int n = xs_env_slow() ? 40 : 150;
    for (int i = 0; i < n; i++) {
        char *v = NULL;
        int err = xs_read(c1, XS_TXN_NONE, "m/key", &v, NULL);
        if (err == 0) {
            ok++;
            if (strcmp(v, "value") != 0)
                wrong++;
            xs_free(c1, v);
        } else {
            failed++;
        }
    }
    sim_xenstored_set_faults(xsd, 0, 0);
    CHECK_EQ(wrong, 0);
    CHECK(ok > 0);
    CHECK(failed > 0);
    struct xs_client_stats st;
    xs_client_get_stats(c1, &st);
    CHECK(st.malformed > 0);
    /* Afterwards the client is fully usable again. */
    for (int i = 0; i < 20; i++) {
        char *v = NULL;
        CHECK_EQ(xs_read(c1, XS_TXN_NONE, "m/key", &v, NULL), 0);
        xs_free(c1, v);
    }
    xs_client_set_timeout(c1, 0);
}

static void test_timeout_then_late_reply(void)
{
    xs_client_set_timeout(c1, GP_MS(20));           /* 20 ms */
    sim_xenstored_set_faults(xsd, 0, 100000);          /* replies up to 100 ms late */
    int timeouts = 0;
    for (int i = 0; i < 10; i++) {
        char *v = NULL;
        int err = xs_read(c1, XS_TXN_NONE, "m/key", &v, NULL);
        if (err == GP_ETIMEDOUT)
            timeouts++;
        else
            xs_free(c1, v);
    }
    sim_xenstored_set_faults(xsd, 0, 0);
    CHECK(timeouts > 0);
    usleep(150000);
    xs_client_set_timeout(c1, 0);
    char *v = NULL;
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "m/key", &v, NULL), 0);
    CHECK_STR(v, "value");
    xs_free(c1, v);
}

static void test_suspend_resume_reregisters_watches(void)
{
    struct watch_log l = { .m = PTHREAD_MUTEX_INITIALIZER };
    struct xs_watch *w = NULL;
    CHECK_EQ(xs_watch_add(c1, "sr", watch_cb, &l, &w), 0);
    wait_count(&l, 1);
    xs_client_suspend(c1);
    /* The old connection goes away (as over a migration). */
    struct gp_xs_transport *old = guest.t;
    guest.t = sim_xenstored_direct(xsd, 5);
    CHECK_EQ(xs_client_resume(c1, guest.t), 0);
    sim_xenstored_direct_close(xsd, old);
    unsigned before = wait_count(&l, 2);              /* re-registration fires it */
    CHECK(before >= 2);
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/sr/x", "1");
    CHECK(wait_count(&l, before + 1) > before);
    xs_watch_remove(c1, w);
}

int main(void)
{
    setup();
    GP_TEST_RUN(test_read_write_mkdir_rm_directory);
    GP_TEST_RUN(test_permissions_and_relative_paths);
    GP_TEST_RUN(test_number_parsing_is_strict);
    GP_TEST_RUN(test_transactions_commit_abort_conflict);
    GP_TEST_RUN(test_watches);
    GP_TEST_RUN(test_duplicate_watch_events_are_dropped_while_queued);
    GP_TEST_RUN(test_many_threads_many_requests_in_flight);
    GP_TEST_RUN(test_large_values);
    GP_TEST_RUN(test_malformed_replies_are_survived);
    GP_TEST_RUN(test_timeout_then_late_reply);
    GP_TEST_RUN(test_suspend_resume_reregisters_watches);
    teardown();
    return gp_test_finish();
}
