/* control: shutdown and sysrq requests from the toolstack (see control.h). */
#include <string.h>

#include "gplpv/control.h"
#include "gplpv/log.h"

struct control {
    const struct gp_platform *plat;
    struct xs_client *xs;
    struct control_ops ops;
    struct xs_watch *shutdown_watch, *sysrq_watch;
};

static const struct {
    const char *word;
    enum control_action action;
} control_words[] = {
    { "poweroff", CONTROL_POWEROFF }, { "halt", CONTROL_HALT },
    { "reboot", CONTROL_REBOOT },     { "suspend", CONTROL_SUSPEND },
    { "hibernate", CONTROL_HIBERNATE },
};

const char *control_action_name(enum control_action a)
{
    for (unsigned i = 0; i < sizeof(control_words) / sizeof(control_words[0]); i++)
        if (control_words[i].action == a)
            return control_words[i].word;
    return "?";
}

struct control_take {
    const char *node;
    char value[32];
};

/* Read the node and clear it in one transaction: whoever commits first
 * owns the request. */
static int control_take_txn(struct xs_client *xs, xs_txn_t t, void *arg)
{
    struct control_take *tk = arg;
    char *v = NULL;
    size_t len = 0;
    tk->value[0] = 0;
    int err = xs_read(xs, t, tk->node, &v, &len);
    if (err == GP_ENOENT)
        return 0;
    if (err)
        return err;
    if (len == 0) {
        xs_free(xs, v);
        return 0;                            /* nothing asked (our own clearing) */
    }
    gp_snprintf(tk->value, sizeof(tk->value), "%s", v);
    xs_free(xs, v);
    return xs_write(xs, t, tk->node, "", 0);
}

/* Take the request waiting in node into tk; false when there is none (or
 * it could not be taken). */
static bool control_take(struct control *c, const char *node, struct control_take *tk)
{
    *tk = (struct control_take){ .node = node };
    return xs_txn_run(c->xs, 10, control_take_txn, tk) == 0 && tk->value[0];
}

static void control_shutdown_changed(void *arg, const char *path, const char *token)
{
    struct control *c = arg;
    (void)path;
    (void)token;
    struct control_take tk;
    if (!control_take(c, "control/shutdown", &tk))
        return;
    for (unsigned i = 0; i < sizeof(control_words) / sizeof(control_words[0]); i++) {
        if (strcmp(tk.value, control_words[i].word) == 0) {
            enum control_action a = control_words[i].action;
            GP_INFO(c->plat, "control: the toolstack asks for %s", tk.value);
            if ((a == CONTROL_SUSPEND && !c->ops.can_suspend) ||
                (a == CONTROL_HIBERNATE && !c->ops.can_hibernate)) {
                GP_ERR(c->plat, "control: %s is not supported here", tk.value);
                return;
            }
            c->ops.shutdown(c->ops.arg, a);
            return;
        }
    }
    GP_ERR(c->plat, "control: unknown shutdown request '%s' ignored", tk.value);
}

static void control_sysrq_changed(void *arg, const char *path, const char *token)
{
    struct control *c = arg;
    (void)path;
    (void)token;
    struct control_take tk;
    if (!control_take(c, "control/sysrq", &tk))
        return;
    if (tk.value[1]) {
        GP_ERR(c->plat, "control: sysrq '%s' is not one key", tk.value);
        return;
    }
    if (c->ops.sysrq)
        c->ops.sysrq(c->ops.arg, tk.value[0]);
}

/* Tell the toolstack what we can do. */
void control_announce(struct control *c)
{
    struct xs_client *xs = c->xs;
    xs_write_str(xs, XS_TXN_NONE, "control/feature-poweroff", "1");
    xs_write_str(xs, XS_TXN_NONE, "control/feature-reboot", "1");
    xs_write_str(xs, XS_TXN_NONE, "control/feature-suspend", c->ops.can_suspend ? "1" : "0");
    xs_write_str(xs, XS_TXN_NONE, "control/feature-s3", "0");
    xs_write_str(xs, XS_TXN_NONE, "control/feature-s4", c->ops.can_hibernate ? "1" : "0");
}

int control_start(const struct gp_platform *p, struct xs_client *xs, const struct control_ops *ops,
                  struct control **out)
{
    struct control *c = gp_zalloc(p, sizeof(*c));
    if (!c)
        return GP_ENOMEM;
    c->plat = p;
    c->xs = xs;
    c->ops = *ops;
    control_announce(c);
    int err = xs_watch_add(xs, "control/shutdown", control_shutdown_changed, c, &c->shutdown_watch);
    if (!err)
        err = xs_watch_add(xs, "control/sysrq", control_sysrq_changed, c, &c->sysrq_watch);
    if (err) {
        control_stop(c);
        return err;
    }
    *out = c;
    return 0;
}

void control_stop(struct control *c)
{
    if (!c)
        return;
    if (c->shutdown_watch)
        xs_watch_remove(c->xs, c->shutdown_watch);
    if (c->sysrq_watch)
        xs_watch_remove(c->xs, c->sysrq_watch);
    gp_free(c->plat, c);
}
