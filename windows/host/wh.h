/*
 * The Windows kernel host: a Linux x86-64 program that loads the real
 * x64 driver images (.sys) and plays Windows' part around them against
 * the simulator's Xen.  One file per Windows component:
 *   wh_pe.c     image loader (sections, relocations, imports, DriverEntry)
 *   wh_trap.c   privileged instructions (CPUID, VMCALL/VMMCALL, MSR, port I/O,
 *               CR8, CLI/STI, the hypercall page, KUSER_SHARED_DATA) and the
 *               per-thread KPCR
 *   wh_irql.c   IRQL, spin locks, fast mutexes, events, DPCs, work items,
 *               the interrupt, and the verifier's record of violations
 *   wh_wait.c   events and waits (KeWaitForSingle/MultipleObjects)
 *   wh_ps.c     processes: IoGetCurrentProcess, attach, object references,
 *               the views of \\Device\\PhysicalMemory in each process
 *   wh_mem.c    pool and memory manager over the simulated domain's pages
 *   wh_io.c     I/O manager: device objects, IRPs, symbolic links
 *   wh_file.c   I/O manager: handles, user-mode DEVICE_CONTROL buffers
 *   wh_rtl.c    Rtl, Dbg, registry and section DDIs, the C library exports
 *   wh_pnp.c    PnP manager: device stacks, START, relations, IDs, removal
 *   wh_power.c  power manager: system and device power IRPs, their order
 *   wh_storport.c  StorPort for xenvbd's I/O path (wh_storport_dma.c: the
 *               HAL's scatter/gather lists and bounce pages)
 *   wh_ndis.c, wh_ndis_adapter.c  NDIS 6.0 for xennet (wh_ndis.h)
 *   wh_main.c   the machine and the scenario runner of `make check` (stage winhost)
 *   wh_scn_*.c  the scenarios (wh_scn.h): xenpci's (wh_scn_pci*.c), xenvbd's
 *               (wh_scn_vbd.c, wh_scn_vbd_life.c: save/restore, hot-add,
 *               hibernation; wh_scn_vbd.h) and xennet's (wh_scn_net.c)
 * GNU extensions used: __attribute__((ms_abi)) on every DDI and on every
 * call into a driver, __builtin_ms_va_list for DbgPrintEx, _Thread_local.
 */
#ifndef GPLPV_WH_H
#define GPLPV_WH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "wh_nt.h"
#include "gplpv/platform.h"

struct sim_domain;

/* Each DDI the host implements is defined as wh_<Name> (ms_abi) and listed
 * with WH_EXPORT(<Name>) in a linker section the loader searches (GNU ld
 * provides __start_/__stop_ symbols for it). */
