/* The memory manager and pool.  Every pool block is made of pages of the
 * simulated domain (taken once from its page pool, contiguous), so that
 * MmGetPhysicalAddress gives frame numbers the simulated Xen knows and
 * what the driver grants or hands to Xen is really the guest's memory.
 * Blocks are whole pages (page-aligned, as Windows aligns blocks of a page
 * or more), filled with a pattern (pool is not zeroed), tracked with their
 * tag so that what is left at unload is named. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wh.h"
#include "os/sim_os.h"
#include "sim.h"

struct block {
    uint8_t *va;
    unsigned pages;
    size_t size;
    uint32_t tag;
    bool driver;          /* the driver's (counted at unload), not the host's */
    bool live;
};

static pthread_mutex_t mem_m = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *arena;
static unsigned arena_pages;
static uint8_t *used;
static struct block *blocks;
static unsigned nblocks, cap_blocks;

int wh_mem_init(unsigned pages)
{
    const struct gp_platform *p = wh_m.raw;
    used = calloc(pages, 1);
    for (unsigned i = 0; i < pages; i++) {
        uint8_t *va = gp_os_page_alloc(p, NULL);
        if (!va || (i && va != arena + (size_t)i * 4096)) {
            fprintf(stderr, "wh_mem: the domain's pages are not contiguous (%u of %u)\n", i, pages);
            return -1;
        }
        if (!i)
            arena = va;
    }
    arena_pages = pages;
    return 0;
}

void *wh_pool_alloc(size_t size, uint32_t tag, bool driver)
{
    unsigned n = (unsigned)((size + 4095) / 4096);
    if (!n)
        n = 1;
    pthread_mutex_lock(&mem_m);
    unsigned run = 0, start = 0;
    for (unsigned i = 0; i < arena_pages && run < n; i++) {
        if (used[i]) {
            run = 0;
            continue;
        }
        if (!run)
            start = i;
        run++;
    }
    uint8_t *va = NULL;
    if (run == n) {
        memset(used + start, 1, n);
        va = arena + (size_t)start * 4096;
        if (nblocks == cap_blocks) {
            cap_blocks = cap_blocks ? cap_blocks * 2 : 256;
            blocks = realloc(blocks, cap_blocks * sizeof(*blocks));
        }
        blocks[nblocks++] = (struct block){ va, n, size, tag, driver, true };
    }
    pthread_mutex_unlock(&mem_m);
    if (va)
        memset(va, 0x5a, (size_t)n * 4096);
    return va;
}

static struct block *find(const void *va)
{
    for (unsigned i = nblocks; i-- > 0;)
        if (blocks[i].live && blocks[i].va == va)
            return &blocks[i];
    return NULL;
}

static void free_block(struct block *b)
{
    memset(b->va, 0xdf, (size_t)b->pages * 4096);
    memset(used + (b->va - arena) / 4096, 0, b->pages);
    b->live = false;
}

/* A block a process still maps (a view of \\Device\\PhysicalMemory), or
 * holding an object a thread waits on, is reported: the process would
 * read and write whatever the pool gives the page to next; the waiter's
 * wait list is gone. */
void wh_pool_free(void *p, const char *ddi)
{
    pthread_mutex_lock(&mem_m);
    struct block *b = find(p);
    size_t len = b ? (size_t)b->pages * 4096 : 0;
    pthread_mutex_unlock(&mem_m);
    if (!b) {
        wh_violation(ddi, "%p is not an allocated pool block (freed twice?)", p);
        return;
    }
    const char *holder = wh_views_holder(p, len);
    if (holder)
        wh_violation(ddi, "pool block %p freed while process '%s' still maps it", p, holder);
    if (wh_waited_in(p, len))
        wh_violation(ddi, "pool block %p freed while a thread waits on an object in it", p);
    pthread_mutex_lock(&mem_m);
    b = find(p);
    if (b)
        free_block(b);
    pthread_mutex_unlock(&mem_m);
}

unsigned wh_pool_outstanding(bool print)
{
    unsigned n = 0;
    pthread_mutex_lock(&mem_m);
    for (unsigned i = 0; i < nblocks; i++) {
        if (!blocks[i].live || !blocks[i].driver)
            continue;
        n++;
        if (print) {
            char tag[5];
            memcpy(tag, &blocks[i].tag, 4);
            tag[4] = 0;
            fprintf(stderr, "  pool block %p: %zu bytes, tag '%s'\n", (void *)blocks[i].va,
                    blocks[i].size, tag);
        }
    }
    pthread_mutex_unlock(&mem_m);
    return n;
}

