/* The device lifecycle (core/xenbus/xenbus_life.c) driven with a fake
 * frontend's ops table against the simulator's xenstored: every legal
 * path, illegal moves refused, a failed reconnect retried and given up,
 * and a close while a reconnect runs. */
#include "gp_test.h"
#include "../xenstore/xs_test_env.h"
#include "gplpv/xenbus.h"
#include "xenbus/xenbus_life.h"

#define FE_NODE "device/vbd/7"
#define BE_NODE "/local/domain/0/backend/vbd/5/7"

static struct sim_xenstored *xsd;
static struct xs_env dom0, guest;
static struct xs_client *c0, *c1;

/* A frontend that only counts its steps; its connect fails while
 * fail_connects > 0 and can be held at its start (gate). */
struct fake {
    struct xenbus_dev d;
    pthread_mutex_t m;
    pthread_cond_t cv;
    unsigned holds, releases, releases_new_domain, connects;   /* steps taken (atomic) */
    int fail_connects;
    bool gate, in_connect;
};

static void fake_hold(void *arg)
{
    __atomic_fetch_add(&((struct fake *)arg)->holds, 1, __ATOMIC_SEQ_CST);
}

static void fake_release(void *arg, bool new_domain)
{
    struct fake *f = arg;
    __atomic_fetch_add(new_domain ? &f->releases_new_domain : &f->releases, 1, __ATOMIC_SEQ_CST);
}

static int fake_connect(void *arg, uint64_t timeout_ns)
{
    struct fake *f = arg;
    (void)timeout_ns;
    __atomic_fetch_add(&f->connects, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&f->m);
    f->in_connect = true;
    pthread_cond_broadcast(&f->cv);
    while (f->gate)
        pthread_cond_wait(&f->cv, &f->m);
    f->in_connect = false;
    int err = f->fail_connects > 0 ? GP_EIO : 0;
    if (f->fail_connects > 0)
        f->fail_connects--;
    pthread_mutex_unlock(&f->m);
    if (!err)
        xenbus_life_connected(&f->d);
    return err;
}

static const struct xenbus_frontend_ops fake_ops = {
    .name = "fake",
    .hold = fake_hold,
    .release = fake_release,
    .connect = fake_connect,
};

static unsigned fake_get(struct fake *f, const unsigned *field)
{
    (void)f;
    return __atomic_load_n(field, __ATOMIC_SEQ_CST);
}

static bool wait_count(struct fake *f, const unsigned *field, unsigned n)
{
    for (int i = 0; i < 800 && fake_get(f, field) < n; i++)
        usleep(10000);
    return fake_get(f, field) == n;
}

static void set_be_state(unsigned s)
{
    char v[8];
    snprintf(v, sizeof(v), "%u", s);
    xs_write_str(c0, XS_TXN_NONE, BE_NODE "/state", v);
    const char *perms[2] = { "n0", "r5" };
    xs_set_perms(c0, XS_TXN_NONE, BE_NODE "/state", perms, 2);
}

static void nothing(void *arg)
{
    (void)arg;
}

/* A fresh node pair (frontend Initialising, backend InitWait) and a fake
 * frontend on it. */
static void fake_open(struct fake *f, bool quiet)
{
    sim_os_set_quiet(guest.os, quiet);                /* failures to come are logged */
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->m, NULL);
    pthread_cond_init(&f->cv, NULL);
    const char *fperms[2] = { "n5", "r0" }, *bperms[2] = { "n0", "r5" };
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/" FE_NODE "/backend", BE_NODE);
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/" FE_NODE "/backend-id", "0");
    xs_write_str(c0, XS_TXN_NONE, "/local/domain/5/" FE_NODE "/state", "1");
    xs_set_perms(c0, XS_TXN_NONE, "/local/domain/5/" FE_NODE, fperms, 2);
    xs_set_perms(c0, XS_TXN_NONE, "/local/domain/5/" FE_NODE "/state", fperms, 2);
    xs_write_str(c0, XS_TXN_NONE, BE_NODE "/state", "2");
    xs_set_perms(c0, XS_TXN_NONE, BE_NODE, bperms, 2);
    set_be_state(XenbusStateInitWait);
    CHECK_EQ(xenbus_dev_init(&f->d, &guest.plat, c1, FE_NODE, &fake_ops, f), 0);
    /* noted, and its watch event handled, before anything connects (a
     * frontend's connect waits for the backend far longer than that) */
    CHECK_EQ(xenbus_wait_otherend(&f->d, XENBUS_MASK(XenbusStateInitWait), GP_S(2)),
             XenbusStateInitWait);
    CHECK_EQ(xenbus_dev_defer(&f->d, nothing, NULL), 0);     /* after the watch's work */
    xenbus_dev_drain_deferred(&f->d);
}

