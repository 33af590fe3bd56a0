/* Processes as a driver meets them: the process object IoGetCurrentProcess
 * returns (the thread's own, or the one KeStackAttachProcess attached it
 * to), its object references (ObReferenceObject / ObDereferenceObject),
 * its address space holding the views of \\Device\\PhysicalMemory that
 * ZwMapViewOfSection made in it, and its exit.
 *
 * A scenario creates user processes, puts a thread in one
 * (wh_process_enter) and makes one exit: its address space goes at once
 * (its views with it), then the reference the process held on its own
 * object; when the last reference goes the object is freed, and any later
 * use by a driver (attach, reference) is reported.  The system process
 * never exits.  Checked: a view unmapped in the context of a process
 * that does not hold it (the owner's context is needed: attach first), a
 * pool block freed while a process still maps it, process references a
 * driver still holds at unload.  The memory of a freed object stays
 * mapped, so a late use is reported, not a host crash. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wh.h"

#define MAX_PROCESSES 16
#define MAX_VIEWS 1024
#define SECTION_HANDLE 0x90000000u

struct wh_process {
    uint8_t object[1024];        /* what the driver holds; it never reads it */
    char name[16];
    int refs;                    /* the process's own one until it exits, and drivers' */
    bool exited;                 /* address space gone */
    bool freed;                  /* no reference left */
};

struct view {
    void *va;
    struct wh_process *proc;
};

static pthread_mutex_t ps_m = PTHREAD_MUTEX_INITIALIZER;
static struct wh_process system_process = { .name = "System", .refs = 1 };
static struct wh_process *procs[MAX_PROCESSES] = { &system_process };
static unsigned nprocs = 1;
static struct view views[MAX_VIEWS];
static unsigned sections_open;

static _Thread_local struct wh_process *thread_process;
static _Thread_local struct wh_process *attach_stack[4];
static _Thread_local int attached;

static struct wh_process *current(void)
{
    if (attached)
        return attach_stack[attached - 1];
    return thread_process ? thread_process : &system_process;
}

static struct wh_process *known(const void *obj)       /* ps_m held */
{
    for (unsigned i = 0; i < nprocs; i++)
        if (procs[i] == obj)
            return procs[i];
    return NULL;
}

