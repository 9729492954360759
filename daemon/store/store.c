/*
 * store.c - the state store's connection: schema and migrations, open and
 * close, transactions, quick_check, the reader connection, and the helpers
 * of store_int.h that every query file is written with.
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

#include <sqlite3.h>

#include "base/macro.h"
#include "store/store.h"
#include "store/store_int.h"

/* ---- schema ---- */

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

/* v2 -> v3: when each source changed (store_changes.c), apart from when it
 * was polled (runs).  One row per change; the cadence reads a dataset's
 * newest rows by the index. */
static const char migration_3[] =
	"CREATE TABLE source_changes ("
	"  id INTEGER PRIMARY KEY,"
	"  dataset TEXT NOT NULL,"
	"  observed_at INTEGER NOT NULL,"       /* end of the fetch that saw it */
	"  kind TEXT NOT NULL CHECK (kind IN ('bytes','validator','edit_date')),"
	"  value TEXT,"                         /* the new hash, validator or edit date */
	"  run_id INTEGER"                      /* the run of that fetch */
	");"
	"CREATE INDEX source_changes_by_dataset ON source_changes(dataset, observed_at);";

/* v3 -> v4: the managed Spark Connect server's process group while it
 * runs (store_spark.c), so a crashed daemon's orphan server is killed at
 * the next start.  At most one row. */
static const char migration_4[] =
	"CREATE TABLE spark_server ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  pgid INTEGER NOT NULL,"              /* the server's pid = its group */
	"  pid_start INTEGER NOT NULL,"         /* /proc/<pid>/stat starttime */
	"  started INTEGER NOT NULL"            /* unix ms */
	");";

/* v4 -> v5: removed keys
 * split into aged out and withdrawn (quality/dq.h), NULL when the diff
 * could not split them (and in rows saved before), and the window start
 * the split used (local ISO text). */
static const char migration_5[] =
	"ALTER TABLE diffs ADD COLUMN aged_out INTEGER;"
	"ALTER TABLE diffs ADD COLUMN withdrawn INTEGER;"
	"ALTER TABLE diffs ADD COLUMN window_start TEXT;";

/* v5 -> v6:
 * the S3 multipart uploads open for a snapshot (store_uploads.c), so that a
 * restart resumes the upload where its stored parts end.  One upload per
 * dataset and exec date; a part keeps the content hash's state after it. */
static const char migration_6[] =
	"CREATE TABLE s3_uploads ("
	"  dataset TEXT NOT NULL, exec_date TEXT NOT NULL,"
	"  key TEXT NOT NULL, upload_id TEXT NOT NULL UNIQUE,"
	"  url TEXT NOT NULL, etag TEXT, last_modified TEXT,"  /* the source's validators */
	"  total INTEGER NOT NULL,"                            /* -1 = unknown */
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (dataset, exec_date)"
	");"
	"CREATE TABLE s3_parts ("
	"  upload_id TEXT NOT NULL REFERENCES s3_uploads(upload_id) ON DELETE CASCADE,"
	"  number INTEGER NOT NULL, etag TEXT NOT NULL,"
	"  size INTEGER NOT NULL, end_offset INTEGER NOT NULL,"
	"  hash_state BLOB NOT NULL,"
	"  PRIMARY KEY (upload_id, number)"
	");";

static const char *const migrations[] = {
	migration_1,
	migration_2,
	migration_3,
	migration_4,
	migration_5,
	migration_6,
};

#define N_MIGRATIONS ((int)ARRAY_SIZE(migrations))

/* ---- helpers (store_int.h) ---- */

int st_fail(struct store *st, const char *what)
{
	snprintf(st->errmsg, sizeof st->errmsg, "%s: %s", what,
	         st->db ? sqlite3_errmsg(st->db) : "out of memory");
	return -EIO;
}

int st_exec(struct store *st, const char *sql)
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

int st_prepare(struct store *st, const char *what, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return st_fail(st, what);
	return 0;
}

int st_walk_keep(struct store *st, const char *what, sqlite3_stmt *s, st_row_fn row,
                 void *ctx, bool need_row)
{
	bool any = false;
	int rc = 0, step;

	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		any = true;
		if ((rc = row(s, ctx)) < 0)
			return rc;
	}
	if (step != SQLITE_DONE)
		return st_fail(st, what);
	return need_row && !any ? -ENOENT : 0;
}

int st_walk(struct store *st, const char *what, sqlite3_stmt *s, st_row_fn row,
            void *ctx, bool need_row)
{
	int rc = st_walk_keep(st, what, s, row, ctx, need_row);

	sqlite3_finalize(s);
	return rc;
}

int st_select_by(struct store *st, const char *what, const char *sql, int64_t key,
                 st_row_fn row, void *ctx, bool need_row)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, what, sql, &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, key);
	return st_walk(st, what, s, row, ctx, need_row);
}

