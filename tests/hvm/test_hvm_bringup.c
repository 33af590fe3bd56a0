/* The core's HVM bring-up (core/hvm) on the simulated hypervisor:
 * detection across the CPUID range, every step reported, hypercalls by
 * the instruction of the CPU's vendor (VMCALL, VMMCALL; Xen's page only
 * for a vendor the core does not know), failures
 * (no Xen, too old, parameter missing, hypercalls failing midway) giving
 * a clear error and leaving nothing half done, and a working xenstore
 * over the ring afterwards. */
#include "gp_test.h"
#include "gplpv/hvm.h"
#include "gplpv/hypercall.h"
#include "gplpv/log.h"
#include "gplpv/xs.h"
#include "os/sim_os.h"
#include "sim.h"

#include <xen/version.h>

struct steps {
    char names[16][24];
    char details[16][96];
    int errs[16];
    unsigned n;
};

static void record_step(void *arg, const char *step, int err, const char *detail)
{
    struct steps *s = arg;
    if (s->n < 16) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", step);
        snprintf(s->details[s->n], sizeof(s->details[0]), "%s", detail);
        s->errs[s->n++] = err;
    }
}

static void test_default_bringup_and_xenstore(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *g = sim_domain_create_ex(x, 3, &(struct sim_domain_opts){ .no_attach = true });
    REQUIRE(g);
    struct steps st = { .n = 0 };
    struct hvm *h = NULL;
    struct gp_platform *raw = sim_domain_raw_platform(g);
    REQUIRE(hvm_platform_attach(raw, NULL, record_step, &st, &h) == 0);
    CHECK(raw->xen == NULL);                    /* the shell's platform is not written */
    struct gp_platform plat = *raw;
    plat.xen = hvm_platform_xen(h);
    const struct gp_platform *p = &plat;
    const char *want[] = { "detect", "hypercall", "shared-info", "grant-frames", "upcall",
                           "xenstore" };
    CHECK_EQ(st.n, 6);
    for (unsigned i = 0; i < 6 && i < st.n; i++) {
        CHECK_STR(st.names[i], want[i]);
        CHECK_EQ(st.errs[i], 0);
    }
    CHECK_EQ(hvm_get_info(h)->cpuid_base, 0x40000000u);
    CHECK_EQ(hvm_get_info(h)->major, 4);
    CHECK_EQ(hvm_get_info(h)->minor, 17);
    struct xs_client *c = NULL;
    REQUIRE(xs_client_create(p, NULL, &c) == 0);
    char *v = NULL;
    CHECK_EQ(xs_read(c, XS_TXN_NONE, "domid", &v, NULL), 0);
    CHECK_STR(v, "3");
    xs_free(c, v);
    CHECK_EQ(xs_write_str(c, XS_TXN_NONE, "data/hello", "world"), 0);
    xs_client_destroy(c);
    hvm_platform_detach(h);
    sim_domain_destroy(g);
    sim_xen_destroy(x);
}

static void test_viridian_first_then_xen(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *g = sim_domain_create_ex(x, 4, &(struct sim_domain_opts){ .viridian = true });
    REQUIRE(g);
    CHECK_EQ(hvm_get_info(sim_domain_hvm(g))->cpuid_base, 0x40000100u);
    sim_domain_destroy(g);
    sim_xen_destroy(x);
}

static void test_no_xen_and_too_old(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *g = sim_domain_create_ex(
        x, 4, &(struct sim_domain_opts){ .no_xen = true, .no_attach = true });
    REQUIRE(g);
    struct hvm_info info;
    CHECK_EQ(hvm_detect(sim_domain_raw_platform(g), &info), GP_ENODEV);
    struct hvm *h = NULL;
    struct steps st = { .n = 0 };
    CHECK_EQ(hvm_platform_attach(sim_domain_raw_platform(g), NULL, record_step, &st, &h), GP_ENODEV);
    CHECK_EQ(st.n, 1);
    CHECK(st.errs[0] != 0);
    sim_domain_destroy(g);
    struct sim_domain *old = sim_domain_create_ex(
        x, 5, &(struct sim_domain_opts){ .xen_major = 3, .xen_minor = 4, .no_attach = true });
    REQUIRE(old);
    sim_os_set_quiet(sim_domain_os(old), true);
    CHECK_EQ(hvm_detect(sim_domain_raw_platform(old), &info), GP_ENOTSUP);
    CHECK(sim_os_error_count(sim_domain_os(old)) > 0);
    sim_domain_destroy(old);
    sim_xen_destroy(x);
}

static void test_store_param_missing(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *g = sim_domain_create_ex(
        x, 6, &(struct sim_domain_opts){ .no_store_param = true, .no_attach = true });
    REQUIRE(g);
    sim_os_set_quiet(sim_domain_os(g), true);
    struct steps st = { .n = 0 };
    struct hvm *h = NULL;
    CHECK_EQ(hvm_platform_attach(sim_domain_raw_platform(g), NULL, record_step, &st, &h), GP_ENODEV);
    REQUIRE(st.n == 6);
    CHECK_STR(st.names[5], "xenstore");
    CHECK(st.errs[5] != 0);
    /* Nothing half-attached remains: no hvm handed out, no services. */
    CHECK(h == NULL);
    CHECK(sim_domain_raw_platform(g)->xen == NULL);
    sim_domain_destroy(g);
    sim_xen_destroy(x);
}