static void fake_close(struct fake *f)
{
    xenbus_life_close(&f->d);
    CHECK_EQ(xenbus_life_state(&f->d), XENBUS_LIFE_CLOSING);
    xenbus_dev_teardown(&f->d);
    CHECK_EQ(f->d.life, XENBUS_LIFE_CLOSED);
    pthread_mutex_destroy(&f->m);
    pthread_cond_destroy(&f->cv);
    sim_os_set_quiet(guest.os, false);
}

static bool wait_life(struct fake *f, enum xenbus_life want)
{
    for (int i = 0; i < 500; i++) {
        if (xenbus_life_state(&f->d) == want)
            return true;
        usleep(10000);
    }
    return false;
}

static void wait_otherend(struct fake *f, enum xenbus_state s)
{
    CHECK_EQ(xenbus_wait_otherend(&f->d, XENBUS_MASK(s), GP_S(2)), (int)s);
}

static unsigned our_state(void)
{
    uint64_t v = 0;
    CHECK_EQ(xs_read_u64(c1, XS_TXN_NONE, FE_NODE "/state", &v), 0);
    return (unsigned)v;
}

/* Every legal path: first connect, a backend restart (lost, reconnected
 * by the machine), a save cancelled (resumed in place), a restore
 * (reconnected on the new domain's grants), a reconnect the owner asks
 * for, saves while lost, close. */
static void test_legal_paths(void)
{
    struct fake f;
    fake_open(&f, false);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_INITIALISING);
    CHECK_STR(xenbus_life_name(XENBUS_LIFE_RECONNECTING), "RECONNECTING");
    CHECK_EQ(fake_connect(&f, 0), 0);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CONNECTED);
    /* the backend restarts: Closing (I/O held, we say Closed), InitWait */
    set_be_state(XenbusStateClosing);
    CHECK(wait_life(&f, XENBUS_LIFE_LOST));
    CHECK(wait_count(&f, &f.holds, 1));
    for (int i = 0; i < 200 && our_state() != XenbusStateClosed; i++)
        usleep(10000);
    CHECK_EQ(our_state(), XenbusStateClosed);
    set_be_state(XenbusStateInitWait);
    CHECK(wait_life(&f, XENBUS_LIFE_CONNECTED));
    CHECK_EQ(fake_get(&f, &f.connects), 2);
    CHECK_EQ(fake_get(&f, &f.holds), 2);             /* again before the rings go */
    CHECK_EQ(fake_get(&f, &f.releases), 1);
    CHECK_EQ(fake_get(&f, &f.releases_new_domain), 0);
    CHECK_EQ(our_state(), XenbusStateInitialising);  /* the fake writes no more */
    /* one watch event folding a whole restart: InitWait while connected */
    set_be_state(XenbusStateConnected);
    wait_otherend(&f, XenbusStateConnected);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CONNECTED);   /* no loss */
    set_be_state(XenbusStateInitWait);
    CHECK(wait_count(&f, &f.connects, 3));
    CHECK(wait_life(&f, XENBUS_LIFE_CONNECTED));
    /* a save cancelled: resumed in place, nothing given up */
    xenbus_life_suspend(&f.d);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_SUSPENDED);
    xenbus_life_resume_in_place(&f.d);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CONNECTED);
    CHECK_EQ(fake_get(&f, &f.releases), 2);
    /* a restore: the old grants and ports are gone with the old domain */
    xenbus_life_suspend(&f.d);
    CHECK_EQ(xenbus_life_resume(&f.d, true, 1000000000ull), 0);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CONNECTED);
    CHECK_EQ(fake_get(&f, &f.releases_new_domain), 1);
    CHECK_EQ(fake_get(&f, &f.releases), 2);
    /* the owner reconnects a connected device; then closes it */
    CHECK_EQ(xenbus_life_resume(&f.d, false, 1000000000ull), 0);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CONNECTED);
    CHECK_EQ(fake_get(&f, &f.connects), 5);
    CHECK_EQ(fake_get(&f, &f.releases), 3);
    /* a save while the backend is gone keeps the device LOST: cancelled,
     * it is CONNECTED again as it was; restored but failing, it stays LOST
     * and the backend's next InitWait reconnects it */
    sim_os_set_quiet(guest.os, true);                 /* the failure is logged */
    set_be_state(XenbusStateClosed);
    CHECK(wait_life(&f, XENBUS_LIFE_LOST));
    xenbus_life_suspend(&f.d);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_LOST);
    xenbus_life_resume_in_place(&f.d);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CONNECTED);
    set_be_state(XenbusStateClosing);
    CHECK(wait_life(&f, XENBUS_LIFE_LOST));
    f.fail_connects = 1;
    xenbus_life_suspend(&f.d);
    CHECK_EQ(xenbus_life_resume(&f.d, true, 1000000000ull), GP_EIO);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_LOST);
    set_be_state(XenbusStateInitWait);
    CHECK(wait_life(&f, XENBUS_LIFE_CONNECTED));
    CHECK_EQ(fake_get(&f, &f.connects), 7);
    fake_close(&f);
}

