/*
 * store.h - the state store: one SQLite file, state_dir/state.db.
 *
 * The files of store/ are the only ones that include sqlite3.h (through
 * store_int.h, which says which file holds what).  The connection is used
 * from the loop thread only.  Every state change is one transaction, and is
 * committed before anything announces it (journal, watchers).
 *
 * Errors: functions return 0 or a negative errno; -EIO for an SQLite error,
 * whose text store_errmsg() gives until the next call.
 *
 * Reads hand each row to a callback of one shape,
 *     int (*)(void *arg, const struct store_X *row)
 * with ARG passed through.  Every pointer in a row is valid only during the
 * call (copy what you keep).  A negative return stops the walk, and the
 * read returns it; 0 (or any other value) goes on to the next row.  Times
 * are unix ms, 0 meaning NULL (not yet, never).  The few reads whose result
 * the caller keeps (snapshots, a promote's snapshot, the facts of a run)
 * fill a struct instead.
 *
 * Destructors: store_X_clear() frees what an embedded (caller-allocated)
 * struct owns and zeroes it; store_X_free() frees a heap object the store
 * made.  Both accept NULL.
 */
#ifndef DENVERD_STORE_H
#define DENVERD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 6

/*
 * Open (creating if needed) the database at PATH and apply forward
 * migrations up to STORE_SCHEMA_VERSION.  A database
 * written by a newer schema is refused.  On failure *err holds a message for
 * the operator (caller frees) and *out is NULL.
 */
int store_open(const char *path, struct store **out, char **err);
void store_close(struct store *st);          /* accepts NULL */

int store_schema_version(struct store *st);  /* user_version, or -EIO */

/*
 * PRAGMA quick_check: reads every page, so O(store size); integrity.c
 * runs it on a reader connection on the thread pool.  Returns 0 when the
 * store is sound; -EIO with *err (caller frees) quoting the first problems
 * SQLite found when it is damaged; -EIO with *err NULL when the check
 * itself could not run (store_errmsg() says why); -EINTR once
 * store_interrupt() was called, before or during the check.
 */
int store_quick_check(struct store *st, char **err);
/* Free the page cache of ST's connection (what is not part of an open
 * transaction): for connections that go idle for long after a burst of
 * reads.  The file stays in the kernel's page cache. */
void store_release_memory(struct store *st);
/* Make store_quick_check() on ST's connection stop (or not start) with
 * -EINTR; safe to call from any thread while ST is open, and sticky. */
void store_interrupt(struct store *st);
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
 * last_modified of S->dataset to S's, all or nothing (a savepoint: inside
 * the caller's transaction when there is one); the datasets row is created
 * when missing (first_configured = S->published).  Returns the
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

/*
 * The snapshots of DATASET whose files may still exist (state published,
 * promoted or quarantined) with an exec date before BEFORE (YYYY-MM-DD),
 * oldest exec date first (then lowest id), at most
 * STORE_SNAPSHOT_LIST_MAX: what `denverctl purge` considers.  *list is a
 * new array (store_snapshots_free).
 */
int store_snapshots_before(struct store *st, const char *dataset, const char *before,
                           struct store_snapshot **list, size_t *n);

/* Set the state of snapshot ID ("removed" by retention and purge).  -ENOENT when no
 * such row. */
int store_snapshot_set_state(struct store *st, int64_t id, const char *state);

/* ---- S3 uploads (store_uploads.c): multipart uploads open for a snapshot ----
 *
 * What a restart needs to resume a snapshot's upload: at most one per
 * dataset and exec date, with its stored parts.  The strings are the
 * caller's (write) or live during the callback (read). */
struct store_upload {
	const char *dataset, *exec_date;
	const char *key;                 /* the object's full key */
	const char *upload_id;
	const char *url;                 /* the source URL */
	const char *etag, *last_modified;/* the source's validators; NULL = none */
	int64_t total;                   /* the source's size, -1 = unknown */
	int64_t created;                 /* unix ms; 0 = now (begin) */
};

struct store_upload_part {
	unsigned number;
	const char *etag;
	uint64_t size, end;              /* its length, the offset after it */
	const void *hash_state;          /* opaque bytes */
	size_t hash_state_len;
};

/* A new upload for U's dataset and exec date, replacing any (and its
 * parts); one transaction.  0, -EINVAL, -EIO. */
int store_upload_begin(struct store *st, const struct store_upload *u);
/* U's upload starts again from byte 0: its parts forgotten, U's
 * validators and total kept; one transaction. */
int store_upload_reset(struct store *st, const struct store_upload *u);
/* Part P of UPLOAD_ID stored (replacing one of the same number); nothing
 * when the upload has no row. */
int store_upload_part(struct store *st, const char *upload_id,
                      const struct store_upload_part *p);
