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


/* ---- alerts (alerts.c) ---- */

/* One row of the alerts table: a notification that was sent (or is being
 * sent); `suppressed` counts the repeats the rate limit held back after it. */
struct store_alert {
	int64_t id, ts;
	const char *dataset;           /* dataset or job name; "" = the daemon */
	const char *reason;            /* run_failed check_failed check_warned
	                                  quarantined stale */
	const char *state;             /* firing recovered */
	const char *message;
	int64_t run_id;                /* 0 = none */
	int64_t delivered;             /* unix ms; 0 = not (yet) delivered */
	int64_t suppressed;
};

/* Row callbacks; strings live until the callback returns.  A negative
 * return stops the walk and is returned. */
typedef int (*store_alert_fn)(const struct store_alert *a, void *arg);

/* Insert a row; returns its id (> 0) or a negative errno. */
int64_t store_alert_add(struct store *st, int64_t ts, const char *dataset,
                        const char *reason, const char *state,
                        const char *message, int64_t run_id);
int store_alert_delivered(struct store *st, int64_t id, int64_t ts);
int store_alert_suppressed(struct store *st, int64_t id);   /* one more */

/* The newest row of every (dataset, reason): the state alerts resume from. */
int store_alerts_latest(struct store *st, store_alert_fn fn, void *arg);

/* Rows newest first, of DATASET (NULL = all), at most LIMIT. */
int store_alerts_list(struct store *st, const char *dataset, unsigned limit,
                      store_alert_fn fn, void *arg);

/* What alerts judge about one finished run (fixed buffers, truncated). */
struct store_run_facts {
	char target[80];               /* dataset or job name */
	char kind[8];                  /* dataset job */
	char exec_date[11];
	char state[16];
	char error[400];               /* the run's error, "" if none */
	int64_t ended;                 /* unix ms, 0 while unfinished */
	unsigned n_checks, n_fail, n_warn;   /* its data-quality results */
	char failed[200], warned[200]; /* names of those checks, ", "-joined */
	bool quarantined;              /* one of its snapshots is quarantined */
};
/* 0, -ENOENT (no such run) or -EIO. */
int store_run_facts(struct store *st, int64_t run_id, struct store_run_facts *out);

/* End of DATASET's last succeeded or unchanged run (0 = never) and when it
 * was first configured (0 = not recorded yet).  0 or -EIO. */
int store_freshness(struct store *st, const char *dataset, int64_t *last_ok,
                    int64_t *first_configured);

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

#endif
