/* \\.\XenPci's granted pages: a zeroed non-paged page granted to a domain
 * and mapped into the calling process through \\Device\\PhysicalMemory.
 * The page belongs to the handle, the view to the process that asked: it
 * is unmapped in that process's context (attached to it when the request
 * or CLEANUP comes from another process, as CLEANUP may: it runs in the
 * process that closed the last handle), and that process's object stays
 * referenced until then, even if the process has exited. */
#include "xenpci_ioctl_user.h"

#include <ntifs.h>

#include "gplpv/log.h"

/* Map the page into the calling process: every step reports failure by
 * status (no exception to catch). */
static NTSTATUS xenpci_ioctl_gnt_map(void *va, PVOID *user_va)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES oa;
    HANDLE sec;
    RtlInitUnicodeString(&name, L"\\Device\\PhysicalMemory");
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    NTSTATUS st = ZwOpenSection(&sec, SECTION_MAP_READ | SECTION_MAP_WRITE, &oa);
    if (!NT_SUCCESS(st))
        return st;
    LARGE_INTEGER off = MmGetPhysicalAddress(va);
    SIZE_T size = PAGE_SIZE;
    *user_va = NULL;
    st = ZwMapViewOfSection(sec, NtCurrentProcess(), user_va, 0, PAGE_SIZE, &off, &size, ViewUnmap,
                            0, PAGE_READWRITE);
    ZwClose(sec);
    return st;
}

/* Unmap from the owner, in its context, and let its object go.  If the
 * process has exited its address space went with the view (the unmap
 * finds nothing, which is fine). */
static void xenpci_ioctl_gnt_unmap(struct xenpci_user_grant *g)
{
    if (IoGetCurrentProcess() == g->owner) {
        ZwUnmapViewOfSection(NtCurrentProcess(), g->user_va);
    } else {
        KAPC_STATE apc;
        KeStackAttachProcess((PKPROCESS)g->owner, &apc);
        ZwUnmapViewOfSection(NtCurrentProcess(), g->user_va);
        KeUnstackDetachProcess(&apc);
    }
    ObDereferenceObject(g->owner);
    g->owner = NULL;
    g->user_va = NULL;
}

/* Ends the grant, unmaps and frees the page, gives the counts back.
 * GP_EBUSY while the other domain still maps it: then nothing changes. */
static int xenpci_ioctl_gnt_release(struct xenpci_fdo *f, struct xenpci_user *u,
                                    struct xenpci_user_grant *g)
{
    struct gp_platform *p = &f->win.plat;
    int err = gp_xen_grant_end(p, g->ref);
    if (err)
        return err;
    xenpci_ioctl_gnt_unmap(g);
    gp_os_page_free(p, g->va);
    RtlZeroMemory(g, sizeof(*g));
    InterlockedDecrement(&u->grants_held);
    InterlockedDecrement(&f->user_grants);
    return 0;
}

/* The handle's and the device's counts are taken first (a refused request
 * costs nothing), then the page is allocated, mapped into the caller and
 * granted - ZwOpenSection and ZwMapViewOfSection are PASSIVE_LEVEL, so
 * not under u->lock, a FAST_MUTEX - and the slot filled under the lock
 * last (there is one: the handle's count is the slot count). */