/* Moves the table does not allow are refused with an error and change
 * nothing; steps that do not apply ("if connected") are no-ops; a closing
 * device refuses everything but CLOSED, quietly. */
static void test_illegal_moves_refused(void)
{
    struct fake f;
    fake_open(&f, true);
    unsigned errs = sim_os_error_count(guest.os);
    CHECK(!xenbus_life_move(&f.d, ~0u, XENBUS_LIFE_LOST));   /* never connected */
    CHECK(!xenbus_life_move(&f.d, ~0u, XENBUS_LIFE_SUSPENDED));
    CHECK(!xenbus_life_move(&f.d, ~0u, XENBUS_LIFE_CLOSED));
    CHECK(!xenbus_life_move(&f.d, ~0u, XENBUS_LIFE_COUNT));
    CHECK_EQ(sim_os_error_count(guest.os), errs + 4);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_INITIALISING);
    xenbus_life_resume_in_place(&f.d);                      /* not suspended */
    CHECK(!xenbus_dev_mark_lost(&f.d));                     /* not connected */
    CHECK(!xenbus_dev_take_lost(&f.d));                     /* nothing lost */
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_INITIALISING);
    CHECK_EQ(sim_os_error_count(guest.os), errs + 4);
    CHECK_EQ(fake_connect(&f, 0), 0);
    CHECK(!xenbus_life_move(&f.d, ~0u, XENBUS_LIFE_INITIALISING));
    CHECK(!xenbus_life_move(&f.d, ~0u, XENBUS_LIFE_CONNECTED));
    CHECK_EQ(sim_os_error_count(guest.os), errs + 6);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CONNECTED);
    xenbus_life_close(&f.d);
    errs = sim_os_error_count(guest.os);
    xenbus_life_connected(&f.d);                            /* a reconnect ending late */
    CHECK(!xenbus_life_move(&f.d, ~0u, XENBUS_LIFE_RECONNECTING));
    CHECK_EQ(xenbus_life_resume(&f.d, false, 1000000000ull), GP_ESHUTDOWN);
    CHECK_EQ(sim_os_error_count(guest.os), errs);
    CHECK_EQ(fake_get(&f, &f.connects), 1);
    fake_close(&f);
}

/* A reconnect that fails while the backend waits in InitWait is retried
 * after a backoff until it succeeds; one that keeps failing is given up
 * after XENBUS_RECONNECT_RETRIES retries (LOST: the backend's next
 * InitWait starts afresh); an owner's failed reconnect is the owner's. */