/* UPLOAD_ID completed or aborted: its row and parts go. */
int store_upload_end(struct store *st, const char *upload_id);

typedef int (*store_upload_fn)(void *arg, const struct store_upload *u,
                               const struct store_upload_part *parts, size_t n);
/* The upload of DATASET and EXEC_DATE with its parts (by number) to FN; 0
 * without calling FN when there is none, FN's return, or -EIO/-ENOMEM. */
int store_upload_get(struct store *st, const char *dataset, const char *exec_date,
                     store_upload_fn fn, void *arg);

typedef int (*store_upload_id_fn)(void *arg, const char *upload_id, const char *key);
/* Every open upload's id and key to FN (a negative return stops). */
int store_upload_ids(struct store *st, store_upload_id_fn fn, void *arg);

/* ---- source changes (store_changes.c): when a source changed ----
 *
 * Polls are runs; a change is a poll that found something new, as the
 * fetch task decides (engine/tasks/task_fetch.c says what counts).  The
 * cadence (domain/cadence.h) is computed from a dataset's newest rows. */

#define STORE_CHANGES_MAX 400           /* cap of store_changes_recent */

struct store_change {
	int64_t id;                      /* ignored by store_change_add */
	const char *dataset;
	int64_t observed_at;             /* unix ms */
	const char *kind;                /* bytes validator edit_date */
	const char *value;               /* the new hash, validator or edit date;
	                                    NULL = none */
	int64_t run_id;                  /* 0 = none */
};
typedef int (*store_change_fn)(void *arg, const struct store_change *c);

/* Insert one change; its id (> 0), -EINVAL for an unknown kind (the
 * table's CHECK), or -EIO. */
int64_t store_change_add(struct store *st, const struct store_change *c);

/* The newest LIMIT (at most STORE_CHANGES_MAX) changes of DATASET, handed
 * to FN oldest first (by observed_at, then id).  0, -EIO or FN's negative
 * return. */
int store_changes_recent(struct store *st, const char *dataset, unsigned limit,
                         store_change_fn fn, void *arg);

/* ---- runs, tasks, attempts, datasets (the engine) ---- */

struct store_dataset {
	const char *name;
	int64_t first_configured;
	int64_t last_fire;               /* schedule handled up to here; 0 = never */
	bool paused;
};
typedef int (*store_dataset_fn)(void *arg, const struct store_dataset *ds);

int store_datasets_each(struct store *st, store_dataset_fn fn, void *arg);
/* Insert NAME unless it exists (first_configured is never moved). */
int store_dataset_add(struct store *st, const char *name, int64_t first_configured);
int store_dataset_set_paused(struct store *st, const char *name, bool paused);
int store_dataset_set_last_fire(struct store *st, const char *name, int64_t last_fire);

struct store_run {
	int64_t id;
	const char *target, *kind;       /* kind: "dataset" or "job" */
	const char *exec_date, *trigger, *state;
	bool force;
	int64_t created, started, ended;
	const char *error;               /* NULL when none */
};
typedef int (*store_run_fn)(void *arg, const struct store_run *r);

/* Insert a run (state from R; id and the row's other fields ignored). */
int store_run_add(struct store *st, const struct store_run *r, int64_t *id);
/* Write state, started, ended and error of run R->id. */
int store_run_set(struct store *st, const struct store_run *r);
int store_run_get(struct store *st, int64_t id, store_run_fn fn, void *arg);
/* Runs in state queued or running, oldest first. */
int store_runs_active(struct store *st, store_run_fn fn, void *arg);
/* For each i < N, the run of TARGETS[i] (of KINDS[i]) for the latest exec
 * date (the newest run of that date), if it has any. */
int store_runs_last(struct store *st, const char *const *kinds,
                    const char *const *targets, size_t n, store_run_fn fn, void *arg);

struct store_run_filter {
	const char *target;              /* NULL = any */
	const char *state;               /* NULL = any */
	int64_t before_id;               /* 0 = from the newest */
	unsigned limit;
};
/* Newest first. */
int store_runs_list(struct store *st, const struct store_run_filter *f,
                    store_run_fn fn, void *arg);
/* The newest run of KIND/TARGET for EXEC_DATE; 0 if found, -ENOENT if none. */
int store_run_latest(struct store *st, const char *kind, const char *target,
                     const char *exec_date, store_run_fn fn, void *arg);

struct store_task {
	int64_t id, run_id;
	const char *name;
	int seq;
	const char *state;
	unsigned attempts;               /* counted against the retry budget */
	int64_t not_before;
	const char *error;
};
typedef int (*store_task_fn)(void *arg, const struct store_task *t);

int store_task_add(struct store *st, int64_t run_id, const char *name, int seq,
                   const char *state, int64_t *id);
