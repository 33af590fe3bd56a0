/* Inside core/scsi: what scsi_disk.c gives scsi_disk_io.c. */
#ifndef GPLPV_CORE_SCSI_DISK_IO_H
#define GPLPV_CORE_SCSI_DISK_IO_H

#include "gplpv/scsi_disk.h"

/* Sense for a block operation that failed with a GP_E* status. */
void scsi_disk_io_failed(struct scsi_disk_result *r, int status);

#endif
