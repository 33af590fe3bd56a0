/* xenbus (core/xenbus) against the simulator's xenstored: backend
 * discovery and validation, the state machine driven by the backend's
 * state watch, feature helpers, enumeration with hot-add and removal, and
 * a removed node left alone. */
#include "gp_test.h"
#include "../xenstore/xs_test_env.h"
#include "gplpv/xenbus.h"
#include "xenbus/xenbus_life.h"

static struct sim_xenstored *xsd;
static struct xs_env dom0, guest;
static struct xs_client *c0, *c1;

/* What a toolstack writes when it adds a device. */
static void add_device(const char *type, unsigned id, const char *backend_override)
{
    char fe[128], be[128];
    snprintf(fe, sizeof(fe), "/local/domain/5/device/%s/%u", type, id);
    snprintf(be, sizeof(be), "/local/domain/0/backend/%s/5/%u", type, id);
    char k[192];
    snprintf(k, sizeof(k), "%s/backend", fe);
    xs_write_str(c0, XS_TXN_NONE, k, backend_override ? backend_override : be);
    snprintf(k, sizeof(k), "%s/backend-id", fe);
    xs_write_str(c0, XS_TXN_NONE, k, "0");
    snprintf(k, sizeof(k), "%s/state", fe);
    xs_write_str(c0, XS_TXN_NONE, k, "1");
    const char *perms[2] = { "n5", "r0" };
    xs_set_perms(c0, XS_TXN_NONE, fe, perms, 2);
    snprintf(k, sizeof(k), "%s/state", be);
    xs_write_str(c0, XS_TXN_NONE, k, "1");
    const char *bperms[2] = { "n0", "r5" };
    xs_set_perms(c0, XS_TXN_NONE, be, bperms, 2);
    snprintf(k, sizeof(k), "%s/state", be);
    xs_set_perms(c0, XS_TXN_NONE, k, bperms, 2);
}

static void set_backend(const char *key, const char *value)
{
    char k[192];
    snprintf(k, sizeof(k), "/local/domain/0/backend/vif/5/0/%s", key);
    xs_write_str(c0, XS_TXN_NONE, k, value);
    const char *bperms[2] = { "n0", "r5" };
    xs_set_perms(c0, XS_TXN_NONE, k, bperms, 2);
}

struct seen {
    pthread_mutex_t m;
    enum xenbus_state states[32];
    unsigned n;
};

static void on_otherend(void *arg, struct xenbus_dev *d, enum xenbus_state s)
{
    struct seen *sn = arg;
    (void)d;
    pthread_mutex_lock(&sn->m);
    if (sn->n < 32)
        sn->states[sn->n++] = s;
    pthread_mutex_unlock(&sn->m);
}

static void test_state_machine_follows_backend(void)
{
    add_device("vif", 0, NULL);
    struct seen sn = { .m = PTHREAD_MUTEX_INITIALIZER };
    struct xenbus_dev d;
    const struct xenbus_frontend_ops observe = { .name = "test", .changed = on_otherend };
    REQUIRE(xenbus_dev_init(&d, &guest.plat, c1, "device/vif/0", &observe, &sn) == 0);
    CHECK_STR(d.otherend, "/local/domain/0/backend/vif/5/0");
    CHECK_EQ(d.otherend_id, 0);
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateInitialising), GP_S(2)),
             XenbusStateInitialising);
    set_backend("state", "2");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateInitWait), GP_S(2)),
             XenbusStateInitWait);
    CHECK_EQ(xenbus_switch_state(&d, XS_TXN_NONE, XenbusStateInitialised), 0);
    char *v = NULL;
    xs_read(c0, XS_TXN_NONE, "/local/domain/5/device/vif/0/state", &v, NULL);
    CHECK_STR(v, "3");
    xs_free(c0, v);
    set_backend("state", "4");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateConnected), GP_S(2)),
             XenbusStateConnected);
    /* A bogus state is refused, the last good one stays. */
    sim_os_set_quiet(guest.os, true);
    unsigned errs = sim_os_error_count(guest.os);
    set_backend("state", "77");
    usleep(50000);
    CHECK(sim_os_error_count(guest.os) > errs);
    CHECK_EQ(d.otherend_state, XenbusStateConnected);
    set_backend("state", "5");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateClosing), GP_S(2)),
             XenbusStateClosing);
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateClosed), GP_MS(20)), GP_ETIMEDOUT);
    xenbus_dev_teardown(&d);
    pthread_mutex_lock(&sn.m);
    bool saw_connected = false;
    for (unsigned i = 0; i < sn.n; i++)
        saw_connected |= sn.states[i] == XenbusStateConnected;
    pthread_mutex_unlock(&sn.m);
    CHECK(saw_connected);
}

