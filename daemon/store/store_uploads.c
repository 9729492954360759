/*
 * store_uploads.c - the S3 multipart uploads open for a snapshot and their
 * stored parts (s3_uploads, s3_parts): what a restart needs to resume an
 * upload (engine/tasks/task_fetch.c writes them as io/fetch_s3.c reports,
 * and hands them back to the next attempt), and what the sweep at start
 * keeps (an upload under the prefix with no row here is stale).
 *
 * At most one upload per dataset and exec date: a new one replaces the
 * row and its parts.  A part's hash_state is opaque here.  Loop thread
 * (the main connection); each call is one statement or, where it says
 * so, one transaction.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/clock.h"
#include "store/store.h"
#include "store/store_int.h"

static int exec_upload(struct store *st, const char *what, const char *sql,
                       const char *a, const char *b)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, what, sql, &s)) < 0)
		return rc;
	st_bind_text(s, 1, a);
	if (b)
		st_bind_text(s, 2, b);
	return st_step_done(st, what, s, false);
}

int store_upload_begin(struct store *st, const struct store_upload *u)
{
	sqlite3_stmt *s;
	int rc;

	if (!u->dataset || !u->exec_date || !u->key || !u->upload_id || !u->url)
		return -EINVAL;
	if ((rc = store_begin(st)) < 0)
		return rc;
	/* The parts go with their upload (ON DELETE CASCADE). */
	rc = exec_upload(st, "upload", "DELETE FROM s3_uploads WHERE (dataset = ? AND"
	                 " exec_date = ?)", u->dataset, u->exec_date);
	if (rc == 0)
		rc = exec_upload(st, "upload", "DELETE FROM s3_uploads WHERE upload_id = ?",
		                 u->upload_id, NULL);
	if (rc == 0 && (rc = st_prepare(st, "upload", "INSERT INTO s3_uploads(dataset,"
	                                " exec_date, key, upload_id, url, etag, last_modified,"
	                                " total, created) VALUES (?,?,?,?,?,?,?,?,?)", &s)) == 0) {
		st_bind_text(s, 1, u->dataset);
		st_bind_text(s, 2, u->exec_date);
		st_bind_text(s, 3, u->key);
		st_bind_text(s, 4, u->upload_id);
		st_bind_text(s, 5, u->url);
		st_bind_text(s, 6, u->etag);
		st_bind_text(s, 7, u->last_modified);
		sqlite3_bind_int64(s, 8, u->total);
		sqlite3_bind_int64(s, 9, u->created ? u->created : clock_now_ms());
		rc = st_step_done(st, "upload", s, false);
	}
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}

int store_upload_reset(struct store *st, const struct store_upload *u)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = store_begin(st)) < 0)
		return rc;
	rc = exec_upload(st, "upload reset", "DELETE FROM s3_parts WHERE upload_id = ?",
	                 u->upload_id, NULL);
	if (rc == 0 && (rc = st_prepare(st, "upload reset", "UPDATE s3_uploads SET etag = ?,"
	                                " last_modified = ?, total = ? WHERE upload_id = ?",
	                                &s)) == 0) {
		st_bind_text(s, 1, u->etag);
		st_bind_text(s, 2, u->last_modified);
		sqlite3_bind_int64(s, 3, u->total);
		st_bind_text(s, 4, u->upload_id);
		rc = st_step_done(st, "upload reset", s, false);
	}
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}

int store_upload_part(struct store *st, const char *upload_id,
                      const struct store_upload_part *p)
{
	sqlite3_stmt *s;
	int rc;

	if (!upload_id || !p->etag || p->number < 1)
		return -EINVAL;
	if ((rc = st_prepare(st, "upload part", "INSERT OR REPLACE INTO s3_parts(upload_id,"
	                     " number, etag, size, end_offset, hash_state)"
	                     " SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM s3_uploads"
	                     " WHERE upload_id = ?1)", &s)) < 0)
		return rc;
	st_bind_text(s, 1, upload_id);
	sqlite3_bind_int(s, 2, (int)p->number);
	st_bind_text(s, 3, p->etag);
	sqlite3_bind_int64(s, 4, (int64_t)p->size);
	sqlite3_bind_int64(s, 5, (int64_t)p->end);
	sqlite3_bind_blob(s, 6, p->hash_state, (int)p->hash_state_len, SQLITE_TRANSIENT);
	return st_step_done(st, "upload part", s, false);
}

