/*
 * store.c - SQLite state store: schema, migrations, and every query.
 *
 * Schema history lives in `migrations` below: entry i brings user_version
 * from i to i+1.  Never edit a released migration; append a new one.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>

#include "quality/dq.h"
#include "store/store.h"

struct store {
	sqlite3 *db;
	char errmsg[512];
	atomic_bool interrupted;     /* store_interrupt() was called */
};

/* v0 -> v1: the whole first schema.  Times are unix milliseconds; dates are
 * 'YYYY-MM-DD' strings in the configured time zone. */
static const char migration_1[] =
	"CREATE TABLE datasets ("
	"  name TEXT PRIMARY KEY,"
	"  first_configured INTEGER NOT NULL,"  /* never catch up before this */
	"  paused INTEGER NOT NULL DEFAULT 0,"
	"  last_fire INTEGER,"                  /* last schedule fire handled */
	"  etag TEXT, last_modified TEXT"        /* validators of the last snapshot */
	");"
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  target TEXT NOT NULL,"               /* dataset or job name */
	"  kind TEXT NOT NULL CHECK (kind IN ('dataset','job')),"
	"  exec_date TEXT NOT NULL,"
	"  trigger TEXT NOT NULL,"              /* schedule catchup manual backfill */
	"  state TEXT NOT NULL,"
	"  force INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL, started INTEGER, ended INTEGER,"
	"  error TEXT"
	");"
	"CREATE INDEX runs_by_target ON runs(target, exec_date);"
	"CREATE INDEX runs_by_state ON runs(state, id);"
	"CREATE TABLE tasks ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"                 /* fetch check convert, or job name */
	"  seq INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  not_before INTEGER,"                 /* earliest next attempt (retry) */
	"  error TEXT,"
	"  UNIQUE (run_id, name)"
	");"
	"CREATE TABLE attempts ("
	"  id INTEGER PRIMARY KEY,"
	"  task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
	"  n INTEGER NOT NULL,"
	"  started INTEGER NOT NULL, ended INTEGER,"
	"  outcome TEXT,"     /* succeeded failed unchanged interrupted cancelled timeout */
	"  exit_code INTEGER, signal INTEGER, pid INTEGER,"
	"  pid_start INTEGER,"                    /* /proc/<pid>/stat starttime */
	"  error TEXT, output_tail TEXT"
	");"
	"CREATE INDEX attempts_by_task ON attempts(task_id, n);"
	"CREATE TABLE snapshots ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES runs(id),"
	"  dataset TEXT NOT NULL, exec_date TEXT NOT NULL,"
	"  path TEXT NOT NULL, bytes INTEGER NOT NULL, hash TEXT NOT NULL,"
	"  url TEXT, etag TEXT, last_modified TEXT,"
	"  rows INTEGER, encoding TEXT, line_ending TEXT,"
	"  state TEXT NOT NULL,"                /* published quarantined promoted removed */
	"  published INTEGER NOT NULL"
	");"
	"CREATE INDEX snapshots_by_dataset ON snapshots(dataset, id);"
	"CREATE TABLE dq_results ("
	"  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	"  check_name TEXT NOT NULL, check_type TEXT NOT NULL,"
	"  severity TEXT NOT NULL, outcome TEXT NOT NULL," /* pass warn fail */
	"  observed REAL, threshold TEXT, detail TEXT,"
	"  lines TEXT,"                         /* JSON array of first offenders */
	"  PRIMARY KEY (run_id, check_name)"
	");"
	"CREATE TABLE diffs ("
	"  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"
	"  prev_run_id INTEGER,"
	"  added INTEGER NOT NULL, removed INTEGER NOT NULL, changed INTEGER NOT NULL,"
	"  examples TEXT"                       /* JSON */
	");"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL, level TEXT NOT NULL, type TEXT NOT NULL,"
	"  dataset TEXT, run_id INTEGER, task TEXT, message TEXT NOT NULL"
	");"
	"CREATE INDEX events_by_run ON events(run_id) WHERE run_id IS NOT NULL;"
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL, dataset TEXT, reason TEXT NOT NULL,"
	"  state TEXT NOT NULL,"                /* firing recovered */
	"  message TEXT NOT NULL, run_id INTEGER,"
	"  delivered INTEGER, suppressed INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX alerts_by_key ON alerts(dataset, reason, id);";

/* v1 -> v2: the newest good run of a dataset (freshness SLAs, metrics) by
 * one index seek instead of a walk over all its runs: 160 ms -> 5 ms at
 * start with 1,000 datasets and 100,000 runs. */
static const char migration_2[] =
	"CREATE INDEX runs_ok_by_target ON runs(target, ended)"
	" WHERE kind = 'dataset' AND state IN ('succeeded', 'unchanged');";

static const char *const migrations[] = {
	migration_1,
	migration_2,
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int fail(struct store *st, const char *what)
{
	snprintf(st->errmsg, sizeof st->errmsg, "%s: %s", what,
	         st->db ? sqlite3_errmsg(st->db) : "out of memory");
	return -EIO;
}

const char *store_errmsg(struct store *st)
{
	return st ? st->errmsg : "no store";
}

static int exec(struct store *st, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(st->errmsg, sizeof st->errmsg, "%s",
		         msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int store_begin(struct store *st)    { return exec(st, "BEGIN IMMEDIATE"); }
int store_commit(struct store *st)   { return exec(st, "COMMIT"); }
void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		exec(st, "ROLLBACK");
}

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s;
	int v = -EIO;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "user_version");
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* At most this many of quick_check's complaints go into the message. */
#define QUICK_CHECK_ROWS 3
#define QUICK_CHECK_DB_LINE "*** in database main ***\n"

/* Progress handler of a quick_check: non-zero (stop) once interrupted. */
static int stop_requested(void *arg)
{
	struct store *st = arg;
	return atomic_load(&st->interrupted);
}

int store_quick_check(struct store *st, char **err)
{
	sqlite3_stmt *s;
	char *msg = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 0, step = SQLITE_DONE, n = 0;
	bool damaged;

	*err = NULL;
	if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "quick_check");
	if (!(f = open_memstream(&msg, &len))) {
		sqlite3_finalize(s);
		return -ENOMEM;
	}
	/* sqlite3_interrupt() only reaches a statement already running: the
	 * handler also stops one that store_interrupt() came before. */
	sqlite3_progress_handler(st->db, 1000, stop_requested, st);
	while (!atomic_load(&st->interrupted) && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(s, 0);
		if (r && strcmp(r, "ok") == 0)
			break;
		if (n++ >= QUICK_CHECK_ROWS)
			continue;
		if (!r)
			r = "?";
		/* Rows name the database on a line of their own: one line for the log. */
		if (strncmp(r, QUICK_CHECK_DB_LINE, strlen(QUICK_CHECK_DB_LINE)) == 0)
			r += strlen(QUICK_CHECK_DB_LINE);
		fputs(n > 1 ? "; " : "", f);
		for (; *r; r++)
			fputc(*r == '\n' ? ' ' : *r, f);
	}
	sqlite3_progress_handler(st->db, 0, NULL, NULL);
	/* Damage: what quick_check listed, or a page too broken to list. */
	damaged = n > 0 || (step & 0xff) == SQLITE_CORRUPT || (step & 0xff) == SQLITE_NOTADB;
	if (atomic_load(&st->interrupted) || (step & 0xff) == SQLITE_INTERRUPT) {
		rc = -EINTR;
	} else if (damaged) {
		if (n > QUICK_CHECK_ROWS)
			fprintf(f, "; and %d more", n - QUICK_CHECK_ROWS);
		if (step != SQLITE_ROW && step != SQLITE_DONE)
			fprintf(f, "%s%s", n ? "; then: " : "", sqlite3_errmsg(st->db));
		rc = -EIO;
	} else if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = fail(st, "quick_check");        /* the check failed, not the store */
	}
	sqlite3_finalize(s);
	if (fclose(f) == 0 && rc == -EIO) {
		*err = msg;
		msg = NULL;
	} else if (rc == -EIO) {
		rc = -ENOMEM;                         /* damaged, but no words for it */
	}
	free(msg);
	return rc;
}

