/* suspend: the save/restore sequence (see suspend.h). */
#include <string.h>

#include "gplpv/hypercall.h"
#include "gplpv/log.h"
#include "gplpv/suspend.h"

#include <xen/sched.h>

int suspend_init(struct suspend *s, struct gp_platform *p, struct hvm *h, struct xs_client *xs)
{
    memset(s, 0, sizeof(*s));
    s->plat = p;
    s->hvm = h;
    s->xs = xs;
    s->lock = gp_os_lock_create(p);
    return s->lock ? 0 : GP_ENOMEM;
}

void suspend_fini(struct suspend *s)
{
    if (s->lock)
        gp_os_lock_destroy(s->plat, s->lock);
    s->lock = NULL;
}

int suspend_register(struct suspend *s, const struct suspend_dev *d)
{
    int err = 0;
    gp_os_lock_acquire(s->plat, s->lock);
    if (s->ndevs == SUSPEND_MAX_DEVICES)
        err = GP_ENOSPC;
    else
        s->devs[s->ndevs++] = *d;
    gp_os_lock_release(s->plat, s->lock);
    return err;
}

void suspend_unregister(struct suspend *s, void *arg)
{
    gp_os_lock_acquire(s->plat, s->lock);
    for (unsigned i = 0; i < s->ndevs; i++)
        if (s->devs[i].arg == arg) {
            s->devs[i] = s->devs[--s->ndevs];
            break;
        }
    gp_os_lock_release(s->plat, s->lock);
}

void suspend_set_critical(struct suspend *s,
                          int (*critical)(void *arg, int (*fn)(void *fn_arg), void *fn_arg),
                          void *arg)
{
    s->critical = critical;
    s->critical_arg = arg;
}

struct suspend_window {
    struct suspend *s;
    bool cancelled;
};

/* The part no other CPU may overlap: Xen takes the domain away here and,
 * after a restore, nothing of the old shared pages is valid until the
 * platform is mapped again. */
static int suspend_window_run(void *arg)
{
    struct suspend_window *win = arg;
    struct gp_platform *p = win->s->plat;
    struct sched_shutdown sd = { .reason = SHUTDOWN_suspend };
    hvm_platform_suspend(win->s->hvm);
    long rc = gp_sched_op(p, SCHEDOP_shutdown, &sd);
    win->cancelled = rc == 1;
    if (rc < 0) {
        GP_ERR(p, "suspend: SCHEDOP_shutdown(suspend) failed (%ld): resuming in place", rc);
        win->cancelled = true;
    }
    return hvm_platform_resume(win->s->hvm, win->cancelled);
}

static unsigned suspend_snapshot(struct suspend *s, struct suspend_dev *devs)
{
    struct gp_platform *p = s->plat;
    gp_os_lock_acquire(p, s->lock);
    unsigned n = s->ndevs;
    memcpy(devs, s->devs, n * sizeof(devs[0]));
    gp_os_lock_release(p, s->lock);
    return n;
}

static void suspend_quiesce(struct suspend *s)
{
    struct suspend_dev devs[SUSPEND_MAX_DEVICES];
    unsigned n = suspend_snapshot(s, devs);
    GP_INFO(s->plat, "suspend: quiescing %u device(s)", n);
    /* Watch callbacks first (they may still need a device or xenstore),
     * then the devices, then xenstore itself. */
    xs_client_hold_watches(s->xs);
    for (unsigned i = 0; i < n; i++)
        devs[i].suspend(devs[i].arg);
    xs_client_suspend(s->xs);
}

/* After the domain came back (or did not go): xenstore, then the devices. */
static int suspend_reconnect(struct suspend *s, bool cancelled)
{
    struct gp_platform *p = s->plat;
    struct suspend_dev devs[SUSPEND_MAX_DEVICES];
    unsigned n = suspend_snapshot(s, devs);
    int err = xs_client_resume(s->xs, cancelled ? NULL : p->xen->xs);
    if (err)
        GP_ERR(p, "suspend: xenstore watches not all re-registered: %s", gp_strerror(err));
    int first = 0;
    for (unsigned i = 0; i < n; i++) {
        int e = devs[i].resume(devs[i].arg, cancelled);
        if (e && !first)
            first = e;
    }
    s->count++;
    GP_INFO(p, "suspend: %s, %u device(s) back", cancelled ? "cancelled" : "restored", n);
    return first;
}

int suspend_run(struct suspend *s)
{
    suspend_quiesce(s);
    struct suspend_window win = { .s = s };
    int err = s->critical ? s->critical(s->critical_arg, suspend_window_run, &win)
                          : suspend_window_run(&win);
    if (err) {
        GP_ERR(s->plat, "suspend: the platform did not come back: %s", gp_strerror(err));
        return err;
    }
    int first = suspend_reconnect(s, win.cancelled);
    return first ? first : (win.cancelled ? 1 : 0);
}

void suspend_freeze(struct suspend *s)
{
    GP_INFO(s->plat, "suspend: freezing for hibernation");
    suspend_quiesce(s);
}

static int suspend_thaw_window(void *arg)
{
    struct suspend_window *win = arg;
    return hvm_platform_resume(win->s->hvm, win->cancelled);
}

int suspend_thaw(struct suspend *s, bool new_domain)
{
    struct suspend_window win = { .s = s, .cancelled = !new_domain };
    int err = s->critical ? s->critical(s->critical_arg, suspend_thaw_window, &win)
                          : suspend_thaw_window(&win);
    if (err) {
        GP_ERR(s->plat, "suspend: the platform did not come back after hibernation: %s",
               gp_strerror(err));
        return err;
    }
    return suspend_reconnect(s, !new_domain);
}
