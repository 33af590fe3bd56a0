/*
 * suspend: save/restore and live migration from the guest's side.  Every
 * device registers; suspend_run quiesces them all, suspends the xenstore
 * client, asks Xen with SCHEDOP_shutdown(suspend), then re-maps the HVM
 * platform (a restored domain has new shared_info, grant frames, event
 * channels and xenstore ring), resumes xenstore and reconnects every
 * device with its requests in flight preserved.  A return value of 1 from
 * the hypercall means the suspend was cancelled: everything resumes in
 * place.  Nothing is allocated on this path (hibernation runs it without a
 * page file).
 */
#ifndef GPLPV_SUSPEND_H
#define GPLPV_SUSPEND_H

#include "gplpv/hvm.h"
#include "gplpv/xs.h"

#define SUSPEND_MAX_DEVICES 32

struct suspend_dev {
    void (*suspend)(void *arg);
    int (*resume)(void *arg, bool cancelled);
    void *arg;
};

struct suspend {
    struct gp_platform *plat;
    struct hvm *hvm;
    struct xs_client *xs;
    struct gp_lock *lock;
    struct suspend_dev devs[SUSPEND_MAX_DEVICES];
    unsigned ndevs;
    unsigned count;                     /* completed suspends */
    /* Optional: runs fn(fn_arg) - the suspend hypercall and the re-mapping
     * of shared_info, grant frames and event channels - with every other
     * CPU held outside the core (Windows: all other processors spinning at
     * HIGH_LEVEL, captured by DPCs so none holds a lock).  NULL: fn runs
     * directly. */
    int (*critical)(void *arg, int (*fn)(void *fn_arg), void *fn_arg);
    void *critical_arg;
};

int suspend_init(struct suspend *s, struct gp_platform *p, struct hvm *h, struct xs_client *xs);
void suspend_fini(struct suspend *s);
int suspend_register(struct suspend *s, const struct suspend_dev *d);
void suspend_unregister(struct suspend *s, void *arg);
void suspend_set_critical(struct suspend *s,
                          int (*critical)(void *arg, int (*fn)(void *fn_arg), void *fn_arg),
                          void *arg);
/* 0 after a restore, 1 when cancelled, or a negative error. */
int suspend_run(struct suspend *s);

/* Hibernation: the OS writes its memory to disk and powers off; the next
 * boot restores the image in a new domain.  suspend_freeze quiesces what
 * suspend_run quiesces (watch callbacks, devices, xenstore) before the OS
 * powers off; suspend_thaw, once the image runs again, maps the platform
 * afresh, resumes xenstore and reconnects every device with its requests
 * kept.  The thaw needs no new page (shared_info, grant frames, the
 * xenstore transport, rings and buffers are all kept): it runs before the
 * OS has its page file back.
 * new_domain false: the power-off did not happen (hibernation aborted). */
void suspend_freeze(struct suspend *s);
int suspend_thaw(struct suspend *s, bool new_domain);

#endif
