/* sim_back: what the simulated xenbus backends share (see sim_back.h). */
#include <stdio.h>

#include "back/sim_back.h"
#include "gplpv/xs.h"
#include "xenstored/sim_xenstored.h"

int sim_back_init(struct sim_back *k, struct sim_xen *x, struct sim_domain *dom0,
                  gp_domid_t frontend, unsigned devid, const char *type,
                  const struct sim_back_ops *ops, void *dev)
{
    k->x = x;
    k->dom0 = dom0;
    k->p = sim_domain_platform(dom0);
    k->fe = frontend;
    k->devid = devid;
    k->ops = ops;
    k->dev = dev;
    pthread_mutex_init(&k->m, NULL);
    pthread_mutex_init(&k->state_m, NULL);
    pthread_cond_init(&k->c, NULL);
    k->xs_link = sim_xenstored_direct(sim_xen_xenstored(x), 0);
    if (xs_client_create(k->p, k->xs_link, &k->xs) != 0)
        return -1;
    snprintf(k->fe_path, sizeof(k->fe_path), "/local/domain/%u/device/%s/%u", frontend, type,
             devid);
    snprintf(k->be_path, sizeof(k->be_path), "/local/domain/0/backend/%s/%u/%u", type, frontend,
             devid);
    return 0;
}

void sim_back_write(struct sim_back *k, const char *dir, const char *key, const char *val)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    xs_write_str(k->xs, XS_TXN_NONE, path, val);
}

void sim_back_set_state(struct sim_back *k, enum xenbus_state s)
{
    char v[8];
    snprintf(v, sizeof(v), "%u", s);
    sim_back_write(k, k->be_path, "state", v);
}

long long sim_back_read_fe(struct sim_back *k, const char *key, long long def)
{
    char path[160];
    long long v = def;
    snprintf(path, sizeof(path), "%s/%s", k->fe_path, key);
    if (xs_read_int(k->xs, XS_TXN_NONE, path, &v) != 0)
        v = def;
    return v;
}

static void sim_back_write_keys(struct sim_back *k, const char *dir, const char *const *kv)
{
    for (; kv && kv[0]; kv += 2)
        sim_back_write(k, dir, kv[0], kv[1]);
}

void sim_back_announce(struct sim_back *k, const char *const *fe_keys, const char *const *be_keys)
{
    char v[16], owner[16], rd[16], p2[160];
    sim_back_write(k, k->fe_path, "backend", k->be_path);
    sim_back_write(k, k->fe_path, "backend-id", "0");
    sim_back_write_keys(k, k->fe_path, fe_keys);
    snprintf(v, sizeof(v), "%u", XenbusStateInitialising);
    sim_back_write(k, k->fe_path, "state", v);
    snprintf(owner, sizeof(owner), "n%u", k->fe);
    const char *fe_perms[2] = { owner, "r0" };
    xs_set_perms(k->xs, XS_TXN_NONE, k->fe_path, fe_perms, 2);
    snprintf(p2, sizeof(p2), "%s/state", k->fe_path);
    xs_set_perms(k->xs, XS_TXN_NONE, p2, fe_perms, 2);
    sim_back_write(k, k->be_path, "frontend", k->fe_path);
    snprintf(rd, sizeof(rd), "r%u", k->fe);
    const char *be_perms[2] = { "n0", rd };
    xs_set_perms(k->xs, XS_TXN_NONE, k->be_path, be_perms, 2);
    snprintf(v, sizeof(v), "%u", k->fe);
    sim_back_write(k, k->be_path, "frontend-id", v);
    sim_back_write_keys(k, k->be_path, be_keys);
}

void sim_back_kick_locked(struct sim_back *k)
{
    k->kick = true;
    pthread_cond_signal(&k->c);
}

gp_port_t sim_back_bind_fe_port(struct sim_back *k, const char *key)
{
    long long port = sim_back_read_fe(k, key, -1);
    gp_port_t lport;
    if (port <= 0 || sim_evtchn_bind_interdomain(k->x, 0, k->fe, (gp_port_t)port, &lport) != 0)
        return 0;
    return lport;
}

bool sim_back_wait_kick_locked(struct sim_back *k)
{
    for (;;) {
        while (!k->kick && !k->stop)
            pthread_cond_wait(&k->c, &k->m);
        k->kick = false;
        if (k->stop)
            return false;
        if (k->connected)
            return true;
    }
}

void sim_back_event(void *arg, gp_port_t port)
{
    struct sim_back *k = arg;
    (void)port;
    pthread_mutex_lock(&k->m);
    sim_back_kick_locked(k);
    pthread_mutex_unlock(&k->m);
}

void sim_back_unlock(struct sim_back *k)
{
    sim_back_unlock_and_close(&k->m, &k->unbind, k->p);
}

static void sim_back_fe_changed(void *arg, const char *path, const char *token)
{
    struct sim_back *k = arg;
    (void)path;
    (void)token;
    pthread_mutex_lock(&k->state_m);
    k->ops->fe_transition(k->dev);
    pthread_mutex_unlock(&k->state_m);
}

/* The toolstack's save/restore: the old backend instance goes away with
 * the old domain; the new one waits in InitWait for the restored frontend. */
static void sim_back_restore_hook(void *arg, gp_domid_t domid, enum sim_restore_phase phase)
{
    struct sim_back *k = arg;
    if (domid != k->fe)
        return;
    pthread_mutex_lock(&k->state_m);
    if (phase == SIM_RESTORE_BEFORE) {
        pthread_mutex_lock(&k->m);
        k->ops->disconnect_locked(k->dev);
        sim_back_unlock(k);
        sim_back_set_state(k, XenbusStateClosed);
    } else {
        sim_back_set_state(k, XenbusStateInitWait);
    }
    pthread_mutex_unlock(&k->state_m);
}

int sim_back_start(struct sim_back *k, void *(*worker)(void *))
{
    sim_back_set_state(k, XenbusStateInitWait);
    pthread_create(&k->thread, NULL, worker, k->dev);
    sim_xen_add_restore_hook(k->x, sim_back_restore_hook, k);
    char p2[160];
    snprintf(p2, sizeof(p2), "%s/state", k->fe_path);
    return xs_watch_add(k->xs, p2, sim_back_fe_changed, k, &k->fe_watch) == 0 ? 0 : -1;
}

void sim_back_stop(struct sim_back *k)
{
    sim_xen_remove_restore_hook(k->x, sim_back_restore_hook, k);
    if (k->fe_watch)
        xs_watch_remove(k->xs, k->fe_watch);
    pthread_mutex_lock(&k->m);
    k->stop = true;
    pthread_cond_signal(&k->c);
    pthread_mutex_unlock(&k->m);
    pthread_join(k->thread, NULL);
    pthread_mutex_lock(&k->m);
    k->ops->disconnect_locked(k->dev);
    sim_back_unlock(k);
}

void sim_back_fini(struct sim_back *k)
{
    xs_rm(k->xs, XS_TXN_NONE, k->be_path);
    xs_client_destroy(k->xs);
    sim_xenstored_direct_close(sim_xen_xenstored(k->x), k->xs_link);
    pthread_cond_destroy(&k->c);
    pthread_mutex_destroy(&k->m);
    pthread_mutex_destroy(&k->state_m);
}
