/* The power manager: system power IRPs (IRP_MJ_POWER with SystemPowerState)
 * sent to the top of every device stack of the machine, in the order
 * Microsoft documents: going to sleep (S4 here), IRP_MN_QUERY_POWER to
 * every stack and then IRP_MN_SET_POWER, each time the stacks farthest
 * from the root first (a bus's children before the bus); waking (S0),
 * IRP_MN_SET_POWER alone, the root's side first (the bus before its
 * children).  Device power IRPs (DevicePowerState) are what a stack's
 * power policy owner requests (PoRequestPowerIrp: the power manager sends
 * them to the top of that stack); the host's StorPort model requests them
 * for the disks (wh_storport.c).
 *
 * The rules checked on each power IRP: it is sent at PASSIVE_LEVEL to a
 * stack whose PDO is DO_POWER_PAGABLE and at DISPATCH_LEVEL otherwise (a
 * stack on the paging or hibernation path: Microsoft documents that such
 * DispatchPower routines can be called at DISPATCH_LEVEL); every dispatch
 * routine returns at the IRQL it was called at (IofCallDriver); the IRP
 * comes back to the power manager exactly once (IofCompleteRequest), and
 * within 20 s; a SET_POWER is never failed and reaches the PDO (only the
 * bus driver completes it), passed down with PoCallDriver or IoCallDriver
 * (both are right from Windows Vista on; PoStartNextPowerIrp is not
 * needed there and does nothing).  A stack with a function driver gets a
 * device set-power IRP from its power policy owner for each system
 * set-power IRP (Microsoft: "must send a device set-power IRP for each
 * system set-power IRP, even if the device is already in the correct
 * device power state"), requested while the system IRP is under way.
 * PoRequestPowerIrp (IRQL <= DISPATCH_LEVEL) sends the device IRP from a
 * thread of its own, at the stack's IRQL, and calls the caller's
 * completion function once the IRP is done.  Not modelled:
 * IRP_MN_WAIT_WAKE, IRP_MN_POWER_SEQUENCE, idle detection,
 * DO_POWER_INRUSH, power relations. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wh.h"

/* The power IRPs under way (a device IRP is sent while its system IRP is
 * being handled): did each reach its stack's PDO? */
#define MAX_NESTED 4
static pthread_mutex_t pw_m = PTHREAD_MUTEX_INITIALIZER;
static struct { struct wh_irp *irp; struct wh_device_object *pdo; bool reached; } under_way[MAX_NESTED];
unsigned wh_power_irps_sent;
/* Device set-power IRPs sent to each stack (by its top) since the last look. */
#define MAX_STACKS 24
static struct { struct wh_device_object *top; unsigned n; } dsets[MAX_STACKS];

static void count_dset(struct wh_device_object *top)
{
    pthread_mutex_lock(&pw_m);
    for (int i = 0; i < MAX_STACKS; i++)
        if (dsets[i].top == top || !dsets[i].top) {
            dsets[i].top = top;
            dsets[i].n++;
            break;
        }
    pthread_mutex_unlock(&pw_m);
}

static unsigned take_dsets(struct wh_device_object *top)
{
    unsigned n = 0;
    pthread_mutex_lock(&pw_m);
    for (int i = 0; i < MAX_STACKS; i++)
        if (dsets[i].top == top) {
            n = dsets[i].n;
            dsets[i].n = 0;
        }
    pthread_mutex_unlock(&pw_m);
    return n;
}

void wh_power_seen(struct wh_device_object *d, struct wh_irp *irp)
{
    pthread_mutex_lock(&pw_m);
    for (int i = 0; i < MAX_NESTED; i++)
        if (under_way[i].irp == irp && under_way[i].pdo == d)
            under_way[i].reached = true;
    pthread_mutex_unlock(&pw_m);
}

static const char *power_name(uint8_t minor, uint32_t type, uint32_t state)
{
    static _Thread_local char s[48];
    snprintf(s, sizeof(s), "%s %c%u", minor == WH_IRP_MN_SET_POWER ? "SET_POWER" : "QUERY_POWER",
             type == WH_SystemPowerState ? 'S' : 'D', state - 1);
    return s;
}

NTSTATUS_ wh_power_irp(struct wh_device_object *pdo, uint8_t minor, uint32_t type, uint32_t state,
                       uint32_t action)
{
    struct wh_device_object *top = wh_stack_top(pdo);
    struct wh_irp *irp = wh_irp_alloc(top->StackSize);
    irp->IoStatus.Status = WH_STATUS_NOT_SUPPORTED;   /* as the power manager sends them */
    struct wh_io_stack_location *sl = wh_irp_next_sl(irp);
    sl->MajorFunction = WH_IRP_MJ_POWER;
    sl->MinorFunction = minor;
    sl->Parameters.Power.Type = type;
    sl->Parameters.Power.State = state;
    sl->Parameters.Power.ShutdownType = action;
    int slot = -1;
    pthread_mutex_lock(&pw_m);
    for (int i = 0; i < MAX_NESTED && slot < 0; i++)
        if (!under_way[i].irp) {
            slot = i;
            under_way[i].irp = irp;
            under_way[i].pdo = pdo;
            under_way[i].reached = false;
        }
    pthread_mutex_unlock(&pw_m);
    if (slot < 0)
        wh_fatal("wh_power: more than %d power IRPs nested", MAX_NESTED);
    if (type == WH_DevicePowerState && minor == WH_IRP_MN_SET_POWER)
        count_dset(top);
    uint8_t old = wh_irql;
    wh_irql = pdo->Flags & WH_DO_POWER_PAGABLE ? WH_PASSIVE_LEVEL : WH_DISPATCH_LEVEL;
    wh_power_irps_sent++;
    NTSTATUS_ st = wh_irp_send(top, irp);
    wh_irql = old;
    pthread_mutex_lock(&pw_m);
    bool reached = under_way[slot].reached;
    under_way[slot].irp = NULL;
    pthread_mutex_unlock(&pw_m);
    const char *what = power_name(minor, type, state);
    if (st != WH_STATUS_PENDING) {               /* (never completed: reported already) */
        if (minor == WH_IRP_MN_SET_POWER && !WH_NT_SUCCESS(st))
            wh_violation("IRP_MJ_POWER", "%s failed with 0x%08x: a set-power IRP may not fail",
                         what, (unsigned)st);
        if (minor == WH_IRP_MN_SET_POWER && !reached)
            wh_violation("IRP_MJ_POWER", "%s completed above the PDO %p: only the bus driver "
                         "completes it", what, (void *)pdo);
        wh_irp_free(irp);
    }
    if (getenv("WH_VERBOSE"))
        fprintf(stderr, "wh: power: %s to the stack of PDO %p at IRQL %u: 0x%08x\n", what,
                (void *)pdo, pdo->Flags & WH_DO_POWER_PAGABLE ? 0 : 2, (unsigned)st);
    return st;
}

