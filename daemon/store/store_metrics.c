/*
 * store_metrics.c - the aggregates api/metrics.c renders: one statement
 * per enum store_metric, over the whole store, on whichever connection the
 * caller hands in (the loop's, or a reader on a worker thread).
 */
#include <errno.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

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

struct metric_walk {
	store_metric_fn fn;
	void *arg;
	int n;                                   /* label columns */
};

static int metric_row(sqlite3_stmt *s, void *ctx)
{
	struct metric_walk *w = ctx;
	struct store_metric_row row = { .n_labels = w->n };

	for (int i = 0; i < w->n; i++) {
		const char *t = st_text(s, i);
		row.labels[i] = t ? t : "";
	}
	row.value = sqlite3_column_double(s, w->n);
	return w->fn(w->arg, &row);
}

int store_metric_rows(struct store *st, enum store_metric q, store_metric_fn fn,
                      void *arg)
{
	struct metric_walk w = { fn, arg, 0 };
	sqlite3_stmt *s;
	int rc;

	if (q < 0 || q >= STORE_METRIC__N)
		return -EINVAL;
	if ((rc = st_prepare(st, "metrics", metric_sql[q], &s)) < 0)
		return rc;
	w.n = sqlite3_column_count(s) - 1;
	if (w.n < 0 || w.n > STORE_METRIC_MAX_LABELS) {
		sqlite3_finalize(s);
		return -EINVAL;
	}
	return st_walk(st, "metrics", s, metric_row, &w, false);
}
