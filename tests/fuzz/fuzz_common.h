/* Shared plumbing of the libFuzzer targets: the loaders under test take a
 * path, so each input is put in an in-memory file (memfd) and passed as
 * /proc/self/fd/N, which costs no disk traffic per execution. */
#ifndef CLD_FUZZ_COMMON_H
#define CLD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Replace the in-memory file's contents with data and return its path
 * (a static buffer); NULL when the file cannot be written. */
const char *cld_fuzz_memfile(const uint8_t *data, size_t size);

/* Our own error lines go to stdio's stderr (and help texts to stdout);
 * silence both (glibc lets a program assign them). The sanitizers write
 * their reports straight to file descriptor 2, and libFuzzer through its
 * own copy of the stream taken at start-up, so those still show. */
void cld_fuzz_quiet(void);

/* A fresh private folder for the store targets (created once per
 * process, in /dev/shm when writable, removed at exit); NULL on
 * failure. */
const char *cld_fuzz_dir(void);

/* Write data to dir/name; 0 on success. */
int cld_fuzz_write(const char *dir, const char *name, const uint8_t *data,
                   size_t size);

#endif
