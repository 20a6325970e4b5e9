/* store.h: durable whole-file operations: mkdir -p, atomic replace, bounded read. */
#ifndef TINCAN_STORE_H
#define TINCAN_STORE_H

#include <stddef.h>
#include <sys/types.h>

/* All functions return 0 on success, -1 with errno set on failure. */

/* mkdir -p: create path and its missing parents with mode (an existing directory is fine). */
int store_mkdirs(const char *path, mode_t mode);

/* Replace path atomically: a temporary file in the same directory (created O_EXCL), write all,
 * fchmod to mode (umask does not apply), fsync, rename over path, fsync the directory. After a
 * crash at any moment, path holds either the old or the new content, never a mix. A crash may
 * leave a stray "<path>.tmp.XXXXXX" beside it. */
int store_write_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Read a whole file of at most max bytes into a malloc'd buffer with a NUL after the content
 * (*len excludes it). A larger file fails with EFBIG. Intermediate buffers are wiped, so the
 * caller only has to sodium_memzero and free *buf when it holds a secret. */
int store_read_file(const char *path, char **buf, size_t *len, size_t max);

/* fsync the directory that holds path (after creating, renaming or removing an entry in it). */
int store_fsync_dir(const char *path);

#endif