void store_release_memory(struct store *st)
{
	sqlite3_db_release_memory(st->db);
}

void store_interrupt(struct store *st)
{
	atomic_store(&st->interrupted, true);
	sqlite3_interrupt(st->db);
}

/* Apply migrations [from, N) each in its own transaction, bumping
 * user_version inside it, so a crash leaves a consistent version. */
static int migrate(struct store *st, int from)
{
	for (int v = from; v < N_MIGRATIONS; v++) {
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
		if (store_begin(st) < 0)
			return -EIO;
		if (exec(st, migrations[v]) < 0 || exec(st, bump) < 0) {
			char keep[sizeof st->errmsg];
			memcpy(keep, st->errmsg, sizeof keep);
			store_rollback(st);
			snprintf(st->errmsg, sizeof st->errmsg, "migration to version %d: %.400s",
			         v + 1, keep);
			return -EIO;
		}
		if (store_commit(st) < 0)
			return -EIO;
	}
	return 0;
}

int store_open(const char *path, struct store **out, char **err)
{
	struct store *st;
	int rc, v;

	*out = NULL;
	*err = NULL;
	st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &st->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = fail(st, "open");
		goto out;
	}
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_extended_result_codes(st->db, 1);
	/* A small page cache: the daemon idles most of the day, and its hot
	 * rows (active runs, recent events) fit in 512 KiB. */
	if ((rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	                   "PRAGMA cache_size=-512;"
	                   "PRAGMA foreign_keys=ON;")) < 0)
		goto out;
	v = store_schema_version(st);
	if (v < 0) {
		rc = v;
		goto out;
	}
	if (v > N_MIGRATIONS) {
		if (asprintf(err, "%s: written by a newer denverd (schema version %d, "
		             "this build knows up to %d); refusing to open it", path, v,
		             N_MIGRATIONS) < 0)
			*err = NULL;
		rc = -EPROTO;
		goto out;
	}
	if ((rc = migrate(st, v)) < 0)
		goto out;
	*out = st;
	return 0;
out:
	if (!*err && asprintf(err, "%s: %s", path, st->errmsg) < 0)
		*err = NULL;
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	sqlite3_close_v2(st->db);
	free(st);
}

/* ---- events ---- */

int64_t store_event_add(struct store *st, int64_t ts, const char *level,
                        const char *type, const char *dataset, int64_t run_id,
                        const char *task, const char *message)
{
	sqlite3_stmt *s;
	int64_t id;
	if (sqlite3_prepare_v2(st->db,
	        "INSERT INTO events(ts, level, type, dataset, run_id, task, message)"
	        " VALUES (?,?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "event");
	sqlite3_bind_int64(s, 1, ts);
	sqlite3_bind_text(s, 2, level, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, dataset, -1, SQLITE_STATIC);
	if (run_id > 0)
		sqlite3_bind_int64(s, 5, run_id);
	sqlite3_bind_text(s, 6, task, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, message, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return fail(st, "event");
	}
	sqlite3_finalize(s);
	id = sqlite3_last_insert_rowid(st->db);
	return id;
}

/* ---- runs, tasks, attempts, datasets (sched.c) ---- */

static void bind_ms(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

/* Prepare SQL, or record the error under WHAT. */
static int prepare(struct store *st, const char *what, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return fail(st, what);
	return 0;
}

/* One row of a read: convert the current row of S and hand it to the
 * caller's typed callback held in CTX. */
typedef int (*row_fn)(sqlite3_stmt *s, void *ctx);

/* Step the read S to its end, calling ROW per row; finalizes S.  *ANY (when
 * not NULL) tells whether there was a row. */
static int walk(struct store *st, const char *what, sqlite3_stmt *s, row_fn row,
                void *ctx, bool *any)
{
	int rc = 0, step;

	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (any)
			*any = true;
		if ((rc = row(s, ctx)) != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = fail(st, what);
	sqlite3_finalize(s);
	return rc;
}

/* Walk the rows of SQL, a read whose one parameter is KEY. */
static int select_by(struct store *st, const char *what, const char *sql, int64_t key,
                     row_fn row, void *ctx, bool *any)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, what, sql, &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, key);
	return walk(st, what, s, row, ctx, any);
}

/* Step a write statement to completion and finalize it; -ENOENT when it
 * changed no row and MUST_CHANGE is set. */
static int step_done(struct store *st, const char *what, sqlite3_stmt *s, bool must_change)
{
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : fail(st, what);
	if (rc == 0 && must_change && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

struct dataset_walk { store_dataset_cb cb; void *arg; };

static int dataset_row(sqlite3_stmt *s, void *ctx)
{
	struct dataset_walk *w = ctx;
	struct store_dataset ds = {
		.name = col_text(s, 0),
		.first_configured = sqlite3_column_int64(s, 1),
		.last_fire = sqlite3_column_int64(s, 2),
		.paused = sqlite3_column_int(s, 3) != 0,
	};
	return w->cb(w->arg, &ds);
}

int store_datasets_each(struct store *st, store_dataset_cb cb, void *arg)
{
	struct dataset_walk w = { cb, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "datasets", "SELECT name, first_configured,"
	                  " COALESCE(last_fire, 0), paused FROM datasets ORDER BY name", &s)) < 0)
		return rc;
	return walk(st, "datasets", s, dataset_row, &w, NULL);
}

int store_dataset_add(struct store *st, const char *name, int64_t first_configured)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "dataset add", "INSERT OR IGNORE INTO datasets(name,"
	                  " first_configured) VALUES (?, ?)", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, first_configured);
	return step_done(st, "dataset add", s, false);
}

int store_dataset_set_paused(struct store *st, const char *name, bool paused)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "dataset pause", "UPDATE datasets SET paused = ?"
	                  " WHERE name = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int(s, 1, paused);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	return step_done(st, "dataset pause", s, true);
}

int store_dataset_set_last_fire(struct store *st, const char *name, int64_t last_fire)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "dataset last_fire", "UPDATE datasets SET last_fire = ?"
	                  " WHERE name = ?", &s)) < 0)
		return rc;
	bind_ms(s, 1, last_fire);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	return step_done(st, "dataset last_fire", s, true);
}

