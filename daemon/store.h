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

#endif

/* ---- metrics (metrics.c): aggregates over the whole store ---- */

/* Each query yields rows of label values (text; NULL reads as "") followed by
 * one number.  Times are unix ms, durations ms, as stored. */
enum store_metric {
	STORE_METRIC_RUNS,            /* target, kind, state -> runs */
	STORE_METRIC_LAST_OK,         /* dataset -> end of its last succeeded or
	                                 unchanged run */
	STORE_METRIC_SNAPSHOT_ROWS,   /* dataset -> rows of its newest snapshot
	                                 that was not quarantined */
	STORE_METRIC_SNAPSHOT_BYTES,  /* dataset -> bytes of that snapshot */
	STORE_METRIC_FETCH_BYTES,     /* dataset -> bytes of all its snapshots */
	STORE_METRIC_FETCHES,         /* dataset, outcome -> fetch attempts */
	STORE_METRIC_FETCH_DURATION,  /* dataset -> its last good fetch attempt */
	STORE_METRIC_CHECKS,          /* dataset, check, outcome -> results */
	STORE_METRIC_PAUSED,          /* dataset -> 1 paused, 0 not */
	STORE_METRIC_ALERTS_FIRING,   /* dataset, reason -> 1 firing, 0 recovered */
	STORE_METRIC__N
};

#define STORE_METRIC_MAX_LABELS 3

/* Called per row; a negative return stops the walk and is returned. */
typedef int (*store_metric_fn)(const char *const *labels, int n_labels,
                               double value, void *arg);

/* Run query Q, calling FN for each row in label order.  0 or -EIO. */
int store_metric_rows(struct store *st, enum store_metric q, store_metric_fn fn,
                      void *arg);
