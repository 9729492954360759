/*
 * store_changes.c - when each source changed: one source_changes row per
 * fetch that found something new (new bytes, a new ETag or Last-Modified,
 * a new layer edit date), kept apart from the polls, which are runs.  What
 * counts as a change is the fetch task's decision; this file only keeps
 * and reads the rows.
 *
 * Rows are never pruned: one per change is small (a daily source adds
 * about 365 rows a year), and the reads are bounded by STORE_CHANGES_MAX.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"

static const char *const change_kinds[] = { "bytes", "validator", "edit_date" };

int64_t store_change_add(struct store *st, const struct store_change *c)
{
	sqlite3_stmt *s;
	bool known = false;
	int rc;

	for (size_t i = 0; i < sizeof change_kinds / sizeof *change_kinds; i++)
		known = known || (c->kind && strcmp(c->kind, change_kinds[i]) == 0);
	if (!known || !c->dataset)
		return -EINVAL;
	if ((rc = st_prepare(st, "source change", "INSERT INTO source_changes(dataset,"
	                     " observed_at, kind, value, run_id) VALUES (?,?,?,?,?)", &s)) < 0)
		return rc;
	st_bind_text(s, 1, c->dataset);
	sqlite3_bind_int64(s, 2, c->observed_at);
	st_bind_text(s, 3, c->kind);
	st_bind_text(s, 4, c->value);
	if (c->run_id > 0)
		sqlite3_bind_int64(s, 5, c->run_id);
	if ((rc = st_step_done(st, "source change", s, false)) < 0)
		return rc;
	return sqlite3_last_insert_rowid(st->db);
}

struct change_walk { store_change_fn fn; void *arg; };

static int change_row(sqlite3_stmt *s, void *ctx)
{
	struct change_walk *w = ctx;
	struct store_change c = {
		.id = sqlite3_column_int64(s, 0),
		.dataset = st_text(s, 1),
		.observed_at = sqlite3_column_int64(s, 2),
		.kind = st_text(s, 3),
		.value = st_text(s, 4),
		.run_id = sqlite3_column_int64(s, 5),
	};
	return w->fn(w->arg, &c);
}

int store_changes_recent(struct store *st, const char *dataset, unsigned limit,
                         store_change_fn fn, void *arg)
{
	struct change_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if (limit > STORE_CHANGES_MAX)
		limit = STORE_CHANGES_MAX;
	/* The newest LIMIT by the index, then turned to oldest first. */
	if ((rc = st_prepare(st, "source changes", "SELECT * FROM (SELECT id, dataset,"
	                     " observed_at, kind, value, coalesce(run_id, 0)"
	                     " FROM source_changes WHERE dataset = ?"
	                     " ORDER BY observed_at DESC, id DESC LIMIT ?)"
	                     " ORDER BY observed_at, id", &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	sqlite3_bind_int(s, 2, (int)limit);
	return st_walk(st, "source changes", s, change_row, &w, false);
}
