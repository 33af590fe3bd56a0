/* Save/restore on the simulated hypervisor: SCHEDOP_shutdown(suspend)
 * restores the guest as a new domain; hvm_platform_resume re-maps and
 * reconnects so event channels and xenstore work again; a cancelled
 * suspend resumes in place.  Also shutdown reasons and console_io. */
#include <unistd.h>

#include "gp_test.h"
#include "gplpv/evtchn.h"
#include "gplpv/hvm.h"
#include "gplpv/hypercall.h"
#include "gplpv/xs.h"
#include "os/sim_os.h"
#include "sim.h"

#include <xen/sched.h>

static atomic_int hook_before, hook_after;

static void hook(void *arg, gp_domid_t domid, enum sim_restore_phase phase)
{
    (void)arg;
    (void)domid;
    atomic_fetch_add(phase == SIM_RESTORE_BEFORE ? &hook_before : &hook_after, 1);
}

static long suspend(const struct gp_platform *p)
{
    struct sched_shutdown s = { .reason = SHUTDOWN_suspend };
    return gp_sched_op(p, SCHEDOP_shutdown, &s);
}

static void test_restore_reconnects_everything(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *d0 = sim_domain_create(x, 0, 256);
    struct sim_domain *g = sim_domain_create(x, 2, 512);
    REQUIRE(d0 && g);
    sim_xen_add_restore_hook(x, hook, NULL);
    struct gp_platform *p = (struct gp_platform *)sim_domain_platform(g);
    struct xs_client *c = NULL;
    REQUIRE(xs_client_create(p, NULL, &c) == 0);
    CHECK_EQ(xs_write_str(c, XS_TXN_NONE, "before", "1"), 0);

    xs_client_suspend(c);
    CHECK_EQ(suspend(p), 0);                           /* restored as a new domain */
    CHECK_EQ(sim_domain_restores(g), 1);
    CHECK_EQ(atomic_load(&hook_before), 1);
    CHECK_EQ(atomic_load(&hook_after), 1);
    REQUIRE(hvm_platform_resume(sim_domain_hvm(g), false) == 0);
    REQUIRE(xs_client_resume(c, p->xen->xs) == 0);
    char *v = NULL;
    CHECK_EQ(xs_read(c, XS_TXN_NONE, "before", &v, NULL), 0);   /* the store kept it */
    CHECK_STR(v, "1");
    xs_free(c, v);
    CHECK_EQ(xs_write_str(c, XS_TXN_NONE, "after", "2"), 0);
    /* Event channels work again with the new shared_info. */
    gp_port_t gp;
    CHECK_EQ(gp_xen_evtchn_alloc_unbound(p, 0, &gp), 0);

    /* A cancelled suspend resumes in place. */
    xs_client_suspend(c);
    sim_domain_cancel_next_suspend(g);
    CHECK_EQ(suspend(p), 1);
    CHECK_EQ(hvm_platform_resume(sim_domain_hvm(g), true), 0);
    CHECK_EQ(xs_client_resume(c, NULL), 0);
    CHECK_EQ(xs_write_str(c, XS_TXN_NONE, "cancelled", "3"), 0);
    CHECK_EQ(sim_domain_restores(g), 1);

    xs_client_destroy(c);
    sim_xen_remove_restore_hook(x, hook, NULL);
    sim_domain_destroy(g);
    sim_domain_destroy(d0);
    sim_xen_destroy(x);
}

static void test_shutdown_reason_and_console(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *g = sim_domain_create(x, 3, 256);
    REQUIRE(g);
    const struct gp_platform *p = sim_domain_platform(g);
    CHECK_EQ(sim_domain_shutdown_reason(g), -1);
    CHECK_EQ(gp_console_io(p, CONSOLEIO_write, 5, "hello"), 0);
    struct sched_shutdown s = { .reason = SHUTDOWN_reboot };
    CHECK_EQ(gp_sched_op(p, SCHEDOP_shutdown, &s), 0);
    CHECK_EQ(sim_domain_shutdown_reason(g), SHUTDOWN_reboot);
    char *con = sim_domain_console(g);
    CHECK_STR(con, "hello");
    free(con);
    sim_domain_destroy(g);
    sim_xen_destroy(x);
}

int main(void)
{
    GP_TEST_RUN(test_restore_reconnects_everything);
    GP_TEST_RUN(test_shutdown_reason_and_console);
    return gp_test_finish();
}
