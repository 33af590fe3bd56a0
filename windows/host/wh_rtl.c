/* Run-time library, debug output, the registry, bug-check callbacks, the
 * C library ntoskrnl exports, and the export table the loader binds
 * imports against. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "wh.h"

/* ---- DbgPrintEx: Windows' format (l = 32 bits, I64 / ll = 64) ----------- */
unsigned wh_debug_lines;
WH_DDI(uint32_t, DbgPrintEx, uint32_t component, uint32_t level, const char *fmt, ...)
{
    (void)component;
    (void)level;
    char out[1024];
    size_t o = 0;
    __builtin_ms_va_list ap;
    __builtin_ms_va_start(ap, fmt);
    for (const char *p = fmt; *p && o + 64 < sizeof(out); p++) {
        if (*p != '%') {
            out[o++] = *p;
            continue;
        }
        p++;
        int longs = 0;
        for (;; p++) {
            if (*p == 'l')
                longs++;
            else if (p[0] == 'I' && p[1] == '6' && p[2] == '4') {
                longs = 2;
                p += 2;
            } else if (*p == 'z' || *p == 'I')
                longs = 2;
            else
                break;
        }
        uint64_t v = 0;
        switch (*p) {
        case 's': {
            const char *s = __builtin_va_arg(ap, const char *);
            o += (size_t)snprintf(out + o, sizeof(out) - o - 1, "%.200s", s ? s : "(null)");
            continue;
        }
        case 'c':
            out[o++] = (char)__builtin_va_arg(ap, int);
            continue;
        case '%':
            out[o++] = '%';
            continue;
        case 'p':
            o += (size_t)snprintf(out + o, sizeof(out) - o - 1, "%p", __builtin_va_arg(ap, void *));
            continue;
        case 'd': case 'i': case 'u': case 'x': case 'X':
            v = longs >= 2 ? __builtin_va_arg(ap, uint64_t) : __builtin_va_arg(ap, uint32_t);
            break;
        default:
            wh_fatal("DbgPrintEx: format '%%%c' not implemented (\"%s\")", *p, fmt);
        }
        const char *f = *p == 'x' ? "%llx" : *p == 'X' ? "%llX" : *p == 'u' ? "%llu" : "%lld";
        if ((*p == 'd' || *p == 'i') && longs < 2)
            v = (uint64_t)(int64_t)(int32_t)v;
        o += (size_t)snprintf(out + o, sizeof(out) - o - 1, f, (unsigned long long)v);
    }
    __builtin_ms_va_end(ap);
    out[o] = 0;
    if (getenv("WH_VERBOSE"))
        fprintf(stderr, "  dbg| %s", out);
    __atomic_add_fetch(&wh_debug_lines, 1, __ATOMIC_RELAXED);
    return 0;
}
WH_EXPORT(DbgPrintEx);

WH_DDI(void, RtlInitUnicodeString, struct wh_unicode_string *u, const uint16_t *s)
{
    size_t n = 0;
    while (s && s[n])
        n++;
    u->Length = (uint16_t)(n * 2);
    u->MaximumLength = s ? (uint16_t)(n * 2 + 2) : 0;
    u->Buffer = (uint16_t *)s;
}
WH_EXPORT(RtlInitUnicodeString);

/* The Windows the host plays (set per scenario by wh_main.c). */
uint32_t wh_ntddi = WH_NTDDI_WIN10;
bool wh_memory_integrity = true;

WH_DDI(uint8_t, RtlIsNtDdiVersionAvailable, uint32_t version)
{
    wh_irql_exact("RtlIsNtDdiVersionAvailable", WH_PASSIVE_LEVEL);
    return version <= wh_ntddi;
}
WH_EXPORT(RtlIsNtDdiVersionAvailable);

static void to_ascii(const struct wh_unicode_string *u, char *out, size_t n)
{
    size_t i = 0;
    for (; u && i < u->Length / 2u && i + 1 < n; i++)
        out[i] = (char)u->Buffer[i];
    out[i] = 0;
}

