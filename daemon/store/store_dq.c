/*
 * store_dq.c - data-quality results and diffs (written by the check task,
 * read by `denverctl dq` and `diff`), and promote: a quarantined snapshot
 * accepted by the operator.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>

#include "quality/dq.h"
#include "store/store.h"
#include "store/store_int.h"

/* ---- results and diffs ---- */

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
	if ((rc = st_prepare(st, "dq result", "INSERT OR REPLACE INTO dq_results(run_id,"
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
	rc = st_step_done(st, "dq result", s, false);
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
	if ((rc = st_prepare(st, "dq diff", "INSERT OR REPLACE INTO diffs(run_id, prev_run_id,"
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
	rc = st_step_done(st, "dq diff", s, false);
	free(text);
	return rc;
}

int store_dq_save(struct store *st, int64_t run_id, int64_t prev_run_id,
                  const struct dq_report *r)
{
	sqlite3_stmt *s;
	int rc;

	/* A savepoint: all or nothing, inside the caller's transaction if any. */
	if (st_exec(st, "SAVEPOINT dq_save") < 0)
		return -EIO;
	if ((rc = st_prepare(st, "dq save", "DELETE FROM dq_results WHERE run_id = ?", &s)) < 0)
		goto out;
	sqlite3_bind_int64(s, 1, run_id);
	if ((rc = st_step_done(st, "dq save", s, false)) < 0)
		goto out;
	for (size_t i = 0; i < r->n_results; i++)
		if ((rc = dq_insert_result(st, run_id, &r->results[i])) < 0)
			goto out;
	if (r->diff.done)
		rc = dq_insert_diff(st, run_id, prev_run_id, &r->diff);
	else if ((rc = st_prepare(st, "dq save", "DELETE FROM diffs WHERE run_id = ?", &s)) == 0) {
		sqlite3_bind_int64(s, 1, run_id);
		rc = st_step_done(st, "dq save", s, false);
	}
out:
	if (rc < 0)
		st_exec(st, "ROLLBACK TO dq_save");
	if (st_exec(st, "RELEASE dq_save") < 0 && rc == 0)
		rc = -EIO;
	return rc;
}

/* A JSON array or object stored as text; an empty array when unreadable. */
static json_t *col_json(sqlite3_stmt *s, int i)
{
	const char *t = st_text(s, i);
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
	const char *t = st_text(s, i);
	return t ? json_string(t) : json_null();
}

/* The check named NAME in array CHECKS, appended when new. */
static json_t *history_check(json_t *checks, sqlite3_stmt *s)
{
	const char *name = st_text(s, 2);
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
	if ((rc = st_prepare(st, "dq history",
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
		rc = st_fail(st, "dq history");
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
	if ((rc = st_prepare(st, "dq diff",
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
		rc = step == SQLITE_DONE ? -ENOENT : st_fail(st, "dq diff");
	}
	sqlite3_finalize(s);
	return rc;
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
