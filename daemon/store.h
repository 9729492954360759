/*
 * store.h - the state store: one SQLite file, state_dir/state.db.
 *
 * store.c is the only file that includes sqlite3.h.  The connection is used
 * from the loop thread only.  Every state change is one transaction, and is
 * committed before anything announces it (journal, watchers).
 *
 * Errors: functions return 0 or a negative errno; -EIO for an SQLite error,
 * whose text store_errmsg() gives until the next call.
 */
#ifndef DENVERD_STORE_H
#define DENVERD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1

/*
 * Open (creating if needed) the database at PATH, run the quick integrity
 * check and apply forward migrations up to STORE_SCHEMA_VERSION.  A database
 * written by a newer schema is refused.  On failure *err holds a message for
 * the operator (caller frees) and *out is NULL.
 */
int store_open(const char *path, struct store **out, char **err);
void store_close(struct store *st);          /* accepts NULL */

int store_schema_version(struct store *st);  /* user_version, or -EIO */
const char *store_errmsg(struct store *st);

/* Explicit transactions for callers that group several writes. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* ---- events: the audit trail that `watch` and `show` read ---- */

/* Append one event; ts is unix ms.  Any of dataset/task may be NULL and
 * run_id 0.  Returns the new event id (> 0) or a negative errno. */
int64_t store_event_add(struct store *st, int64_t ts, const char *level,
                        const char *type, const char *dataset, int64_t run_id,
                        const char *task, const char *message);

/* ---- snapshots and validators (fetch) ---- */

/* One row of `snapshots`.  Strings are owned by the struct when it comes
 * from the store (free with store_snapshot_clear); for store_snapshot_add
 * they are the caller's.  rows is -1 when not known yet. */
struct store_snapshot {
	int64_t id, run_id;
	char *dataset, *exec_date, *path, *hash, *url;
	char *etag, *last_modified;   /* validators (see store_snapshot_last) */
	char *state;                  /* published quarantined promoted removed */
	uint64_t bytes;
	int64_t rows;
	int64_t published;            /* unix ms */
};

#define STORE_SNAPSHOT_LIST_MAX 10000   /* cap of store_snapshots_published */

void store_snapshot_clear(struct store_snapshot *s);   /* frees the strings */

/*
 * Record a published snapshot (S->id ignored; S->state NULL means
 * "published"; S->published is the caller's clock_now_ms()) and set datasets.etag and
 * last_modified of S->dataset to S's, in one transaction; the datasets row
 * is created when missing (first_configured = S->published).  Returns the
 * new snapshot id (> 0) or a negative errno.
 */
int64_t store_snapshot_add(struct store *st, const struct store_snapshot *s);

/* Set the validators of DATASET (a 200 with the same bytes, or a 304 with
 * new ones); creates the datasets row like store_snapshot_add.  NULL
 * clears a validator. */
int store_validators_set(struct store *st, const char *dataset, const char *etag,
                         const char *last_modified, int64_t now_ms);

/*
 * The newest snapshot of DATASET (highest id, any state: bytes already
 * seen need no new run even when they were quarantined or their partition
 * has been removed).  Its etag/last_modified are the dataset's current
 * validators (datasets row) when it has any, else the snapshot's.
 * 0 with *out filled (clear it), -ENOENT when there is none, -EIO.
 */
int store_snapshot_last(struct store *st, const char *dataset,
                        struct store_snapshot *out);

/*
 * The snapshots of DATASET whose partition is in staging (state published
 * or promoted), newest exec date first (then highest id), at most
 * STORE_SNAPSHOT_LIST_MAX.  *list is a new array (store_snapshots_free).
 */
int store_snapshots_published(struct store *st, const char *dataset,
                              struct store_snapshot **list, size_t *n);
void store_snapshots_free(struct store_snapshot *list, size_t n);  /* accepts NULL */

/* Set the state of snapshot ID ("removed" by retention).  -ENOENT when no
 * such row. */
int store_snapshot_set_state(struct store *st, int64_t id, const char *state);

#endif