#define RUN_COLUMNS "id, target, kind, exec_date, trigger, state, force, created," \
                    " COALESCE(started, 0), COALESCE(ended, 0), error"

struct run_walk { store_run_cb cb; void *arg; };

static int run_row(sqlite3_stmt *s, void *ctx)
{
	struct run_walk *w = ctx;
	struct store_run r = {
		.id = sqlite3_column_int64(s, 0),
		.target = col_text(s, 1),
		.kind = col_text(s, 2),
		.exec_date = col_text(s, 3),
		.trigger = col_text(s, 4),
		.state = col_text(s, 5),
		.force = sqlite3_column_int(s, 6) != 0,
		.created = sqlite3_column_int64(s, 7),
		.started = sqlite3_column_int64(s, 8),
		.ended = sqlite3_column_int64(s, 9),
		.error = col_text(s, 10),
	};
	return w->cb(w->arg, &r);
}

/* Walk the run rows of S; -ENOENT when there is none and ONE is set. */
static int runs_walk(struct store *st, sqlite3_stmt *s, store_run_cb cb, void *arg,
                     bool one)
{
	struct run_walk w = { cb, arg };
	bool any = false;
	int rc = walk(st, "runs", s, run_row, &w, &any);
	return rc == 0 && one && !any ? -ENOENT : rc;
}

int store_run_add(struct store *st, const struct store_run *r, int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "run add", "INSERT INTO runs(target, kind, exec_date,"
	                  " trigger, state, force, created) VALUES (?,?,?,?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->exec_date, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, r->trigger, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, r->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, r->force);
	sqlite3_bind_int64(s, 7, r->created);
	if ((rc = step_done(st, "run add", s, false)) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_run_set(struct store *st, const struct store_run *r)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "run set", "UPDATE runs SET state = ?, started = ?,"
	                  " ended = ?, error = ? WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, r->state, -1, SQLITE_STATIC);
	bind_ms(s, 2, r->started);
	bind_ms(s, 3, r->ended);
	sqlite3_bind_text(s, 4, r->error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, r->id);
	return step_done(st, "run set", s, true);
}

int store_run_get(struct store *st, int64_t id, store_run_cb cb, void *arg)
{
	struct run_walk w = { cb, arg };
	bool any = false;
	int rc = select_by(st, "run", "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", id,
	                   run_row, &w, &any);

	return rc == 0 && !any ? -ENOENT : rc;
}

int store_runs_active(struct store *st, store_run_cb cb, void *arg)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "active runs", "SELECT " RUN_COLUMNS " FROM runs"
	                  " WHERE state IN ('queued', 'running') ORDER BY id", &s)) < 0)
		return rc;
	return runs_walk(st, s, cb, arg, false);
}

int store_runs_last(struct store *st, const char *const *kinds,
                    const char *const *targets, size_t n, store_run_cb cb, void *arg)
{
	struct run_walk w = { cb, arg };
	sqlite3_stmt *s;
	int rc = 0, step;

	/* One indexed seek per target (runs_by_target, newest exec date
	 * first): no scan of the whole table, however long the history. */
	if ((rc = prepare(st, "last runs", "SELECT " RUN_COLUMNS " FROM runs WHERE target = ?"
	                  " AND kind = ? ORDER BY exec_date DESC, id DESC LIMIT 1", &s)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, targets[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, kinds[i], -1, SQLITE_STATIC);
		step = sqlite3_step(s);
		if (step == SQLITE_ROW)
			rc = run_row(s, &w);
		else if (step != SQLITE_DONE)
			rc = fail(st, "last runs");
	}
	sqlite3_finalize(s);
	return rc;
}

int store_runs_list(struct store *st, const struct store_run_filter *f,
                    store_run_cb cb, void *arg)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "runs", "SELECT " RUN_COLUMNS " FROM runs"
	                  " WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR state = ?2)"
	                  " AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, f->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, f->state, -1, SQLITE_STATIC);
	bind_ms(s, 3, f->before_id);
	sqlite3_bind_int64(s, 4, f->limit);
	return runs_walk(st, s, cb, arg, false);
}

int store_run_latest(struct store *st, const char *kind, const char *target,
                     const char *exec_date, store_run_cb cb, void *arg)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "latest run", "SELECT " RUN_COLUMNS " FROM runs"
	                  " WHERE target = ? AND exec_date = ? AND kind = ?"
	                  " ORDER BY id DESC LIMIT 1", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, exec_date, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	return runs_walk(st, s, cb, arg, true);
}