static unsigned reconnects_again;

static void count_reconnect(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&reconnects_again, 1, __ATOMIC_SEQ_CST);
}

/* A backend restart is reconnected once: the loss is taken once per
 * InitWait.  A reconnect that failed tries again at once if the backend
 * went through InitWait while it ran; after a backoff, a bounded number of
 * times, if the backend waits in InitWait; else waits for the next InitWait. */
static void test_lost_backend_reconnects_once_per_restart(void)
{
    struct xenbus_dev d;
    REQUIRE(xenbus_dev_init(&d, &guest.plat, c1, "device/vif/0", NULL, NULL) == 0);
    set_backend("state", "4");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateConnected), GP_S(2)),
             XenbusStateConnected);
    CHECK(!xenbus_dev_take_lost(&d));                /* nothing lost yet */
    xenbus_life_connected(&d);                       /* as a frontend's connect says */
    CHECK(xenbus_dev_mark_lost(&d));                 /* the backend closed under us */
    unsigned before = xenbus_dev_initwaits(&d);
    set_backend("state", "2");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateInitWait), GP_S(2)),
             XenbusStateInitWait);
    CHECK_EQ(xenbus_dev_initwaits(&d), before + 1);
    CHECK(xenbus_dev_take_lost(&d));                 /* the reconnect is due, once */
    CHECK(!xenbus_dev_take_lost(&d));
    /* the reconnect fails and the backend is Closed: its next InitWait */
    sim_os_set_quiet(guest.os, true);                /* the failures are logged */
    unsigned at_start = xenbus_dev_initwaits(&d);
    set_backend("state", "6");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateClosed), GP_S(2)),
             XenbusStateClosed);
    xenbus_dev_reconnect_failed(&d, at_start, GP_EIO, count_reconnect, NULL);
    xenbus_dev_drain_deferred(&d);
    CHECK_EQ(__atomic_load_n(&reconnects_again, __ATOMIC_SEQ_CST), 0);
    CHECK(xenbus_dev_take_lost(&d));                 /* the next InitWait would take it */
    char *st = NULL;                                 /* we said Closed: no stale rings */
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "device/vif/0/state", &st, NULL), 0);
    CHECK_STR(st, "6");
    xs_free(c1, st);
    /* the backend waits in InitWait and no restart comes: tried again after
     * a backoff, XENBUS_RECONNECT_RETRIES times, then left to the next one */
    set_backend("state", "2");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateInitWait), GP_S(2)),
             XenbusStateInitWait);
    at_start = xenbus_dev_initwaits(&d);
    for (unsigned i = 1; i <= XENBUS_RECONNECT_RETRIES; i++) {
        xenbus_dev_reconnect_failed(&d, at_start, GP_ETIMEDOUT, count_reconnect, NULL);
        xenbus_dev_drain_deferred(&d);
        CHECK_EQ(__atomic_load_n(&reconnects_again, __ATOMIC_SEQ_CST), i);
        CHECK(!xenbus_dev_take_lost(&d));            /* the retry holds the loss */
    }
    xenbus_dev_reconnect_failed(&d, at_start, GP_ETIMEDOUT, count_reconnect, NULL);
    xenbus_dev_drain_deferred(&d);
    CHECK_EQ(__atomic_load_n(&reconnects_again, __ATOMIC_SEQ_CST), XENBUS_RECONNECT_RETRIES);
    CHECK(xenbus_dev_take_lost(&d));                 /* the next offer starts afresh */
    CHECK_EQ(d.retries, 0);
    /* the reconnect fails because the backend restarted meanwhile: again now */
    at_start = xenbus_dev_initwaits(&d);
    set_backend("state", "6");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateClosed), GP_S(2)),
             XenbusStateClosed);
    set_backend("state", "2");
    CHECK_EQ(xenbus_wait_otherend(&d, XENBUS_MASK(XenbusStateInitWait), GP_S(2)),
             XenbusStateInitWait);
    xenbus_dev_reconnect_failed(&d, at_start, GP_EIO, count_reconnect, NULL);
    xenbus_dev_drain_deferred(&d);
    CHECK_EQ(__atomic_load_n(&reconnects_again, __ATOMIC_SEQ_CST),
             XENBUS_RECONNECT_RETRIES + 1);          /* again, with no backoff */
    CHECK_EQ(d.retries, 0);
    CHECK(!xenbus_dev_take_lost(&d));                /* that attempt took the loss */
    xenbus_dev_teardown(&d);
}

