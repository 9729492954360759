/*
 * store_int.h - what the files of the store share and nobody else sees:
 * the connection struct and the few helpers every query is written with.
 *
 *   store.c            schema, migrations, open/close, transactions,
 *                      quick_check, the reader connection
 *   store_runs.c       events, datasets, runs, tasks, attempts
 *   store_snapshots.c  snapshots and the datasets' validators
 *   store_dq.c         data-quality results and diffs, promote
 *   store_changes.c    when each source changed (the cadence's input)
 *   store_alerts.c     alerts, the facts of a run, freshness
 *   store_metrics.c    the metric queries
 *   integrity.c        quick_check on the thread pool, once per start
 *
 * Conventions (every file): a statement is prepared with st_prepare() and
 * run with st_walk() (a read: one st_row_fn per row) or st_step_done() (a
 * write); a failure of SQLite becomes -EIO through st_fail(), which keeps
 * SQLite's words for store_errmsg().  Text columns are borrowed
 * (st_text(), valid until the next step) unless a row outlives the step,
 * then owned (st_strdup(), the caller frees).  Only the loop thread uses a
 * connection, except a reader (store_reader_open), which belongs to one
 * worker thread at a time.
 */
#ifndef DENVERD_STORE_INT_H
#define DENVERD_STORE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

struct store {
	sqlite3 *db;
	char errmsg[512];            /* store_errmsg(): the last failure */
	atomic_bool interrupted;     /* store_interrupt() was called */
};

/* Record "WHAT: <SQLite's message>" for store_errmsg(); returns -EIO. */
int st_fail(struct store *st, const char *what);

/* Run SQL (one or more statements, no parameters: pragmas, transactions,
 * savepoints, migrations).  0, or -EIO with SQLite's message. */
int st_exec(struct store *st, const char *sql);

/* Prepare SQL into *S, or record the failure under WHAT (-EIO). */
int st_prepare(struct store *st, const char *what, const char *sql, sqlite3_stmt **s);

/* Convert the current row of S and hand it on (usually to the caller's
 * typed callback, held in CTX).  A negative return stops the walk. */
typedef int (*st_row_fn)(sqlite3_stmt *s, void *ctx);

/*
 * Step the read S to its end, calling ROW per row, and finalize S.
 * Returns the first negative return of ROW (the walk stops there), -EIO
 * (under WHAT) when a step fails, -ENOENT when NEED_ROW is set and there
 * was no row, else 0.
 */
int st_walk(struct store *st, const char *what, sqlite3_stmt *s, st_row_fn row,
            void *ctx, bool need_row);

/* st_walk without the finalize: S stays prepared, to be reset and bound
 * again (one statement for many keys). */
int st_walk_keep(struct store *st, const char *what, sqlite3_stmt *s, st_row_fn row,
                 void *ctx, bool need_row);

/* Prepare SQL, a read with one integer parameter KEY, and walk it. */
int st_select_by(struct store *st, const char *what, const char *sql, int64_t key,
                 st_row_fn row, void *ctx, bool need_row);

/* Step the write S to completion and finalize it: 0, -EIO, or -ENOENT
 * when it changed no row and MUST_CHANGE is set. */
int st_step_done(struct store *st, const char *what, sqlite3_stmt *s, bool must_change);

/* Bind a time in unix ms: 0 (not yet, never) is NULL. */
void st_bind_ms(sqlite3_stmt *s, int i, int64_t v);

/* Bind text the caller keeps alive until the statement is finalized. */
void st_bind_text(sqlite3_stmt *s, int i, const char *v);

/* Column I of the current row as text, borrowed until the next step;
 * NULL for NULL. */
const char *st_text(sqlite3_stmt *s, int i);

/* Column I as a new string (caller frees); NULL for NULL.  Set *NOMEM
 * when the copy of a non-NULL value failed (it is never cleared), so a
 * row of several copies is checked once. */
char *st_strdup(sqlite3_stmt *s, int i, bool *nomem);

#endif