/* The machine's stacks: each child of the bus (those still present), and
 * the bus itself on its PCI PDO. */
static unsigned stacks(struct wh_bus *b, struct wh_device_object **out, bool children_first)
{
    unsigned n = 0;
    if (!children_first)
        out[n++] = b->pci_pdo;
    for (unsigned i = 0; i < b->nchild; i++)
        if (!b->child[i].gone)
            out[n++] = b->child[i].pdo;
    if (children_first)
        out[n++] = b->pci_pdo;
    return n;
}

int wh_power_system(struct wh_bus *b, uint32_t sstate, uint32_t action)
{
    struct wh_device_object *order[WH_MAX_CHILDREN + 1];
    bool sleeping = sstate != WH_PowerSystemWorking;
    unsigned n = stacks(b, order, sleeping);
    int failed = 0;
    if (sleeping)
        for (unsigned i = 0; i < n; i++) {
            NTSTATUS_ st = wh_power_irp(order[i], WH_IRP_MN_QUERY_POWER, WH_SystemPowerState,
                                        sstate, action);
            if (!WH_NT_SUCCESS(st)) {
                fprintf(stderr, "wh: power: QUERY_POWER S%u vetoed by the stack of %p: 0x%08x\n",
                        sstate - 1, (void *)order[i], (unsigned)st);
                failed = -1;
            }
        }
    if (failed)
        return failed;
    for (unsigned i = 0; i < n; i++) {
        struct wh_device_object *top = wh_stack_top(order[i]);
        take_dsets(top);
        if (!WH_NT_SUCCESS(wh_power_irp(order[i], WH_IRP_MN_SET_POWER, WH_SystemPowerState, sstate,
                                        action)))
            failed = -1;
        if (order[i]->AttachedDevice && !take_dsets(top))
            wh_violation("IRP_MJ_POWER", "SET_POWER S%u: the power policy owner of the stack of "
                         "PDO %p (driver of %p) sent no device set-power IRP for it", sstate - 1,
                         (void *)order[i], (void *)top);
    }
    return failed;
}

/* ---- PoRequestPowerIrp ------------------------------------------------------------ */
typedef void WH_MSABI (*power_complete_fn)(struct wh_device_object *, uint8_t, uint32_t, void *,
                                           struct wh_io_status_block *);
struct power_request {
    struct wh_device_object *pdo, *dev;
    uint8_t minor;
    uint32_t state;
    power_complete_fn fn;
    void *ctx;
};

static void *power_request_main(void *arg)
{
    struct power_request *r = arg;
    wh_thread_enter();
    wh_irql = WH_PASSIVE_LEVEL;
    NTSTATUS_ st = wh_power_irp(r->pdo, r->minor, WH_DevicePowerState, r->state, 0);
    if (r->fn) {
        struct wh_io_status_block io = { .Status = st };
        uint8_t at = r->pdo->Flags & WH_DO_POWER_PAGABLE ? WH_PASSIVE_LEVEL : WH_DISPATCH_LEVEL;
        wh_irql = at;
        r->fn(r->dev, r->minor, r->state, r->ctx, &io);
        if (wh_irql != at)
            wh_violation("PoRequestPowerIrp", "completion function %p returned at IRQL %u, called "
                         "at %u", (void *)r->fn, wh_irql, at);
        wh_irql = WH_PASSIVE_LEVEL;
    }
    free(r);
    wh_work_done();
    return NULL;
}

WH_DDI(NTSTATUS_, PoRequestPowerIrp, struct wh_device_object *dev, uint8_t minor, uint32_t state,
       void *fn, void *ctx, struct wh_irp **out)
{
    wh_irql_max("PoRequestPowerIrp", WH_DISPATCH_LEVEL);
    if (minor != WH_IRP_MN_SET_POWER && minor != WH_IRP_MN_QUERY_POWER)
        wh_fatal("PoRequestPowerIrp: minor 0x%x is not implemented by the host", minor);
    if (out)
        wh_fatal("PoRequestPowerIrp: returning the IRP is not implemented by the host");
    if (!wh_device_exists(dev)) {
        wh_violation("PoRequestPowerIrp", "%p is not a live device object", (void *)dev);
        return WH_STATUS_INVALID_PARAMETER;
    }
    struct power_request *r = calloc(1, sizeof(*r));
    *r = (struct power_request){ wh_stack_bottom(dev), dev, minor, state, (power_complete_fn)fn,
                                 ctx };
    wh_work_begin();
    wh_run_detached(power_request_main, r, "PoRequestPowerIrp");
    return WH_STATUS_PENDING;
}
WH_EXPORT(PoRequestPowerIrp);