static void test_hypercalls_failing_midway_unwind(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true, .seed = 99 });
    struct sim_domain *g = sim_domain_create_ex(x, 7, &(struct sim_domain_opts){ .no_attach = true });
    REQUIRE(g);
    sim_os_set_quiet(sim_domain_os(g), true);
    struct gp_platform *p = sim_domain_raw_platform(g);
    sim_fault_set(x, SIM_FAULT_HYPERCALL_FAIL, 100000);   /* 10 % */
    unsigned failed_at[8] = { 0 };
    unsigned successes = 0;
    for (int i = 0; i < 30; i++) {
        struct steps st = { .n = 0 };
        struct hvm *h = NULL;
        int err = hvm_platform_attach(p, NULL, record_step, &st, &h);
        if (err) {
            CHECK(st.n > 0 && st.errs[st.n - 1] != 0);
            if (st.n <= 8)
                failed_at[st.n - 1]++;
            CHECK(h == NULL && p->xen == NULL);
        } else {
            successes++;
            hvm_platform_detach(h);
        }
    }
    sim_fault_set(x, SIM_FAULT_HYPERCALL_FAIL, 0);
    unsigned later = 0;
    for (int i = 2; i < 8; i++)
        later += failed_at[i];
    CHECK(later > 0);           /* some failures happened after shared_info was mapped */
    struct hvm *h = NULL;
    CHECK_EQ(hvm_platform_attach(p, NULL, NULL, NULL, &h), 0);
    hvm_platform_detach(h);
    (void)successes;
    sim_domain_destroy(g);
    sim_xen_destroy(x);
}

static void test_vendor_table(void)
{
    CHECK_EQ(hvm_hypercall_via_for("GenuineIntel"), GP_HYPERCALL_VMCALL);
    CHECK_EQ(hvm_hypercall_via_for("CentaurHauls"), GP_HYPERCALL_VMCALL);
    CHECK_EQ(hvm_hypercall_via_for("  Shanghai  "), GP_HYPERCALL_VMCALL);
    CHECK_EQ(hvm_hypercall_via_for("AuthenticAMD"), GP_HYPERCALL_VMMCALL);
    CHECK_EQ(hvm_hypercall_via_for("HygonGenuine"), GP_HYPERCALL_VMMCALL);
    CHECK_EQ(hvm_hypercall_via_for("GenuineIntex"), GP_HYPERCALL_PAGE);
    CHECK_EQ(hvm_hypercall_via_for(""), GP_HYPERCALL_PAGE);
    CHECK_STR(hvm_hypercall_via_name(GP_HYPERCALL_VMCALL), "VMCALL");
    CHECK_STR(hvm_hypercall_via_name(GP_HYPERCALL_VMMCALL), "VMMCALL");
    CHECK_STR(hvm_hypercall_via_name(GP_HYPERCALL_PAGE), "page");
    CHECK_STR(hvm_hypercall_via_name(GP_HYPERCALL_NONE), "none");
}

/* Bring-up on a vCPU of that vendor: the instruction it has, no
 * hypercall page (the MSR never written), every hypercall by it; the
 * "hypercall" step names the instruction; detach works by it too. */
static void bringup_on(const char *vendor, enum gp_hypercall_via want, bool force_page)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *g = sim_domain_create_ex(
        x, 3, &(struct sim_domain_opts){ .no_attach = true, .cpu_vendor = vendor });
    REQUIRE(g);
    struct gp_platform *raw = sim_domain_raw_platform(g);
    struct steps st = { .n = 0 };
    struct hvm *h = NULL;
    unsigned pages = sim_os_pages_in_use(sim_domain_os(g));
    REQUIRE(hvm_platform_attach(raw, &(struct hvm_opts){ .hypercall_page = force_page },
                                record_step, &st, &h) == 0);
    struct gp_platform plat = *raw;
    plat.xen = hvm_platform_xen(h);
    const struct gp_platform *p = &plat;
    CHECK_STR(hvm_get_info(h)->cpu_vendor, vendor);
    CHECK_EQ(hvm_get_info(h)->hypercall_via, want);
    REQUIRE(st.n >= 2);
    CHECK_STR(st.names[1], "hypercall");
    const char *name = hvm_hypercall_via_name(want);
    CHECK(!strncmp(st.details[1], name, strlen(name)) && st.details[1][strlen(name)] == ' ');
    CHECK(strstr(st.details[1], vendor) != NULL);
    struct xs_client *c = NULL;
    REQUIRE(xs_client_create(p, NULL, &c) == 0);
    CHECK_EQ(xs_write_str(c, XS_TXN_NONE, "data/by", name), 0);
    xs_client_destroy(c);
    struct sim_hypercall_stats hs;
    sim_domain_hypercall_stats(g, &hs);
    CHECK_EQ(hs.undefined, 0);
    CHECK_EQ(hs.msr_writes, want == GP_HYPERCALL_PAGE ? 1 : 0);
    unsigned long all = hs.by_vmcall + hs.by_vmmcall + hs.by_page;
    CHECK(all > 5);
    CHECK_EQ(want == GP_HYPERCALL_VMCALL ? hs.by_vmcall
             : want == GP_HYPERCALL_VMMCALL ? hs.by_vmmcall : hs.by_page, all);
    hvm_platform_detach(h);
    sim_domain_hypercall_stats(g, &hs);
    CHECK_EQ(hs.undefined, 0);
    /* The hypercall page, if one was taken, went back with the rest. */
    CHECK_EQ(sim_os_pages_in_use(sim_domain_os(g)), pages);
    sim_domain_destroy(g);
    sim_xen_destroy(x);
}