struct wh_export_entry {
    const char *name;
    void *fn;
};
#define WH_EXPORT(n)                                                                      \
    static const struct wh_export_entry wh_exp_##n                                       \
        __attribute__((used, section("wh_exports"), aligned(16))) = { #n, (void *)wh_##n }
#define WH_DDI(ret, n, ...)                                                               \
    ret WH_MSABI wh_##n(__VA_ARGS__);                                                     \
    ret WH_MSABI wh_##n(__VA_ARGS__)

/* ---- the machine the drivers run on (wh_main.c sets it up) ------------ */
struct wh_machine {
    struct sim_domain *dom;
    const struct gp_platform *raw;   /* the domain's arch ops (and page pool) */
};
extern struct wh_machine wh_m;

/* ---- verifier (wh_irql.c) --------------------------------------------- */
/* A rule broken: recorded, printed, and the scenario fails. */
void wh_violation(const char *ddi, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned wh_violations(void);
bool wh_violation_seen(const char *needle);
/* An unimplemented DDI or instruction: the run cannot go on. */
_Noreturn void wh_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fn(arg) on a detached thread of its own (wh_irql.c); 'who' names the
 * caller in the fatal error when there is no thread. */
void wh_run_detached(void *(*fn)(void *), void *arg, const char *who);
/* A whole file in malloc'd memory with a NUL after it (*len: its size),
 * or NULL (wh_pe.c). */
char *wh_read_file(const char *path, size_t *len);

/* ---- IRQL and threads (wh_irql.c) ------------------------------------- */
extern _Thread_local uint8_t wh_irql;
extern _Thread_local int wh_spinlocks_held;
/* Makes this thread able to run driver code: KPCR in GS, CPUID faulting. */
void wh_thread_enter(void);
/* The IRQL a DDI requires: fails the check naming the DDI if above. */
void wh_irql_max(const char *ddi, uint8_t max);
void wh_irql_exact(const char *ddi, uint8_t want);
/* Called (when set) by KeAcquireSpinLockRaiseToDpc with its caller's
 * address before it takes the lock: scenarios use it to interleave. */
extern void (*volatile wh_lock_hook)(void *caller);
/* Events and waits (wh_wait.c): the lock and broadcast of all dispatcher
 * objects (fast mutexes use them too); a wait on an object inside
 * [va, va+len). */
extern pthread_mutex_t wh_disp_m;
extern pthread_cond_t wh_disp_cv;
bool wh_waited_in(const void *va, size_t len);
/* The calling thread's waits are counted in *n from now on (NULL: no
 * longer): *n is 1 while it waits in a dispatcher wait, 0 otherwise.  A
 * scenario learns by it that its own request thread waits (a count of all
 * waiting threads cannot tell: the driver's own threads come and go). */
void wh_wait_watch(unsigned *n);
unsigned wh_wait_watched(const unsigned *n);
/* Processors (wh_cpus, 1 unless a scenario sets more before the machine
 * starts): each has a DPC queue and thread; CLI on as many threads as
 * there are processors holds the machine (no interrupt, no DPC, no
 * PASSIVE-level driver code) until an STI. */
#define WH_MAX_CPUS 4
extern unsigned wh_cpus;
void wh_interrupt_flag(bool off);
bool wh_machine_held(void);
void wh_processor_wait(void);
/* The interrupt masked (bug check, hibernation file): left pending. */
void wh_interrupts_mask(bool masked);    /* before the host enters a driver at PASSIVE_LEVEL */
extern volatile unsigned wh_held_windows;
void wh_dispatch_start(void);
void wh_dispatch_stop(void);     /* after the last DPC and work item ran */
void wh_dispatch_flush(void);    /* DPCs and work items queued so far have run */
unsigned wh_work_outstanding(void);
void wh_work_begin(void);        /* a host thread working for the drivers ... */
void wh_work_done(void);         /* ... and its end */

/* ---- processes (wh_ps.c) --------------------------------------------- */
struct wh_process;
struct wh_process *wh_process_create(const char *name);
/* The calling thread runs in p from now on (NULL: the system process);
 * returns the one it ran in. */
struct wh_process *wh_process_enter(struct wh_process *p);
/* The address space goes (its views with it), then the process's own
 * reference on its object. */
void wh_process_exit(struct wh_process *p);
int wh_process_refs(const struct wh_process *p);
unsigned wh_process_views(const struct wh_process *p);
unsigned wh_process_refs_held(void);          /* drivers' references, printed */
bool wh_section_close(uint64_t handle);        /* ZwClose of a section handle */
unsigned wh_views_alive(void);                /* section handles and views */
const char *wh_views_holder(const void *va, size_t len);

/* ---- traps (wh_trap.c) ------------------------------------------------ */
void wh_trap_install(void);
void wh_trap_thread(void);       /* per thread: KPCR in GS, CPUID faulting */
void wh_trap_set_processor(unsigned n);   /* this thread's KPRCB.Number */
void wh_trap_image(uintptr_t base, size_t size, bool loaded);
void wh_trap_patch_text(uint8_t *text, size_t len);

/* ---- the Windows the host plays (wh_main.c sets it per scenario) ------- */
/* Its version as RtlIsNtDdiVersionAvailable answers (NTDDI_*: Windows 10
 * unless a scenario says otherwise) and whether memory integrity (HVCI)
 * is on (with Windows 10): then executable pool, and code run outside the
 * images, are violations. */
#define WH_NTDDI_WIN7 0x06010000u
#define WH_NTDDI_WIN8 0x06020000u
#define WH_NTDDI_WIN10 0x0A000000u
extern uint32_t wh_ntddi;
extern bool wh_memory_integrity;

/* ---- memory (wh_mem.c) ------------------------------------------------ */
int wh_mem_init(unsigned pages);
void *wh_pool_alloc(size_t size, uint32_t tag, bool driver);
void wh_pool_free(void *p, const char *ddi);
/* Outstanding driver allocations: count, and a line per block printed. */
unsigned wh_pool_outstanding(bool print);
uint64_t wh_va_to_pa(const void *va);
/* MmMapIoSpace mappings not yet unmapped. */
unsigned wh_mem_mappings(void);
/* ExAllocatePoolWithTag calls so far, by pool type. */
extern unsigned wh_pool_nx_allocs, wh_pool_exec_allocs, wh_pool_paged_allocs;

/* ---- loader (wh_pe.c) ------------------------------------------------- */
struct wh_image {
    uint8_t *base;
    size_t size;
    void *entry;
    char name[64];
};
/* Maps path; on failure prints why (every missing import at once). */
int wh_pe_load(const char *path, const char *allowed_list, struct wh_image *img);
void wh_pe_unload(struct wh_image *img);
bool wh_pe_contains(const struct wh_image *img, const void *p);
/* The host's exports (wh_rtl.c): name -> function, NULL if none. */
void *wh_export(const char *name);
/* Bug-check callbacks registered and not deregistered (wh_rtl.c). */
unsigned wh_bugcheck_callbacks(void);

/* ---- I/O manager (wh_io.c) -------------------------------------------- */
typedef NTSTATUS_ WH_MSABI (*wh_dispatch_fn)(struct wh_device_object *, struct wh_irp *);
typedef NTSTATUS_ WH_MSABI (*wh_add_device_fn)(struct wh_driver_object *, struct wh_device_object *);
typedef void WH_MSABI (*wh_unload_fn)(struct wh_driver_object *);
struct wh_driver_object *wh_driver_create(const char *service);
void wh_driver_destroy(struct wh_driver_object *drv);
unsigned wh_driver_devices(struct wh_driver_object *drv);
/* A bus driver's PDO (the PCI device) made by the host's own "pci" driver. */
struct wh_device_object *wh_pdo_create_host(const char *name);
void wh_device_free_host(struct wh_device_object *d);
struct wh_irp *wh_irp_alloc(int8_t stack_size);
void wh_irp_free(struct wh_irp *irp);
/* Sends a fresh IRP down dev's stack (top of it) and waits for it. */
NTSTATUS_ wh_irp_send(struct wh_device_object *dev, struct wh_irp *irp);
struct wh_io_stack_location *wh_irp_next_sl(struct wh_irp *irp);
struct wh_device_object *wh_stack_top(struct wh_device_object *dev);
struct wh_device_object *wh_stack_bottom(struct wh_device_object *dev);
bool wh_device_exists(const struct wh_device_object *d);
/* A handle on a named device (wh_file.c): IRP_MJ_CREATE with a fresh
 * FILE_OBJECT in the calling thread's process; DEVICE_CONTROLs from user
 * mode with the buffers the code's method declares (wh_file_ioctl: one
 * buffer for input and output); wh_file_dup another handle on it (as
 * DuplicateHandle into another process); wh_file_close closes one handle:
 * CLEANUP after the last, in the caller's process, then CLOSE once no
 * IRP on it is left. */
struct wh_file_object *wh_file_open(struct wh_device_object *dev, NTSTATUS_ *st);
NTSTATUS_ wh_file_ioctl(struct wh_file_object *f, uint32_t code, void *buf, uint32_t len,
                        uint64_t *info);
NTSTATUS_ wh_file_ioctl_user(struct wh_file_object *f, uint32_t code, const void *in,
                             uint32_t inlen, void *out, uint32_t outlen, uint64_t *info);
void wh_file_dup(struct wh_file_object *f);
NTSTATUS_ wh_file_close(struct wh_file_object *f);
/* The host's device objects still alive (not deleted). */
unsigned wh_devices_alive(void);
/* Symbolic links not deleted (each printed). */
unsigned wh_links_alive(void);
/* IoInvalidateDeviceRelations calls (counted). */
extern volatile unsigned wh_relations_invalidated;

/* DDIs the host calls itself */
void WH_MSABI wh_IofCompleteRequest(struct wh_irp *irp, int8_t boost);
int32_t WH_MSABI wh_KeSetEvent(struct wh_kevent *e, int32_t incr, uint8_t wait);
struct wh_device_object *WH_MSABI wh_IoAttachDeviceToDeviceStack(struct wh_device_object *src,
                                                                 struct wh_device_object *target);
void WH_MSABI wh_IoDetachDevice(struct wh_device_object *target);
void WH_MSABI wh_IoDeleteDevice(struct wh_device_object *d);
NTSTATUS_ WH_MSABI wh_IofCallDriver(struct wh_device_object *d, struct wh_irp *irp);
NTSTATUS_ WH_MSABI wh_IoCreateDevice(struct wh_driver_object *drv, uint32_t ext,
                                     struct wh_unicode_string *name, uint32_t type, uint32_t chars,
                                     uint8_t exclusive, struct wh_device_object **out);

/* ---- PnP manager (wh_pnp.c) ------------------------------------------- */
struct wh_child {
    struct wh_device_object *pdo;
    char hwid[128], devid[128], instid[64];
    bool gone;                          /* no longer in BusRelations: removed */
};
#define WH_MAX_CHILDREN 16
struct wh_bus {
    struct wh_image img;
    struct wh_driver_object *drv;
    struct wh_device_object *pci_pdo;   /* the platform PCI device */
    struct wh_device_object *fdo;
    struct wh_child child[WH_MAX_CHILDREN];
    unsigned nchild;
};
int wh_pnp_load(struct wh_bus *b, const char *sys, const char *allowed);
struct wh_driver_object *wh_load_driver(struct wh_image *img, const char *sys, const char *allowed,
                                        bool vbd);
struct wh_driver_object *wh_load_service(struct wh_image *img, const char *sys, const char *allowed,
                                         const char *service);
NTSTATUS_ wh_pnp_add_and_start(struct wh_bus *b);
NTSTATUS_ wh_pnp_enumerate(struct wh_bus *b);
NTSTATUS_ wh_pnp_minor(struct wh_device_object *dev, uint8_t minor, struct wh_irp **keep);
NTSTATUS_ wh_pnp_usage(struct wh_device_object *pdo, uint32_t type, bool in_path);
NTSTATUS_ wh_pnp_remove_all(struct wh_bus *b);
void wh_pnp_unload(struct wh_bus *b);

/* ---- power manager (wh_power.c) ---------------------------------------- */
/* One power IRP to the top of pdo's stack (PASSIVE_LEVEL if the PDO is
 * DO_POWER_PAGABLE, else DISPATCH_LEVEL), waited for; its status. */
NTSTATUS_ wh_power_irp(struct wh_device_object *pdo, uint8_t minor, uint32_t type, uint32_t state,
                       uint32_t action);
/* The system to sstate: QUERY then SET to every stack of the bus, children
 * first (sleeping), or SET alone, the bus first (S0).  0, or -1 on a veto
 * or a failure. */
int wh_power_system(struct wh_bus *b, uint32_t sstate, uint32_t action);
/* IofCallDriver: a power IRP reached device d. */
void wh_power_seen(struct wh_device_object *d, struct wh_irp *irp);
extern unsigned wh_power_irps_sent;

/* ---- StorPort (wh_storport.c) ----------------------------------------- */
struct wh_device_object *wh_storport_fdo(unsigned i);
/* HwStartIo at DISPATCH_LEVEL, then waits for RequestComplete: 0 if it came. */
int wh_storport_srb(struct wh_device_object *fdo, struct wh_srb *srb, unsigned timeout_ms);
/* n SRBs to HwStartIo back to back, then all waited for (each exactly once). */
int wh_storport_srbs(struct wh_device_object *fdo, struct wh_srb **srbs, unsigned n,
                     unsigned timeout_ms);
/* The same in two steps: given to HwStartIo, then waited for (report:
 * an SRB still outstanding at the timeout is a violation). */
int wh_storport_srbs_start(struct wh_device_object *fdo, struct wh_srb **srbs, unsigned n);
int wh_storport_srbs_wait(struct wh_srb **srbs, unsigned n, unsigned timeout_ms, bool report);
unsigned wh_storport_outstanding(void);
/* Surprise removal: how many times HwAdapterControl(ScsiAdapterSurpriseRemoval)
 * was called, and the SRBs still outstanding when REMOVE stopped an
 * adapter (each a violation). */
extern unsigned wh_storport_surprise_notices, wh_storport_stop_outstanding;
/* HwResetBus at DISPATCH_LEVEL (*ok: it returned TRUE); the SRBs still
 * outstanding after it (each a violation). */
unsigned wh_storport_reset_bus(struct wh_device_object *fdo, bool *ok);
/* SRB_FUNCTION_RESET_LOGICAL_UNIT (0x20) or _RESET_DEVICE (0x13) through
 * HwStartIo; the SRBs still outstanding once it completed (each a
 * violation); *status: the reset SRB's SrbStatus (0xff: never completed). */
unsigned wh_storport_reset_unit(struct wh_device_object *fdo, uint8_t function, uint8_t *status);
/* HW_INITIALIZATION_DATA.FeatureSupport of the running miniport. */
uint32_t wh_storport_features(void);
/* The HAL double-buffers the READs and WRITEs of a NeedPhysicalAddresses
 * miniport (wh_storport_dma.c). */
extern bool wh_storport_double_buffer;
/* The dump stack: SRB_FUNCTION_DUMP_POINTERS (NULL if StorPort would not
 * send it), then the bug check and the dump copy at HIGH_LEVEL. */
void *wh_storport_dump_pointers(struct wh_device_object *fdo);
int wh_storport_dump_start(struct wh_image *img, void *handoff);
int wh_storport_dump_srb(struct wh_srb *srb);
void wh_storport_dump_end(void);

/* ---- the interrupt line of the platform PCI device -------------------- */
#define WH_PLATFORM_GSI 28
#define WH_PLATFORM_VECTOR 0x81
#define WH_PLATFORM_DIRQL 8

/* ---- scenarios (wh_scn_*.c) ---------------------------------------------- */
/* A scenario's failed check: counted by wh_main.c, the stage fails. */
void wh_check_failed(void);
#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "  check failed: %s: ", #cond);                                 \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                          \
            wh_check_failed();                                                              \
        }                                                                                   \
    } while (0)

#endif
