/* The PnP manager, and the PCI bus driver below the Xen platform device:
 * DriverEntry, AddDevice on the platform device's PDO (vendor 5853,
 * device 0001), START with its raw and translated resources (I/O ports,
 * the memory BAR, the line interrupt), BusRelations building each
 * child's stack (the PDO alone: no function driver is loaded for it),
 * QUERY_ID, DEVICE_USAGE_NOTIFICATION, SURPRISE_REMOVAL and REMOVE of a
 * started child the bus no longer lists (REMOVE alone for one never
 * started), REMOVE (children first, as Windows removes them before their
 * parent), and the unload with what must be gone by then: device objects,
 * pool, links, mappings, views, queued callbacks, references on process
 * objects. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wh.h"

/* ---- the PCI bus driver (the host's) ------------------------------------ */
static NTSTATUS_ WH_MSABI pci_dispatch(struct wh_device_object *d, struct wh_irp *irp)
{
    (void)d;
    struct wh_io_stack_location *sl = irp->Tail.CurrentStackLocation;
    NTSTATUS_ st = irp->IoStatus.Status;
    if (sl->MajorFunction == WH_IRP_MJ_PNP) {
        switch (sl->MinorFunction) {
        case WH_IRP_MN_START_DEVICE: case WH_IRP_MN_QUERY_REMOVE_DEVICE:
        case WH_IRP_MN_REMOVE_DEVICE: case WH_IRP_MN_CANCEL_REMOVE_DEVICE:
        case WH_IRP_MN_STOP_DEVICE: case WH_IRP_MN_SURPRISE_REMOVAL:
        case WH_IRP_MN_DEVICE_USAGE_NOTIFICATION:
            st = WH_STATUS_SUCCESS;
            break;
        default:
            break;
        }
    } else if (sl->MajorFunction == WH_IRP_MJ_POWER) {
        st = WH_STATUS_SUCCESS;
    }
    irp->IoStatus.Status = st;
    wh_IofCompleteRequest(irp, 0);
    return st;
}


static struct wh_driver_object *pci_driver(void)
{
    static struct wh_driver_object *drv;
    if (!drv) {
        drv = wh_driver_create("pci");
        for (int i = 0; i <= WH_IRP_MJ_MAXIMUM; i++)
            drv->MajorFunction[i] = (void *)pci_dispatch;
    }
    return drv;
}


/* ---- loading ---------------------------------------------------------------- */
typedef NTSTATUS_ WH_MSABI (*entry_fn)(struct wh_driver_object *, struct wh_unicode_string *);

static uint16_t regpath[] = u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\xenpci";
static uint16_t regpath_vbd[] = u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\xenvbd";

static uint16_t regpath_net[] = u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\xennet";

/* Loads an image and runs its DriverEntry at PASSIVE_LEVEL. */
struct wh_driver_object *wh_load_driver(struct wh_image *img, const char *sys, const char *allowed,
                                        bool vbd)
{
    return wh_load_service(img, sys, allowed, vbd ? "xenvbd" : "xenpci");
}

struct wh_driver_object *wh_load_service(struct wh_image *img, const char *sys, const char *allowed,
                                         const char *service)
{
    if (wh_pe_load(sys, allowed, img))
        return NULL;
    struct wh_driver_object *drv = wh_driver_create(service);
    drv->DriverStart = img->base;
    drv->DriverSize = (uint32_t)img->size;
    drv->DriverInit = img->entry;
    bool vbd = !strcmp(service, "xenvbd"), net = !strcmp(service, "xennet");
    uint16_t *path = net ? regpath_net : vbd ? regpath_vbd : regpath;
    size_t bytes = net ? sizeof(regpath_net) : vbd ? sizeof(regpath_vbd) : sizeof(regpath);
    struct wh_unicode_string rp = { (uint16_t)(bytes - 2), (uint16_t)bytes, 0, path };
    wh_irql = WH_PASSIVE_LEVEL;
    NTSTATUS_ st = ((entry_fn)img->entry)(drv, &rp);
    if (wh_irql != WH_PASSIVE_LEVEL)
        wh_violation("DriverEntry", "returned at IRQL %u", wh_irql);
    if (!WH_NT_SUCCESS(st)) {
        fprintf(stderr, "wh: DriverEntry of %s returned 0x%08x\n", img->name, (unsigned)st);
        return NULL;
    }
    return drv;
}

