/*
 * retain.h - retention of published snapshots (keep_snapshots).
 */
#ifndef DENVERD_RETAIN_H
#define DENVERD_RETAIN_H

#include <uv.h>

struct s3_client;
struct store;

/*
 * Keep the newest KEEP published partitions (staging/<dataset>/exec_date=D,
 * ordered by exec date) of DATASET, from the store's list
 * (store_snapshots_published); remove the directories of older ones on the
 * libuv threadpool, then mark their snapshot rows `removed`.  KEEP 0 counts
 * as 1: the newest good snapshot is never removed.  Call it after a newer
 * snapshot has been recorded.
 *
 * With S3 (not NULL), a snapshot whose path is an object of its bucket
 * (s3://<bucket>/<key>) goes by DeleteObject, one after the other on the
 * loop, and its partition's local mirror (STATE_DIR/<key without the
 * prefix, to its last '/'>, where the key index is) on the threadpool;
 * its rows are marked only once the object is gone.
 *
 * Returns 0 when the work was queued (DONE follows), or a negative errno
 * (DONE is not called; store_errmsg tells an -EIO).  DONE (may be NULL)
 * gets the number of partitions removed, or a negative errno with a
 * message that lives until it returns (NULL on success).  ST (and S3)
 * must stay open until DONE has run.
 */
typedef void (*retain_done_cb)(int removed, const char *error, void *arg);
int retain_snapshots(uv_loop_t *loop, struct store *st, struct s3_client *s3,
                     const char *state_dir, const char *dataset, unsigned keep,
                     retain_done_cb done, void *arg);

#endif
