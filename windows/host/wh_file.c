/* The I/O manager's side of a handle on a device: IRP_MJ_CREATE makes the
 * FILE_OBJECT; DEVICE_CONTROL requests come from user mode
 * (RequestorMode UserMode) with the buffers their control code's method
 * declares; CLEANUP goes when the last handle is closed, in the closing
 * thread's process, and CLOSE once no IRP on the file object is left, in
 * no particular process (the host uses the system process).
 *
 * The buffers, as the I/O manager passes them (wdm.h, "Buffer
 * Descriptions for I/O Control Codes"):
 *   METHOD_BUFFERED   the caller's buffers probed (NULL with a length is
 *                     STATUS_ACCESS_VIOLATION, the driver never sees it), a
 *                     system buffer of max(in, out) bytes from pool holding
 *                     the input (NULL when both are 0); after completion
 *                     IoStatus.Information bytes are copied to the output,
 *                     and an Information above OutputBufferLength is a
 *                     violation (pool contents would reach user space)
 *   METHOD_IN/OUT_DIRECT  the input as above; no MDL is built for the
 *                     output (not modelled: MdlAddress stays NULL)
 *   METHOD_NEITHER    nothing probed or copied: Type3InputBuffer and
 *                     Irp->UserBuffer are the caller's pointers as given */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wh.h"

#define WH_IO_MAX_BUFFER (16u << 20)       /* more: the pool allocation fails */
#define STATUS_ACCESS_VIOLATION ((NTSTATUS_)0xC0000005)

struct wh_file {
    struct wh_file_object fo;               /* first: what the driver sees */
    int handles;                            /* open handles (any process) */
    int inflight;                           /* IRPs on it not yet complete */
};

static pthread_mutex_t file_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t file_cv = PTHREAD_COND_INITIALIZER;

static struct wh_file *file_of(struct wh_file_object *f)
{
    return (struct wh_file *)f;
}

static void inflight(struct wh_file *h, int delta)
{
    pthread_mutex_lock(&file_m);
    h->inflight += delta;
    pthread_cond_broadcast(&file_cv);
    pthread_mutex_unlock(&file_m);
}

static struct wh_irp *file_irp(struct wh_file_object *f, uint8_t major)
{
    struct wh_irp *irp = wh_irp_alloc(wh_stack_top(f->DeviceObject)->StackSize);
    irp->IoStatus.Status = WH_STATUS_NOT_SUPPORTED;
    irp->Tail.OriginalFileObject = f;
    struct wh_io_stack_location *sl = wh_irp_next_sl(irp);
    sl->MajorFunction = major;
    sl->FileObject = f;
    return irp;
}

static NTSTATUS_ file_send(struct wh_file_object *f, struct wh_irp *irp, uint64_t *info)
{
    inflight(file_of(f), 1);
    NTSTATUS_ st = wh_irp_send(wh_stack_top(f->DeviceObject), irp);
    if (info)
        *info = irp->IoStatus.Information;
    inflight(file_of(f), -1);
    return st;
}

struct wh_file_object *wh_file_open(struct wh_device_object *dev, NTSTATUS_ *st)
{
    struct wh_file *h = calloc(1, sizeof(*h));
    struct wh_file_object *f = &h->fo;
    f->Type = 5;
    f->Size = sizeof(*f);
    f->DeviceObject = dev;
    h->handles = 1;
    struct wh_irp *irp = file_irp(f, WH_IRP_MJ_CREATE);
    irp->RequestorMode = 1;
    *st = file_send(f, irp, NULL);
    wh_irp_free(irp);
    if (!WH_NT_SUCCESS(*st)) {
        free(h);
        return NULL;
    }
    return f;
}

void wh_file_dup(struct wh_file_object *f)
{
    pthread_mutex_lock(&file_m);
    file_of(f)->handles++;
    pthread_mutex_unlock(&file_m);
}