static void test_reconnect_failure_retry_and_give_up(void)
{
    struct fake f;
    fake_open(&f, true);
    CHECK_EQ(fake_connect(&f, 0), 0);
    f.fail_connects = 2;
    set_be_state(XenbusStateClosed);
    CHECK(wait_life(&f, XENBUS_LIFE_LOST));
    set_be_state(XenbusStateInitWait);
    CHECK(wait_life(&f, XENBUS_LIFE_CONNECTED));
    CHECK_EQ(fake_get(&f, &f.connects), 4);          /* 1 + failed, retried, retried */
    /* keeps failing: given up, LOST */
    f.fail_connects = 1000;
    set_be_state(XenbusStateClosed);
    CHECK(wait_life(&f, XENBUS_LIFE_LOST));
    set_be_state(XenbusStateInitWait);
    CHECK(wait_count(&f, &f.connects, 5 + XENBUS_RECONNECT_RETRIES));
    CHECK(wait_life(&f, XENBUS_LIFE_LOST));
    CHECK_EQ(our_state(), XenbusStateClosed);        /* no stale rings taken up */
    /* the backend restarts: a reconnect afresh, and it works */
    f.fail_connects = 0;
    set_be_state(XenbusStateClosed);
    wait_otherend(&f, XenbusStateClosed);
    set_be_state(XenbusStateInitWait);
    CHECK(wait_life(&f, XENBUS_LIFE_CONNECTED));
    CHECK_EQ(fake_get(&f, &f.connects), 6 + XENBUS_RECONNECT_RETRIES);
    /* an owner's reconnect that fails: INITIALISING, nothing retried */
    f.fail_connects = 1;
    xenbus_life_suspend(&f.d);
    CHECK_EQ(xenbus_life_resume(&f.d, true, 1000000000ull), GP_EIO);
    CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_INITIALISING);
    usleep(100000);
    CHECK_EQ(fake_get(&f, &f.connects), 7 + XENBUS_RECONNECT_RETRIES);
    fake_close(&f);
}

static void *close_thread(void *arg)
{
    xenbus_life_close(&((struct fake *)arg)->d);
    return NULL;
}

static void wait_in_connect(struct fake *f)
{
    pthread_mutex_lock(&f->m);
    while (!f->in_connect)
        pthread_cond_wait(&f->cv, &f->m);
    pthread_mutex_unlock(&f->m);
}

/* Close while the machine's reconnect runs: CLOSING at once, the close
 * waits for the reconnect, which ends quietly (connected, or failed and
 * not retried on a closing device). */
static void test_close_during_reconnect(void)
{
    for (int fail = 0; fail <= 1; fail++) {
        struct fake f;
        fake_open(&f, true);
        CHECK_EQ(fake_connect(&f, 0), 0);
        f.gate = true;
        f.fail_connects = fail;
        set_be_state(XenbusStateClosing);
        CHECK(wait_life(&f, XENBUS_LIFE_LOST));
        set_be_state(XenbusStateInitWait);
        wait_in_connect(&f);
        CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_RECONNECTING);
        unsigned errs = sim_os_error_count(guest.os);
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, close_thread, &f) == 0);
        CHECK(wait_life(&f, XENBUS_LIFE_CLOSING));
        usleep(20000);
        pthread_mutex_lock(&f.m);
        f.gate = false;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.m);
        pthread_join(t, NULL);
        CHECK_EQ(f.d.deferred, 0);                   /* nothing runs after the close */
        CHECK_EQ(xenbus_life_state(&f.d), XENBUS_LIFE_CLOSING);
        CHECK_EQ(fake_get(&f, &f.connects), 2);      /* not retried */
        /* a failed attempt logs its failure; nothing else is an error */
        CHECK_EQ(sim_os_error_count(guest.os), errs + (unsigned)fail);
        fake_close(&f);
    }
}

/* dom0 (the toolstack and the backend) and the guest on one xenstored */
static int life_env(bool up)
{
    if (!up) {
        xs_client_destroy(c1);
        xs_client_destroy(c0);
        xs_env_fini(&guest, false);
        xs_env_fini(&dom0, false);
        sim_xenstored_destroy(xsd);
        return 0;
    }
    xsd = sim_xenstored_create(3);
    xs_env_init(&dom0, xsd, 0, false);
    xs_env_init(&guest, xsd, 5, false);
    int err = xs_client_create(&dom0.plat, dom0.t, &c0);
    return err ? err : xs_client_create(&guest.plat, guest.t, &c1);
}

int main(void)
{
    if (life_env(true) != 0)
        return 1;
    GP_TEST_RUN(test_legal_paths);
    GP_TEST_RUN(test_illegal_moves_refused);
    GP_TEST_RUN(test_reconnect_failure_retry_and_give_up);
    GP_TEST_RUN(test_close_during_reconnect);
    life_env(false);
    return gp_test_finish();
}