/* A failed ASSERT of a checked build: Windows breaks into the debugger. */
WH_DDI(void, RtlAssert, void *assertion, void *file, uint32_t line, char *message)
{
    wh_violation("RtlAssert", "ASSERT(%s) failed at %s:%u%s%s", (const char *)assertion,
                 (const char *)file, line, message ? ": " : "", message ? message : "");
}
WH_EXPORT(RtlAssert);

/* ---- MmGetSystemRoutineAddress: exports, and two exported variables ----- */
static uint32_t init_safe_boot_mode;
static uint64_t ki_bug_check_data[5];

WH_DDI(void *, MmGetSystemRoutineAddress, struct wh_unicode_string *name)
{
    wh_irql_exact("MmGetSystemRoutineAddress", WH_PASSIVE_LEVEL);
    char n[96];
    to_ascii(name, n, sizeof(n));
    if (!strcmp(n, "InitSafeBootMode"))
        return &init_safe_boot_mode;
    if (!strcmp(n, "KiBugCheckData"))
        return ki_bug_check_data;
    return wh_export(n);                   /* NULL when Windows has no such export */
}
WH_EXPORT(MmGetSystemRoutineAddress);

/* ---- the registry: the keys the drivers read --------------------------- */
struct regval {
    const char *key, *name;
    uint32_t type;              /* 1 REG_SZ, 4 REG_DWORD */
    const char *sz;
    uint32_t dword;
};
static const struct regval registry[] = {
    { "\\Registry\\Machine\\System\\CurrentControlSet\\Control", "SystemStartOptions", 1,
      " NOEXECUTE=OPTIN", 0 },
    { "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\xenvbd", "Start", 4, NULL, 0 },
    { "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\xennet", "Start", 4, NULL, 3 },
};
#define NREG (sizeof(registry) / sizeof(registry[0]))
static const char *open_keys[8];

WH_DDI(NTSTATUS_, ZwOpenKey, uint64_t *handle, uint32_t access, void *attrs)
{
    (void)access;
    wh_irql_exact("ZwOpenKey", WH_PASSIVE_LEVEL);
    char n[160];
    to_ascii(*(struct wh_unicode_string **)((char *)attrs + 0x10), n, sizeof(n));
    for (unsigned i = 0; i < NREG; i++)
        if (!strcasecmp(registry[i].key, n))
            for (unsigned h = 0; h < 8; h++)
                if (!open_keys[h]) {
                    open_keys[h] = registry[i].key;
                    *handle = 0x80000000u + h * 4;
                    return WH_STATUS_SUCCESS;
                }
    return WH_STATUS_OBJECT_NAME_NOT_FOUND;
}
WH_EXPORT(ZwOpenKey);

WH_DDI(NTSTATUS_, ZwQueryValueKey, uint64_t handle, struct wh_unicode_string *name, int cls,
       void *info, uint32_t len, uint32_t *result)
{
    wh_irql_exact("ZwQueryValueKey", WH_PASSIVE_LEVEL);
    unsigned h = (unsigned)(handle - 0x80000000u) / 4;
    if (h >= 8 || !open_keys[h])
        return (NTSTATUS_)0xC0000008;                /* STATUS_INVALID_HANDLE */
    if (cls != 2)
        wh_fatal("ZwQueryValueKey: information class %d not implemented", cls);
    char n[96];
    to_ascii(name, n, sizeof(n));
    for (unsigned i = 0; i < NREG; i++) {
        if (strcasecmp(registry[i].key, open_keys[h]) || strcasecmp(registry[i].name, n))
            continue;
        /* KEY_VALUE_PARTIAL_INFORMATION: TitleIndex, Type, DataLength, Data[] */
        uint8_t data[256];
        uint32_t dlen;
        if (registry[i].type == 4) {
            memcpy(data, &registry[i].dword, 4);
            dlen = 4;
        } else {
            size_t l = strlen(registry[i].sz);
            for (size_t k = 0; k <= l; k++) {
                data[2 * k] = (uint8_t)registry[i].sz[k];
                data[2 * k + 1] = 0;
            }
            dlen = (uint32_t)(2 * l + 2);
        }
        *result = 12 + dlen;
        if (len < 12 + dlen)
            return (NTSTATUS_)0x80000005;            /* STATUS_BUFFER_OVERFLOW */
        uint32_t hdr[3] = { 0, registry[i].type, dlen };
        memcpy(info, hdr, 12);
        memcpy((uint8_t *)info + 12, data, dlen);
        return WH_STATUS_SUCCESS;
    }
    return WH_STATUS_OBJECT_NAME_NOT_FOUND;
}
WH_EXPORT(ZwQueryValueKey);

