/* The on-disk store of calibration profiles and run history, in a cache
 * folder. Files are versioned text, rewritten atomically (temporary file
 * plus rename) under an flock, so two processes can record at once and
 * keep each other's samples. A corrupt or foreign file is never trusted:
 * it is ignored, and the store warns instead of failing. */
#ifndef CLD_PROFILE_H
#define CLD_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "placement.h"

/* First lines of the two files; bump the number on a format change. */
#define CLD_HISTORY_MAGIC "cldispatch-history 2"
#define CLD_PROFILES_MAGIC "cldispatch-profiles 1"

struct cld_profile_store;

/* Open (creating the folder, mode 0700) the store in dir, or when dir is
 * NULL in $XDG_CACHE_HOME/cldispatch, else $HOME/.cache/cldispatch.
 * CLD_ERR_NOT_FOUND when neither variable is set, CLD_ERR_IO, CLD_ERR_NOMEM.
 * The caller closes *out with cld_profile_store_close. */
enum cld_status cld_profile_store_open(const char *dir,
                                       struct cld_profile_store **out);

/* NULL is fine. */
void cld_profile_store_close(struct cld_profile_store *s);

/* Folder of the store; owned by s. */
const char *cld_profile_store_dir(const struct cld_profile_store *s);

/* Warnings from the last call ("" if none): lines or files ignored as
 * corrupt, foreign or truncated. Owned by s; valid until the next call. */
const char *cld_profile_store_warning(const struct cld_profile_store *s);

/* Fill the measured fields of *t (bandwidths, launch latency, job rates)
 * from the saved profile with the same key; *found says if there was one.
 * The static fields of *t are left alone. */
enum cld_status cld_profile_load(struct cld_profile_store *s,
                                 struct cld_target_profile *t, bool *found);

/* Save the measured fields of t under t->key, replacing an older profile
 * of that key and keeping the others. */
enum cld_status cld_profile_save(struct cld_profile_store *s,
                                 const struct cld_target_profile *t);

/* Append the saved history to *hist (initialised by the caller, who clears
 * it). Samples beyond CLD_HISTORY_SAMPLES per entry keep the newest. */
enum cld_status cld_profile_load_history(struct cld_profile_store *s,
                                         struct cld_history *hist);

/* Merge the samples of `fresh` (samples not yet on disk, typically a
 * batch's measurements) into the saved history: read, merge and write
 * under the lock, keeping the newest CLD_HISTORY_SAMPLES per entry. */
enum cld_status cld_profile_record_many(struct cld_profile_store *s,
                                        const struct cld_history *fresh);

/* One sample: seconds for one item of `work` units (cld_history_work) of
 * job with params on the target with key target_key, transfers included. */
enum cld_status cld_profile_record(struct cld_profile_store *s,
                                   const char *job, const char *params,
                                   const char *target_key, uint64_t work,
                                   double seconds);

#endif
