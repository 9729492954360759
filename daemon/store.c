/*
 * store.c - SQLite state store: schema, migrations, and every query.
 *
 * Schema history lives in `migrations` below: entry i brings user_version
 * from i to i+1.  Never edit a released migration; append a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3 *db;
	char errmsg[512];
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

static const char *const migrations[] = {
	migration_1,
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

/* PRAGMA quick_check: O(N) but skips index cross-checks; one row "ok". */
static int quick_check(struct store *st, char **err)
{
	sqlite3_stmt *s;
	int rc = 0;
	if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK)
		return fail(st, "quick_check");
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(s, 0);
		if (!r || strcmp(r, "ok") != 0) {
			if (asprintf(err, "integrity check failed: %s", r ? r : "?") < 0)
				*err = NULL;
			rc = -EIO;
		}
	} else {
		rc = fail(st, "quick_check");
	}
	sqlite3_finalize(s);
	return rc;
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
	if ((rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	                   "PRAGMA foreign_keys=ON;")) < 0)
		goto out;
	if ((rc = quick_check(st, err)) < 0)
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

	if (store_begin(st) < 0)
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
	if (store_commit(st) < 0)
		id = -EIO;
out:
	sqlite3_finalize(s);
	if (id < 0)
		store_rollback(st);
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

/* ---- alerts (alerts.c) ---- */
