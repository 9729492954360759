/*
 * fingerprint_s3.h - fingerprint.h's fingerprint and commit records of a
 * dataset's datastore when it lives in the bucket (storage: s3, at
 * <prefix>/datastore/<dataset>/, the local layout), as io/s3.h requests
 * on the loop: never blocks.
 *
 * The requests, one after the other: ListObjectsV2 of the dataset's
 * prefix, page after page (the data files are the keys year=*\/month=*\/
 * NAME with NAME starting with neither '.' nor '_', as fingerprint.c and
 * jobs/datastore.py filter them; the commit records the keys
 * _denverd/commits/NNNNNNNN.json); per data file a suffix-range GET of its
 * last FP_S3_TAIL bytes (the whole file when smaller), and a second ranged
 * GET of its footer when the footer is larger than that (or of the whole
 * file when it does not end like a Parquet file); one GET per commit
 * record to return.  The digest equals fingerprint.c's on the same files.
 *
 * Loop thread only.  DONE is called exactly once for a call that returned
 * 0, never from inside it; the client must outlive the call (a client
 * freed with the call in flight cancels its requests, and DONE is then
 * never called).
 */
#ifndef DENVERD_API_FINGERPRINT_S3_H
#define DENVERD_API_FINGERPRINT_S3_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/fingerprint.h"

struct s3_client;

#define FP_S3_TAIL (64u * 1024)     /* the first, suffix-range GET of a file */

/* RC 0: FP, LAST and NEWER (the records above AFTER, oldest first, at most
 * MAX of the newest; borrowed for the call, take a reference to keep it)
 * as datastore_fingerprint and datastore_commits give them.  Else a
 * negative errno and ERROR (S3's words and the key, no secret). */
typedef void (*fp_s3_done_cb)(void *arg, int rc, const char *error,
                              const struct fingerprint *fp, int64_t last, json_t *newer);

/* Start it for DATASET on C.  0, or -ENOMEM / -EINVAL (DONE not called). */
int datastore_fingerprint_s3(struct s3_client *c, const char *dataset, int64_t after,
                             size_t max, fp_s3_done_cb done, void *arg);

#endif