WH_DDI(NTSTATUS_, ZwClose, uint64_t handle)
{
    wh_irql_exact("ZwClose", WH_PASSIVE_LEVEL);
    if (wh_section_close(handle))
        return WH_STATUS_SUCCESS;
    unsigned h = (unsigned)(handle - 0x80000000u) / 4;
    if (h >= 8 || !open_keys[h]) {
        wh_violation("ZwClose", "handle 0x%llx is not open", (unsigned long long)handle);
        return (NTSTATUS_)0xC0000008;
    }
    open_keys[h] = NULL;
    return WH_STATUS_SUCCESS;
}
WH_EXPORT(ZwClose);

/* ---- bug-check callbacks: a record left registered at unload would be
 * called into an unloaded driver on the next crash. */
static void *bugcheck_records[8];

WH_DDI(uint8_t, KeRegisterBugCheckCallback, void *record, void *routine, void *buf, uint32_t len,
       const char *component)
{
    (void)routine, (void)buf, (void)len, (void)component;
    for (int i = 0; i < 8; i++)
        if (!bugcheck_records[i]) {
            bugcheck_records[i] = record;
            return 1;
        }
    return 0;
}
WH_EXPORT(KeRegisterBugCheckCallback);

WH_DDI(uint8_t, KeDeregisterBugCheckCallback, void *record)
{
    for (int i = 0; i < 8; i++)
        if (bugcheck_records[i] == record) {
            bugcheck_records[i] = NULL;
            return 1;
        }
    return 0;
}
WH_EXPORT(KeDeregisterBugCheckCallback);

unsigned wh_bugcheck_callbacks(void)
{
    unsigned n = 0;
    for (int i = 0; i < 8; i++)
        n += bugcheck_records[i] != NULL;
    return n;
}

/* ---- the C library ntoskrnl exports ------------------------------------- */
WH_DDI(void *, memcpy, void *d, const void *s, size_t n) { return memcpy(d, s, n); }
WH_EXPORT(memcpy);
WH_DDI(void *, memmove, void *d, const void *s, size_t n) { return memmove(d, s, n); }
WH_EXPORT(memmove);
WH_DDI(void *, memset, void *d, int c, size_t n) { return memset(d, c, n); }
WH_EXPORT(memset);
WH_DDI(int, memcmp, const void *a, const void *b, size_t n) { return memcmp(a, b, n); }
WH_EXPORT(memcmp);
WH_DDI(void *, memchr, const void *s, int c, size_t n) { return memchr(s, c, n); }
WH_EXPORT(memchr);
WH_DDI(char *, strchr, const char *s, int c) { return strchr(s, c); }
WH_EXPORT(strchr);
WH_DDI(int, strcmp, const char *a, const char *b) { return strcmp(a, b); }
WH_EXPORT(strcmp);
WH_DDI(char *, strcpy, char *d, const char *s) { return strcpy(d, s); }
WH_EXPORT(strcpy);
WH_DDI(size_t, strlen, const char *s) { return strlen(s); }
WH_EXPORT(strlen);
WH_DDI(int, strncmp, const char *a, const char *b, size_t n) { return strncmp(a, b, n); }
WH_EXPORT(strncmp);
WH_DDI(char *, strrchr, const char *s, int c) { return strrchr(s, c); }
WH_EXPORT(strrchr);

extern const struct wh_export_entry __start_wh_exports[], __stop_wh_exports[];

void *wh_export(const char *name)
{
    for (const struct wh_export_entry *e = __start_wh_exports; e < __stop_wh_exports; e++)
        if (!strcmp(e->name, name))
            return e->fn;
    return NULL;
}