int st_step_done(struct store *st, const char *what, sqlite3_stmt *s, bool must_change)
{
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : st_fail(st, what);
	if (rc == 0 && must_change && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

void st_bind_ms(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

void st_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

const char *st_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

char *st_strdup(sqlite3_stmt *s, int i, bool *nomem)
{
	const char *v = st_text(s, i);
	char *copy;

	if (!v)
		return NULL;
	if (!(copy = strdup(v)))
		*nomem = true;
	return copy;
}

/* ---- errors, transactions ---- */

const char *store_errmsg(struct store *st)
{
	return st ? st->errmsg : "no store";
}

int store_begin(struct store *st)    { return st_exec(st, "BEGIN IMMEDIATE"); }
int store_commit(struct store *st)   { return st_exec(st, "COMMIT"); }
void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		st_exec(st, "ROLLBACK");
}

static int version_row(sqlite3_stmt *s, void *ctx)
{
	*(int *)ctx = sqlite3_column_int(s, 0);
	return 0;
}

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s;
	int v = -EIO, rc;

	if ((rc = st_prepare(st, "user_version", "PRAGMA user_version", &s)) < 0 ||
	    (rc = st_walk(st, "user_version", s, version_row, &v, false)) < 0)
		return rc;
	return v;
}

/* ---- quick_check ---- */

/* At most this many of quick_check's complaints go into the message. */
#define QUICK_CHECK_ROWS 3
#define QUICK_CHECK_DB_LINE "*** in database main ***\n"

/* Progress handler of a quick_check: non-zero (stop) once interrupted. */
static int stop_requested(void *arg)
{
	struct store *st = arg;
	return atomic_load(&st->interrupted);
}

/* Problem N (1, 2, ...) that quick_check reported, R, onto F: "; "-joined,
 * on one line for the log. */
static void note_problem(FILE *f, const char *r, int n)
{
	if (!r)
		r = "?";
	/* Rows name the database on a line of their own. */
	if (strncmp(r, QUICK_CHECK_DB_LINE, strlen(QUICK_CHECK_DB_LINE)) == 0)
		r += strlen(QUICK_CHECK_DB_LINE);
	fputs(n > 1 ? "; " : "", f);
	for (; *r; r++)
		fputc(*r == '\n' ? ' ' : *r, f);
}

/* Steps by hand, not through st_walk: what a failed step means (damage,
 * an interrupt, or a check that could not run) depends on its code. */
int store_quick_check(struct store *st, char **err)
{
	sqlite3_stmt *s;
	char *msg = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 0, step = SQLITE_DONE, n = 0;
	bool damaged;

	*err = NULL;
	if ((rc = st_prepare(st, "quick_check", "PRAGMA quick_check", &s)) < 0)
		return rc;
	if (!(f = open_memstream(&msg, &len))) {
		sqlite3_finalize(s);
		return -ENOMEM;
	}
	/* sqlite3_interrupt() only reaches a statement already running: the
	 * handler also stops one that store_interrupt() came before. */
	sqlite3_progress_handler(st->db, 1000, stop_requested, st);
	while (!atomic_load(&st->interrupted) && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *r = st_text(s, 0);
		if (r && strcmp(r, "ok") == 0)
			break;
		if (n++ < QUICK_CHECK_ROWS)
			note_problem(f, r, n);
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
		rc = st_fail(st, "quick_check");     /* the check failed, not the store */
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

/* ---- open, close ---- */

/* Apply migrations [from, N) each in its own transaction, bumping
 * user_version inside it, so a crash leaves a consistent version. */
static int migrate(struct store *st, int from)
{
	for (int v = from; v < N_MIGRATIONS; v++) {
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
		if (store_begin(st) < 0)
			return -EIO;
		if (st_exec(st, migrations[v]) < 0 || st_exec(st, bump) < 0) {
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
		rc = st_fail(st, "open");
		goto out;
	}
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_extended_result_codes(st->db, 1);
	/* A small page cache: the daemon idles most of the day, and its hot
	 * rows (active runs, recent events) fit in 512 KiB. */
	if ((rc = st_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
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

/* ---- the reader connection ---- */

/* Why store_reader_open failed, for store_errmsg(ST); returns RC. */
static int reader_failed(struct store *st, int rc, const char *why)
{
	snprintf(st->errmsg, sizeof st->errmsg, "%s", why);
	return rc;
}

int store_reader_open(struct store *st, struct store **out)
{
	const char *path = sqlite3_db_filename(st->db, "main");
	struct store *r;

	*out = NULL;
	if (!path || !*path)
		return reader_failed(st, -EINVAL, "the store has no file to open a reader on");
	if (!(r = calloc(1, sizeof *r)))
		return reader_failed(st, -ENOMEM, strerror(ENOMEM));
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		st_fail(r, "open reader");
		reader_failed(st, -EIO, r->errmsg);
		store_close(r);
		return -EIO;
	}
	sqlite3_busy_timeout(r->db, 5000);
	st_exec(r, "PRAGMA cache_size=-512");
	*out = r;
	return 0;
}
