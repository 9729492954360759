/*
 * store_dq.c - data-quality results and diffs (rows the check task saves,
 * read back for `denverctl dq` and `diff`), and promote: a quarantined
 * snapshot accepted by the operator.  Rows in, rows out: the JSON text in
 * dq_results.lines and diffs.examples is kept as given, never parsed.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

/* ---- saving results and diffs ---- */

static int result_insert(struct store *st, int64_t run_id, const struct store_dq_result *x)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "dq result", "INSERT OR REPLACE INTO dq_results(run_id,"
	                     " check_name, check_type, severity, outcome, observed, threshold,"
	                     " detail, lines) VALUES (?,?,?,?,?,?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	st_bind_text(s, 2, x->name);
	st_bind_text(s, 3, x->type);
	st_bind_text(s, 4, x->severity);
	st_bind_text(s, 5, x->outcome);
	if (!isnan(x->observed))
		sqlite3_bind_double(s, 6, x->observed);
	st_bind_text(s, 7, x->threshold);
	st_bind_text(s, 8, x->detail);
	st_bind_text(s, 9, x->lines);
	return st_step_done(st, "dq result", s, false);
}

static int diff_insert(struct store *st, int64_t run_id, const struct store_dq_diff *d)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "dq diff", "INSERT OR REPLACE INTO diffs(run_id, prev_run_id,"
	                     " added, removed, changed, examples, aged_out, withdrawn,"
	                     " window_start) VALUES (?,?,?,?,?,?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	if (d->prev_run_id > 0)
		sqlite3_bind_int64(s, 2, d->prev_run_id);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)d->added);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)d->removed);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)d->changed);
	st_bind_text(s, 6, d->examples);
	if (d->split) {
		sqlite3_bind_int64(s, 7, (sqlite3_int64)d->aged_out);
		sqlite3_bind_int64(s, 8, (sqlite3_int64)d->withdrawn);
	}
	st_bind_text(s, 9, d->window_start);
	return st_step_done(st, "dq diff", s, false);
}

/* DELETE FROM TABLE's rows of RUN_ID (SQL has the one ?). */
static int delete_of_run(struct store *st, const char *sql, int64_t run_id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "dq save", sql, &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	return st_step_done(st, "dq save", s, false);
}

