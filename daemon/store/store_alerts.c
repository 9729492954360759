/*
 * store_alerts.c - what notify/alerts.c keeps and reads: the alerts table
 * (one row per notification sent), the facts of a finished run that it
 * judges, and a dataset's freshness.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

/* ---- alerts ---- */

int64_t store_alert_add(struct store *st, int64_t ts, const char *dataset,
                        const char *reason, const char *state,
                        const char *message, int64_t run_id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "alert", "INSERT INTO alerts(ts, dataset, reason, state,"
	                     " message, run_id) VALUES (?,?,?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, ts);
	st_bind_text(s, 2, dataset);
	st_bind_text(s, 3, reason);
	st_bind_text(s, 4, state);
	st_bind_text(s, 5, message);
	if (run_id > 0)
		sqlite3_bind_int64(s, 6, run_id);
	if ((rc = st_step_done(st, "alert", s, false)) < 0)
		return rc;
	return sqlite3_last_insert_rowid(st->db);
}

/* UPDATE of one alert row by id; SQL has one ? for the value (when HAS_VALUE)
 * and one for the id. */
static int alert_update(struct store *st, const char *sql, bool has_value,
                        int64_t value, int64_t id)
{
	sqlite3_stmt *s;
	int rc, i = 1;

	if ((rc = st_prepare(st, "alert update", sql, &s)) < 0)
		return rc;
	if (has_value)
		sqlite3_bind_int64(s, i++, value);
	sqlite3_bind_int64(s, i, id);
	return st_step_done(st, "alert update", s, true);
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

struct alert_walk { store_alert_fn fn; void *arg; };

static int alert_row(sqlite3_stmt *s, void *ctx)
{
	struct alert_walk *w = ctx;
	struct store_alert a = {
		.id = sqlite3_column_int64(s, 0),
		.ts = sqlite3_column_int64(s, 1),
		.dataset = st_text(s, 2),
		.reason = st_text(s, 3),
		.state = st_text(s, 4),
		.message = st_text(s, 5),
		.run_id = sqlite3_column_int64(s, 6),
		.delivered = sqlite3_column_int64(s, 7),
		.suppressed = sqlite3_column_int64(s, 8),
	};
	return w->fn(w->arg, &a);
}

int store_alerts_latest(struct store *st, store_alert_fn fn, void *arg)
{
	struct alert_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "alerts", "SELECT " ALERT_COLUMNS " FROM alerts"
	                     " WHERE id IN (SELECT max(id) FROM alerts GROUP BY dataset, reason)"
	                     " ORDER BY id", &s)) < 0)
		return rc;
	return st_walk(st, "alerts", s, alert_row, &w, false);
}

int store_alerts_list(struct store *st, const char *dataset, unsigned limit,
                      store_alert_fn fn, void *arg)
{
	struct alert_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "alerts", "SELECT " ALERT_COLUMNS " FROM alerts"
	                     " WHERE ?1 IS NULL OR dataset = ?1 ORDER BY id DESC LIMIT ?2",
	                     &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	sqlite3_bind_int64(s, 2, limit);
	return st_walk(st, "alerts", s, alert_row, &w, false);
}

/* ---- the facts of a run ---- */

/* SRC (NULL reads as "") into the fixed buffer DST, truncated. */
static void copy_text(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* Append NAME to the ", "-joined list in BUF (truncating, never overflowing). */
static void join_name(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);
	if (used + 1 >= len)
		return;
	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
}

static int facts_row(sqlite3_stmt *s, void *ctx)
{
	struct store_run_facts *out = ctx;

	copy_text(out->target, sizeof out->target, st_text(s, 0));
	copy_text(out->kind, sizeof out->kind, st_text(s, 1));
	copy_text(out->exec_date, sizeof out->exec_date, st_text(s, 2));
	copy_text(out->state, sizeof out->state, st_text(s, 3));
	copy_text(out->error, sizeof out->error, st_text(s, 4));
	out->ended = sqlite3_column_int64(s, 5);
	out->quarantined = sqlite3_column_int(s, 6) != 0;
	return 0;
}

static int facts_check_row(sqlite3_stmt *s, void *ctx)
{
	struct store_run_facts *out = ctx;
	const char *name = st_text(s, 0), *outcome = st_text(s, 1);

	out->n_checks++;
	if (outcome && strcmp(outcome, "fail") == 0) {
		out->n_fail++;
		join_name(out->failed, sizeof out->failed, name ? name : "?");
	} else if (outcome && strcmp(outcome, "warn") == 0) {
		out->n_warn++;
		join_name(out->warned, sizeof out->warned, name ? name : "?");
	}
	return 0;
}

int store_run_facts(struct store *st, int64_t run_id, struct store_run_facts *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = st_select_by(st, "run facts", "SELECT target, kind, exec_date, state,"
	                       " coalesce(error, ''), coalesce(ended, 0),"
	                       " EXISTS (SELECT 1 FROM snapshots WHERE run_id = ?1"
	                       "         AND state = 'quarantined')"
	                       " FROM runs WHERE id = ?1", run_id, facts_row, out, true)) < 0)
		return rc;
	return st_select_by(st, "run facts", "SELECT check_name, outcome FROM dq_results"
	                    " WHERE run_id = ? ORDER BY check_name", run_id,
	                    facts_check_row, out, false);
}

/* ---- freshness ---- */

struct freshness { int64_t last_ok, first_configured; };

static int freshness_row(sqlite3_stmt *s, void *ctx)
{
	struct freshness *f = ctx;

	f->last_ok = sqlite3_column_int64(s, 0);
	f->first_configured = sqlite3_column_int64(s, 1);
	return 0;
}

int store_freshness(struct store *st, const char *dataset, int64_t *last_ok,
                    int64_t *first_configured)
{
	struct freshness f = { 0, 0 };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "freshness", "SELECT"
	        " (SELECT coalesce(max(ended), 0) FROM runs WHERE target = ?1"
	        "  AND kind = 'dataset' AND state IN ('succeeded', 'unchanged')),"
	        " (SELECT coalesce(max(first_configured), 0) FROM datasets WHERE name = ?1)",
	        &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	/* Two scalar subqueries: always exactly one row. */
	if ((rc = st_walk(st, "freshness", s, freshness_row, &f, false)) < 0)
		return rc;
	*last_ok = f.last_ok;
	*first_configured = f.first_configured;
	return 0;
}