/* Write state, attempts, not_before and error of task T->id. */
int store_task_set(struct store *st, const struct store_task *t);
/* Tasks of RUN_ID in seq order. */
int store_tasks_each(struct store *st, int64_t run_id, store_task_fn fn, void *arg);

struct store_attempt {
	int64_t id, task_id;
	unsigned n;                      /* 1, 2, ... over the task's life */
	int64_t started, ended;
	const char *outcome;             /* NULL while it runs */
	bool has_exit;                   /* exit_code is meaningful */
	int exit_code, signal;
	int pid;                         /* 0 = none (not a child process) */
	uint64_t pid_start;              /* /proc/<pid>/stat start time */
	const char *error, *output_tail;
};
typedef int (*store_attempt_fn)(void *arg, const struct store_attempt *a);

int store_attempt_add(struct store *st, int64_t task_id, unsigned n, int64_t started,
                      int64_t *id);
int store_attempt_set_pid(struct store *st, int64_t id, int pid, uint64_t pid_start);
/* Write ended, outcome, exit_code/signal, error and output_tail of A->id. */
int store_attempt_end(struct store *st, const struct store_attempt *a);
int store_attempts_each(struct store *st, int64_t task_id, store_attempt_fn fn,
                        void *arg);

struct store_event {
	int64_t id, ts;
	const char *level, *type, *dataset, *task, *message;
	int64_t run_id;
};
typedef int (*store_event_fn)(void *arg, const struct store_event *e);
/* The last LIMIT events of RUN_ID, oldest first. */
int store_events_of_run(struct store *st, int64_t run_id, unsigned limit,
                        store_event_fn fn, void *arg);

/* What the convert task (and the lineage events) need of the snapshot
 * RUN_ID published and checked: strings are copied into OUT (free with
 * store_snapshot_ref_clear); encoding, line_ending, hash and url may be
 * NULL. */
struct store_snapshot_ref {
	int64_t id;
	char *path, *encoding, *line_ending, *state;
	char *hash, *url;                /* as fetched: xxh3-128 hex, the URL */
	uint64_t bytes;
	int64_t rows;                    /* -1 when the check has not counted */
};
int store_snapshot_of_run(struct store *st, int64_t run_id, struct store_snapshot_ref *out);
void store_snapshot_ref_clear(struct store_snapshot_ref *ref);   /* accepts NULL */
/* What the check task found: data rows, encoding, line ending of snapshot ID. */
int store_snapshot_checked(struct store *st, int64_t id, int64_t rows,
                           const char *encoding, const char *line_ending);
/* Snapshot ID moved to PATH under quarantine/ (state "quarantined"). */
int store_snapshot_quarantined(struct store *st, int64_t id, const char *path);

/* ---- data quality results and diffs ----
 *
 * Rows in, rows out: the check task saves flat rows, and api/cmd_dq.c
 * turns the rows it reads back into `denverctl dq` and `diff` replies.  Two
 * columns hold JSON text that the store keeps as given and never parses:
 * the writer's encoding, the reader's to decode. */

#define STORE_DQ_MAX_RUNS 1000          /* cap of store_dq_history */

/* One check's result in one run (a dq_results row).  Saving, the strings
 * are the caller's; read back, they live until the callback returns. */
struct store_dq_result {
	const char *name;                /* the check's name */
	const char *type;                /* its type (row_count unique ...) */
	const char *severity;            /* warn fail */
	const char *outcome;             /* pass warn fail */
	double observed;                 /* in the check's unit; NAN = none */
	const char *threshold;           /* what passes, as text; NULL = none */
	const char *detail;              /* one line for humans; NULL = none */
	const char *lines;               /* JSON text: array of the first
	                                    offending line numbers; NULL = none */
};

/* A run's diff against the previous snapshot, by key (a diffs row). */
struct store_dq_diff {
	int64_t prev_run_id;             /* 0 = not known (NULL) */
	uint64_t added, removed, changed;
	bool split;                      /* removed = aged_out + withdrawn;
	                                    false: not split (NULLs) */
	uint64_t aged_out, withdrawn;
	const char *window_start;        /* local ISO text; NULL = unknown */
	const char *examples;            /* JSON text {"added":[keys],
	                                    "removed":[..],"changed":[..],
	                                    "aged_out":[..],"withdrawn":[..],
	                                    "unchanged":N}; NULL = none */
};

/*
 * Save the N RESULTS of RUN_ID (replacing any earlier ones) and its DIFF
 * (NULL: none, and an earlier one is removed), all or nothing (a savepoint:
 * inside the caller's transaction if there is one).  Results keep their
 * order.  0 or -EIO.
 */
int store_dq_save(struct store *st, int64_t run_id, const struct store_dq_result *results,
                  size_t n, const struct store_dq_diff *diff);

