/*
 * fsutil.h - the file-system steps that every durable write is made of.
 * All of them may block (call them on a worker thread, or at start-up);
 * all return 0 or a negative errno and keep errno's meaning.
 */
#ifndef DENVERD_BASE_FSUTIL_H
#define DENVERD_BASE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p PATH: every missing component made with MODE; existing ones
 * (of any mode) are fine. */
int mkdir_p(const char *path, mode_t mode);

/* mkdir -p of REL ("a/b/c") below BASE, which must exist: a missing BASE
 * (an unmounted state directory, say) is -ENOENT, never made anew. */
int mkdir_below(const char *base, const char *rel, mode_t mode);

/* mkdir PATH with MODE; an existing PATH is fine. */
int make_dir(const char *path, mode_t mode);

/* fsync the directory PATH, so a rename or create inside it is durable. */
int fsync_dir(const char *path);

/* The directory part of PATH into OUT (LEN bytes): "a/b/c" -> "a/b".
 * -EINVAL when PATH has no directory part, -ENAMETOOLONG when OUT is short. */
int path_parent(const char *path, char *out, size_t len);

/* Remove the directory DIR and the files in it, without recursing (a
 * snapshot partition holds its file and .keys); a missing DIR is fine.
 * -E2BIG (DIR left, possibly emptied in part) when it holds more than
 * MAX_ENTRIES entries, -ENOTEMPTY/-EISDIR for a subdirectory. */
int remove_dir_flat(const char *dir, unsigned max_entries);

/* Write all N bytes at P to FD, at OFF (pwrite) or, when OFF is
 * FSUTIL_APPEND, at the file position (write); EINTR is retried. */
#define FSUTIL_APPEND UINT64_MAX
int write_all(int fd, const void *p, size_t n, uint64_t off);

/* Replace PATH atomically with N bytes at DATA (mode MODE): written to
 * PATH.tmp, fsynced, renamed over PATH, and the directory fsynced.  A crash
 * leaves either the old or the new content, never a mix; PATH.tmp is
 * removed on failure. */
int write_atomic(const char *path, const void *data, size_t n, mode_t mode);

#endif
