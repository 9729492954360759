/*
 * arcgis_file.c - the thread-pool side of the pager: every parse of an
 * answer and every file operation, so the loop thread only moves bytes.
 *
 *   prep    mkdir staging/.partial, open the .part, read the sidecar
 *   parse   judge and parse one answer; for a page, keep its rows in the
 *           chunk and, once the chunk is whole, append it to the .part in
 *           object-id order and replace the sidecar
 *   reset   truncate the .part to where a resume goes on (0: start over
 *           with the header)
 *   finish  publish (fsync, hash, rename, fsync dirs) | discard | keep
 *
 * The *_work functions run on a worker and touch only the fields
 * arcgis_int.h marks "worker"; they report through job_err/job_what
 * (positive errno) and job_parse/job_msg (the answer's verdict).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "base/fsutil.h"
#include "base/macro.h"
#include "io/arcgis_int.h"

#define AG_META_MAX  4096
#define AG_READ_BUF  (1024 * 1024)

/* ---- the sidecar ---- */

/* Replace the sidecar (temp + rename; no fsync: see fetch_file.c). */
static int side_write(struct arcgis *a)
{
	char tmp[PATH_MAX], dg[ARCGIS_DIGEST_HEX];
	json_t *o;
	char *text;
	int fd, rc;

	ag_digest_hex(&a->digest, dg);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
	              "url", a->url, "where", a->where,
	              "data", (json_int_t)a->layer.data_edit_ms,
	              "schema", (json_int_t)a->layer.schema_edit_ms,
	              "nids", (json_int_t)a->n_ids, "next", (json_int_t)a->next,
	              "last_oid", (json_int_t)(a->next ? a->ids[a->next - 1] : -1),
	              "bytes", (json_int_t)a->bytes, "rows", (json_int_t)a->rows_done,
	              "pages", (json_int_t)a->pages_done, "digest", dg);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	if (snprintf(tmp, sizeof tmp, "%s.tmp", a->meta_path) >= (int)sizeof tmp) {
		free(text);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = fd < 0 ? -errno : write_all(fd, text, strlen(text), 0);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, a->meta_path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	free(text);
	return rc;
}

/* Read the sidecar of an earlier attempt into a->side_*; no sidecar, or
 * one for another URL or where, is none. */