int wh_pnp_load(struct wh_bus *b, const char *sys, const char *allowed)
{
    memset(b, 0, sizeof(*b));
    b->drv = wh_load_driver(&b->img, sys, allowed, false);
    return b->drv ? 0 : -1;
}

/* ---- START with the platform device's resources ------------------------------ */
static struct wh_cm_resource_list *resources(bool translated)
{
    size_t size = sizeof(struct wh_cm_resource_list) + sizeof(struct wh_cm_full_descriptor) +
                  3 * sizeof(struct wh_cm_partial_descriptor);
    struct wh_cm_resource_list *l = calloc(1, size);
    l->Count = 1;
    struct wh_cm_full_descriptor *f = &l->List[0];
    f->InterfaceType = 5;                        /* PCIBus */
    f->Version = f->Revision = 1;
    f->Count = 3;
    struct wh_cm_partial_descriptor *d = f->PartialDescriptors;
    d[0].Type = WH_CmResourceTypePort;
    d[0].ShareDisposition = 1;                   /* DeviceExclusive */
    d[0].Flags = 1;                              /* CM_RESOURCE_PORT_IO */
    d[0].u.Port.Start = 0xc000;
    d[0].u.Port.Length = 0x100;
    d[1].Type = WH_CmResourceTypeMemory;
    d[1].ShareDisposition = 1;
    d[1].u.Memory.Start = 0xf0000000;            /* the BAR: 16 MiB, prefetchable */
    d[1].u.Memory.Length = 0x1000000;
    d[1].Flags = 4;                              /* CM_RESOURCE_MEMORY_PREFETCHABLE */
    d[2].Type = WH_CmResourceTypeInterrupt;
    d[2].ShareDisposition = 3;                   /* CmResourceShareShared */
    d[2].Flags = 0;                              /* level-sensitive */
    d[2].u.Interrupt.Level = translated ? WH_PLATFORM_DIRQL : WH_PLATFORM_GSI;
    d[2].u.Interrupt.Vector = translated ? WH_PLATFORM_VECTOR : WH_PLATFORM_GSI;
    d[2].u.Interrupt.Affinity = 1;
    return l;
}

static struct wh_irp *pnp_irp(struct wh_device_object *dev, uint8_t minor)
{
    struct wh_irp *irp = wh_irp_alloc(wh_stack_top(dev)->StackSize);
    irp->IoStatus.Status = WH_STATUS_NOT_SUPPORTED;   /* as the PnP manager sends them */
    struct wh_io_stack_location *sl = wh_irp_next_sl(irp);
    sl->MajorFunction = WH_IRP_MJ_PNP;
    sl->MinorFunction = minor;
    return irp;
}

typedef NTSTATUS_ WH_MSABI (*add_fn)(struct wh_driver_object *, struct wh_device_object *);