int store_dq_save(struct store *st, int64_t run_id, const struct store_dq_result *results,
                  size_t n, const struct store_dq_diff *diff)
{
	int rc;

	/* A savepoint: all or nothing, inside the caller's transaction if any. */
	if (st_exec(st, "SAVEPOINT dq_save") < 0)
		return -EIO;
	rc = delete_of_run(st, "DELETE FROM dq_results WHERE run_id = ?", run_id);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = result_insert(st, run_id, &results[i]);
	if (rc == 0)
		rc = diff ? diff_insert(st, run_id, diff)
		          : delete_of_run(st, "DELETE FROM diffs WHERE run_id = ?", run_id);
	if (rc < 0)
		st_exec(st, "ROLLBACK TO dq_save");
	if (st_exec(st, "RELEASE dq_save") < 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* ---- reading them back ---- */

/* Column I as a double; NAN for NULL. */
static double col_real(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

struct value_walk { store_dq_value_fn fn; void *arg; };

static int value_row(sqlite3_stmt *s, void *ctx)
{
	struct value_walk *w = ctx;
	struct store_dq_value v = {
		.run_id = sqlite3_column_int64(s, 0),
		.exec_date = st_text(s, 1),
		.run_state = st_text(s, 10),
		.result = {
			.name = st_text(s, 2),
			.type = st_text(s, 3),
			.severity = st_text(s, 4),
			.outcome = st_text(s, 5),
			.observed = col_real(s, 6),
			.threshold = st_text(s, 7),
			.detail = st_text(s, 8),
			.lines = st_text(s, 9),
		},
	};
	return w->fn(w->arg, &v);
}

int store_dq_history(struct store *st, const char *dataset, unsigned runs,
                     store_dq_value_fn fn, void *arg)
{
	struct value_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if (runs > STORE_DQ_MAX_RUNS)
		runs = STORE_DQ_MAX_RUNS;
	if ((rc = st_prepare(st, "dq history",
	        "SELECT d.run_id, r.exec_date, d.check_name, d.check_type, d.severity,"
	        " d.outcome, d.observed, d.threshold, d.detail, d.lines, r.state"
	        " FROM dq_results d JOIN runs r ON r.id = d.run_id"
	        " WHERE d.run_id IN (SELECT id FROM runs WHERE target = ?1 AND kind = 'dataset'"
	        "   AND id IN (SELECT run_id FROM dq_results) ORDER BY id DESC LIMIT ?2)"
	        " ORDER BY d.run_id DESC, d.rowid", &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	sqlite3_bind_int(s, 2, (int)runs);
	return st_walk(st, "dq history", s, value_row, &w, false);
}

struct diff_walk { store_dq_diff_fn fn; void *arg; };

static int diff_row(sqlite3_stmt *s, void *ctx)
{
	struct diff_walk *w = ctx;
	struct store_dq_diff_row d = {
		.run_id = sqlite3_column_int64(s, 0),
		.exec_date = st_text(s, 1),
		.prev_exec_date = st_text(s, 3),
		.diff = {
			.prev_run_id = sqlite3_column_int64(s, 2),
			.added = (uint64_t)sqlite3_column_int64(s, 4),
			.removed = (uint64_t)sqlite3_column_int64(s, 5),
			.changed = (uint64_t)sqlite3_column_int64(s, 6),
			.examples = st_text(s, 7),
			.split = sqlite3_column_type(s, 8) != SQLITE_NULL,
			.aged_out = (uint64_t)sqlite3_column_int64(s, 8),
			.withdrawn = (uint64_t)sqlite3_column_int64(s, 9),
			.window_start = st_text(s, 10),
		},
	};
	return w->fn(w->arg, &d);
}

int store_dq_diff(struct store *st, const char *dataset, const char *exec_date,
                  store_dq_diff_fn fn, void *arg)
{
	struct diff_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "dq diff",
	        "SELECT f.run_id, r.exec_date, f.prev_run_id, p.exec_date, f.added, f.removed,"
	        " f.changed, f.examples, f.aged_out, f.withdrawn, f.window_start"
	        " FROM diffs f JOIN runs r ON r.id = f.run_id"
	        " LEFT JOIN runs p ON p.id = f.prev_run_id"
	        " WHERE r.target = ?1 AND r.kind = 'dataset' AND (?2 IS NULL OR r.exec_date = ?2)"
	        " ORDER BY f.run_id DESC LIMIT 1", &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	st_bind_text(s, 2, exec_date);
	return st_walk(st, "dq diff", s, diff_row, &w, true);
}

/* ---- promote ---- */

static int quarantined_row(sqlite3_stmt *s, void *ctx)
{
	struct store_dq_snapshot *out = ctx;
	bool nomem = false;

	out->snapshot_id = sqlite3_column_int64(s, 0);
	out->dataset = st_strdup(s, 1, &nomem);
	out->exec_date = st_strdup(s, 2, &nomem);
	out->path = st_strdup(s, 3, &nomem);
	out->state = st_strdup(s, 4, &nomem);
	out->kind = st_strdup(s, 5, &nomem);
	if (nomem || !out->kind)
		return -ENOMEM;
	if (out->snapshot_id && !(out->dataset && out->exec_date && out->path && out->state))
		return -ENOMEM;
	return 0;
}

int store_dq_quarantined(struct store *st, int64_t run_id, struct store_dq_snapshot *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	rc = st_select_by(st, "quarantined snapshot",
	        "SELECT s.id, s.dataset, s.exec_date, s.path, s.state, r.kind"
	        " FROM runs r LEFT JOIN snapshots s ON s.run_id = r.id"
	        " WHERE r.id = ? ORDER BY s.id DESC LIMIT 1", run_id, quarantined_row, out, true);
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

	if (st_exec(st, "SAVEPOINT dq_promote") < 0)
		return -EIO;
	if ((rc = st_prepare(st, "promote", "UPDATE snapshots SET state = 'promoted', path = ?"
	                  " WHERE id = ? AND state = 'quarantined'", &s)) < 0)
		goto out;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, snapshot_id);
	if ((rc = st_step_done(st, "promote", s, true)) < 0)
		goto out;
	if ((rc = st_prepare(st, "promote", "INSERT INTO events(ts, level, type, dataset, run_id,"
	                  " task, message) SELECT ?, 'notice', 'snapshot.promoted', dataset,"
	                  " run_id, 'check', ? FROM snapshots WHERE id = ?", &s)) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, ts);
	sqlite3_bind_text(s, 2, message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, snapshot_id);
	rc = st_step_done(st, "promote", s, true);
out:
	if (rc < 0)
		st_exec(st, "ROLLBACK TO dq_promote");
	if (st_exec(st, "RELEASE dq_promote") < 0 && rc == 0)
		rc = -EIO;
	return rc;
}