static void side_read(struct arcgis *a)
{
	char text[AG_META_MAX];
	const char *url, *where, *dg;
	json_int_t data, schema, nids, next, last, bytes, rows, pages;
	json_t *o;
	ssize_t n;
	int fd;

	a->have_side = false;
	if ((fd = open(a->meta_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	o = json_loads(text, 0, NULL);
	if (o && json_unpack(o, "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
	                     "url", &url, "where", &where, "data", &data, "schema", &schema,
	                     "nids", &nids, "next", &next, "last_oid", &last, "bytes", &bytes,
	                     "rows", &rows, "pages", &pages, "digest", &dg) == 0 &&
	    strcmp(url, a->url) == 0 && strcmp(where, a->where) == 0 && next > 0 &&
	    next <= nids && bytes > 0 && ag_digest_parse(dg, &a->side_digest) == 0) {
		a->have_side = true;
		a->side_data = data;
		a->side_schema = schema;
		a->side_nids = (size_t)nids;
		a->side_next = (size_t)next;
		a->side_last_oid = last;
		a->side_bytes = (uint64_t)bytes;
		a->side_rows = (uint64_t)rows;
		a->side_pages = (unsigned)pages;
	}
	json_decref(o);
}

static void prep_work(struct arcgis *a)
{
	int rc = 0;

	a->job_what = "create directory";
	if ((rc = mkdir_p(a->partial_dir, 0755)) < 0)
		goto out;
	a->job_what = "open";
	a->fd = open(a->part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (a->fd < 0) {
		rc = -errno;
		goto out;
	}
	side_read(a);
out:
	a->job_err = rc < 0 ? -rc : 0;
}

/* ---- a page: rows into the chunk, the chunk onto the .part ---- */

static int cmp_row(const void *x, const void *y)
{
	int64_t p = ((const struct ag_row *)x)->oid, q = ((const struct ag_row *)y)->oid;
	return (p > q) - (p < q);
}

/* The page in the body's text P (N bytes) into the chunk (arcgis_page.c):
 * 0, -EIO (the verdict in job_*), -ENOMEM. */
static int page_rows(struct arcgis *a, const char *p, size_t n)
{
	struct ag_chunk c = { .ids = a->ids + a->next, .n = a->chunk_end - a->next,
	                      .have = a->have, .rows = a->rows, .n_rows = a->n_rows,
	                      .text = &a->chunk_text };
	int rc;

	if (!a->pscan && !(a->pscan = ag_pscan_new()))
		return -ENOMEM;
	rc = ag_page_parse(a->pscan, &a->layer, a->tz, p, n, &c, &a->job_retryable,
	                   a->job_msg);
	a->n_rows = c.n_rows;
	a->chunk_complete = rc == 0 && a->n_rows == c.n;
	return rc;
}

/* The chunk's rows onto the .part in object-id order: its text as it is
 * when the rows came in order (the usual case), else reordered. */
static int write_chunk(struct arcgis *a)
{
	const char *p = a->chunk_text.p;
	size_t len = a->chunk_text.len;
	bool sorted = true;
	int rc;

	for (size_t i = 1; i < a->n_rows && sorted; i++)
		sorted = a->rows[i - 1].oid < a->rows[i].oid;
	if (!sorted) {
		qsort(a->rows, a->n_rows, sizeof *a->rows, cmp_row);
		a->out.len = 0;
		a->out.err = 0;
		for (size_t i = 0; i < a->n_rows; i++)
			buf_put(&a->out, a->chunk_text.p + a->rows[i].off, a->rows[i].len);
		if (a->out.err)
			return -ENOMEM;
		p = a->out.p;
		len = a->out.len;
	}
	a->job_what = "write";
	rc = write_all(a->fd, p ? p : "", len, a->bytes);
	if (rc == 0) {
		for (size_t i = 0; i < a->n_rows; i++)
			ag_digest_add(&a->digest, &a->rows[i].h);
		a->bytes += len;
		a->rows_done += a->n_rows;
		a->pages_done++;
		a->next = a->chunk_end;
		a->job_what = "write sidecar";
		rc = side_write(a);
	}
	a->n_rows = 0;
	a->chunk_text.len = 0;
	return rc;
}

static void parse_work(struct arcgis *a)
{
	json_t *doc = NULL;
	const char *p;
	size_t n;
	int rc = 0;

	a->job_msg[0] = '\0';
	a->job_what = "inflate";
	/* Every answer is decoded here, on the worker: a gzip page of
	 * megabytes inflates off the loop thread (http_req.h).  A corrupt or
	 * cut stream is a bad body, and an inflated text over the cap fails
	 * as a body over it does on the wire: both retryable. */
	if ((rc = http_req_text(&a->q, &p, &n, a->job_msg, sizeof a->job_msg)) < 0) {
		if (rc == -EIO || rc == -E2BIG) {
			a->job_parse = -EIO;
			a->job_retryable = true;
			rc = 0;
		}
		goto out;
	}
	a->job_what = "parse";
	if (a->job_stage == AG_PAGE) {
		/* No tree: the page goes straight to rows (arcgis_page.c). */
		if ((rc = page_rows(a, p, n)) == -EIO) {
			a->job_parse = rc;
			rc = 0;
		} else {
			a->job_parse = 0;
			if (rc == 0 && a->chunk_complete)
				rc = write_chunk(a);
		}
		goto out;
	}
	a->job_parse = ag_judge_body(p, n, &doc, &a->job_retryable, a->job_msg);
	if (a->job_parse < 0)
		goto out;
	a->job_retryable = true;    /* a wrong shape may be a proxy's JSON */
	switch (a->job_stage) {
	case AG_META:
		ag_layer_free(&a->layer);
		a->job_parse = ag_parse_layer(doc, &a->layer, a->job_msg);
		a->job_retryable = false;
		break;
	case AG_RECHECK_META: {
		struct ag_layer l;
		a->job_parse = ag_parse_layer(doc, &l, a->job_msg);
		if (a->job_parse == 0) {
			/* Only the stamps are compared; the fields come next time. */
			a->job_count = (l.data_edit_ms != a->layer.data_edit_ms ||
			                l.schema_edit_ms != a->layer.schema_edit_ms);
			ag_layer_free(&l);
		}
		break;
	}
	case AG_COUNT:
	case AG_RECHECK_COUNT:
		a->job_parse = ag_parse_count(doc, &a->job_count, a->job_msg);
		break;
	case AG_IDS:
		free(a->ids);
		a->job_parse = ag_parse_ids(doc, &a->ids, &a->n_ids, a->job_msg);
		break;
	default:
		break;
	}
out:
	json_decref(doc);
	/* The answer is parsed: its bytes (as they came, and inflated) are
	 * not needed any more (the buffers are kept for the next answer, see
	 * http_req.h). */
	a->q.body.len = 0;
	a->q.text.len = 0;
	a->job_err = rc < 0 ? -rc : 0;
}

static void reset_work(struct arcgis *a)
{
	int rc = 0;

	a->job_what = "truncate";
	if (ftruncate(a->fd, (off_t)a->reset_to) < 0) {
		rc = -errno;
		goto out;
	}
	if (a->reset_to == 0) {
		struct buf b;
		unlink(a->meta_path);
		buf_init(&b, 4096, AG_BODY_MAX);
		ag_csv_header(&b, &a->layer);
		a->job_what = "write";
		rc = b.err ? -ENOMEM : write_all(a->fd, b.p, b.len, 0);
		a->bytes = b.len;
		buf_free(&b);
	}
out:
	a->job_err = rc < 0 ? -rc : 0;
}

/* XXH3-128 of the file as it is on disk (hex as fetch.h's hash). */
static int hash_file(struct arcgis *a)
{
	XXH3_state_t *st = XXH3_createState();
	char *buf = malloc(AG_READ_BUF);
	int rc = 0;

	if (!st || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	XXH3_128bits_reset(st);
	for (off_t off = 0;;) {
		ssize_t n = pread(a->fd, buf, AG_READ_BUF, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(st, buf, (size_t)n);
		off += n;
	}
	XXH128_hash_t h = XXH3_128bits_digest(st);
	snprintf(a->hash_hex, sizeof a->hash_hex, "%016" PRIx64 "%016" PRIx64, h.high64,
	         h.low64);
out:
	XXH3_freeState(st);
	free(buf);
	return rc;
}

static void finish_work(struct arcgis *a)
{
	char parent[PATH_MAX];
	bool renamed = false;
	int rc = 0;

	if (a->fin == AGF_PUBLISH) {
		a->job_what = "truncate";
		if (ftruncate(a->fd, (off_t)a->bytes) < 0) {
			rc = -errno;
			goto out;
		}
		a->job_what = "fsync";
		if (fsync(a->fd) < 0) {
			rc = -errno;
			goto out;
		}
		a->job_what = "re-read";
		if ((rc = hash_file(a)) < 0)
			goto out;
	}
	a->job_what = "close";
	rc = close(a->fd) < 0 && a->fin == AGF_PUBLISH ? -errno : 0;
	a->fd = -1;
	if (rc < 0 || a->fin != AGF_PUBLISH)
		goto out;
	a->job_what = "create directory";
	if ((rc = mkdir_p(a->final_dir, 0755)) < 0)
		goto out;
	a->job_what = "rename";
	if (rename(a->part_path, a->final_path) < 0) {
		rc = -errno;
		goto out;
	}
	renamed = true;
	a->job_what = "fsync directory";
	if ((rc = fsync_dir(a->final_dir)) < 0)
		goto out;
	if (path_parent(a->final_dir, parent, sizeof parent) == 0 &&
	    (rc = fsync_dir(parent)) < 0)
		goto out;
	unlink(a->meta_path);
out:
	if (a->fd >= 0) {
		close(a->fd);
		a->fd = -1;
	}
	if (rc < 0 || a->fin == AGF_DISCARD) {
		unlink(renamed ? a->final_path : a->part_path);
		unlink(a->meta_path);
	}
	a->job_err = rc < 0 ? -rc : 0;
}

static void work_cb(uv_work_t *w)
{
	struct arcgis *a = container_of(w, struct arcgis, work);
	switch (a->job) {
	case AGW_PREP:   prep_work(a); break;
	case AGW_PARSE:  parse_work(a); break;
	case AGW_RESET:  reset_work(a); break;
	case AGW_FINISH: finish_work(a); break;
	}
}

static void after_work(uv_work_t *w, int status)
{
	struct arcgis *a = container_of(w, struct arcgis, work);
	(void)status;
	a->job_running = false;
	ag_job_done(a);
}

void ag_queue_job(struct arcgis *a, enum ag_work job)
{
	int rc;
	a->job = job;
	a->job_stage = a->stage;
	a->job_err = 0;
	a->job_running = true;
	rc = uv_queue_work(http_loop(a->http), &a->work, work_cb, after_work);
	if (rc < 0) {
		/* Only fails for a NULL callback: a bug, not a run-time state. */
		fprintf(stderr, "arcgis: uv_queue_work: %s\n", uv_strerror(rc));
		abort();
	}
}