NTSTATUS_ wh_pnp_add_and_start(struct wh_bus *b)
{
    struct wh_device_object *pdo;
    wh_IoCreateDevice(pci_driver(), 0, NULL, 0x22, 0x80, 0, &pdo);
    pdo->Flags &= ~(uint32_t)WH_DO_DEVICE_INITIALIZING;
    pdo->Flags |= WH_DO_POWER_PAGABLE;            /* as the PCI bus driver's PDOs are */
    b->pci_pdo = pdo;
    NTSTATUS_ st = ((add_fn)b->drv->DriverExtension->AddDevice)(b->drv, pdo);
    if (!WH_NT_SUCCESS(st))
        return st;
    b->fdo = pdo->AttachedDevice;
    if (!b->fdo)
        return WH_STATUS_INVALID_PARAMETER;
    if (b->fdo->Flags & WH_DO_DEVICE_INITIALIZING)
        wh_violation("AddDevice", "the FDO still has DO_DEVICE_INITIALIZING set");
    struct wh_irp *irp = pnp_irp(pdo, WH_IRP_MN_START_DEVICE);
    struct wh_cm_resource_list *raw = resources(false), *tr = resources(true);
    wh_irp_next_sl(irp)->Parameters.StartDevice.AllocatedResources = raw;
    wh_irp_next_sl(irp)->Parameters.StartDevice.AllocatedResourcesTranslated = tr;
    st = wh_irp_send(pdo, irp);
    wh_irp_free(irp);
    free(raw);
    free(tr);
    return st;
}

/* ---- enumeration ----------------------------------------------------------- */
static void query_id(struct wh_device_object *pdo, uint32_t type, char *out, size_t n)
{
    struct wh_irp *irp = pnp_irp(pdo, WH_IRP_MN_QUERY_ID);
    wh_irp_next_sl(irp)->Parameters.QueryId.IdType = type;
    NTSTATUS_ st = wh_irp_send(pdo, irp);
    out[0] = 0;
    uint16_t *w = (uint16_t *)(uintptr_t)irp->IoStatus.Information;
    if (WH_NT_SUCCESS(st) && w) {
        size_t i = 0;
        /* MULTI_SZ for hardware IDs: strings joined with ';' */
        for (; i + 1 < n && (w[i] || w[i + 1]); i++)
            out[i] = w[i] ? (char)w[i] : ';';
        out[i] = 0;
        wh_pool_free(w, "ExFreePool (PnP manager, the ID)");
    }
    wh_irp_free(irp);
}

NTSTATUS_ wh_pnp_enumerate(struct wh_bus *b)
{
    struct wh_irp *irp = pnp_irp(b->pci_pdo, WH_IRP_MN_QUERY_DEVICE_RELATIONS);
    wh_irp_next_sl(irp)->Parameters.QueryDeviceRelations.Type = WH_BusRelations;
    NTSTATUS_ st = wh_irp_send(b->pci_pdo, irp);
    struct wh_device_relations *rel = (void *)(uintptr_t)irp->IoStatus.Information;
    wh_irp_free(irp);
    if (!WH_NT_SUCCESS(st) || !rel)
        return WH_NT_SUCCESS(st) ? WH_STATUS_SUCCESS : st;
    for (uint32_t i = 0; i < rel->Count; i++) {
        struct wh_device_object *pdo = rel->Objects[i];
        bool known = false;
        for (unsigned c = 0; c < b->nchild; c++)
            known |= b->child[c].pdo == pdo;
        if (known || b->nchild == WH_MAX_CHILDREN)
            continue;
        struct wh_child *c = &b->child[b->nchild++];
        c->pdo = pdo;
        if (pdo->Flags & WH_DO_DEVICE_INITIALIZING)
            wh_violation("BusRelations", "child PDO %p still DO_DEVICE_INITIALIZING", (void *)pdo);
        query_id(pdo, WH_BusQueryDeviceID, c->devid, sizeof(c->devid));
        query_id(pdo, WH_BusQueryHardwareIDs, c->hwid, sizeof(c->hwid));
        query_id(pdo, WH_BusQueryInstanceID, c->instid, sizeof(c->instid));
    }
    /* A child the bus no longer lists is gone.  One never started (no
     * function driver above its PDO) gets REMOVE alone; a started one
     * SURPRISE_REMOVAL first, then REMOVE once its stack has let go
     * (here at once: nothing holds a handle on it). */
    for (unsigned c = 0; c < b->nchild; c++) {
        bool listed = false;
        for (uint32_t i = 0; i < rel->Count; i++)
            listed |= rel->Objects[i] == b->child[c].pdo;
        if (!listed && !b->child[c].gone) {
            b->child[c].gone = true;
            if (b->child[c].pdo->AttachedDevice)
                wh_pnp_minor(b->child[c].pdo, WH_IRP_MN_SURPRISE_REMOVAL, NULL);
            wh_pnp_minor(b->child[c].pdo, WH_IRP_MN_REMOVE_DEVICE, NULL);
        }
    }
    wh_pool_free(rel, "ExFreePool (PnP manager, the relations)");
    return WH_STATUS_SUCCESS;
}

