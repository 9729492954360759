/*
 * s3_spool.h - an object read back by a streaming GET into a local file,
 * counted and hashed (XXH3-128, the fetch's content hash: 32 hex digits)
 * as it is written: how the check reads an S3 snapshot (engine/tasks/
 * task_check.c), so that the scanner, its parallel parts and its
 * read-backs work on a seekable file as in local mode, and the bytes read
 * back are compared with what the fetch published (the server does not
 * check a payload's hash, ENGINES.md section 4).
 *
 * Memory: two buffers of S3_SPOOL_BUF; one fills from the GET on the loop
 * while the other is written and hashed on the thread pool; the GET pauses
 * (s3_resume) while both are busy, so a slow disk slows the read instead
 * of growing memory.  The file is created (O_EXCL), and removed again when
 * the spool fails.
 *
 * Loop thread only.  DONE is called exactly once for a call that returned
 * 0, never from inside it.
 */
#ifndef DENVERD_IO_S3_SPOOL_H
#define DENVERD_IO_S3_SPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct s3_client;
struct s3_spool;

#define S3_SPOOL_BUF (4u << 20)

struct s3_spool_result {
	int rc;                  /* 0; -ENOENT (no such object), -ECANCELED,
	                            -EIO (S3's words in error) or a write's -errno */
	const char *error;       /* NULL on success; lives during DONE */
	uint64_t bytes;          /* written to the file */
	char hash[33];           /* their XXH3-128, hex, when rc is 0 */
	double seconds;          /* from the GET's start to the last write */
};
typedef void (*s3_spool_done_cb)(void *arg, const struct s3_spool_result *r);

/* GET object KEY (a full key) of C into a new file PATH.  0 and *OUT (for
 * s3_spool_cancel; valid until DONE), or a negative errno (DONE not
 * called: -EEXIST when PATH exists, -ENOMEM, another open() error). */
int s3_spool(uv_loop_t *loop, struct s3_client *c, const char *key, const char *path,
             s3_spool_done_cb done, void *arg, struct s3_spool **out);

/* Stop SP: its GET is aborted at the next piece; DONE follows with
 * -ECANCELED once the write in flight has ended. */
void s3_spool_cancel(struct s3_spool *sp);

#endif
