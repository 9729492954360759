/*
 * store_snapshots.c - snapshots (what fetch published, what check found,
 * where quarantine or retention moved it) and the datasets' validators
 * (ETag, Last-Modified) that the next fetch sends.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/array.h"
#include "store/store.h"
#include "store/store_int.h"

/* ---- validators ---- */

/* Create the datasets row of NAME if missing, and set its validators. */
static int validators_upsert(struct store *st, const char *name, const char *etag,
                             const char *lm, int64_t now_ms)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "validators", "INSERT INTO datasets(name, first_configured,"
	                     " etag, last_modified) VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE"
	                     " SET etag = excluded.etag, last_modified = excluded.last_modified",
	                     &s)) < 0)
		return rc;
	st_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, now_ms);
	st_bind_text(s, 3, etag);
	st_bind_text(s, 4, lm);
	return st_step_done(st, "validators", s, false);
}

int store_validators_set(struct store *st, const char *dataset, const char *etag,
                         const char *last_modified, int64_t now_ms)
{
	return validators_upsert(st, dataset, etag, last_modified, now_ms);
}

/* ---- snapshots: written by fetch ---- */

void store_snapshot_clear(struct store_snapshot *s)
{
	if (!s)
		return;
	free(s->dataset); free(s->exec_date); free(s->path); free(s->hash);
	free(s->url); free(s->etag); free(s->last_modified); free(s->state);
	memset(s, 0, sizeof *s);
}

static int snapshot_insert(struct store *st, const struct store_snapshot *snap)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "snapshot", "INSERT INTO snapshots(run_id, dataset, exec_date,"
	                     " path, bytes, hash, url, etag, last_modified, rows, state, published)"
	                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, snap->run_id);
	st_bind_text(s, 2, snap->dataset);
	st_bind_text(s, 3, snap->exec_date);
	st_bind_text(s, 4, snap->path);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)snap->bytes);
	st_bind_text(s, 6, snap->hash);
	st_bind_text(s, 7, snap->url);
	st_bind_text(s, 8, snap->etag);
	st_bind_text(s, 9, snap->last_modified);
	if (snap->rows >= 0)
		sqlite3_bind_int64(s, 10, snap->rows);
	st_bind_text(s, 11, snap->state ? snap->state : "published");
	sqlite3_bind_int64(s, 12, snap->published);
	return st_step_done(st, "snapshot", s, false);
}

int64_t store_snapshot_add(struct store *st, const struct store_snapshot *snap)
{
	int64_t id = -EIO;

	/* A savepoint, so the caller may hold a transaction of its own (the
	 * snapshot row together with its task's state) or none. */
	if (st_exec(st, "SAVEPOINT snapshot_add") < 0)
		return -EIO;
	if (validators_upsert(st, snap->dataset, snap->etag, snap->last_modified,
	                      snap->published) == 0 &&
	    snapshot_insert(st, snap) == 0)
		id = sqlite3_last_insert_rowid(st->db);
	if (id < 0)
		st_exec(st, "ROLLBACK TO snapshot_add");
	if (st_exec(st, "RELEASE snapshot_add") < 0)
		id = -EIO;
	return id;
}

/* ---- snapshots: read by fetch, check and retention ---- */

#define SNAPSHOT_COLS "s.id, s.run_id, s.dataset, s.exec_date, s.path, s.bytes," \
	" s.hash, s.url, s.etag, s.last_modified, s.state, s.rows, s.published"

/* Fill OUT from a row of SNAPSHOT_COLS.  -ENOMEM leaves OUT cleared. */
static int snapshot_row(sqlite3_stmt *s, struct store_snapshot *out)
{
	bool nomem = false;

	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(s, 0);
	out->run_id = sqlite3_column_int64(s, 1);
	out->dataset = st_strdup(s, 2, &nomem);
	out->exec_date = st_strdup(s, 3, &nomem);
	out->path = st_strdup(s, 4, &nomem);
	out->bytes = (uint64_t)sqlite3_column_int64(s, 5);
	out->hash = st_strdup(s, 6, &nomem);
	out->url = st_strdup(s, 7, &nomem);
	out->etag = st_strdup(s, 8, &nomem);
	out->last_modified = st_strdup(s, 9, &nomem);
	out->state = st_strdup(s, 10, &nomem);
	out->rows = sqlite3_column_type(s, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 11);
	out->published = sqlite3_column_int64(s, 12);
	if (nomem || !out->dataset || !out->exec_date || !out->path || !out->hash ||
	    !out->state) {
		store_snapshot_clear(out);
		return -ENOMEM;
	}
	return 0;
}

static int last_row(sqlite3_stmt *s, void *ctx)
{
	return snapshot_row(s, ctx);
}

