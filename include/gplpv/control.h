/*
 * control: the toolstack's requests to the guest (`xl shutdown`, `xl
 * reboot`, `xl save`, `xl sysrq`).  The requests are read from
 * control/shutdown and control/sysrq and acknowledged by clearing the
 * node in the same transaction, so a request is acted on exactly once even
 * when its watch fires twice; the actions go to the OS shell (on Windows
 * the shutdownmon service performs them).  The control/feature-* nodes
 * tell the toolstack what the guest can do.
 */
#ifndef GPLPV_CONTROL_H
#define GPLPV_CONTROL_H

#include "gplpv/xs.h"

enum control_action {
    CONTROL_POWEROFF, CONTROL_REBOOT, CONTROL_HALT, CONTROL_SUSPEND, CONTROL_HIBERNATE,
};

struct control_ops {
    void (*shutdown)(void *arg, enum control_action a);
    void (*sysrq)(void *arg, char key);
    void *arg;
    bool can_suspend, can_hibernate;
};

struct control;
int control_start(const struct gp_platform *p, struct xs_client *xs, const struct control_ops *ops,
                  struct control **out);
void control_stop(struct control *c);
/* Writes the control/feature-* nodes again: a domain restored or resumed
 * from hibernation is a new domain, whose xenstore the toolstack wrote
 * afresh (what the guest wrote there went with the old one). */
void control_announce(struct control *c);
const char *control_action_name(enum control_action a);

#endif