static void test_hypercall_by_vendor(void)
{
    bringup_on("GenuineIntel", GP_HYPERCALL_VMCALL, false);
    bringup_on("AuthenticAMD", GP_HYPERCALL_VMMCALL, false);
    bringup_on("HygonGenuine", GP_HYPERCALL_VMMCALL, false);
    bringup_on("CentaurHauls", GP_HYPERCALL_VMCALL, false);
    bringup_on("  Shanghai  ", GP_HYPERCALL_VMCALL, false);
}

static void test_hypercall_page_unknown_vendor_or_asked(void)
{
    bringup_on("SomeNewCPUco", GP_HYPERCALL_PAGE, false);
    bringup_on("GenuineIntel", GP_HYPERCALL_PAGE, true);
    bringup_on("AuthenticAMD", GP_HYPERCALL_PAGE, true);
}

/* The simulated vCPU takes only its vendor's instruction: the other one
 * is #UD (counted, -ENOSYS), as on hardware. */
static void test_wrong_instruction_is_undefined(void)
{
    struct sim_xen *x = sim_xen_create(&(struct sim_xen_opts){ .quiet = true });
    struct sim_domain *amd = sim_domain_create_ex(
        x, 3, &(struct sim_domain_opts){ .no_attach = true, .cpu_vendor = "AuthenticAMD" });
    struct sim_domain *intel = sim_domain_create_ex(x, 4, &(struct sim_domain_opts){ .no_attach = true });
    REQUIRE(amd && intel);
    const uintptr_t a[5] = { XENVER_version, 0, 0, 0, 0 };
    long want = (4 << 16) | 17;
    CHECK_EQ(sim_domain_hypercall(amd, GP_HYPERCALL_VMMCALL, __HYPERVISOR_xen_version, a), want);
    CHECK_EQ(sim_domain_hypercall(amd, GP_HYPERCALL_VMCALL, __HYPERVISOR_xen_version, a), -38);
    CHECK_EQ(sim_domain_hypercall(intel, GP_HYPERCALL_VMCALL, __HYPERVISOR_xen_version, a), want);
    CHECK_EQ(sim_domain_hypercall(intel, GP_HYPERCALL_VMMCALL, __HYPERVISOR_xen_version, a), -38);
    CHECK_EQ(sim_domain_hypercall(intel, GP_HYPERCALL_PAGE, __HYPERVISOR_xen_version, a), -38);
    struct sim_hypercall_stats hs;
    sim_domain_hypercall_stats(amd, &hs);
    CHECK_EQ(hs.undefined, 1);
    CHECK_EQ(hs.by_vmmcall, 1);
    sim_domain_hypercall_stats(intel, &hs);
    CHECK_EQ(hs.undefined, 2);
    CHECK_EQ(hs.by_vmcall, 1);
    /* Through the arch ops: none before a way is set, VMCALL refused on
     * AMD. */
    struct gp_platform *p = sim_domain_raw_platform(amd);
    CHECK_EQ(gp_xen_version(p, XENVER_version, NULL), -38);
    uint64_t gfn = 0;
    CHECK_EQ(gp_arch_set_hypercall(p, GP_HYPERCALL_VMCALL, &gfn), 0);
    CHECK_EQ(gp_xen_version(p, XENVER_version, NULL), -38);
    CHECK_EQ(gp_arch_set_hypercall(p, GP_HYPERCALL_VMMCALL, &gfn), 0);
    CHECK_EQ(gp_xen_version(p, XENVER_version, NULL), want);
    CHECK_EQ(gp_arch_set_hypercall(p, GP_HYPERCALL_NONE, &gfn), 0);
    sim_domain_destroy(amd);
    sim_domain_destroy(intel);
    sim_xen_destroy(x);
}

int main(void)
{
    GP_TEST_RUN(test_default_bringup_and_xenstore);
    GP_TEST_RUN(test_viridian_first_then_xen);
    GP_TEST_RUN(test_no_xen_and_too_old);
    GP_TEST_RUN(test_store_param_missing);
    GP_TEST_RUN(test_hypercalls_failing_midway_unwind);
    GP_TEST_RUN(test_vendor_table);
    GP_TEST_RUN(test_hypercall_by_vendor);
    GP_TEST_RUN(test_hypercall_page_unknown_vendor_or_asked);
    GP_TEST_RUN(test_wrong_instruction_is_undefined);
    return gp_test_finish();
}