int store_snapshot_last(struct store *st, const char *dataset, struct store_snapshot *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof *out);
	/* The dataset's validators win when it has any: an unchanged fetch
	 * may have updated them since the snapshot. */
	if ((rc = st_prepare(st, "last snapshot",
	        "SELECT s.id, s.run_id, s.dataset, s.exec_date, s.path, s.bytes, s.hash,"
	        " s.url,"
	        " CASE WHEN d.etag IS NOT NULL OR d.last_modified IS NOT NULL"
	        "  THEN d.etag ELSE s.etag END,"
	        " CASE WHEN d.etag IS NOT NULL OR d.last_modified IS NOT NULL"
	        "  THEN d.last_modified ELSE s.last_modified END,"
	        " s.state, s.rows, s.published"
	        " FROM snapshots s LEFT JOIN datasets d ON d.name = s.dataset"
	        " WHERE s.dataset = ? ORDER BY s.id DESC LIMIT 1", &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	if ((rc = st_walk(st, "last snapshot", s, last_row, out, true)) < 0)
		store_snapshot_clear(out);
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

/* A growing array of snapshots, filled one row at a time. */
struct snapshot_list {
	struct store_snapshot *v;
	size_t len, cap;
};

static int list_row(sqlite3_stmt *s, void *ctx)
{
	struct snapshot_list *l = ctx;
	int rc;

	if (ARRAY_RESERVE(l->v, l->len + 1, l->cap, 16) < 0)
		return -ENOMEM;
	if ((rc = snapshot_row(s, &l->v[l->len])) < 0)
		return rc;
	l->len++;
	return 0;
}

/* The rows statement S (named WHAT, already bound) yields, into *LIST. */
static int snapshot_list(struct store *st, const char *what, sqlite3_stmt *s,
                         struct store_snapshot **list, size_t *n)
{
	struct snapshot_list l = { 0 };
	int rc;

	if ((rc = st_walk(st, what, s, list_row, &l, false)) < 0) {
		store_snapshots_free(l.v, l.len);
		return rc;
	}
	*list = l.v;
	*n = l.len;
	return 0;
}

int store_snapshots_published(struct store *st, const char *dataset,
                              struct store_snapshot **list, size_t *n)
{
	sqlite3_stmt *s;
	int rc;

	*list = NULL;
	*n = 0;
	if ((rc = st_prepare(st, "published snapshots", "SELECT " SNAPSHOT_COLS
	                     " FROM snapshots s WHERE s.dataset = ?"
	                     " AND s.state IN ('published', 'promoted')"
	                     " ORDER BY s.exec_date DESC, s.id DESC LIMIT ?", &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	sqlite3_bind_int(s, 2, STORE_SNAPSHOT_LIST_MAX);
	return snapshot_list(st, "published snapshots", s, list, n);
}

int store_snapshots_before(struct store *st, const char *dataset, const char *before,
                           struct store_snapshot **list, size_t *n)
{
	sqlite3_stmt *s;
	int rc;

	*list = NULL;
	*n = 0;
	if ((rc = st_prepare(st, "snapshots before", "SELECT " SNAPSHOT_COLS
	                     " FROM snapshots s WHERE s.dataset = ? AND s.exec_date < ?"
	                     " AND s.state IN ('published', 'promoted', 'quarantined')"
	                     " ORDER BY s.exec_date, s.id LIMIT ?", &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	st_bind_text(s, 2, before);
	sqlite3_bind_int(s, 3, STORE_SNAPSHOT_LIST_MAX);
	return snapshot_list(st, "snapshots before", s, list, n);
}

/* UPDATE of snapshot ID by SQL, whose first ? is TEXT and second the id;
 * -ENOENT when there is no such snapshot. */
static int snapshot_update(struct store *st, const char *what, const char *sql,
                           const char *text, int64_t id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, what, sql, &s)) < 0)
		return rc;
	st_bind_text(s, 1, text);
	sqlite3_bind_int64(s, 2, id);
	return st_step_done(st, what, s, true);
}

int store_snapshot_set_state(struct store *st, int64_t id, const char *state)
{
	return snapshot_update(st, "snapshot state", "UPDATE snapshots SET state = ?"
	                       " WHERE id = ?", state, id);
}

/* ---- the snapshot of a run: check and convert ---- */

static int ref_row(sqlite3_stmt *s, void *ctx)
{
	struct store_snapshot_ref *out = ctx;
	bool nomem = false;

	out->id = sqlite3_column_int64(s, 0);
	out->path = st_strdup(s, 1, &nomem);
	out->encoding = st_strdup(s, 2, &nomem);
	out->line_ending = st_strdup(s, 3, &nomem);
	out->rows = sqlite3_column_int64(s, 4);
	out->state = st_strdup(s, 5, &nomem);
	out->bytes = (uint64_t)sqlite3_column_int64(s, 6);
	out->hash = st_strdup(s, 7, &nomem);
	out->url = st_strdup(s, 8, &nomem);
	return nomem || !out->path || !out->state ? -ENOMEM : 0;
}

int store_snapshot_of_run(struct store *st, int64_t run_id, struct store_snapshot_ref *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	rc = st_select_by(st, "snapshot of run", "SELECT id, path, encoding, line_ending,"
	                   " COALESCE(rows, -1), state, bytes, hash, url FROM snapshots WHERE run_id = ?"
	                  " ORDER BY id DESC LIMIT 1", run_id, ref_row, out, true);
	if (rc < 0)
		store_snapshot_ref_clear(out);
	return rc;
}

void store_snapshot_ref_clear(struct store_snapshot_ref *ref)
{
	if (!ref)
		return;
	free(ref->path);
	free(ref->encoding);
	free(ref->line_ending);
	free(ref->state);
	free(ref->hash);
	free(ref->url);
	memset(ref, 0, sizeof *ref);
	ref->rows = -1;
}

int store_snapshot_checked(struct store *st, int64_t id, int64_t rows,
                           const char *encoding, const char *line_ending)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "snapshot checked", "UPDATE snapshots SET rows = ?,"
	                     " encoding = ?, line_ending = ? WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, rows);
	st_bind_text(s, 2, encoding);
	st_bind_text(s, 3, line_ending);
	sqlite3_bind_int64(s, 4, id);
	return st_step_done(st, "snapshot checked", s, true);
}

int store_snapshot_quarantined(struct store *st, int64_t id, const char *path)
{
	return snapshot_update(st, "snapshot quarantined", "UPDATE snapshots SET"
	                       " state = 'quarantined', path = ? WHERE id = ?", path, id);
}
