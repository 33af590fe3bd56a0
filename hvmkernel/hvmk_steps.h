/* The steps of the hvmkernel test and how they report. */
#ifndef HVMK_STEPS_H
#define HVMK_STEPS_H

#include <stdbool.h>

void hvmk_step_result(const char *step, bool ok, const char *why);
void hvmk_set_exit_hook(void (*fn)(int code));
/* Quiet: steps that pass are shown but not counted (the second boot). */
void hvmk_steps_quiet(bool quiet);
/* Leave by rebooting (the toolstack asked for it) instead of powering off. */
void hvmk_set_exit_reboot(void);
bool hvmk_exit_is_reboot(void);
/* CPU plumbing steps (hvmk_steps_cpu.c). */
void hvmk_step_smp(const char *cmdline);
void hvmk_step_ioapic(void);
/* Every step that needs Xen (hvmk_xen.c). */
void hvmk_run_xen_steps(const char *cmdline);
/* The phase before which the guest stalls ("stall-before=PHASE"), or "". */
extern char hvmk_stall_before[32];
/* A loopback event channel bound to each vCPU in turn: the upcall must
 * arrive on that vCPU, on every vCPU expected; reported as 'step'. */
void hvmk_step_upcall_every_vcpu(const char *step);

#include <stddef.h>

struct gp_platform;
struct xs_client;
struct blkfront;
struct hvm;
/* The core's blkfront against the real blkback (hvmk_blk.c); the device
 * stays open for the save/restore step. */
struct blkfront *hvmk_step_blkfront(struct gp_platform *plat, struct xs_client *xs);
int hvmk_blk_start_writes(struct blkfront *bf, unsigned round);
bool hvmk_blk_dump_check(struct blkfront *bf, uint64_t sector, unsigned seed, bool quiesce,
                         char *why, size_t len);
bool hvmk_blk_check_writes(struct blkfront *bf, char *why, size_t len);
struct hvmk_net;
/* ATA IDENTIFY on the legacy IDE ports (hvmk_ide.c): the number of ATA
 * disks found, and what is where. */
unsigned hvmk_ide_probe(char *desc, size_t len);
/* Bus services driven from dom0 (hvmk_bus.c). */
void hvmk_step_unplug(struct gp_platform *plat, const char *cmdline);
void hvmk_step_toolstack(struct gp_platform *plat, struct xs_client *xs, struct hvm *h,
                         struct blkfront *bf, struct hvmk_net *net);
void hvmk_step_bugcheck(struct gp_platform *plat);
/* The second boot, after `xl reboot`: back up, then `xl shutdown`. */
void hvmk_step_after_reboot(struct gp_platform *plat);
/* The core's netfront against the real netback (hvmk_net.c); the device
 * stays open for the save/restore step. */
struct hvmk_net;
struct hvmk_net *hvmk_step_netfront(struct gp_platform *plat, struct xs_client *xs);
void hvmk_net_close(struct hvmk_net *n);
/* Its suspend_dev callbacks, and the check once restored. */
void hvmk_net_suspend(void *arg);
int hvmk_net_resume(void *arg, bool cancelled);
void hvmk_step_net_after_restore(struct hvmk_net *n, const char *how);

#endif
