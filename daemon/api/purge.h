/*
 * purge.h - `denverctl purge DATASET --before DATE`: the snapshot
 * partitions of one dataset older than a date, removed from staging/ and
 * quarantine/ (never the datastore), and their snapshot rows marked
 * `removed` as retention marks them (engine/tasks/retain.h).
 *
 * What stays, whatever the date (each partition that stays says why):
 *   - the newest published (or promoted) snapshot: the next run's check
 *     diffs against it (engine/tasks/task_check.c, previous()), and the
 *     dataset could not tell "unchanged" from "new" without it;
 *   - the partitions of an exec date with an active (queued or running)
 *     run of the dataset: its fetch, check or convert may be reading them;
 *   - the diff baseline of each such active run (the newest published
 *     snapshot of its date or earlier).
 * A partition is removed whole (its snapshot file and .keys); a
 * quarantine/ partition set aside by a later quarantine of the same date
 * (exec_date=D.<ms>) counts as date D.  A row before the date whose
 * partition is already gone is marked `removed` too (reported as missing).
 *
 * The work is asynchronous: listing and removal run on the thread pool
 * (unlinking a multi-GB file would stall the loop); the rows are written on
 * the loop thread, after the files are gone, so a crash in between leaves
 * rows that the next purge or retention pass finds missing and marks.
 *
 * storage: s3 (sched_storage): the partitions are listed with
 * ListObjectsV2 under <prefix>/staging/<dataset>/ and
 * <prefix>/quarantine/<dataset>/, and merged with the local mirrors that
 * hold their key indexes (the same directories as in local mode); a
 * partition that goes loses its objects (DeleteObject, on the loop), then
 * its mirror.  A partition's path is then s3://<bucket>/<key prefix>.
 */
#ifndef DENVERD_API_PURGE_H
#define DENVERD_API_PURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct denverd;

enum purge_area { PURGE_STAGING, PURGE_QUARANTINE };

/* Why a partition before the date stays. */
enum purge_keep {
	PURGE_GOES,              /* it does not: removed (or would be) */
	PURGE_KEEP_NEWEST,       /* the newest published snapshot */
	PURGE_KEEP_ACTIVE,       /* its exec date has an active run (.run_id) */
	PURGE_KEEP_BASELINE,     /* the diff baseline of active run .run_id */
};

/* One partition directory found under staging/<dataset>/ or
 * quarantine/<dataset>/ with an exec date before the purge's. */
struct purge_part {
	enum purge_area area;
	char name[48];           /* "exec_date=D" or "exec_date=D.<ms>" */
	char exec_date[11];
	char *path;              /* where it is (owned): a directory, or the
	                            s3:// URI of its objects' key prefix */
	char *mirror;            /* the local directory that goes with it (the
	                            partition itself in local mode), or NULL */
	char **keys;             /* S3: its objects (full keys), owned */
	size_t n_keys;
	unsigned files;
	uint64_t bytes;
	enum purge_keep keep;
	int64_t run_id;          /* of PURGE_KEEP_ACTIVE and _BASELINE */
	int64_t *ids;            /* snapshot rows in it (owned) */
	size_t n_ids;
	bool removed;
	int err;                 /* negative errno of its listing or removal */
};

/* A purge and, once done, its outcome; every member is read-only to the
 * done callback, and freed by purge_free. */
struct purge {
	struct denverd *d;
	char dataset[65], before[11];
	bool act;                /* false: a dry run, nothing is changed */
	struct purge_part *parts;   /* oldest exec date first, staging first */
	size_t n_parts;
	int64_t *missing;        /* rows before the date without a partition */
	size_t n_missing;
	int err;                 /* 0, or what stopped it (listing, the store) */
	char errmsg[256];
	/* private to purge.c */
	struct purge_priv *priv;
};

/* Called once, on the loop thread, when P is done (or failed: P->err). */
typedef void (*purge_done_cb)(struct purge *p, void *arg);

/*
 * Start a purge of DATASET's partitions before BEFORE (YYYY-MM-DD, checked
 * by the caller; DATASET configured).  ACT false lists what would go and
 * changes nothing.  Returns 0 when started: DONE follows, never from
 * inside this call, and owns the purge (purge_free).  Or a negative errno
 * with ERR (ERRLEN bytes) saying why; DONE is not called.  D->store stays
 * open until DONE has run (main's loop_drain runs the queued work before
 * it closes the store).
 */
int purge_start(struct denverd *d, const char *dataset, const char *before, bool act,
                purge_done_cb done, void *arg, char *err, size_t errlen);
void purge_free(struct purge *p);   /* accepts NULL */

/* "staging" or "quarantine". */
const char *purge_area_name(enum purge_area a);

#endif