/* Before a reconnect: a backend still Connected (to rings an earlier
 * attempt gave up) is told we are Closed and must leave Connected; any
 * other state is left alone. */
static void test_close_stale_backend(void)
{
    struct xenbus_dev d;
    REQUIRE(xenbus_dev_init(&d, &guest.plat, c1, "device/vif/0", NULL, NULL) == 0);
    sim_os_set_quiet(guest.os, true);
    REQUIRE(xenbus_switch_state(&d, XS_TXN_NONE, XenbusStateInitialised) == 0);
    set_backend("state", "2");
    CHECK_EQ(xenbus_dev_close_stale(&d, GP_MS(200)), 0);
    char *st = NULL;
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "device/vif/0/state", &st, NULL), 0);
    CHECK_STR(st, "3");                              /* InitWait: untouched */
    xs_free(c1, st);
    set_backend("state", "4");
    CHECK_EQ(xenbus_dev_close_stale(&d, GP_MS(200)), GP_ETIMEDOUT);   /* it stays */
    CHECK_EQ(xs_read(c1, XS_TXN_NONE, "device/vif/0/state", &st, NULL), 0);
    CHECK_STR(st, "6");                              /* we said Closed */
    xs_free(c1, st);
    set_backend("state", "6");
    CHECK_EQ(xenbus_dev_close_stale(&d, GP_MS(200)), 0);
    xenbus_dev_teardown(&d);
}

static void test_feature_helpers(void)
{
    struct xenbus_dev d;
    REQUIRE(xenbus_dev_init(&d, &guest.plat, c1, "device/vif/0", NULL, NULL) == 0);
    set_backend("feature-sg", "1");
    set_backend("feature-gso-tcpv4", "0");
    set_backend("feature-bogus", "yes");
    set_backend("multi-queue-max-queues", "8");
    set_backend("max-ring-page-order", "99");
    CHECK(xenbus_otherend_feature(&d, "feature-sg"));
    CHECK(!xenbus_otherend_feature(&d, "feature-gso-tcpv4"));
    CHECK(!xenbus_otherend_feature(&d, "feature-missing"));
    CHECK(!xenbus_otherend_feature(&d, "feature-bogus"));
    uint64_t v = 0;
    CHECK_EQ(xenbus_read_otherend_u64(&d, "multi-queue-max-queues", 1, 64, &v), 0);
    CHECK_EQ(v, 8);
    CHECK_EQ(xenbus_read_otherend_u64(&d, "absent", 3, 64, &v), 0);
    CHECK_EQ(v, 3);
    CHECK_EQ(xenbus_read_otherend_u64(&d, "max-ring-page-order", 0, 4, &v), GP_EINVAL);
    CHECK_EQ(xenbus_printf(&d, XS_TXN_NONE, "tx-ring-ref", "%u", 42u), 0);
    char *s = NULL;
    xs_read(c0, XS_TXN_NONE, "/local/domain/5/device/vif/0/tx-ring-ref", &s, NULL);
    CHECK_STR(s, "42");
    xs_free(c0, s);
    xenbus_dev_teardown(&d);
}

static void test_bad_backend_is_refused(void)
{
    sim_os_set_quiet(guest.os, true);
    struct xenbus_dev d;
    add_device("vbd", 51712, "/local/domain/3/backend/vbd/5/51712");   /* id says 0 */
    CHECK_EQ(xenbus_dev_init(&d, &guest.plat, c1, "device/vbd/51712", NULL, NULL), GP_EINVAL);
    add_device("vbd", 51728, "/local/domain/0/frontend/evil");
    CHECK_EQ(xenbus_dev_init(&d, &guest.plat, c1, "device/vbd/51728", NULL, NULL), GP_EINVAL);
    CHECK_EQ(xenbus_dev_init(&d, &guest.plat, c1, "device/vbd/9", NULL, NULL), GP_ENOENT);
}

struct enum_log {
    pthread_mutex_t m;
    int added, removed;
    char last[32];
};

static void on_enum(void *arg, const char *type, const char *id, bool present)
{
    struct enum_log *l = arg;
    (void)type;
    pthread_mutex_lock(&l->m);
    if (present)
        l->added++;
    else
        l->removed++;
    snprintf(l->last, sizeof(l->last), "%s", id);
    pthread_mutex_unlock(&l->m);
}

