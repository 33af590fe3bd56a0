/* hvmkernel memory: a page stack over free RAM above the kernel and a
 * first-fit heap (with coalescing) for the core's allocations.  All RAM
 * below 4 GiB is identity-mapped, so a page's frame number is va >> 12. */
#include "hvmk.h"

#include <string.h>

#define HVMK_HEAP_SIZE (8u << 20)

extern char __kernel_end[];

struct hvmk_free_page {
    struct hvmk_free_page *next;
};

struct hvmk_chunk {
    size_t size;                 /* whole chunk, header included */
    struct hvmk_chunk *next;     /* free list only */
    uint64_t magic;
};
#define HVMK_CHUNK_FREE 0x4652454546524545ull
#define HVMK_CHUNK_USED 0x5553454455534544ull

static volatile uint32_t hvmk_mem_lock_word;

/* Interrupts off and the allocator lock held (the APs allocate too). */
static uint64_t hvmk_mem_lock(void)
{
    uint64_t f = hvmk_irq_save();
    while (__atomic_exchange_n(&hvmk_mem_lock_word, 1, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
    return f;
}

static void hvmk_mem_unlock(uint64_t f)
{
    __atomic_store_n(&hvmk_mem_lock_word, 0, __ATOMIC_RELEASE);
    hvmk_irq_restore(f);
}

static struct hvmk_free_page *hvmk_pages;
static unsigned hvmk_npages_free;
static struct hvmk_chunk *hvmk_heap_free;
static uintptr_t hvmk_heap_lo, hvmk_heap_hi;

void hvmk_mem_init(uint64_t mem_top)
{
    uintptr_t heap = ((uintptr_t)__kernel_end + 4095) & ~(uintptr_t)4095;
    hvmk_heap_lo = heap;
    hvmk_heap_hi = heap + HVMK_HEAP_SIZE;
    hvmk_heap_free = (struct hvmk_chunk *)heap;
    hvmk_heap_free->size = HVMK_HEAP_SIZE;
    hvmk_heap_free->next = NULL;
    hvmk_heap_free->magic = HVMK_CHUNK_FREE;

    if (mem_top > 0xf0000000ull)
        mem_top = 0xf0000000ull;
    /* Push pages high to low so allocation starts at the low end. */
    for (uintptr_t p = (uintptr_t)(mem_top & ~4095ull) - 4096; p >= hvmk_heap_hi; p -= 4096) {
        struct hvmk_free_page *fp = (struct hvmk_free_page *)p;
        fp->next = hvmk_pages;
        hvmk_pages = fp;
        hvmk_npages_free++;
    }
}

void *hvmk_page_alloc(void)
{
    uint64_t f = hvmk_mem_lock();
    struct hvmk_free_page *p = hvmk_pages;
    if (p) {
        hvmk_pages = p->next;
        hvmk_npages_free--;
    }
    hvmk_mem_unlock(f);
    if (p)
        memset(p, 0, 4096);
    return p;
}

void hvmk_page_free(void *va)
{
    if (!va)
        return;
    uint64_t f = hvmk_mem_lock();
    struct hvmk_free_page *p = va;
    p->next = hvmk_pages;
    hvmk_pages = p;
    hvmk_npages_free++;
    hvmk_mem_unlock(f);
}

unsigned hvmk_pages_free(void)
{
    return hvmk_npages_free;
}

void *hvmk_malloc(size_t size)
{
    size_t need = (size + sizeof(struct hvmk_chunk) + 15) & ~(size_t)15;
    uint64_t f = hvmk_mem_lock();
    struct hvmk_chunk **pp = &hvmk_heap_free, *c = NULL;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->size >= need) {
            c = *pp;
            if (c->size - need >= sizeof(struct hvmk_chunk) + 32) {
                struct hvmk_chunk *rest = (struct hvmk_chunk *)((char *)c + need);
                rest->size = c->size - need;
                rest->next = c->next;
                rest->magic = HVMK_CHUNK_FREE;
                c->size = need;
                *pp = rest;
            } else {
                *pp = c->next;
            }
            break;
        }
    }
    hvmk_mem_unlock(f);
    if (!c)
        return NULL;
    c->magic = HVMK_CHUNK_USED;
    c->next = NULL;
    memset(c + 1, 0, c->size - sizeof(*c));
    return c + 1;
}

void hvmk_mfree(void *ptr)
{
    if (!ptr)
        return;
    struct hvmk_chunk *c = (struct hvmk_chunk *)ptr - 1;
    if ((uintptr_t)c < hvmk_heap_lo || (uintptr_t)c >= hvmk_heap_hi || c->magic != HVMK_CHUNK_USED) {
        hvmk_printf("hvmk: FATAL bad free of %p\n", ptr);
        hvmk_exit(3);
    }
    uint64_t f = hvmk_mem_lock();
    c->magic = HVMK_CHUNK_FREE;
    /* Insert by address and merge with neighbours. */
    struct hvmk_chunk **pp = &hvmk_heap_free;
    while (*pp && *pp < c)
        pp = &(*pp)->next;
    c->next = *pp;
    *pp = c;
    if (c->next && (char *)c + c->size == (char *)c->next) {
        c->size += c->next->size;
        c->next = c->next->next;
    }
    if (pp != &hvmk_heap_free) {
        struct hvmk_chunk *prev = (struct hvmk_chunk *)((char *)pp - offsetof(struct hvmk_chunk, next));
        if ((char *)prev + prev->size == (char *)c) {
            prev->size += c->size;
            prev->next = c->next;
        }
    }
    hvmk_mem_unlock(f);
}