NTSTATUS xenpci_ioctl_gnt_alloc(struct xenpci_fdo *f, struct xenpci_user *u,
                                struct xenpci_ioctl_args *a)
{
    struct gp_platform *p = &f->win.plat;
    if (!xenpci_ioctl_domid_ok(a->domid))
        return STATUS_INVALID_PARAMETER;
    if (!xenpci_ioctl_take(&u->grants_held, XENPCI_USER_GRANTS_PER_HANDLE))
        return STATUS_TOO_MANY_OPENED_FILES;
    if (!xenpci_ioctl_take(&f->user_grants, XENPCI_USER_GRANTS_MAX)) {
        InterlockedDecrement(&u->grants_held);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    NTSTATUS st = STATUS_INSUFFICIENT_RESOURCES;
    uint64_t gfn;
    PVOID user_va = NULL;
    gp_grant_ref_t ref;
    void *va = gp_os_page_alloc(p, &gfn);
    if (va)
        st = xenpci_ioctl_gnt_map(va, &user_va);
    if (NT_SUCCESS(st)) {
        int err = gp_xen_grant_access(p, (gp_domid_t)a->domid, gfn, a->readonly != 0, &ref);
        if (err) {
            ZwUnmapViewOfSection(NtCurrentProcess(), user_va);
            st = xenpci_ioctl_nt(err);
        }
    }
    if (!NT_SUCCESS(st)) {
        if (va)
            gp_os_page_free(p, va);
        InterlockedDecrement(&f->user_grants);
        InterlockedDecrement(&u->grants_held);
        return st;
    }
    PEPROCESS owner = IoGetCurrentProcess();
    ObReferenceObject(owner);
    ExAcquireFastMutex(&u->lock);
    for (ULONG i = 0; i < XENPCI_USER_GRANTS_PER_HANDLE; i++)
        if (!u->grants[i].va) {
            u->grants[i] = (struct xenpci_user_grant){ .ref = ref, .va = va, .user_va = user_va,
                                                      .owner = owner };
            break;
        }
    ExReleaseFastMutex(&u->lock);
    a->ref = ref;
    a->address = (uint64_t)(uintptr_t)user_va;
    return STATUS_SUCCESS;
}

/* GNT_FREE: the grant leaves the handle's table under the lock and is
 * ended outside it; a page the other domain still maps goes back in. */
NTSTATUS xenpci_ioctl_gnt_free(struct xenpci_fdo *f, struct xenpci_user *u, uint32_t ref)
{
    struct xenpci_user_grant g = { 0 };
    ExAcquireFastMutex(&u->lock);
    for (ULONG i = 0; !g.va && i < XENPCI_USER_GRANTS_PER_HANDLE; i++)
        if (u->grants[i].va && u->grants[i].ref == ref) {
            g = u->grants[i];
            RtlZeroMemory(&u->grants[i], sizeof(u->grants[i]));
        }
    ExReleaseFastMutex(&u->lock);
    if (!g.va)
        return STATUS_INVALID_HANDLE;
    int err = xenpci_ioctl_gnt_release(f, u, &g);
    if (err) {                                  /* still counted: a slot is free */
        ExAcquireFastMutex(&u->lock);
        for (ULONG i = 0; g.va && i < XENPCI_USER_GRANTS_PER_HANDLE; i++)
            if (!u->grants[i].va) {
                u->grants[i] = g;
                g.va = NULL;
            }
        ExReleaseFastMutex(&u->lock);
    }
    return xenpci_ioctl_nt(err);
}

/* The handle is going.  A page the other domain still maps cannot be
 * freed safely: it is unmapped from its process and left allocated and
 * granted (logged, and still counted against the device's limit) rather
 * than reused while someone writes to it. */
void xenpci_ioctl_gnt_cleanup(struct xenpci_fdo *f, struct xenpci_user *u)
{
    struct xenpci_user_grant gone[XENPCI_USER_GRANTS_PER_HANDLE];
    ExAcquireFastMutex(&u->lock);
    RtlCopyMemory(gone, u->grants, sizeof(gone));
    RtlZeroMemory(u->grants, sizeof(u->grants));
    ExReleaseFastMutex(&u->lock);
    for (ULONG i = 0; i < XENPCI_USER_GRANTS_PER_HANDLE; i++)
        if (gone[i].va && xenpci_ioctl_gnt_release(f, u, &gone[i]) != 0) {
            GP_WARN(&f->win.plat, "user grant %u still mapped by the other domain: page kept",
                    (unsigned)gone[i].ref);
            xenpci_ioctl_gnt_unmap(&gone[i]);
        }
}