/* One row of store_dq_history: one check's result in one run. */
struct store_dq_value {
	int64_t run_id;
	const char *exec_date, *run_state;   /* of the run */
	struct store_dq_result result;
};
typedef int (*store_dq_value_fn)(void *arg, const struct store_dq_value *v);

/*
 * The results of DATASET's last RUNS runs that have any (at most
 * STORE_DQ_MAX_RUNS), newest run first, each run's in the order they were
 * saved.  0, -EIO or FN's negative return.
 */
int store_dq_history(struct store *st, const char *dataset, unsigned runs,
                     store_dq_value_fn fn, void *arg);

/* The row of store_dq_diff. */
struct store_dq_diff_row {
	int64_t run_id;
	const char *exec_date;
	const char *prev_exec_date;          /* NULL when prev_run_id is 0 or gone */
	struct store_dq_diff diff;
};
typedef int (*store_dq_diff_fn)(void *arg, const struct store_dq_diff_row *d);

/*
 * The diff of DATASET's newest run for EXEC_DATE (NULL: its newest run with
 * a diff), handed to FN.  0, -ENOENT when there is none, -EIO or FN's
 * negative return.
 */
int store_dq_diff(struct store *st, const char *dataset, const char *exec_date,
                  store_dq_diff_fn fn, void *arg);

/* Run RUN_ID and its newest snapshot, for promote.  snapshot_id is 0 when
 * the run has no snapshot (then only kind is set).  Strings are owned
 * (store_dq_snapshot_clear).  -ENOENT: no such run. */
struct store_dq_snapshot {
	int64_t snapshot_id;
	char *dataset, *exec_date, *path, *state, *kind;
};
int store_dq_quarantined(struct store *st, int64_t run_id, struct store_dq_snapshot *out);
void store_dq_snapshot_clear(struct store_dq_snapshot *q);   /* accepts NULL */

/* Snapshot SNAPSHOT_ID, quarantined, is now PATH in staging: state
 * 'promoted', and an event "snapshot.promoted" with MESSAGE (who, when) at
 * TS; all or nothing.  -ENOENT when it is not quarantined. */
int store_dq_promote(struct store *st, int64_t snapshot_id, const char *path, int64_t ts,
                     const char *message);

/* ---- alerts (alerts.c) ---- */

/* One row of the alerts table: a notification that was sent (or is being
 * sent); `suppressed` counts the repeats the rate limit held back after it. */
struct store_alert {
	int64_t id, ts;
	const char *dataset;           /* dataset or job name; "" = the daemon */
	const char *reason;            /* run_failed check_failed check_warned
	                                  quarantined stale late */
	const char *state;             /* firing recovered */
	const char *message;
	int64_t run_id;                /* 0 = none */
	int64_t delivered;             /* unix ms; 0 = not (yet) delivered */
	int64_t suppressed;
};

typedef int (*store_alert_fn)(void *arg, const struct store_alert *a);

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
	STORE_METRIC_TASKS,           /* state (queued, running) -> tasks of runs
	                                 not finished yet; both rows always */
	STORE_METRIC__N
};

#define STORE_METRIC_MAX_LABELS 3

/* One row of a metric query: N_LABELS label values, then the number. */
struct store_metric_row {
	const char *labels[STORE_METRIC_MAX_LABELS];
	int n_labels;
	double value;
};
typedef int (*store_metric_fn)(void *arg, const struct store_metric_row *row);

/*
 * A second, read-only connection to the database of ST, for one worker
 * thread at a time (WAL: it reads the last committed state while the loop
 * thread writes), as the metrics worker and the integrity check use.
 * Nothing but store_metric_rows, store_quick_check, store_interrupt,
 * store_release_memory, store_errmsg and store_close may be called on it.
 * Call on ST's thread.  0, or -EINVAL (ST has no file), -ENOMEM, -EIO, with
 * store_errmsg(ST) saying why.
 */
int store_reader_open(struct store *st, struct store **out);

/* Run query Q, calling FN for each row in label order.  0 or -EIO. */
int store_metric_rows(struct store *st, enum store_metric q, store_metric_fn fn,
                      void *arg);

/* ---- the managed Spark Connect server (store_spark.c) ---- */

/* Record the running server's group PGID, its leader's start time
 * (procgroup.h) and when it started (unix ms), replacing any earlier row. */
int store_spark_set(struct store *st, int pgid, uint64_t pid_start, int64_t started);
/* Forget it (the server was reaped, or its orphan killed). */
int store_spark_clear(struct store *st);
/* The recorded server: 0, -ENOENT when none, -EIO. */
int store_spark_get(struct store *st, int *pgid, uint64_t *pid_start);

#endif
