/* The capability report: discovered devices printed for people (aligned
 * blocks, humanised units) or as one JSON document for scripts. One table
 * of fields drives both formats. */
#ifndef CLD_CAPS_H
#define CLD_CAPS_H

#include <stdint.h>
#include <stdio.h>

#include "device.h"

/* JSON schema identifier written as the document's "schema" member. */
#define CLD_CAPS_SCHEMA "cldispatch-devices/1"

/* Optional per-device extra line: the workload classes a device is preferred
 * for. The callback fills buf (may leave it empty); NULL disables it. */
typedef void (*cld_caps_preferred_fn)(const struct cld_device_info *d,
                                      char *buf, size_t len, void *user);

void cld_caps_print_text(FILE *f, const struct cld_device_list *list,
                         cld_caps_preferred_fn pref, void *user);
void cld_caps_print_json(FILE *f, const struct cld_device_list *list,
                         cld_caps_preferred_fn pref, void *user);

/* "1.5 GiB", "512 KiB", "17 B": binary units, one decimal above KiB. */
void cld_caps_bytes(uint64_t n, char *buf, size_t len);

/* Write s as a JSON string literal (with quotes and escapes). */
void cld_json_string(FILE *f, const char *s);

#endif
