/* The device inventory kept between runs: what discovery found last time,
 * valid only for the OpenCL installation it was read from. With it, a run
 * whose items all belong on the host can know that without starting
 * OpenCL (PoCL's start-up alone costs tens of milliseconds). It is never
 * used to run anything: a run that needs a device discovers for real. */
#ifndef CLD_INVENTORY_H
#define CLD_INVENTORY_H

#include <stddef.h>

#include "device.h"
#include "error.h"

/* A fingerprint of the OpenCL installation, as text in out (at least 17
 * bytes): the ICD files (name, size, time, contents) in $OCL_ICD_VENDORS
 * or /etc/OpenCL/vendors, the size and time of each driver library they
 * name, the environment variables that change what discovery finds
 * (POCL_DEVICES, OCL_ICD_FILENAMES, CLDISPATCH_FAULT, ...) and this
 * program's version. Anything installed, removed or upgraded changes it. */
void cld_inventory_fingerprint(char *out, size_t len);

/* Save list (handles are not saved) into dir/devices.inv, atomically, under
 * the current fingerprint, with startup_s: the seconds that discovery (the
 * start of OpenCL) took in the run that found it. */
enum cld_status cld_inventory_save(const char *dir,
                                   const struct cld_device_list *list,
                                   double startup_s);

/* Load dir/devices.inv into *list (and its start-up time into *startup_s,
 * which may be NULL) when it exists, is intact and was saved
 * under the current fingerprint: CLD_OK. Otherwise CLD_ERR_NOT_FOUND (no
 * file, or a stale one) or CLD_ERR_FORMAT (corrupt), with *list empty.
 * Devices in the list have no handles. Free with cld_device_list_free. */
enum cld_status cld_inventory_load(const char *dir,
                                   struct cld_device_list *list,
                                   double *startup_s);

#endif