static int wait_int(struct enum_log *l, int *field, int want)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&l->m);
        int v = *field;
        pthread_mutex_unlock(&l->m);
        if (v >= want)
            return v;
        usleep(1000);
    }
    return *field;
}

static void test_enumeration_hot_add_and_remove(void)
{
    struct enum_log l = { .m = PTHREAD_MUTEX_INITIALIZER };
    struct xenbus_enum *e = NULL;
    add_device("vif", 1, NULL);
    REQUIRE(xenbus_enum_start(&guest.plat, c1, "vif", on_enum, &l, &e) == 0);
    /* vif 0 and 1 were there: reported before xenbus_enum_start returned
     * (a bus driver's first BusRelations must list the boot disk) */
    pthread_mutex_lock(&l.m);
    CHECK_EQ(l.added, 2);
    pthread_mutex_unlock(&l.m);
    usleep(30000);                                    /* the watch's first event */
    CHECK_EQ(wait_int(&l, &l.added, 2), 2);           /* reports nothing twice */
    add_device("vif", 2, NULL);                       /* hot-add */
    CHECK_EQ(wait_int(&l, &l.added, 3), 3);
    CHECK_STR(l.last, "2");
    xs_rm(c0, XS_TXN_NONE, "/local/domain/5/device/vif/1");   /* hot-remove */
    CHECK_EQ(wait_int(&l, &l.removed, 1), 1);
    CHECK_STR(l.last, "1");
    /* State changes of existing devices are not reported as new ones. */
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/device/vif/0/state", "3");
    usleep(30000);
    CHECK_EQ(l.added, 3);
    xenbus_enum_stop(e);
}

static void test_cdrom_vbds_recognised(void)
{
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/device/vbd/5632/device-type", "cdrom");
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/device/vbd/768/device-type", "disk");
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/device/vbd/832/device-type", "cdrom-ish");
    CHECK(xenbus_vbd_is_cdrom(c1, "device/vbd/5632"));
    CHECK(!xenbus_vbd_is_cdrom(c1, "device/vbd/768"));
    CHECK(!xenbus_vbd_is_cdrom(c1, "device/vbd/832"));
    CHECK(!xenbus_vbd_is_cdrom(c1, "device/vbd/999"));       /* no such node */
}

/* After a hot-remove the toolstack has removed the frontend node: our
 * last state changes must not create it again. */
static void test_removed_node_not_recreated(void)
{
    add_device("vbd", 51728, NULL);
    struct xenbus_dev d;
    REQUIRE(xenbus_dev_init(&d, &guest.plat, c1, "device/vbd/51728", NULL, NULL) == 0);
    CHECK_EQ(xenbus_switch_state(&d, XS_TXN_NONE, XenbusStateConnected), 0);
    CHECK_EQ(xs_rm(c0, XS_TXN_NONE, "/local/domain/5/device/vbd/51728"), 0);
    CHECK_EQ(xenbus_switch_state(&d, XS_TXN_NONE, XenbusStateClosed), GP_ENOENT);
    char *v = NULL;
    CHECK_EQ(xs_read(c0, XS_TXN_NONE, "/local/domain/5/device/vbd/51728", &v, NULL), GP_ENOENT);
    if (v)
        xs_free(c0, v);
    xenbus_dev_teardown(&d);
    xs_rm(c0, XS_TXN_NONE, "/local/domain/0/backend/vbd/5/51728");
}

int main(void)
{
    xsd = sim_xenstored_create(3);
    xs_env_init(&dom0, xsd, 0, false);
    xs_env_init(&guest, xsd, 5, false);
    if (xs_client_create(&dom0.plat, dom0.t, &c0) || xs_client_create(&guest.plat, guest.t, &c1))
        return 1;
    GP_TEST_RUN(test_state_machine_follows_backend);
    GP_TEST_RUN(test_lost_backend_reconnects_once_per_restart);
    GP_TEST_RUN(test_close_stale_backend);
    GP_TEST_RUN(test_feature_helpers);
    GP_TEST_RUN(test_bad_backend_is_refused);
    GP_TEST_RUN(test_cdrom_vbds_recognised);
    GP_TEST_RUN(test_enumeration_hot_add_and_remove);
    GP_TEST_RUN(test_removed_node_not_recreated);
    xs_client_destroy(c0);
    xs_client_destroy(c1);
    xs_env_fini(&dom0, false);
    xs_env_fini(&guest, false);
    sim_xenstored_destroy(xsd);
    return gp_test_finish();
}