int store_upload_end(struct store *st, const char *upload_id)
{
	return exec_upload(st, "upload end", "DELETE FROM s3_uploads WHERE upload_id = ?",
	                   upload_id, NULL);
}

/* ---- reading ---- */

struct upload_read {
	struct store_upload u;
	char *text[7];
	struct store_upload_part *parts;
	size_t n, cap;
	bool nomem;
};

static int upload_row(sqlite3_stmt *s, void *ctx)
{
	struct upload_read *r = ctx;
	for (int i = 0; i < 7; i++)
		r->text[i] = st_strdup(s, i, &r->nomem);
	r->u.dataset = r->text[0];
	r->u.exec_date = r->text[1];
	r->u.key = r->text[2];
	r->u.upload_id = r->text[3];
	r->u.url = r->text[4];
	r->u.etag = r->text[5];
	r->u.last_modified = r->text[6];
	r->u.total = sqlite3_column_int64(s, 7);
	r->u.created = sqlite3_column_int64(s, 8);
	return r->nomem ? -ENOMEM : 0;
}

static int part_row(sqlite3_stmt *s, void *ctx)
{
	struct upload_read *r = ctx;
	struct store_upload_part *p;
	const void *blob = sqlite3_column_blob(s, 4);
	size_t len = (size_t)sqlite3_column_bytes(s, 4);

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		p = realloc(r->parts, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		r->parts = p;
		r->cap = cap;
	}
	p = &r->parts[r->n];
	memset(p, 0, sizeof *p);
	p->number = (unsigned)sqlite3_column_int(s, 0);
	p->etag = st_strdup(s, 1, &r->nomem);
	p->size = (uint64_t)sqlite3_column_int64(s, 2);
	p->end = (uint64_t)sqlite3_column_int64(s, 3);
	if (len && (p->hash_state = malloc(len)) != NULL) {
		memcpy((void *)p->hash_state, blob, len);
		p->hash_state_len = len;
	} else if (len) {
		r->nomem = true;
	}
	r->n++;
	return r->nomem ? -ENOMEM : 0;
}

int store_upload_get(struct store *st, const char *dataset, const char *exec_date,
                     store_upload_fn fn, void *arg)
{
	struct upload_read r = { 0 };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "upload", "SELECT dataset, exec_date, key, upload_id, url,"
	                     " etag, last_modified, total, created FROM s3_uploads"
	                     " WHERE dataset = ? AND exec_date = ?", &s)) < 0)
		return rc;
	st_bind_text(s, 1, dataset);
	st_bind_text(s, 2, exec_date);
	rc = st_walk(st, "upload", s, upload_row, &r, true);
	if (rc == 0 && (rc = st_prepare(st, "upload parts", "SELECT number, etag, size,"
	                                " end_offset, hash_state FROM s3_parts WHERE"
	                                " upload_id = ? ORDER BY number", &s)) == 0) {
		st_bind_text(s, 1, r.u.upload_id);
		rc = st_walk(st, "upload parts", s, part_row, &r, false);
	}
	if (rc == 0)
		rc = fn(arg, &r.u, r.parts, r.n);
	else if (rc == -ENOENT)
		rc = 0;
	for (int i = 0; i < 7; i++)
		free(r.text[i]);
	for (size_t i = 0; i < r.n; i++) {
		free((void *)r.parts[i].etag);
		free((void *)r.parts[i].hash_state);
	}
	free(r.parts);
	return rc;
}

struct id_walk { store_upload_id_fn fn; void *arg; };

static int id_row(sqlite3_stmt *s, void *ctx)
{
	struct id_walk *w = ctx;
	return w->fn(w->arg, st_text(s, 0), st_text(s, 1));
}

int store_upload_ids(struct store *st, store_upload_id_fn fn, void *arg)
{
	struct id_walk w = { fn, arg };
	sqlite3_stmt *s;
	int rc;

	if ((rc = st_prepare(st, "uploads", "SELECT upload_id, key FROM s3_uploads", &s)) < 0)
		return rc;
	return st_walk(st, "uploads", s, id_row, &w, false);
}
