/*
 * gplpv-xs: the core's xenstore client from a Linux domU's user space
 * (/dev/xen/xenbus through lxp), for the lab's scripts and as a test of
 * the client against the real xenstored.
 *
 *   gplpv-xs read PATH | write PATH VALUE | rm PATH | ls PATH
 *   gplpv-xs wait PATH VALUE [SECONDS]   until PATH holds VALUE ("*": exists)
 *   gplpv-xs selftest                    prints gptest: PASS/FAIL lines
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gplpv/log.h"
#include "gplpv/xenbus.h"
#include "lxp.h"

struct lxxs_waiter {
    struct xs_client *xs;
    const char *path, *want;
    pthread_mutex_t m;
    pthread_cond_t c;
    bool met;
    unsigned fired;     /* events whose callback began since want was last set */
    unsigned gen;       /* bumped each time want is set */
};

static bool lxxs_value_is(struct xs_client *xs, const char *path, const char *want)
{
    char *v = NULL;
    int err = xs_read(xs, XS_TXN_NONE, path, &v, NULL);
    bool met = !err && (!strcmp(want, "*") || !strcmp(v, want));
    if (v)
        xs_free(xs, v);
    return met;
}

static void lxxs_watch_fired(void *arg, const char *path, const char *token)
{
    struct lxxs_waiter *w = arg;
    (void)path;
    (void)token;
    pthread_mutex_lock(&w->m);
    const char *want = w->want;
    unsigned gen = w->gen;
    pthread_mutex_unlock(&w->m);
    bool met = lxxs_value_is(w->xs, w->path, want);
    pthread_mutex_lock(&w->m);
    if (gen == w->gen) {          /* an event for what is awaited now */
        w->fired++;
        if (met)
            w->met = true;
    }
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

static int lxxs_wait(struct xs_client *xs, const char *path, const char *want, unsigned seconds)
{
    struct lxxs_waiter w = { .xs = xs, .path = path, .want = want,
                             .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };
    struct xs_watch *watch = NULL;
    int err = xs_watch_add(xs, path, lxxs_watch_fired, &w, &watch);
    if (err) {
        fprintf(stderr, "gplpv-xs: watch %s: %s\n", path, gp_strerror(err));
        return 1;
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += seconds;
    pthread_mutex_lock(&w.m);
    while (!w.met && pthread_cond_timedwait(&w.c, &w.m, &dl) == 0)
        ;
    bool met = w.met;
    pthread_mutex_unlock(&w.m);
    xs_watch_remove(xs, watch);
    if (!met)
        fprintf(stderr, "gplpv-xs: %s did not become '%s' within %u s\n", path, want, seconds);
    return met ? 0 : 1;
}

/* ---- selftest: the client against the real xenstored -------------------- */

static unsigned lxxs_failed;

static void lxxs_result(const char *name, bool ok, const char *why)
{
    printf("gptest: %s %s%s%s\n", ok ? "PASS" : "FAIL", name, why ? ": " : "", why ? why : "");
    if (!ok)
        lxxs_failed++;
}

struct lxxs_txn_arg {
    const char *path;
    unsigned runs;
};

static int lxxs_txn_body(struct xs_client *c, xs_txn_t t, void *arg)
{
    struct lxxs_txn_arg *a = arg;
    a->runs++;
    char *v = NULL;
    long long n = 0;
    if (xs_read(c, t, a->path, &v, NULL) == 0) {
        n = atoll(v);
        xs_free(c, v);
    }
    return xs_printf(c, t, a->path, "%lld", n + 1);
}

static int lxxs_selftest(struct xs_client *xs)
{
    char why[200];
    const char *base = "data/gplpv-selftest";
    xs_rm(xs, XS_TXN_NONE, base);
    int err = xs_write_str(xs, XS_TXN_NONE, "data/gplpv-selftest/a", "hello");
    char *v = NULL;
    size_t len = 0;
    int err2 = err ? err : xs_read(xs, XS_TXN_NONE, "data/gplpv-selftest/a", &v, &len);
    snprintf(why, sizeof(why), "write %s, read %s '%s'", gp_strerror(err), gp_strerror(err2),
             v ? v : "");
    lxxs_result("xs-write-read", !err && !err2 && v && len == 5 && !strcmp(v, "hello"), why);
    if (v)
        xs_free(xs, v);

    /* A value with every byte but NUL, and one of 2000 bytes. */
    char big[2001];
    for (unsigned i = 0; i < 2000; i++)
        big[i] = (char)(1 + i % 255);
    big[2000] = 0;
    err = xs_write(xs, XS_TXN_NONE, "data/gplpv-selftest/big", big, 2000);
    v = NULL;
    err2 = err ? err : xs_read(xs, XS_TXN_NONE, "data/gplpv-selftest/big", &v, &len);
    lxxs_result("xs-binary-2000-bytes", !err && !err2 && len == 2000 && !memcmp(v, big, 2000),
                gp_strerror(err ? err : err2));
    if (v)
        xs_free(xs, v);

    err = xs_read(xs, XS_TXN_NONE, "data/gplpv-selftest/missing", &v, NULL);
    lxxs_result("xs-enoent", err == GP_ENOENT, gp_strerror(err));
    err = xs_write_str(xs, XS_TXN_NONE, "/local/domain/0/gplpv-not-ours", "x");
    lxxs_result("xs-eacces-outside-home", err == GP_EACCES, gp_strerror(err));

    for (unsigned i = 0; i < 5; i++) {
        char p[80];
        snprintf(p, sizeof(p), "data/gplpv-selftest/dir/k%u", i);
        xs_printf(xs, XS_TXN_NONE, p, "%u", i);
    }
    char **names = NULL;
    unsigned n = 0;
    err = xs_directory(xs, XS_TXN_NONE, "data/gplpv-selftest/dir", &names, &n);
    snprintf(why, sizeof(why), "%s, %u entries", gp_strerror(err), n);
    lxxs_result("xs-directory", !err && n == 5, why);
    if (names)
        xs_free(xs, names);

    char **perms = NULL;
    err = xs_get_perms(xs, XS_TXN_NONE, "data/gplpv-selftest/a", &perms, &n);
    snprintf(why, sizeof(why), "%s, %u entries, first '%s'", gp_strerror(err), n,
             !err && n ? perms[0] : "");
    lxxs_result("xs-get-perms", !err && n >= 1 && perms[0][0] == 'n', why);
    if (perms)
        xs_free(xs, perms);

    /* Transactions: commit, abort, and the retry loop. */
    xs_txn_t t;
    err = xs_txn_start(xs, &t);
    if (!err)
        err = xs_write_str(xs, t, "data/gplpv-selftest/t", "in-txn");
    v = NULL;
    err2 = xs_read(xs, XS_TXN_NONE, "data/gplpv-selftest/t", &v, NULL);
    bool hidden = err2 == GP_ENOENT;
    if (v)
        xs_free(xs, v);
    if (!err)
        err = xs_txn_end(xs, t, true);
    bool visible = lxxs_value_is(xs, "data/gplpv-selftest/t", "in-txn");
    snprintf(why, sizeof(why), "%s, hidden before commit %d, visible after %d", gp_strerror(err),
             hidden, visible);
    lxxs_result("xs-transaction-commit", !err && hidden && visible, why);
    err = xs_txn_start(xs, &t);
    if (!err)
        err = xs_write_str(xs, t, "data/gplpv-selftest/t", "aborted");
    if (!err)
        err = xs_txn_end(xs, t, false);
    lxxs_result("xs-transaction-abort", !err && lxxs_value_is(xs, "data/gplpv-selftest/t", "in-txn"),
                gp_strerror(err));
    struct lxxs_txn_arg ta = { "data/gplpv-selftest/counter", 0 };
    unsigned ok_runs = 0;
    for (unsigned i = 0; i < 20; i++)
        ok_runs += xs_txn_run(xs, 10, lxxs_txn_body, &ta) == 0;
    snprintf(why, sizeof(why), "%u/20 committed in %u runs", ok_runs, ta.runs);
    lxxs_result("xs-transaction-run", ok_runs == 20 &&
                lxxs_value_is(xs, "data/gplpv-selftest/counter", "20"), why);

    /* Watches.  What xenstored promises: one event at registration, and
     * after each change at least one event delivered after it, so that the
     * watcher reads the latest value; not one event per change (C
     * xenstored drops an event identical to one still queued, so three
     * quick writes may arrive as one event, even folded into the
     * registration's).  So: the last of three quick writes is seen, with
     * one to four events; then one more write, made once the watcher has
     * seen the last value, brings at least one more event, which reads it. */
    struct lxxs_waiter w = { .xs = xs, .path = "data/gplpv-selftest/w", .want = "3",
                             .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };
    struct xs_watch *watch = NULL;
    err = xs_watch_add(xs, w.path, lxxs_watch_fired, &w, &watch);
    for (unsigned i = 1; !err && i <= 3; i++)
        xs_printf(xs, XS_TXN_NONE, w.path, "%u", i);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&w.m);
    while (!err && !w.met && pthread_cond_timedwait(&w.c, &w.m, &dl) == 0)
        ;
    bool met = w.met;
    unsigned fired = w.fired;
    /* the fourth write: only events whose callback begins from now count */
    w.met = false;
    w.want = "4";
    w.gen++;
    w.fired = 0;
    pthread_mutex_unlock(&w.m);
    int err4 = err ? err : xs_printf(xs, XS_TXN_NONE, w.path, "%u", 4u);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&w.m);
    while (!err4 && !w.met && pthread_cond_timedwait(&w.c, &w.m, &dl) == 0)
        ;
    bool met4 = w.met;
    unsigned fired4 = w.fired;
    pthread_mutex_unlock(&w.m);
    if (watch)
        xs_watch_remove(xs, watch);
    snprintf(why, sizeof(why), "%s, %u event(s) for registration + 3 writes, saw the last value "
             "%d; %u more event(s) after a 4th write, saw it %d", gp_strerror(err ? err : err4),
             fired, met, fired4, met4);
    lxxs_result("xs-watch", !err && !err4 && met && fired >= 1 && fired <= 4 && met4 &&
                                fired4 >= 1, why);

    err = xs_rm(xs, XS_TXN_NONE, base);
    err2 = xs_read(xs, XS_TXN_NONE, "data/gplpv-selftest/a", &v, NULL);
    lxxs_result("xs-rm-tree", !err && err2 == GP_ENOENT, gp_strerror(err));

    struct xs_client_stats st;
    xs_client_get_stats(xs, &st);
    snprintf(why, sizeof(why), "%llu requests, %llu replies, %llu errors, %llu watch events, "
             "%llu malformed", (unsigned long long)st.requests, (unsigned long long)st.replies,
             (unsigned long long)st.errors, (unsigned long long)st.watch_events,
             (unsigned long long)st.malformed);
    lxxs_result("xs-client-stats-clean", st.malformed == 0 && st.replies == st.requests, why);
    return lxxs_failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gplpv-xs read PATH | write PATH VALUE | rm PATH | ls PATH |\n"
                        "                wait PATH VALUE [SECONDS] | selftest\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct lxp_opts o = { .name = "gplpv-xs", .level = GP_LOG_WARN,
                          .flags = LXP_NO_GNTALLOC | LXP_NO_EVTCHN };
    struct gp_platform *p = NULL;
    struct xs_client *xs = NULL;
    int err = lxp_open(&o, &p, &xs);
    if (err) {
        fprintf(stderr, "gplpv-xs: %s\n", gp_strerror(err));
        return 1;
    }
    const char *cmd = argv[1];
    int rc = 0;
    if (!strcmp(cmd, "read") && argc == 3) {
        char *v = NULL;
        err = xs_read(xs, XS_TXN_NONE, argv[2], &v, NULL);
        if (!err)
            printf("%s\n", v);
        if (v)
            xs_free(xs, v);
    } else if (!strcmp(cmd, "write") && argc == 4) {
        err = xs_write_str(xs, XS_TXN_NONE, argv[2], argv[3]);
    } else if (!strcmp(cmd, "rm") && argc == 3) {
        err = xs_rm(xs, XS_TXN_NONE, argv[2]);
    } else if (!strcmp(cmd, "ls") && argc == 3) {
        char **names = NULL;
        unsigned n = 0;
        err = xs_directory(xs, XS_TXN_NONE, argv[2], &names, &n);
        for (unsigned i = 0; !err && i < n; i++)
            printf("%s\n", names[i]);
        if (names)
            xs_free(xs, names);
    } else if (!strcmp(cmd, "wait") && (argc == 4 || argc == 5)) {
        rc = lxxs_wait(xs, argv[2], argv[3], argc == 5 ? (unsigned)atoi(argv[4]) : 60);
    } else if (!strcmp(cmd, "selftest") && argc == 2) {
        rc = lxxs_selftest(xs);
    } else {
        fprintf(stderr, "gplpv-xs: bad command\n");
        rc = 2;
    }
    if (err) {
        fprintf(stderr, "gplpv-xs: %s %s: %s\n", cmd, argc > 2 ? argv[2] : "", gp_strerror(err));
        rc = 1;
    }
    lxp_close(p, xs);
    return rc;
}