NTSTATUS_ wh_file_ioctl_user(struct wh_file_object *f, uint32_t code, const void *in,
                             uint32_t inlen, void *out, uint32_t outlen, uint64_t *info)
{
    unsigned method = code & 3;
    if (info)
        *info = 0;
    void *sysbuf = NULL;
    if (method != 3) {
        if ((inlen && !in) || (outlen && !out))
            return STATUS_ACCESS_VIOLATION;
        uint32_t size = method == 0 && outlen > inlen ? outlen : inlen;
        if (size > WH_IO_MAX_BUFFER)
            return WH_STATUS_INSUFFICIENT_RESOURCES;
        if (size) {
            sysbuf = wh_pool_alloc(size, 0x42536f49 /* IoSB */, false);
            if (!sysbuf)
                return WH_STATUS_INSUFFICIENT_RESOURCES;
            memcpy(sysbuf, in, inlen);
        }
    }
    struct wh_irp *irp = file_irp(f, WH_IRP_MJ_DEVICE_CONTROL);
    irp->RequestorMode = 1;                          /* UserMode */
    irp->AssociatedIrp = sysbuf;
    struct wh_io_stack_location *sl = wh_irp_next_sl(irp);
    sl->Parameters.DeviceIoControl.IoControlCode = code;
    sl->Parameters.DeviceIoControl.InputBufferLength = inlen;
    sl->Parameters.DeviceIoControl.OutputBufferLength = outlen;
    if (method == 3) {
        sl->Parameters.DeviceIoControl.Type3InputBuffer = (void *)(uintptr_t)in;
        irp->UserBuffer = out;
    }
    uint64_t n = 0;
    NTSTATUS_ st = file_send(f, irp, &n);
    wh_irp_free(irp);
    if (method == 0 && n > outlen) {
        wh_violation("IofCompleteRequest", "IOCTL 0x%x (METHOD_BUFFERED) completed with "
                     "Information %llu above OutputBufferLength %u", code, (unsigned long long)n,
                     outlen);
        n = outlen;
    }
    if (method == 0 && WH_NT_SUCCESS(st) && n)
        memcpy(out, sysbuf, n);
    if (sysbuf)
        wh_pool_free(sysbuf, "the I/O manager's system buffer");
    if (info)
        *info = n;
    return st;
}

NTSTATUS_ wh_file_ioctl(struct wh_file_object *f, uint32_t code, void *buf, uint32_t len,
                        uint64_t *info)
{
    return wh_file_ioctl_user(f, code, buf, len, buf, len, info);
}

/* CloseHandle: CLEANUP after the last handle, then CLOSE once the IRPs
 * in flight on the file object are complete (the driver's CLEANUP must
 * have made them complete: a wait over 20 s is reported and CLOSE is not
 * sent). */
NTSTATUS_ wh_file_close(struct wh_file_object *f)
{
    struct wh_file *h = file_of(f);
    pthread_mutex_lock(&file_m);
    int left = --h->handles;
    pthread_mutex_unlock(&file_m);
    if (left > 0)
        return WH_STATUS_SUCCESS;
    struct wh_irp *irp = file_irp(f, WH_IRP_MJ_CLEANUP);
    NTSTATUS_ st = file_send(f, irp, NULL);
    wh_irp_free(irp);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&file_m);
    while (h->inflight && !pthread_cond_timedwait(&file_cv, &file_m, &until)) {
    }
    int busy = h->inflight;
    pthread_mutex_unlock(&file_m);
    if (busy) {
        wh_violation("IRP_MJ_CLEANUP", "%d IRP(s) on the file object still in the driver 20 s "
                     "after CLEANUP (CLEANUP must complete the handle's requests)", busy);
        return WH_STATUS_PENDING;
    }
    struct wh_process *was = wh_process_enter(NULL);
    irp = file_irp(f, WH_IRP_MJ_CLOSE);
    NTSTATUS_ st2 = file_send(f, irp, NULL);
    wh_irp_free(irp);
    wh_process_enter(was);
    free(h);
    return WH_NT_SUCCESS(st) ? st2 : st;
}
