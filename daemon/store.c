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

/* ---- data quality results and diffs (dq) ---- */

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
};

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
