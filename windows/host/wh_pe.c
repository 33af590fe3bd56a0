/* The image loader: maps a PE32+ kernel image as Windows' loader does -
 * headers and sections at their virtual addresses, base relocations
 * applied for wherever the mapping landed, each import bound to the
 * host's own implementation (only those windows/imports-allowed.txt
 * lists: what Windows exports), then each section given the protection
 * its characteristics ask for.  Formats from Microsoft's "PE Format". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wh.h"

#define PE_SCN_EXECUTE 0x20000000u
#define PE_SCN_READ 0x40000000u
#define PE_SCN_WRITE 0x80000000u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

char *wh_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* "ntoskrnl.exe DbgPrintEx" lines; case-insensitive module names. */
static bool allowed(const char *list, const char *module, const char *fn)
{
    char want[256];
    snprintf(want, sizeof(want), "%s %s", module, fn);
    for (const char *l = list; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n == strlen(want) && !strncasecmp(l, want, n))
            return true;
        l = e ? e + 1 : NULL;
    }
    return false;
}

static int fail(const char *path, const char *why)
{
    fprintf(stderr, "wh_pe: %s: %s\n", path, why);
    return -1;
}

int wh_pe_load(const char *path, const char *allowed_path, struct wh_image *img)
{
    size_t flen = 0, alen = 0;
    uint8_t *f = (uint8_t *)wh_read_file(path, &flen);
    char *list = wh_read_file(allowed_path, &alen);
    int rc = -1;
    memset(img, 0, sizeof(*img));
    const char *slash = strrchr(path, '/');
    snprintf(img->name, sizeof(img->name), "%s", slash ? slash + 1 : path);
    if (!f || !list) {
        fail(path, !f ? "cannot read the image" : "cannot read the allowed-imports list");
        goto out;
    }
    if (flen < 0x40 || rd16(f) != 0x5a4d) {
        fail(path, "no MZ header");
        goto out;
    }
    uint32_t pe = rd32(f + 0x3c);
    if (pe + 24 + 240 > flen || rd32(f + pe) != 0x4550) {
        fail(path, "no PE signature");
        goto out;
    }
    const uint8_t *coff = f + pe + 4, *opt = coff + 20;
    uint16_t nsec = rd16(coff + 2), optlen = rd16(coff + 16);
    if (rd16(coff) != 0x8664 || rd16(opt) != 0x20b) {
        fail(path, "not a PE32+ image for x64");
        goto out;
    }
    uint64_t pref_base = rd64(opt + 24);
    uint32_t entry = rd32(opt + 16), size = rd32(opt + 56), hdrs = rd32(opt + 60);
    uint32_t ndirs = rd32(opt + 108);
    const uint8_t *dirs = opt + 112;
    const uint8_t *sec = opt + optlen;
    if (rd16(opt + 68) != 1) {
        fail(path, "not a native (kernel) image");
        goto out;
    }
    uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        fail(path, strerror(errno));
        goto out;
    }
    img->base = base;
    img->size = size;
    memcpy(base, f, hdrs < flen ? hdrs : flen);
    for (unsigned i = 0; i < nsec; i++) {
        const uint8_t *s = sec + 40 * i;
        uint32_t vsize = rd32(s + 8), va = rd32(s + 12), rawsize = rd32(s + 16), raw = rd32(s + 20);
        if ((uint64_t)va + vsize > size || (uint64_t)raw + rawsize > flen) {
            fail(path, "a section lies outside the image or the file");
            goto unmap;
        }
        uint32_t ch = rd32(s + 36);
        if (wh_memory_integrity && (ch & PE_SCN_WRITE) && (ch & PE_SCN_EXECUTE)) {
            fail(path, "a section both writable and executable: memory integrity refuses the image");
            goto unmap;
        }
        memcpy(base + va, f + raw, rawsize < vsize ? rawsize : vsize);
    }
    /* base relocations: the image did not land at its preferred base */
    int64_t delta = (int64_t)((uint64_t)(uintptr_t)base - pref_base);
    if (ndirs > 5 && rd32(dirs + 5 * 8 + 4)) {
        uint32_t rva = rd32(dirs + 40), len = rd32(dirs + 44);
        for (uint32_t off = 0; off + 8 <= len;) {
            uint32_t page = rd32(base + rva + off), blk = rd32(base + rva + off + 4);
            if (blk < 8)
                break;
            for (uint32_t e = 8; e + 2 <= blk; e += 2) {
                uint16_t v = rd16(base + rva + off + e);
                unsigned type = v >> 12, o = v & 0xfff;
                if (type == 0)
                    continue;                            /* IMAGE_REL_BASED_ABSOLUTE: padding */
                if (type != 10) {
                    fail(path, "a base relocation of a type other than DIR64");
                    goto unmap;
                }
                uint64_t *p = (uint64_t *)(base + page + o);
                *p += (uint64_t)delta;
            }
            off += blk;
        }
    } else if (delta && (rd16(coff + 18) & 1)) {
        /* IMAGE_FILE_RELOCS_STRIPPED: it can only run at its preferred base
         * (an image with nothing to relocate has no .reloc and no flag) */
        fail(path, "relocations stripped and not at the preferred base");
        goto unmap;
    }
    /* imports: every one resolved, or all the missing ones named at once */
    unsigned missing = 0;
    if (ndirs > 1 && rd32(dirs + 12)) {
        for (const uint8_t *d = base + rd32(dirs + 8); rd32(d + 12); d += 20) {
            const char *module = (const char *)base + rd32(d + 12);
            uint32_t ilt = rd32(d) ? rd32(d) : rd32(d + 16);
            uint64_t *iat = (uint64_t *)(base + rd32(d + 16));
            for (unsigned i = 0; rd64(base + ilt + 8 * i); i++) {
                uint64_t t = rd64(base + ilt + 8 * i);
                if (t >> 63) {
                    fprintf(stderr, "wh_pe: %s: import by ordinal %u from %s\n", img->name,
                            (unsigned)(t & 0xffff), module);
                    missing++;
                    continue;
                }
                const char *fn = (const char *)base + (uint32_t)t + 2;
                void *impl = allowed(list, module, fn) ? wh_export(fn) : NULL;
                if (!impl) {
                    fprintf(stderr, "wh_pe: %s: import %s!%s %s\n", img->name, module, fn,
                            allowed(list, module, fn) ? "is not implemented by the host"
                                                      : "is not in imports-allowed.txt");
                    missing++;
                }
                iat[i] = (uint64_t)(uintptr_t)impl;
            }
        }
    }
    if (missing) {
        fprintf(stderr, "wh_pe: %s: %u import(s) unresolved\n", img->name, missing);
        goto unmap;
    }
    /* protections: headers read-only, each section as it asks */
    mprotect(base, hdrs, PROT_READ);
    for (unsigned i = 0; i < nsec; i++) {
        const uint8_t *s = sec + 40 * i;
        uint32_t vsize = rd32(s + 8), va = rd32(s + 12), ch = rd32(s + 36);
        int prot = (ch & PE_SCN_READ ? PROT_READ : 0) | (ch & PE_SCN_WRITE ? PROT_WRITE : 0) |
                   (ch & PE_SCN_EXECUTE ? PROT_EXEC : 0);
        uint32_t len = (vsize + 0xfffu) & ~0xfffu;
        if (ch & PE_SCN_EXECUTE)
            wh_trap_patch_text(base + va, vsize);
        if (mprotect(base + va, len, prot)) {
            fail(path, "mprotect of a section failed");
            goto unmap;
        }
    }
    img->entry = base + entry;
    wh_trap_image((uintptr_t)base, size, true);
    rc = 0;
    goto out;
unmap:
    munmap(base, size);
    img->base = NULL;
out:
    free(f);
    free(list);
    return rc;
}

void wh_pe_unload(struct wh_image *img)
{
    if (img->base)
        wh_trap_image((uintptr_t)img->base, img->size, false);   /* kept, inaccessible */
    img->base = NULL;
}

bool wh_pe_contains(const struct wh_image *img, const void *p)
{
    return img->base && (const uint8_t *)p >= img->base && (const uint8_t *)p < img->base + img->size;
}
