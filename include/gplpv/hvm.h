/*
 * hvm: bringing the core up on an HVM guest, as xenpci does on Windows:
 * Xen detection through the CPUID hypervisor leaves, the way hypercalls
 * are made (VMCALL or VMMCALL by CPU vendor; Xen's hypercall page only
 * for a vendor the core does not know),
 * shared_info and grant-table frames placed with add-to-physmap, the
 * xenstore and console parameters, the event-channel upcall route, and
 * the Xen services (struct gp_xen, hvm_platform_xen) served by the core's
 * own gnttab, evtchn and xs_ring modules.  Also the re-mapping a restored
 * domain needs.  Every step logs a clear error and undoes what it did.
 */
#ifndef GPLPV_HVM_H
#define GPLPV_HVM_H

#include "gplpv/platform.h"

struct hvm;
struct gnttab;
struct evtchn;

struct hvm_info {
    uint32_t cpuid_base;           /* 0x40000000 + 0x100 * n */
    unsigned major, minor;         /* Xen version */
    uint32_t hypercall_msr;
    unsigned hypercall_pages;
    bool vcpu_id_in_cpuid;
    char cpu_vendor[13];           /* CPUID leaf 0: "GenuineIntel", "AuthenticAMD", ... */
    enum gp_hypercall_via hypercall_via;   /* chosen by hvm_platform_attach */
};

#define HVM_MIN_MAJOR 4
#define HVM_MIN_MINOR 0

/* GP_ENODEV: not on Xen; GP_ENOTSUP: Xen older than HVM_MIN_*. */
int hvm_detect(const struct gp_platform *p, struct hvm_info *out);

struct hvm_opts {
    unsigned grant_frames;         /* frames to map (0 = 32, capped by Xen's max) */
    struct gp_xs_transport *xs;    /* offer this link to xenstored instead of the
                                    * shared ring (e.g. dom0's direct link) */
    bool hypercall_page;           /* use Xen's hypercall page even where the
                                    * instruction is known (tests) */
};

/* How hypercalls are made on a CPU of that vendor (CPUID leaf 0's 12
 * characters): VMCALL where Xen runs HVM guests on VT-x (Intel, Centaur,
 * Zhaoxin), VMMCALL where on AMD-V (AMD, Hygon), Xen's hypercall page for
 * any other vendor (its stubs hold whichever instruction the CPU has).
 * Xen does not require the page (docs/guest-guide/x86/hypercall-abi.rst:
 * "use of the hypercall page is not mandatory"). */
enum gp_hypercall_via hvm_hypercall_via_for(const char *cpu_vendor);
/* "VMCALL", "VMMCALL", "page", "none". */
const char *hvm_hypercall_via_name(enum gp_hypercall_via via);

/* Steps reported to 'step' (may be NULL) as they pass or fail, so a test
 * kernel can print them: "detect", "hypercall" (its detail starts with the
 * way chosen: "VMCALL ...", "VMMCALL ...", "page ..."), "shared-info",
 * "grant-frames", "upcall", "xenstore". */
typedef void (*hvm_step_fn)(void *arg, const char *step, int err, const char *detail);

/* Bring the core up on the OS services and arch of 'shell' (its xen is
 * not used, nor written).  On success the Xen services are
 * hvm_platform_xen(*out): the shell puts them in its struct gp_platform. */
int hvm_platform_attach(const struct gp_platform *shell, const struct hvm_opts *o,
                        hvm_step_fn step, void *step_arg, struct hvm **out);
/* The Xen services of the attached platform, served by the core's gnttab,
 * evtchn and xenstore ring.  The same object until hvm_platform_detach
 * (a restored domain keeps it: its xs is the same transport, reconnected). */
const struct gp_xen *hvm_platform_xen(const struct hvm *h);
/* Takes the Xen services back: the shell drops its pointer to them. */
void hvm_platform_detach(struct hvm *h);

/* Just before SCHEDOP_shutdown(suspend): from here on the upcall leaves
 * the shared page alone (see evtchn_suspend) until hvm_platform_resume. */
void hvm_platform_suspend(struct hvm *h);
/* After SCHEDOP_shutdown(suspend) returned: 'cancelled' (rc 1) means the
 * domain resumed where it was; otherwise it is a restored domain and
 * shared_info, grant frames, event channels, the upcall route and the
 * xenstore ring are all set up again (hvm_platform_xen(h)->xs, the same
 * transport on the new ring; the xs client must be resumed on it). */
int hvm_platform_resume(struct hvm *h, bool cancelled);

/* The 'arg' set_upcall received: acknowledge an upcall from an interrupt
 * handler that defers the port scan (see evtchn_upcall_ack). */
bool hvm_upcall_ack(void *upcall_arg, unsigned vcpu);

/* After the OS comes back from hibernation: true if the domain it runs in
 * is a new one (the image was booted again: Xen no longer has our upcall
 * route), false if the power-off never happened (hibernation aborted). */
bool hvm_domain_was_replaced(struct hvm *h);

const struct hvm_info *hvm_get_info(const struct hvm *h);
struct gnttab *hvm_gnttab(struct hvm *h);
struct evtchn *hvm_evtchn(struct hvm *h);

#endif
