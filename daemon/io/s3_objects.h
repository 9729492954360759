/*
 * s3_objects.h - what happens to a snapshot's objects after the fetch, as
 * sequences of io/s3.h requests on the loop: one object moved (quarantine,
 * promote: a server-side copy, then the source deleted), many deleted
 * (retention, purge), a prefix listed whole (purge).
 *
 * A move copies before it deletes: a crash or an error between the two
 * leaves the object in both places, never in neither; the copy is
 * conditional (If-None-Match: *), so it never overwrites.  Objects up to
 * copy_max (5 GiB, CopyObject's limit) are copied in one CopyObject;
 * larger ones in a multipart upload of UploadPartCopy ranges of part_size,
 * aborted when any step fails.  SeaweedFS (the test server) answers both;
 * real S3 requires parts of at least 5 MiB but the last.
 *
 * Loop thread only.  DONE is called exactly once for a call that returned
 * 0, never from inside it; error text (S3's words, no secret: io/s3.h)
 * lives during DONE.  The client must outlive the call.
 */
#ifndef DENVERD_IO_S3_OBJECTS_H
#define DENVERD_IO_S3_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

struct s3_client;
struct s3_entry;

#define S3_COPY_MAX  (5ull << 30)   /* CopyObject's limit */
#define S3_COPY_PART (1ull << 30)   /* a multipart copy's part size */

/* RC 0 or a negative errno (see each call); ERROR NULL on success. */
typedef void (*s3_objects_done_cb)(void *arg, int rc, const char *error);

/* Tests lower these to copy small objects in parts; 0 = the defaults. */
struct s3_move_opts {
	uint64_t copy_max;           /* one CopyObject up to this size */
	uint64_t part_size;          /* UploadPartCopy ranges above it */
};

/*
 * Move object SRC to DST (full keys, the client's bucket): HEAD for its
 * size, the copy, DeleteObject of SRC.  DONE: 0; -ENOENT (no SRC);
 * -EEXIST (DST exists: nothing copied, SRC stays); -EIO (anything else,
 * with ERROR; SRC stays, DST may hold a complete copy when only the delete
 * failed).  O may be NULL.  0, or -ENOMEM / -EINVAL (DONE not called).
 */
int s3_move(struct s3_client *c, const char *src, const char *dst,
            const struct s3_move_opts *o, s3_objects_done_cb done, void *arg);

/* Delete the N objects KEYS (copied), one after the other; a missing one
 * counts as deleted.  DONE: 0, or -EIO with ERROR at the first failure
 * (the keys after it are not tried). */
int s3_delete_keys(struct s3_client *c, const char *const *keys, size_t n,
                   s3_objects_done_cb done, void *arg);

/* Every object whose key starts with PREFIX (a full key prefix), page
 * after page of ListObjectsV2: ENTRY for each (its pointers live during
 * the call; a negative return stops the listing, and DONE gets it), then
 * DONE: 0 or -EIO with ERROR. */
typedef int (*s3_list_entry_cb)(void *arg, const struct s3_entry *e);
int s3_list_all(struct s3_client *c, const char *prefix, s3_list_entry_cb entry,
                s3_objects_done_cb done, void *arg);

/* ---- where a snapshot row points (pure, no request) ---- */

/* The key of URI when it is "s3://<bucket>/<key>" of C's bucket (a
 * snapshot row's path in S3 mode); NULL otherwise (C NULL, a local path,
 * another bucket).  Points into URI. */
const char *s3_uri_key(const struct s3_client *c, const char *uri);

/* KEY without C's prefix and its '/' ("staging/<ds>/exec_date=D/<file>"),
 * pointing into KEY; NULL when KEY is not under the prefix or holds "..".
 * The local mirror of an object's partition is <state_dir>/ and this,
 * to its last '/'. */
const char *s3_key_rel(const struct s3_client *c, const char *key);

#endif