NTSTATUS_ wh_pnp_usage(struct wh_device_object *pdo, uint32_t type, bool in_path)
{
    struct wh_irp *irp = pnp_irp(pdo, WH_IRP_MN_DEVICE_USAGE_NOTIFICATION);
    wh_irp_next_sl(irp)->Parameters.UsageNotification.InPath = in_path;
    wh_irp_next_sl(irp)->Parameters.UsageNotification.Type = type;
    NTSTATUS_ st = wh_irp_send(pdo, irp);
    if (irp->IoStatus.Information)
        wh_violation("IRP_MN_DEVICE_USAGE_NOTIFICATION", "Information set to 0x%llx (must stay 0)",
                     (unsigned long long)irp->IoStatus.Information);
    wh_irp_free(irp);
    return st;
}

NTSTATUS_ wh_pnp_minor(struct wh_device_object *dev, uint8_t minor, struct wh_irp **keep)
{
    struct wh_irp *irp = pnp_irp(dev, minor);
    if (minor == WH_IRP_MN_REMOVE_DEVICE)
        irp->IoStatus.Status = WH_STATUS_SUCCESS;
    NTSTATUS_ st = wh_irp_send(dev, irp);
    if (keep)
        *keep = irp;
    else
        wh_irp_free(irp);
    return st;
}

/* Children first (each PDO's stack is the PDO alone), then the bus. */
NTSTATUS_ wh_pnp_remove_all(struct wh_bus *b)
{
    for (unsigned c = 0; c < b->nchild; c++)
        if (!b->child[c].gone)
            wh_pnp_minor(b->child[c].pdo, WH_IRP_MN_REMOVE_DEVICE, NULL);
    NTSTATUS_ st = wh_pnp_minor(b->pci_pdo, WH_IRP_MN_REMOVE_DEVICE, NULL);
    wh_dispatch_flush();
    return st;
}

void wh_pnp_unload(struct wh_bus *b)
{
    wh_dispatch_flush();
    if (wh_work_outstanding())
        wh_violation("DriverUnload", "DPCs or work items still queued");
    if (wh_bugcheck_callbacks())
        wh_violation("DriverUnload", "a bug-check callback is still registered");
    if (b->drv->DriverUnload) {
        ((wh_unload_fn)b->drv->DriverUnload)(b->drv);
        if (wh_irql != WH_PASSIVE_LEVEL)
            wh_violation("DriverUnload", "returned at IRQL %u", wh_irql);
    }
    unsigned devs = wh_devices_alive(), pool = wh_pool_outstanding(true);
    unsigned links = wh_links_alive(), maps = wh_mem_mappings();
    if (devs)
        wh_violation("DriverUnload", "%u device object(s) of the driver left", devs);
    if (pool)
        wh_violation("DriverUnload", "%u pool block(s) left (POOL leak at unload)", pool);
    if (links)
        wh_violation("DriverUnload", "%u symbolic link(s) left", links);
    if (maps)
        wh_violation("DriverUnload", "%u MmMapIoSpace mapping(s) left", maps);
    if (wh_views_alive())
        wh_violation("DriverUnload", "%u section handle(s) or view(s) left", wh_views_alive());
    unsigned refs = wh_process_refs_held();
    if (refs)
        wh_violation("DriverUnload", "%u reference(s) on process objects left", refs);
    wh_pe_unload(&b->img);
}