uint64_t wh_va_to_pa(const void *va)
{
    uint64_t gfn;
    if (!sim_os_va_to_gfn(sim_domain_os(wh_m.dom), va, &gfn))
        return 0;
    return gfn << 12 | ((uintptr_t)va & 0xfff);
}

/* ---- DDIs -------------------------------------------------------------- */
unsigned wh_pool_nx_allocs, wh_pool_exec_allocs, wh_pool_paged_allocs;

enum { NonPagedPool = 0, PagedPool = 1, NonPagedPoolNx = 512 };

/* Executable pool (NonPagedPool is NonPagedPoolExecute) is what memory
 * integrity's rules and Driver Verifier's code integrity check refuse
 * from Windows 8 on; NonPagedPoolNx is a pool type Vista and 7 do not
 * know. */
WH_DDI(void *, ExAllocatePoolWithTag, int type, size_t size, uint32_t tag)
{
    bool paged = (type & 1) != 0;
    wh_irql_max("ExAllocatePoolWithTag", paged ? WH_APC_LEVEL : WH_DISPATCH_LEVEL);
    if (type == NonPagedPool && wh_memory_integrity)
        wh_violation("ExAllocatePoolWithTag", "executable pool (NonPagedPool, tag 0x%08x) with "
                     "memory integrity on: take NonPagedPoolNx", tag);
    if (type == NonPagedPoolNx && wh_ntddi < WH_NTDDI_WIN8)
        wh_violation("ExAllocatePoolWithTag", "pool type NonPagedPoolNx (512) before Windows 8, "
                     "which does not know it");
    if (type != NonPagedPool && type != PagedPool && type != NonPagedPoolNx)
        wh_violation("ExAllocatePoolWithTag", "pool type %d", type);
    __atomic_add_fetch(type == NonPagedPoolNx ? &wh_pool_nx_allocs
                       : type == NonPagedPool ? &wh_pool_exec_allocs : &wh_pool_paged_allocs,
                       1, __ATOMIC_RELAXED);
    if (!tag)
        wh_violation("ExAllocatePoolWithTag", "a zero pool tag");
    if (!size)
        wh_violation("ExAllocatePoolWithTag", "an allocation of 0 bytes");
    return wh_pool_alloc(size, tag, true);
}
WH_EXPORT(ExAllocatePoolWithTag);

WH_DDI(void, ExFreePoolWithTag, void *p, uint32_t tag)
{
    wh_irql_max("ExFreePoolWithTag", WH_DISPATCH_LEVEL);
    pthread_mutex_lock(&mem_m);
    struct block *b = find(p);
    uint32_t had = b ? b->tag : 0;
    pthread_mutex_unlock(&mem_m);
    if (b && tag && had != tag)
        wh_violation("ExFreePoolWithTag", "tag 0x%08x frees a block allocated with 0x%08x", tag, had);
    wh_pool_free(p, "ExFreePoolWithTag");
}
WH_EXPORT(ExFreePoolWithTag);

WH_DDI(void, ExFreePool, void *p)
{
    wh_irql_max("ExFreePool", WH_DISPATCH_LEVEL);
    wh_pool_free(p, "ExFreePool");
}
WH_EXPORT(ExFreePool);

WH_DDI(int64_t, MmGetPhysicalAddress, void *va)
{
    uint64_t pa = wh_va_to_pa(va);
    if (!pa)
        wh_violation("MmGetPhysicalAddress", "%p is not memory the driver was given (stack?)", va);
    return (int64_t)pa;
}
WH_EXPORT(MmGetPhysicalAddress);

/* ---- I/O space: frames of the domain, mapped where the simulator keeps
 * them; each mapping must be undone with the same size. */
struct mapping {
    void *va;
    size_t size;
};
static struct mapping maps[256];

WH_DDI(void *, MmMapIoSpace, int64_t pa, size_t size, int cache)
{
    (void)cache;
    wh_irql_max("MmMapIoSpace", WH_DISPATCH_LEVEL);
    const struct gp_platform *p = wh_m.raw;
    uint64_t gfn = (uint64_t)pa >> 12;
    unsigned n = (unsigned)((((uint64_t)pa & 0xfff) + size + 4095) / 4096);
    uint8_t *va = gp_arch_map_gfn(p, gfn);
    for (unsigned i = 1; va && i < n; i++)
        if (gp_arch_map_gfn(p, gfn + i) != va + (size_t)i * 4096)
            va = NULL;
    if (!va) {
        wh_violation("MmMapIoSpace", "physical 0x%llx (+%zu) is not memory of the domain",
                     (unsigned long long)pa, size);
        return NULL;
    }
    va += pa & 0xfff;
    pthread_mutex_lock(&mem_m);
    for (unsigned i = 0; i < 256; i++)
        if (!maps[i].va) {
            maps[i] = (struct mapping){ va, size };
            break;
        }
    pthread_mutex_unlock(&mem_m);
    return va;
}
WH_EXPORT(MmMapIoSpace);