int store_task_add(struct store *st, int64_t run_id, const char *name, int seq,
                   const char *state, int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "task add", "INSERT INTO tasks(run_id, name, seq, state)"
	                  " VALUES (?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, seq);
	sqlite3_bind_text(s, 4, state, -1, SQLITE_STATIC);
	if ((rc = step_done(st, "task add", s, false)) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_task_set(struct store *st, const struct store_task *t)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "task set", "UPDATE tasks SET state = ?, attempts = ?,"
	                  " not_before = ?, error = ? WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, t->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)t->attempts);
	bind_ms(s, 3, t->not_before);
	sqlite3_bind_text(s, 4, t->error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, t->id);
	return step_done(st, "task set", s, true);
}

struct task_walk { store_task_cb cb; void *arg; };

static int task_row(sqlite3_stmt *s, void *ctx)
{
	struct task_walk *w = ctx;
	struct store_task t = {
		.id = sqlite3_column_int64(s, 0),
		.run_id = sqlite3_column_int64(s, 1),
		.name = col_text(s, 2),
		.seq = sqlite3_column_int(s, 3),
		.state = col_text(s, 4),
		.attempts = (unsigned)sqlite3_column_int(s, 5),
		.not_before = sqlite3_column_int64(s, 6),
		.error = col_text(s, 7),
	};
	return w->cb(w->arg, &t);
}

int store_tasks_each(struct store *st, int64_t run_id, store_task_cb cb, void *arg)
{
	struct task_walk w = { cb, arg };

	return select_by(st, "tasks", "SELECT id, run_id, name, seq, state, attempts,"
	                 " COALESCE(not_before, 0), error FROM tasks WHERE run_id = ?"
	                 " ORDER BY seq", run_id, task_row, &w, NULL);
}

int store_attempt_add(struct store *st, int64_t task_id, unsigned n, int64_t started,
                      int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "attempt add", "INSERT INTO attempts(task_id, n, started)"
	                  " VALUES (?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, task_id);
	sqlite3_bind_int(s, 2, (int)n);
	sqlite3_bind_int64(s, 3, started);
	if ((rc = step_done(st, "attempt add", s, false)) == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int store_attempt_set_pid(struct store *st, int64_t id, int pid, uint64_t pid_start)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "attempt pid", "UPDATE attempts SET pid = ?, pid_start = ?"
	                  " WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int(s, 1, pid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)pid_start);
	sqlite3_bind_int64(s, 3, id);
	return step_done(st, "attempt pid", s, true);
}

int store_attempt_end(struct store *st, const struct store_attempt *a)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "attempt end", "UPDATE attempts SET ended = ?, outcome = ?,"
	                  " exit_code = ?, signal = ?, error = ?, output_tail = ?"
	                  " WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, a->ended);
	sqlite3_bind_text(s, 2, a->outcome, -1, SQLITE_STATIC);
	if (a->has_exit)
		sqlite3_bind_int(s, 3, a->exit_code);
	if (a->signal)
		sqlite3_bind_int(s, 4, a->signal);
	sqlite3_bind_text(s, 5, a->error, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, a->output_tail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, a->id);
	return step_done(st, "attempt end", s, true);
}

struct attempt_walk { store_attempt_cb cb; void *arg; };

static int attempt_row(sqlite3_stmt *s, void *ctx)
{
	struct attempt_walk *w = ctx;
	struct store_attempt a = {
		.id = sqlite3_column_int64(s, 0),
		.task_id = sqlite3_column_int64(s, 1),
		.n = (unsigned)sqlite3_column_int(s, 2),
		.started = sqlite3_column_int64(s, 3),
		.ended = sqlite3_column_int64(s, 4),
		.outcome = col_text(s, 5),
		.has_exit = sqlite3_column_type(s, 6) != SQLITE_NULL,
		.exit_code = sqlite3_column_int(s, 6),
		.signal = sqlite3_column_int(s, 7),
		.pid = sqlite3_column_int(s, 8),
		.pid_start = (uint64_t)sqlite3_column_int64(s, 9),
		.error = col_text(s, 10),
		.output_tail = col_text(s, 11),
	};
	return w->cb(w->arg, &a);
}

int store_attempts_each(struct store *st, int64_t task_id, store_attempt_cb cb, void *arg)
{
	struct attempt_walk w = { cb, arg };

	return select_by(st, "attempts", "SELECT id, task_id, n, started, COALESCE(ended, 0),"
	                 " outcome, exit_code, COALESCE(signal, 0), COALESCE(pid, 0),"
	                 " COALESCE(pid_start, 0), error, output_tail FROM attempts"
	                 " WHERE task_id = ? ORDER BY n", task_id, attempt_row, &w, NULL);
}

struct event_walk { store_event_cb cb; void *arg; };

static int event_row(sqlite3_stmt *s, void *ctx)
{
	struct event_walk *w = ctx;
	struct store_event e = {
		.id = sqlite3_column_int64(s, 0),
		.ts = sqlite3_column_int64(s, 1),
		.level = col_text(s, 2),
		.type = col_text(s, 3),
		.dataset = col_text(s, 4),
		.run_id = sqlite3_column_int64(s, 5),
		.task = col_text(s, 6),
		.message = col_text(s, 7),
	};
	return w->cb(w->arg, &e);
}

int store_events_of_run(struct store *st, int64_t run_id, unsigned limit,
                        store_event_cb cb, void *arg)
{
	struct event_walk w = { cb, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "events", "SELECT * FROM (SELECT id, ts, level, type, dataset,"
	                  " run_id, task, message FROM events WHERE run_id = ?"
	                  " ORDER BY id DESC LIMIT ?) ORDER BY id", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, limit);
	return walk(st, "events", s, event_row, &w, NULL);
}

static char *dup_col(sqlite3_stmt *s, int i)
{
	const char *v = col_text(s, i);
	return v ? strdup(v) : NULL;
}

int store_snapshot_of_run(struct store *st, int64_t run_id, struct store_snapshot_ref *out)
{
	sqlite3_stmt *s;
	int rc, step;

	memset(out, 0, sizeof *out);
	if ((rc = prepare(st, "snapshot of run", "SELECT id, path, encoding, line_ending,"
	                  " COALESCE(rows, -1), state, bytes FROM snapshots WHERE run_id = ?"
	                  " ORDER BY id DESC LIMIT 1", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		out->id = sqlite3_column_int64(s, 0);
		out->path = dup_col(s, 1);
		out->encoding = dup_col(s, 2);
		out->line_ending = dup_col(s, 3);
		out->rows = sqlite3_column_int64(s, 4);
		out->state = dup_col(s, 5);
		out->bytes = (uint64_t)sqlite3_column_int64(s, 6);
		rc = out->path && out->state ? 0 : -ENOMEM;
	} else {
		rc = step == SQLITE_DONE ? -ENOENT : fail(st, "snapshot of run");
	}
	sqlite3_finalize(s);
	if (rc < 0)
		store_snapshot_ref_free(out);
	return rc;
}

void store_snapshot_ref_free(struct store_snapshot_ref *ref)
{
	if (!ref)
		return;
	free(ref->path);
	free(ref->encoding);
	free(ref->line_ending);
	free(ref->state);
	memset(ref, 0, sizeof *ref);
	ref->rows = -1;
}

int store_snapshot_checked(struct store *st, int64_t id, int64_t rows,
                           const char *encoding, const char *line_ending)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "snapshot checked", "UPDATE snapshots SET rows = ?, encoding = ?,"
	                  " line_ending = ? WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, rows);
	sqlite3_bind_text(s, 2, encoding, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, line_ending, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, id);
	return step_done(st, "snapshot checked", s, true);
}

int store_snapshot_quarantined(struct store *st, int64_t id, const char *path)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = prepare(st, "snapshot quarantined", "UPDATE snapshots SET"
	                  " state = 'quarantined', path = ? WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	return step_done(st, "snapshot quarantined", s, true);
}

/* ---- snapshots and validators (fetch) ---- */

void store_snapshot_clear(struct store_snapshot *s)
{
	if (!s)
		return;
	free(s->dataset); free(s->exec_date); free(s->path); free(s->hash);
	free(s->url); free(s->etag); free(s->last_modified); free(s->state);
	memset(s, 0, sizeof *s);
}

/* Create the datasets row of NAME if missing, and set its validators. */
static int validators_upsert(struct store *st, const char *name, const char *etag,
                             const char *lm, int64_t now_ms)
{
	sqlite3_stmt *s;
	int rc = 0;
	if (sqlite3_prepare_v2(st->db,
	        "INSERT INTO datasets(name, first_configured, etag, last_modified)"
	        " VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET"
	        " etag = excluded.etag, last_modified = excluded.last_modified",
	        -1, &s, NULL) != SQLITE_OK)
		return fail(st, "validators");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now_ms);
	sqlite3_bind_text(s, 3, etag, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, lm, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = fail(st, "validators");
	sqlite3_finalize(s);
	return rc;
}

int store_validators_set(struct store *st, const char *dataset, const char *etag,
                         const char *last_modified, int64_t now_ms)
{
	return validators_upsert(st, dataset, etag, last_modified, now_ms);
}

int64_t store_snapshot_add(struct store *st, const struct store_snapshot *snap)
{
	sqlite3_stmt *s = NULL;
	int64_t id = -EIO;
	int64_t when = snap->published;

	/* A savepoint, so the caller may hold a transaction of its own (the
	 * snapshot row together with its task's state) or none. */
	if (exec(st, "SAVEPOINT snapshot_add") < 0)
		return -EIO;
	if (validators_upsert(st, snap->dataset, snap->etag, snap->last_modified, when) < 0)
		goto out;
	if (sqlite3_prepare_v2(st->db,
	        "INSERT INTO snapshots(run_id, dataset, exec_date, path, bytes, hash,"
	        " url, etag, last_modified, rows, state, published)"
	        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK) {
		fail(st, "snapshot");
		goto out;
	}
	sqlite3_bind_int64(s, 1, snap->run_id);
	sqlite3_bind_text(s, 2, snap->dataset, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, snap->exec_date, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, snap->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)snap->bytes);
	sqlite3_bind_text(s, 6, snap->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, snap->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, snap->etag, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, snap->last_modified, -1, SQLITE_STATIC);
	if (snap->rows >= 0)
		sqlite3_bind_int64(s, 10, snap->rows);
	sqlite3_bind_text(s, 11, snap->state ? snap->state : "published", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 12, when);
	if (sqlite3_step(s) != SQLITE_DONE) {
		fail(st, "snapshot");
		goto out;
	}
	id = sqlite3_last_insert_rowid(st->db);
out:
	sqlite3_finalize(s);
	if (id < 0)
		exec(st, "ROLLBACK TO snapshot_add");
	if (exec(st, "RELEASE snapshot_add") < 0)
		id = -EIO;
	return id;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	return t ? strdup(t) : NULL;
}

#define SNAPSHOT_COLS "s.id, s.run_id, s.dataset, s.exec_date, s.path, s.bytes," \
	" s.hash, s.url, s.etag, s.last_modified, s.state, s.rows, s.published"

/* Fill OUT from a row of SNAPSHOT_COLS.  -ENOMEM leaves OUT cleared. */
static int snapshot_row(sqlite3_stmt *s, struct store_snapshot *out)
{
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(s, 0);
	out->run_id = sqlite3_column_int64(s, 1);
	out->dataset = col_dup(s, 2);
	out->exec_date = col_dup(s, 3);
	out->path = col_dup(s, 4);
	out->bytes = (uint64_t)sqlite3_column_int64(s, 5);
	out->hash = col_dup(s, 6);
	out->url = col_dup(s, 7);
	out->etag = col_dup(s, 8);
	out->last_modified = col_dup(s, 9);
	out->state = col_dup(s, 10);
	out->rows = sqlite3_column_type(s, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 11);
	out->published = sqlite3_column_int64(s, 12);
	if (!out->dataset || !out->exec_date || !out->path || !out->hash || !out->state ||
	    (!out->url && sqlite3_column_type(s, 7) != SQLITE_NULL) ||
	    (!out->etag && sqlite3_column_type(s, 8) != SQLITE_NULL) ||
	    (!out->last_modified && sqlite3_column_type(s, 9) != SQLITE_NULL)) {
		store_snapshot_clear(out);
		return -ENOMEM;
	}
	return 0;
}

int store_snapshot_last(struct store *st, const char *dataset, struct store_snapshot *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	/* The dataset's validators win when it has any: an unchanged fetch
	 * may have updated them since the snapshot. */
	if (sqlite3_prepare_v2(st->db,
	        "SELECT s.id, s.run_id, s.dataset, s.exec_date, s.path, s.bytes, s.hash,"
	        " s.url,"
	        " CASE WHEN d.etag IS NOT NULL OR d.last_modified IS NOT NULL"
	        "  THEN d.etag ELSE s.etag END,"
	        " CASE WHEN d.etag IS NOT NULL OR d.last_modified IS NOT NULL"
	        "  THEN d.last_modified ELSE s.last_modified END,"
	        " s.state, s.rows, s.published"
	        " FROM snapshots s LEFT JOIN datasets d ON d.name = s.dataset"
	        " WHERE s.dataset = ? ORDER BY s.id DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "last snapshot");
	sqlite3_bind_text(s, 1, dataset, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = snapshot_row(s, out);
	else if (rc == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = fail(st, "last snapshot");
	sqlite3_finalize(s);
	return rc;
}

void store_snapshots_free(struct store_snapshot *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		store_snapshot_clear(&list[i]);
	free(list);
}

int store_snapshots_published(struct store *st, const char *dataset,
                              struct store_snapshot **list, size_t *n)
{
	sqlite3_stmt *s;
	struct store_snapshot *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*list = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
	        "SELECT " SNAPSHOT_COLS " FROM snapshots s"
	        " WHERE s.dataset = ? AND s.state IN ('published', 'promoted')"
	        " ORDER BY s.exec_date DESC, s.id DESC LIMIT ?", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "published snapshots");
	sqlite3_bind_text(s, 1, dataset, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, STORE_SNAPSHOT_LIST_MAX);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_snapshot *nv = realloc(v, ncap * sizeof *nv);
			if (!nv) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		if ((rc = snapshot_row(s, &v[len])) < 0)
			goto out;
		len++;
	}
	rc = rc == SQLITE_DONE ? 0 : fail(st, "published snapshots");
out:
	sqlite3_finalize(s);
	if (rc < 0) {
		store_snapshots_free(v, len);
		return rc;
	}
	*list = v;
	*n = len;
	return 0;
}

int store_snapshot_set_state(struct store *st, int64_t id, const char *state)
{
	sqlite3_stmt *s;
	int rc = 0;
	if (sqlite3_prepare_v2(st->db, "UPDATE snapshots SET state = ? WHERE id = ?",
	                       -1, &s, NULL) != SQLITE_OK)
		return fail(st, "snapshot state");
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = fail(st, "snapshot state");
	else if (sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

/* ---- data quality results and diffs (dq) ---- */

static int dq_insert_result(struct store *st, int64_t run_id, const struct dq_result *x)
{
	sqlite3_stmt *s;
	json_t *lines = json_array();
	char *text = NULL;
	int rc;

	for (size_t i = 0; lines && i < x->n_lines; i++)
		json_array_append_new(lines, json_integer((json_int_t)x->lines[i]));
	if (!lines || !(text = json_dumps(lines, JSON_COMPACT))) {
		json_decref(lines);
		return -ENOMEM;
	}
	json_decref(lines);
	if ((rc = prepare(st, "dq result", "INSERT OR REPLACE INTO dq_results(run_id,"
	                  " check_name, check_type, severity, outcome, observed, threshold,"
	                  " detail, lines) VALUES (?,?,?,?,?,?,?,?,?)", &s)) < 0) {
		free(text);
		return rc;
	}
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, x->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, config_check_type_name(x->type), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, config_severity_name(x->severity), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, dq_outcome_name(x->outcome), -1, SQLITE_STATIC);
	if (!isnan(x->observed))
		sqlite3_bind_double(s, 6, x->observed);
	sqlite3_bind_text(s, 7, x->threshold, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, x->detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, text, -1, SQLITE_STATIC);
	rc = step_done(st, "dq result", s, false);
	free(text);
	return rc;
}

static int dq_insert_diff(struct store *st, int64_t run_id, int64_t prev_run_id,
                          const struct dq_diff *d)
{
	sqlite3_stmt *s;
	json_t *j = dq_diff_json(d), *ex = j ? json_object_get(j, "examples") : NULL;
	char *text;
	int rc;

	/* examples: {"added":[keys],"removed":[..],"changed":[..],"unchanged":N} */
	if (!ex || json_object_set_new(ex, "unchanged", json_integer((json_int_t)d->unchanged)) < 0 ||
	    !(text = json_dumps(ex, JSON_COMPACT))) {
		json_decref(j);
		return -ENOMEM;
	}
	json_decref(j);
	if ((rc = prepare(st, "dq diff", "INSERT OR REPLACE INTO diffs(run_id, prev_run_id,"
	                  " added, removed, changed, examples) VALUES (?,?,?,?,?,?)", &s)) < 0) {
		free(text);
		return rc;
	}
	sqlite3_bind_int64(s, 1, run_id);
	if (prev_run_id > 0)
		sqlite3_bind_int64(s, 2, prev_run_id);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)d->added);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)d->removed);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)d->changed);
	sqlite3_bind_text(s, 6, text, -1, SQLITE_STATIC);
	rc = step_done(st, "dq diff", s, false);
	free(text);
	return rc;
}

