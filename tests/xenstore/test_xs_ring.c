/* The xenstore client over the shared ring page (core/xenstore/xs_ring.c)
 * against the simulator's xenstored serving that page: messages longer
 * than the ring, a flurry of watch events filling the response ring while
 * requests are in flight, indices across 2^32, and corrupted ring indices. */
#include "gp_test.h"
#include "xs_test_env.h"

#include <xen/io/xs_wire.h>

static struct sim_xenstored *xsd;
static struct xs_env dom0, guest;
static struct xs_client *c0, *c1;

static void test_ring_basic_and_longer_than_ring(void)
{
    xs_env_big_round_trip(c1, ' ', 90);
    /* Many round trips wrap the free-running indices many times over. */
    int n = xs_env_slow() ? 50 : 500;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char val[32];
        snprintf(val, sizeof(val), "v%d", i);
        if (xs_write_str(c1, XS_TXN_NONE, "small", val) != 0)
            bad++;
        char *v = NULL;
        if (xs_read(c1, XS_TXN_NONE, "small", &v, NULL) != 0 || strcmp(v, val) != 0)
            bad++;
        xs_free(c1, v);
    }
    CHECK_EQ(bad, 0);
    struct xenstore_domain_interface *r = guest.ring_page;
    CHECK(r->req_prod < 0x100000u && r->rsp_prod < 0x100000u);   /* both went across */
}

static atomic_uint flurry_events;
static char flurry_last[64];

static void flurry_cb(void *arg, const char *path, const char *token)
{
    (void)arg;
    (void)token;
    atomic_fetch_add(&flurry_events, 1);
    snprintf(flurry_last, sizeof(flurry_last), "%s", path);
}

struct writer_arg {
    int n;
    int errors;
};

static void *flurry_writer(void *arg)
{
    struct writer_arg *a = arg;
    for (int i = 0; i < a->n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/local/domain/5/flurry/n%d", i % 50);
        if (xs_write_str(c0, XS_TXN_NONE, path, "x") != 0)
            a->errors++;
    }
    return NULL;
}

static void test_watch_flurry_does_not_hang_requests(void)
{
    struct xs_watch *w = NULL;
    CHECK_EQ(xs_watch_add(c1, "flurry", flurry_cb, NULL, &w), 0);
    struct writer_arg wa = { .n = xs_env_slow() ? 300 : 3000 };
    pthread_t th;
    pthread_create(&th, NULL, flurry_writer, &wa);
    /* Meanwhile the guest keeps issuing requests over the same ring. */
    int bad = 0;
    for (int i = 0; i < (xs_env_slow() ? 30 : 300); i++) {
        char *v = NULL;
        if (xs_write_str(c1, XS_TXN_NONE, "mine", "1") != 0 ||
            xs_read(c1, XS_TXN_NONE, "mine", &v, NULL) != 0)
            bad++;
        xs_free(c1, v);
    }
    pthread_join(th, NULL);
    CHECK_EQ(bad, 0);
    CHECK_EQ(wa.errors, 0);
    /* Every event is delivered (none needed dropping at this volume). */
    GP_WAIT_WHILE(atomic_load(&flurry_events) < (unsigned)wa.n + 1);
    CHECK_EQ(atomic_load(&flurry_events), wa.n + 1);
    struct xs_client_stats st;
    xs_client_get_stats(c1, &st);
    CHECK_EQ(st.dropped_events, 0);
    xs_watch_remove(c1, w);
}

static void test_corrupt_ring_index_is_detected(void)
{
    /* A fresh client on a ring whose response producer runs far past the
     * consumer: the transport refuses it instead of reading garbage. */
    struct xenstore_domain_interface *r = guest.ring_page;
    struct xs_client_stats st0;
    xs_client_get_stats(c1, &st0);
    sim_os_set_quiet(guest.os, true);
    sim_xenstored_disconnect(xsd, 5);                 /* xenstored lets go */
    uint32_t saved = r->rsp_prod;
    r->rsp_prod = r->rsp_cons + 5 * XENSTORE_RING_SIZE;
    char buf[16];
    CHECK(guest.t->recv(guest.t->ctx, buf, sizeof(buf)) < 0);
    CHECK(sim_os_error_count(guest.os) > 0);
    r->rsp_prod = saved;
}

/* A restore hands the transport a fresh page (xs_ring_reconnect): a ring
 * the old page broke must work again on the new one, and the new page's
 * indices are checked as the old one's were. */
static void test_reconnect_after_a_broken_ring(void)
{
    struct xenstore_domain_interface *old = guest.ring_page;
    char buf[16];
    old->rsp_prod = old->rsp_cons + 5 * XENSTORE_RING_SIZE;   /* (xenstored let go) */
    CHECK(guest.t->recv(guest.t->ctx, buf, sizeof(buf)) < 0);
    uint64_t gfn;
    struct xenstore_domain_interface *fresh = gp_os_page_alloc(&guest.plat, &gfn);
    REQUIRE(fresh);
    fresh->req_cons = fresh->req_prod = fresh->rsp_cons = fresh->rsp_prod = 77;
    sim_xenstored_connect_ring(xsd, 5, fresh, xs_env_xsd_notify, &guest);
    CHECK_EQ(xs_ring_reconnect(guest.t, fresh, 1), 0);
    guest.ring_page = fresh;
    gp_os_page_free(&guest.plat, old);
    sim_os_set_quiet(guest.os, false);
    CHECK_EQ(xs_write_str(c1, XS_TXN_NONE, "after-restore", "yes"), 0);
    char *v = NULL;
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "after-restore", &v, NULL), 0);
    CHECK(v && strcmp(v, "yes") == 0);
    xs_free(c1, v);
    CHECK(fresh->req_prod != 77 && fresh->rsp_prod != 77);   /* it went over the new page */
}

int main(void)
{
    xsd = sim_xenstored_create(7);
    xs_env_init(&dom0, xsd, 0, false);
    /* The ring's free-running 32-bit indices start 4096 bytes below the
     * wrap (users have seen PV drivers hang after 2^32 of something): the
     * first test's traffic carries both directions across it. */
    xs_env_init_at(&guest, xsd, 5, true, 0u - 4096u);
    if (!guest.t || xs_client_create(&dom0.plat, dom0.t, &c0) ||
        xs_client_create(&guest.plat, guest.t, &c1)) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    GP_TEST_RUN(test_ring_basic_and_longer_than_ring);
    GP_TEST_RUN(test_watch_flurry_does_not_hang_requests);
    GP_TEST_RUN(test_corrupt_ring_index_is_detected);
    GP_TEST_RUN(test_reconnect_after_a_broken_ring);
    xs_client_destroy(c0);
    xs_client_destroy(c1);
    xs_env_fini(&dom0, false);
    xs_env_fini(&guest, true);
    sim_xenstored_destroy(xsd);
    return gp_test_finish();
}
