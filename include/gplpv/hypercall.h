/*
 * Hypercalls from the core: every one goes through the platform's arch
 * hypercall gate.  Arguments that are structures are passed by address;
 * the platform hands guest addresses to Xen.
 */
#ifndef GPLPV_HYPERCALL_H
#define GPLPV_HYPERCALL_H

#include "gplpv/platform.h"

#include <xen/xen.h>

static inline long gp_hypercall(const struct gp_platform *p, unsigned op, uintptr_t a1,
                                uintptr_t a2, uintptr_t a3)
{
    if (!p->arch || !p->arch->hypercall)
        return -38;   /* -ENOSYS */
    return gp_arch_hypercall(p, op, a1, a2, a3, 0, 0);
}

static inline long gp_event_channel_op(const struct gp_platform *p, int cmd, void *arg)
{
    return gp_hypercall(p, __HYPERVISOR_event_channel_op, (uintptr_t)cmd, (uintptr_t)arg, 0);
}

static inline long gp_memory_op(const struct gp_platform *p, int cmd, void *arg)
{
    return gp_hypercall(p, __HYPERVISOR_memory_op, (uintptr_t)cmd, (uintptr_t)arg, 0);
}

static inline long gp_hvm_op(const struct gp_platform *p, int cmd, void *arg)
{
    return gp_hypercall(p, __HYPERVISOR_hvm_op, (uintptr_t)cmd, (uintptr_t)arg, 0);
}

static inline long gp_grant_table_op(const struct gp_platform *p, int cmd, void *arg,
                                     unsigned count)
{
    return gp_hypercall(p, __HYPERVISOR_grant_table_op, (uintptr_t)cmd, (uintptr_t)arg, count);
}

static inline long gp_sched_op(const struct gp_platform *p, int cmd, void *arg)
{
    return gp_hypercall(p, __HYPERVISOR_sched_op, (uintptr_t)cmd, (uintptr_t)arg, 0);
}

static inline long gp_xen_version(const struct gp_platform *p, int cmd, void *arg)
{
    return gp_hypercall(p, __HYPERVISOR_xen_version, (uintptr_t)cmd, (uintptr_t)arg, 0);
}

static inline long gp_console_io(const struct gp_platform *p, int cmd, unsigned len,
                                 const char *buf)
{
    return gp_hypercall(p, __HYPERVISOR_console_io, (uintptr_t)cmd, len, (uintptr_t)buf);
}

#endif