struct wh_process *wh_process_create(const char *name)
{
    struct wh_process *p = calloc(1, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->refs = 1;
    pthread_mutex_lock(&ps_m);
    if (nprocs == MAX_PROCESSES)
        wh_fatal("more than %d processes", MAX_PROCESSES);
    procs[nprocs++] = p;
    pthread_mutex_unlock(&ps_m);
    return p;
}

struct wh_process *wh_process_enter(struct wh_process *p)
{
    struct wh_process *was = thread_process;
    thread_process = p;
    return was;
}

/* The address space is deleted (the views go with it), then the
 * reference the process held on its object. */
void wh_process_exit(struct wh_process *p)
{
    pthread_mutex_lock(&ps_m);
    for (unsigned i = 0; i < MAX_VIEWS; i++)
        if (views[i].va && views[i].proc == p)
            views[i] = (struct view){ 0 };
    p->exited = true;
    if (--p->refs == 0)
        p->freed = true;
    pthread_mutex_unlock(&ps_m);
}

int wh_process_refs(const struct wh_process *p)
{
    pthread_mutex_lock(&ps_m);
    int n = p->refs;
    pthread_mutex_unlock(&ps_m);
    return n;
}

unsigned wh_process_views(const struct wh_process *p)
{
    unsigned n = 0;
    pthread_mutex_lock(&ps_m);
    for (unsigned i = 0; i < MAX_VIEWS; i++)
        n += views[i].va && views[i].proc == p;
    pthread_mutex_unlock(&ps_m);
    return n;
}

/* References drivers still hold on process objects (each printed). */
unsigned wh_process_refs_held(void)
{
    unsigned n = 0;
    pthread_mutex_lock(&ps_m);
    for (unsigned i = 0; i < nprocs; i++) {
        int own = procs[i]->exited ? 0 : 1;
        if (procs[i]->refs > own) {
            fprintf(stderr, "  process '%s': %d reference(s) held by a driver\n", procs[i]->name,
                    procs[i]->refs - own);
            n += (unsigned)(procs[i]->refs - own);
        }
    }
    pthread_mutex_unlock(&ps_m);
    return n;
}

/* ---- object references ---------------------------------------------------- */
WH_DDI(void, ObfReferenceObject, void *obj)
{
    wh_irql_max("ObfReferenceObject", WH_DISPATCH_LEVEL);
    pthread_mutex_lock(&ps_m);
    struct wh_process *p = known(obj);
    bool late = p && p->freed;
    if (p && !late)
        p->refs++;
    pthread_mutex_unlock(&ps_m);
    if (late)
        wh_violation("ObfReferenceObject", "process object '%s' referenced after its last "
                     "reference went (the process exited)", p->name);
    struct wh_device_object *d = obj;
    if (!p && d->Type == 3)
        __atomic_add_fetch(&d->ReferenceCount, 1, __ATOMIC_RELAXED);
}
WH_EXPORT(ObfReferenceObject);

WH_DDI(void, ObfDereferenceObject, void *obj)
{
    wh_irql_max("ObfDereferenceObject", WH_DISPATCH_LEVEL);
    pthread_mutex_lock(&ps_m);
    struct wh_process *p = known(obj);
    bool bad = p && p->refs <= 0;
    if (p && !bad && --p->refs == 0)
        p->freed = true;
    pthread_mutex_unlock(&ps_m);
    if (bad)
        wh_violation("ObfDereferenceObject", "process object '%s' dereferenced more often than "
                     "it was referenced", p->name);
    struct wh_device_object *d = obj;
    if (!p && d->Type == 3)
        __atomic_sub_fetch(&d->ReferenceCount, 1, __ATOMIC_RELAXED);
}
WH_EXPORT(ObfDereferenceObject);

WH_DDI(void *, IoGetCurrentProcess, void)
{
    wh_irql_max("IoGetCurrentProcess", WH_DISPATCH_LEVEL);
    return current();
}
WH_EXPORT(IoGetCurrentProcess);

WH_DDI(void, KeStackAttachProcess, void *proc, void *apc)
{
    (void)apc;
    wh_irql_max("KeStackAttachProcess", WH_APC_LEVEL);    /* documented: < DISPATCH_LEVEL */
    pthread_mutex_lock(&ps_m);
    struct wh_process *p = known(proc);
    bool freed = p && p->freed;
    pthread_mutex_unlock(&ps_m);
    if (!p)
        wh_violation("KeStackAttachProcess", "%p is not a process object", proc);
    else if (freed)
        wh_violation("KeStackAttachProcess", "process object '%s' used after its last reference "
                     "went (the process exited; its pointer was kept without ObReferenceObject)",
                     p->name);
    if (attached == 4)
        wh_fatal("KeStackAttachProcess nested more than 4 deep");
    attach_stack[attached++] = p ? p : &system_process;
}
WH_EXPORT(KeStackAttachProcess);

WH_DDI(void, KeUnstackDetachProcess, void *apc)
{
    (void)apc;
    wh_irql_max("KeUnstackDetachProcess", WH_APC_LEVEL);
    if (attached == 0)
        wh_violation("KeUnstackDetachProcess", "no KeStackAttachProcess to undo");
    else
        attached--;
}
WH_EXPORT(KeUnstackDetachProcess);

/* ---- \\Device\\PhysicalMemory and its views --------------------------------
 * The host has one address space: the "view" a process gets of a physical
 * page is the page where the simulator keeps it; which process holds it
 * is recorded.  Handles and views are tracked; one left at unload is a
 * leak. */
WH_DDI(NTSTATUS_, ZwOpenSection, uint64_t *h, uint32_t access, void *attrs)
{
    (void)access;
    wh_irql_exact("ZwOpenSection", WH_PASSIVE_LEVEL);
    const struct wh_unicode_string *u = *(struct wh_unicode_string **)((char *)attrs + 0x10);
    char n[96];
    size_t i = 0;
    for (; u && i < u->Length / 2u && i + 1 < sizeof(n); i++)
        n[i] = (char)u->Buffer[i];
    n[i] = 0;
    if (strcasecmp(n, "\\Device\\PhysicalMemory"))
        return WH_STATUS_OBJECT_NAME_NOT_FOUND;
    __atomic_add_fetch(&sections_open, 1, __ATOMIC_RELAXED);
    *h = SECTION_HANDLE;
    return WH_STATUS_SUCCESS;
}
WH_EXPORT(ZwOpenSection);

bool wh_section_close(uint64_t h)
{
    unsigned n = __atomic_load_n(&sections_open, __ATOMIC_RELAXED);
    while (h == SECTION_HANDLE && n)
        if (__atomic_compare_exchange_n(&sections_open, &n, n - 1, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

#define NT_CURRENT_PROCESS ((void *)(intptr_t)-1)

WH_DDI(NTSTATUS_, ZwMapViewOfSection, uint64_t h, void *process, void **base, uint64_t zero_bits,
       uint64_t commit, int64_t *offset, uint64_t *size, int inherit, uint32_t type, uint32_t prot)
{
    (void)zero_bits, (void)commit, (void)inherit, (void)type, (void)prot;
    wh_irql_exact("ZwMapViewOfSection", WH_PASSIVE_LEVEL);
    if (h != SECTION_HANDLE || !offset || !size || (*offset & 0xfff) || *size != 4096)
        wh_fatal("ZwMapViewOfSection: only one page of \\Device\\PhysicalMemory is implemented");
    if (process != NT_CURRENT_PROCESS)
        wh_fatal("ZwMapViewOfSection: only NtCurrentProcess() is implemented");
    void *va = gp_arch_map_gfn(wh_m.raw, (uint64_t)*offset >> 12);
    if (!va)
        return (NTSTATUS_)0xC0000018;                /* STATUS_CONFLICTING_ADDRESSES */
    struct wh_process *p = current();
    NTSTATUS_ st = WH_STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_lock(&ps_m);
    if (p->exited)
        st = (NTSTATUS_)0xC000010A;                  /* STATUS_PROCESS_IS_TERMINATING */
    for (unsigned i = 0; st == WH_STATUS_INSUFFICIENT_RESOURCES && i < MAX_VIEWS; i++)
        if (!views[i].va) {
            views[i] = (struct view){ va, p };
            *base = va;
            st = WH_STATUS_SUCCESS;
        }
    pthread_mutex_unlock(&ps_m);
    return st;
}
WH_EXPORT(ZwMapViewOfSection);

WH_DDI(NTSTATUS_, ZwUnmapViewOfSection, void *process, void *va)
{
    wh_irql_exact("ZwUnmapViewOfSection", WH_PASSIVE_LEVEL);
    if (process != NT_CURRENT_PROCESS)
        wh_fatal("ZwUnmapViewOfSection: only NtCurrentProcess() is implemented");
    struct wh_process *p = current(), *holder = NULL;
    bool done = false;
    pthread_mutex_lock(&ps_m);
    for (unsigned i = 0; !done && i < MAX_VIEWS; i++) {
        if (views[i].va != va)
            continue;
        if (views[i].proc == p) {
            views[i] = (struct view){ 0 };
            done = true;
        } else {
            holder = views[i].proc;
        }
    }
    pthread_mutex_unlock(&ps_m);
    if (done)
        return WH_STATUS_SUCCESS;
    if (holder)
        wh_violation("ZwUnmapViewOfSection", "the view at %p belongs to process '%s' but was "
                     "unmapped in the context of '%s' (attach to the owner first)", va,
                     holder->name, p->name);
    return (NTSTATUS_)0xC0000019;                    /* STATUS_NOT_MAPPED_VIEW */
}
WH_EXPORT(ZwUnmapViewOfSection);

unsigned wh_views_alive(void)
{
    unsigned n = __atomic_load_n(&sections_open, __ATOMIC_RELAXED);
    pthread_mutex_lock(&ps_m);
    for (unsigned i = 0; i < MAX_VIEWS; i++)
        n += views[i].va != NULL;
    pthread_mutex_unlock(&ps_m);
    return n;
}

/* The process still mapping a page of [va, va + len), or NULL. */
const char *wh_views_holder(const void *va, size_t len)
{
    const char *who = NULL;
    pthread_mutex_lock(&ps_m);
    for (unsigned i = 0; !who && i < MAX_VIEWS; i++)
        if (views[i].va && (const char *)views[i].va >= (const char *)va &&
            (const char *)views[i].va < (const char *)va + len)
            who = views[i].proc->name;
    pthread_mutex_unlock(&ps_m);
    return who;
}