WH_DDI(void, MmUnmapIoSpace, void *va, size_t size)
{
    wh_irql_max("MmUnmapIoSpace", WH_DISPATCH_LEVEL);
    bool found = false;
    pthread_mutex_lock(&mem_m);
    for (unsigned i = 0; i < 256 && !found; i++)
        if (maps[i].va == va && maps[i].size == size) {
            maps[i].va = NULL;
            found = true;
        }
    pthread_mutex_unlock(&mem_m);
    if (!found)
        wh_violation("MmUnmapIoSpace", "%p (+%zu) was not mapped by MmMapIoSpace", va, size);
}
WH_EXPORT(MmUnmapIoSpace);

unsigned wh_mem_mappings(void)
{
    unsigned n = 0;
    pthread_mutex_lock(&mem_m);
    for (unsigned i = 0; i < 256; i++)
        n += maps[i].va != NULL;
    pthread_mutex_unlock(&mem_m);
    return n;
}

/* Pages described by an MDL, mapped nowhere: the MDL is pool the caller
 * frees with ExFreePool after MmFreePagesFromMdl. */
WH_DDI(struct wh_mdl *, MmAllocatePagesForMdl, int64_t low, int64_t high, int64_t skip, size_t total)
{
    (void)low;
    (void)high;
    (void)skip;
    wh_irql_max("MmAllocatePagesForMdl", WH_APC_LEVEL);
    unsigned n = (unsigned)((total + 4095) / 4096);
    struct wh_mdl *mdl = wh_pool_alloc(sizeof(*mdl) + 8 * (size_t)n, 0x4c444d48 /* HMDL */, true);
    if (!mdl)
        return NULL;
    memset(mdl, 0, sizeof(*mdl));
    uint64_t *pfn = (uint64_t *)(mdl + 1);
    unsigned got = 0;
    for (; got < n; got++) {
        void *pg = wh_pool_alloc(4096, 0x4c444d48, false);
        if (!pg)
            break;
        pfn[got] = wh_va_to_pa(pg) >> 12;
    }
    mdl->Size = (int16_t)(sizeof(*mdl) + 8 * got);
    mdl->ByteCount = got * 4096u;
    return mdl;
}
WH_EXPORT(MmAllocatePagesForMdl);

WH_DDI(void, MmFreePagesFromMdl, struct wh_mdl *mdl)
{
    wh_irql_max("MmFreePagesFromMdl", WH_APC_LEVEL);
    uint64_t *pfn = (uint64_t *)(mdl + 1);
    for (unsigned i = 0; i < mdl->ByteCount / 4096; i++)
        wh_pool_free(arena + (pfn[i] << 12) - (wh_va_to_pa(arena) & ~0xfffull), "MmFreePagesFromMdl");
    mdl->ByteCount = 0;
}
WH_EXPORT(MmFreePagesFromMdl);

/* Only MDLs that already have a system address (nonpaged pool, or mapped):
 * the host has no page tables to map others into. */
WH_DDI(void *, MmMapLockedPagesSpecifyCache, struct wh_mdl *mdl, int8_t mode, int cache, void *addr,
       uint32_t bug_check, int priority)
{
    (void)cache;
    (void)addr;
    (void)bug_check;
    wh_irql_max("MmMapLockedPagesSpecifyCache", WH_DISPATCH_LEVEL);
    if ((priority & 0x40000000) && wh_ntddi < WH_NTDDI_WIN8)
        wh_violation("MmMapLockedPagesSpecifyCache", "MdlMappingNoExecute before Windows 8, "
                     "which does not know it");
    if (mode != 0)
        wh_fatal("MmMapLockedPagesSpecifyCache: UserMode mappings are not implemented by the host");
    if (!(mdl->MdlFlags & 0x5) || !mdl->MappedSystemVa)
        wh_fatal("MmMapLockedPagesSpecifyCache: mapping an MDL's pages is not implemented by the host");
    return mdl->MappedSystemVa;
}
WH_EXPORT(MmMapLockedPagesSpecifyCache);