int store_dq_save(struct store *st, int64_t run_id, int64_t prev_run_id,
                  const struct dq_report *r)
{
	sqlite3_stmt *s;
	int rc;

	/* A savepoint: all or nothing, inside the caller's transaction if any. */
	if (exec(st, "SAVEPOINT dq_save") < 0)
		return -EIO;
	if ((rc = prepare(st, "dq save", "DELETE FROM dq_results WHERE run_id = ?", &s)) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, run_id);
	if ((rc = step_done(st, "dq save", s, false)) < 0)
		goto out;
	for (size_t i = 0; i < r->n_results; i++)
		if ((rc = dq_insert_result(st, run_id, &r->results[i])) < 0)
			goto out;
	if (r->diff.done)
		rc = dq_insert_diff(st, run_id, prev_run_id, &r->diff);
	else if ((rc = prepare(st, "dq save", "DELETE FROM diffs WHERE run_id = ?", &s)) == 0) {
		sqlite3_bind_int64(s, 1, run_id);
		rc = step_done(st, "dq save", s, false);
	}
out:
	if (rc < 0)
		exec(st, "ROLLBACK TO dq_save");
	if (exec(st, "RELEASE dq_save") < 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* A JSON array or object stored as text; an empty array when unreadable. */
static json_t *col_json(sqlite3_stmt *s, int i)
{
	const char *t = col_text(s, i);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	return j ? j : json_array();
}

static json_t *col_real(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null()
	                                                : json_real(sqlite3_column_double(s, i));
}

static json_t *col_str(sqlite3_stmt *s, int i)
{
	const char *t = col_text(s, i);
	return t ? json_string(t) : json_null();
}

/* The check named NAME in array CHECKS, appended when new. */
static json_t *history_check(json_t *checks, sqlite3_stmt *s)
{
	const char *name = col_text(s, 2);
	size_t i;
	json_t *c;

	json_array_foreach(checks, i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	c = json_pack("{s:s, s:o, s:o, s:[]}", "name", name, "type", col_str(s, 3),
	              "severity", col_str(s, 4), "values");
	if (!c || json_array_append_new(checks, c) < 0)
		return NULL;
	return c;
}

int store_dq_history(struct store *st, const char *dataset, unsigned runs, json_t **out)
{
	sqlite3_stmt *s;
	json_t *res, *list, *checks;
	int64_t last = 0;
	int rc, step;

	*out = NULL;
	if (runs > STORE_DQ_MAX_RUNS)
		runs = STORE_DQ_MAX_RUNS;
	if ((rc = prepare(st, "dq history",
	        "SELECT d.run_id, r.exec_date, d.check_name, d.check_type, d.severity,"
	        " d.outcome, d.observed, d.threshold, d.detail, d.lines, r.state"
	        " FROM dq_results d JOIN runs r ON r.id = d.run_id"
	        " WHERE d.run_id IN (SELECT id FROM runs WHERE target = ?1 AND kind = 'dataset'"
	        "   AND id IN (SELECT run_id FROM dq_results) ORDER BY id DESC LIMIT ?2)"
	        " ORDER BY d.run_id DESC, d.rowid", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, dataset, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)runs);
	res = json_pack("{s:s, s:[], s:[]}", "dataset", dataset, "runs", "checks");
	list = json_object_get(res, "runs");
	checks = json_object_get(res, "checks");
	while (res && (step = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t run = sqlite3_column_int64(s, 0);
		json_t *c = history_check(checks, s), *v;
		if (run != last && json_array_append_new(list, json_pack("{s:I, s:o, s:o}",
		        "run_id", (json_int_t)run, "exec_date", col_str(s, 1),
		        "state", col_str(s, 10))) < 0)
			c = NULL;
		last = run;
		v = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "run_id", (json_int_t)run,
		              "exec_date", col_str(s, 1), "outcome", col_str(s, 5),
		              "observed", col_real(s, 6), "threshold", col_str(s, 7),
		              "detail", col_str(s, 8), "lines", col_json(s, 9));
		if (!c || !v || json_array_append_new(json_object_get(c, "values"), v) < 0) {
			json_decref(res);
			res = NULL;
		}
	}
	if (!res)
		rc = -ENOMEM;
	else if (step != SQLITE_DONE)
		rc = fail(st, "dq history");
	sqlite3_finalize(s);
	if (rc < 0) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

int store_dq_diff(struct store *st, const char *dataset, const char *exec_date, json_t **out)
{
	sqlite3_stmt *s;
	int rc, step;

	*out = NULL;
	if ((rc = prepare(st, "dq diff",
	        "SELECT f.run_id, r.exec_date, f.prev_run_id, p.exec_date, f.added, f.removed,"
	        " f.changed, f.examples FROM diffs f JOIN runs r ON r.id = f.run_id"
	        " LEFT JOIN runs p ON p.id = f.prev_run_id"
	        " WHERE r.target = ?1 AND r.kind = 'dataset' AND (?2 IS NULL OR r.exec_date = ?2)"
	        " ORDER BY f.run_id DESC LIMIT 1", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, dataset, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, exec_date, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		json_t *ex = col_json(s, 7);
		*out = json_pack("{s:s, s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:O, s:o}",
		        "dataset", dataset,
		        "run_id", (json_int_t)sqlite3_column_int64(s, 0),
		        "exec_date", col_str(s, 1),
		        "prev_run_id", sqlite3_column_type(s, 2) == SQLITE_NULL ? json_null()
		                       : json_integer(sqlite3_column_int64(s, 2)),
		        "prev_exec_date", col_str(s, 3),
		        "added", (json_int_t)sqlite3_column_int64(s, 4),
		        "removed", (json_int_t)sqlite3_column_int64(s, 5),
		        "changed", (json_int_t)sqlite3_column_int64(s, 6),
		        "unchanged", json_object_get(ex, "unchanged") ? json_object_get(ex, "unchanged")
		                                                      : json_null(),
		        "examples", ex);
		if (*out)
			json_object_del(json_object_get(*out, "examples"), "unchanged");
		rc = *out ? 0 : -ENOMEM;
	} else {
		rc = step == SQLITE_DONE ? -ENOENT : fail(st, "dq diff");
	}
	sqlite3_finalize(s);
	return rc;
}

int store_dq_quarantined(struct store *st, int64_t run_id, struct store_dq_snapshot *out)
{
	sqlite3_stmt *s;
	int rc, step;

	memset(out, 0, sizeof *out);
	if ((rc = prepare(st, "quarantined snapshot",
	        "SELECT s.id, s.dataset, s.exec_date, s.path, s.state, r.kind"
	        " FROM runs r LEFT JOIN snapshots s ON s.run_id = r.id"
	        " WHERE r.id = ? ORDER BY s.id DESC LIMIT 1", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		out->snapshot_id = sqlite3_column_int64(s, 0);
		out->dataset = dup_col(s, 1);
		out->exec_date = dup_col(s, 2);
		out->path = dup_col(s, 3);
		out->state = dup_col(s, 4);
		out->kind = dup_col(s, 5);
		rc = out->kind && (!out->snapshot_id || (out->dataset && out->exec_date &&
		                                         out->path && out->state)) ? 0 : -ENOMEM;
	} else {
		rc = step == SQLITE_DONE ? -ENOENT : fail(st, "quarantined snapshot");
	}
	sqlite3_finalize(s);
	if (rc < 0)
		store_dq_snapshot_clear(out);
	return rc;
}

void store_dq_snapshot_clear(struct store_dq_snapshot *q)
{
	if (!q)
		return;
	free(q->dataset);
	free(q->exec_date);
	free(q->path);
	free(q->state);
	free(q->kind);
	memset(q, 0, sizeof *q);
}

int store_dq_promote(struct store *st, int64_t snapshot_id, const char *path, int64_t ts,
                     const char *message)
{
	sqlite3_stmt *s;
	int rc;

	if (exec(st, "SAVEPOINT dq_promote") < 0)
		return -EIO;
	if ((rc = prepare(st, "promote", "UPDATE snapshots SET state = 'promoted', path = ?"
	                  " WHERE id = ? AND state = 'quarantined'", &s)) < 0)
		goto out;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, snapshot_id);
	if ((rc = step_done(st, "promote", s, true)) < 0)
		goto out;
	if ((rc = prepare(st, "promote", "INSERT INTO events(ts, level, type, dataset, run_id,"
	                  " task, message) SELECT ?, 'notice', 'snapshot.promoted', dataset,"
	                  " run_id, 'check', ? FROM snapshots WHERE id = ?", &s)) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, ts);
	sqlite3_bind_text(s, 2, message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, snapshot_id);
	rc = step_done(st, "promote", s, true);
out:
	if (rc < 0)
		exec(st, "ROLLBACK TO dq_promote");
	if (exec(st, "RELEASE dq_promote") < 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* ---- alerts (alerts.c) ---- */

int64_t store_alert_add(struct store *st, int64_t ts, const char *dataset,
                        const char *reason, const char *state,
                        const char *message, int64_t run_id)
{
	sqlite3_stmt *s;
	int rc;
	if (sqlite3_prepare_v2(st->db,
	        "INSERT INTO alerts(ts, dataset, reason, state, message, run_id)"
	        " VALUES (?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "alert");
	sqlite3_bind_int64(s, 1, ts);
	sqlite3_bind_text(s, 2, dataset, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, message, -1, SQLITE_STATIC);
	if (run_id > 0)
		sqlite3_bind_int64(s, 6, run_id);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(st->db) : fail(st, "alert");
}

/* UPDATE of one alert row by id; SQL has one ? for the value (when HAS_VALUE)
 * and one for the id. */
static int alert_update(struct store *st, const char *sql, bool has_value,
                        int64_t value, int64_t id)
{
	sqlite3_stmt *s;
	int rc = 0, i = 1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail(st, "alert update");
	if (has_value)
		sqlite3_bind_int64(s, i++, value);
	sqlite3_bind_int64(s, i, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = fail(st, "alert update");
	else if (sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

int store_alert_delivered(struct store *st, int64_t id, int64_t ts)
{
	return alert_update(st, "UPDATE alerts SET delivered = ? WHERE id = ?",
	                    true, ts, id);
}

int store_alert_suppressed(struct store *st, int64_t id)
{
	return alert_update(st, "UPDATE alerts SET suppressed = suppressed + 1"
	                    " WHERE id = ?", false, 0, id);
}

#define ALERT_COLUMNS "id, ts, coalesce(dataset, ''), reason, state, message," \
	" coalesce(run_id, 0), coalesce(delivered, 0), suppressed"

/* Step S (prepared with ALERT_COLUMNS) to the end, calling FN per row. */
static int alert_rows(struct store *st, sqlite3_stmt *s, store_alert_fn fn, void *arg)
{
	int rc = 0, step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_alert a = {
			.id = sqlite3_column_int64(s, 0),
			.ts = sqlite3_column_int64(s, 1),
			.dataset = (const char *)sqlite3_column_text(s, 2),
			.reason = (const char *)sqlite3_column_text(s, 3),
			.state = (const char *)sqlite3_column_text(s, 4),
			.message = (const char *)sqlite3_column_text(s, 5),
			.run_id = sqlite3_column_int64(s, 6),
			.delivered = sqlite3_column_int64(s, 7),
			.suppressed = sqlite3_column_int64(s, 8),
		};
		if ((rc = fn(&a, arg)) < 0)
			break;
	}
	if (rc >= 0 && step != SQLITE_DONE)
		rc = fail(st, "alerts");
	sqlite3_finalize(s);
	return rc;
}

int store_alerts_latest(struct store *st, store_alert_fn fn, void *arg)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "SELECT " ALERT_COLUMNS " FROM alerts"
	        " WHERE id IN (SELECT max(id) FROM alerts GROUP BY dataset, reason)"
	        " ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "alerts");
	return alert_rows(st, s, fn, arg);
}

int store_alerts_list(struct store *st, const char *dataset, unsigned limit,
                      store_alert_fn fn, void *arg)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "SELECT " ALERT_COLUMNS " FROM alerts"
	        " WHERE ?1 IS NULL OR dataset = ?1 ORDER BY id DESC LIMIT ?2",
	        -1, &s, NULL) != SQLITE_OK)
		return fail(st, "alerts");
	sqlite3_bind_text(s, 1, dataset, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, limit);
	return alert_rows(st, s, fn, arg);
}

/* Append NAME to the ", "-joined list in BUF (truncating, never overflowing). */
static void join_name(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);
	if (used + 1 >= len)
		return;
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *s, int col)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	snprintf(dst, len, "%s", t ? t : "");
}

int store_run_facts(struct store *st, int64_t run_id, struct store_run_facts *out)
{
	sqlite3_stmt *s;
	int rc = 0, step;

	memset(out, 0, sizeof *out);
	if (sqlite3_prepare_v2(st->db, "SELECT target, kind, exec_date, state,"
	        " coalesce(error, ''), coalesce(ended, 0),"
	        " EXISTS (SELECT 1 FROM snapshots WHERE run_id = ?1"
	        "         AND state = 'quarantined')"
	        " FROM runs WHERE id = ?1", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "run facts");
	sqlite3_bind_int64(s, 1, run_id);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		copy_col(out->target, sizeof out->target, s, 0);
		copy_col(out->kind, sizeof out->kind, s, 1);
		copy_col(out->exec_date, sizeof out->exec_date, s, 2);
		copy_col(out->state, sizeof out->state, s, 3);
		copy_col(out->error, sizeof out->error, s, 4);
		out->ended = sqlite3_column_int64(s, 5);
		out->quarantined = sqlite3_column_int(s, 6) != 0;
	} else {
		rc = step == SQLITE_DONE ? -ENOENT : fail(st, "run facts");
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;

	if (sqlite3_prepare_v2(st->db, "SELECT check_name, outcome FROM dq_results"
	        " WHERE run_id = ? ORDER BY check_name", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "run facts");
	sqlite3_bind_int64(s, 1, run_id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *outcome = (const char *)sqlite3_column_text(s, 1);
		out->n_checks++;
		if (outcome && strcmp(outcome, "fail") == 0) {
			out->n_fail++;
			join_name(out->failed, sizeof out->failed, name ? name : "?");
		} else if (outcome && strcmp(outcome, "warn") == 0) {
			out->n_warn++;
			join_name(out->warned, sizeof out->warned, name ? name : "?");
		}
	}
	if (step != SQLITE_DONE)
		rc = fail(st, "run facts");
	sqlite3_finalize(s);
	return rc;
}

int store_freshness(struct store *st, const char *dataset, int64_t *last_ok,
                    int64_t *first_configured)
{
	sqlite3_stmt *s;
	int rc = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT"
	        " (SELECT coalesce(max(ended), 0) FROM runs WHERE target = ?1"
	        "  AND kind = 'dataset' AND state IN ('succeeded', 'unchanged')),"
	        " (SELECT coalesce(max(first_configured), 0) FROM datasets WHERE name = ?1)",
	        -1, &s, NULL) != SQLITE_OK)
		return fail(st, "freshness");
	sqlite3_bind_text(s, 1, dataset, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*last_ok = sqlite3_column_int64(s, 0);
		*first_configured = sqlite3_column_int64(s, 1);
	} else {
		rc = fail(st, "freshness");
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- metrics (metrics.c) ---- */

/* One statement per enum store_metric: label columns, then the value. */
static const char *const metric_sql[STORE_METRIC__N] = {
	[STORE_METRIC_RUNS] =
		"SELECT target, kind, state, count(*) FROM runs"
		" GROUP BY target, kind, state ORDER BY target, kind, state",
	[STORE_METRIC_LAST_OK] =
		"SELECT target, max(ended) FROM runs WHERE kind = 'dataset'"
		" AND state IN ('succeeded', 'unchanged') AND ended IS NOT NULL"
		" GROUP BY target ORDER BY target",
	[STORE_METRIC_SNAPSHOT_ROWS] =
		"SELECT dataset, rows FROM snapshots WHERE rows IS NOT NULL AND id IN"
		" (SELECT max(id) FROM snapshots WHERE state <> 'quarantined'"
		"  GROUP BY dataset) ORDER BY dataset",
	[STORE_METRIC_SNAPSHOT_BYTES] =
		"SELECT dataset, bytes FROM snapshots WHERE id IN"
		" (SELECT max(id) FROM snapshots WHERE state <> 'quarantined'"
		"  GROUP BY dataset) ORDER BY dataset",
	[STORE_METRIC_FETCH_BYTES] =
		"SELECT dataset, sum(bytes) FROM snapshots GROUP BY dataset ORDER BY dataset",
	[STORE_METRIC_FETCHES] =
		"SELECT r.target, a.outcome, count(*) FROM attempts a"
		" JOIN tasks t ON a.task_id = t.id JOIN runs r ON t.run_id = r.id"
		" WHERE t.name = 'fetch' AND a.outcome IS NOT NULL"
		" GROUP BY r.target, a.outcome ORDER BY r.target, a.outcome",
	[STORE_METRIC_FETCH_DURATION] =
		"SELECT r.target, a.ended - a.started FROM attempts a"
		" JOIN tasks t ON a.task_id = t.id JOIN runs r ON t.run_id = r.id"
		" WHERE a.id IN (SELECT max(a2.id) FROM attempts a2"
		"  JOIN tasks t2 ON a2.task_id = t2.id JOIN runs r2 ON t2.run_id = r2.id"
		"  WHERE t2.name = 'fetch' AND a2.outcome IN ('succeeded', 'unchanged')"
		"  AND a2.ended IS NOT NULL GROUP BY r2.target)"
		" ORDER BY r.target",
	[STORE_METRIC_CHECKS] =
		"SELECT r.target, d.check_name, d.outcome, count(*) FROM dq_results d"
		" JOIN runs r ON d.run_id = r.id"
		" GROUP BY r.target, d.check_name, d.outcome"
		" ORDER BY r.target, d.check_name, d.outcome",
	[STORE_METRIC_PAUSED] =
		"SELECT name, paused FROM datasets ORDER BY name",
	[STORE_METRIC_ALERTS_FIRING] =
		"SELECT coalesce(dataset, ''), reason, state = 'firing' FROM alerts"
		" WHERE id IN (SELECT max(id) FROM alerts GROUP BY dataset, reason)"
		" ORDER BY 1, 2",
	/* Through runs_by_state: only the few unfinished runs are visited. */
	[STORE_METRIC_TASKS] =
		"SELECT s.state, (SELECT count(*) FROM runs r JOIN tasks t ON t.run_id = r.id"
		"  WHERE r.state IN ('queued', 'running') AND t.state = s.state)"
		" FROM (SELECT 'queued' AS state UNION ALL SELECT 'running') s",
};

int store_open_reader(struct store *st, struct store **out, char **err)
{
	const char *path = sqlite3_db_filename(st->db, "main");
	struct store *r;

	*out = NULL;
	*err = NULL;
	if (!path || !*path) {
		*err = strdup("the store has no file to open a reader on");
		return -EINVAL;
	}
	if (!(r = calloc(1, sizeof *r)))
		return -ENOMEM;
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		fail(r, "open reader");
		*err = strdup(r->errmsg);
		store_close(r);
		return -EIO;
	}
	sqlite3_busy_timeout(r->db, 5000);
	exec(r, "PRAGMA cache_size=-512");
	*out = r;
	return 0;
}

int store_metric_rows(struct store *st, enum store_metric q, store_metric_fn fn,
                      void *arg)
{
	const char *labels[STORE_METRIC_MAX_LABELS];
	sqlite3_stmt *s;
	int rc = 0, step, n;

	if (q < 0 || q >= STORE_METRIC__N)
		return -EINVAL;
	if (sqlite3_prepare_v2(st->db, metric_sql[q], -1, &s, NULL) != SQLITE_OK)
		return fail(st, "metrics");
	n = sqlite3_column_count(s) - 1;
	if (n < 0 || n > STORE_METRIC_MAX_LABELS) {
		sqlite3_finalize(s);
		return -EINVAL;
	}
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++) {
			const char *t = (const char *)sqlite3_column_text(s, i);
			labels[i] = t ? t : "";
		}
		rc = fn(labels, n, sqlite3_column_double(s, n), arg);
		if (rc < 0)
			break;
	}
	if (rc >= 0 && step != SQLITE_DONE)
		rc = fail(st, "metrics");
	sqlite3_finalize(s);
	return rc;
}
