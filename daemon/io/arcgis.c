/*
 * arcgis.c - one snapshot of an ArcGIS layer (io/arcgis.h): the stage
 * machine on the loop thread, the retries of one request, and the API.
 *
 *   prep -> meta -> count -> ids -> reset -> page* -> recheck meta
 *        -> recheck count -> finish
 *
 * One thing happens at a time: a request (io/http_req.h), a retry timer,
 * or a job on the thread pool (arcgis_file.c, which parses every answer
 * and writes every chunk).  Memory is one answer and one chunk's rows.
 *
 * Retries (the choice arcgis.h leaves to io/): a request that fails in a
 * way that may pass (network error, HTTP 408/429/5xx, a body that is not
 * JSON or is cut, an ArcGIS error with a 429/5xx-like code or "Error
 * performing query operation") is sent again in place, after
 * backoff_delay() (base req->retry_delay_ms, full jitter) or its
 * Retry-After, and after a 429 without one at least req->rate_limit_wait_ms
 * (ARCGIS.md 2.6: 60 s).  After req->retries such failures in a row the
 * attempt fails retryable with the .part kept, and the engine's retry
 * policy takes over; the next attempt resumes from the sidecar.  Any other
 * ArcGIS error (400 "Invalid URL", ...) fails the attempt, not retryable.
 * A page that fails AG_HEAVY_HALVE times in a row as too heavy (see
 * halve_page) is asked again at half the size instead of a third time.
 *
 * A chunk is asked for by an object-id range; what comes back is judged by
 * its rows: only ids of the chunk count, each once.  When some are
 * missing, they are asked for again once by objectIds=; still missing,
 * the layer is re-read: moved, it is a reload (start over, at most
 * ARCGIS_MAX_RELOADS times), else the attempt fails retryable.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/macro.h"
#include "base/strtable.h"
#include "domain/backoff.h"
#include "domain/tz.h"
#include "io/arcgis_int.h"

static void send_request(struct arcgis *a);
static void start_chunk(struct arcgis *a);

/* ---- the end ---- */

static void free_cb(uv_handle_t *h)
{
	struct arcgis *a = h->data;
	ag_layer_free(&a->layer);
	free(a->ids);
	free(a->rows);
	buf_free(&a->chunk_text);
	buf_free(&a->out);
	ag_pscan_free(a->pscan);
	free(a->have);
	tz_free(a->tz);
	free(a->url); free(a->where); free(a->zone); free(a->dataset);
	free(a->exec_date); free(a->file_name);
	free(a->partial_dir); free(a->part_path); free(a->meta_path);
	free(a->final_dir); free(a->final_path);
	free(a);
}

static void deliver(struct arcgis *a)
{
	bool failed = a->outcome == ARCGIS_FAILED;
	struct arcgis_result r = {
		.outcome = a->outcome,
		.path = a->outcome == ARCGIS_PUBLISHED ? a->final_path : NULL,
		.bytes = a->outcome == ARCGIS_PUBLISHED ? a->bytes : 0,
		.hash = a->outcome == ARCGIS_PUBLISHED ? a->hash_hex : "",
		.rows = a->rows_done,
		.pages = a->pages,
		.requests = a->requests,
		.page_size = a->page_size,
		.halvings = a->halvings,
		.request_bytes = a->request_bytes,
		.metadata_only = a->metadata_only,
		.stamp = {
			.data_edit_ms = a->layer.data_edit_ms,
			.schema_edit_ms = a->layer.schema_edit_ms,
			.count = a->count,
		},
		.url = a->url,
		.error = failed ? a->error : NULL,
		.err = failed ? a->err : 0,
		.retryable = failed && a->retryable,
		.retry_after_ms = failed ? a->retry_after_ms : -1,
	};
	if (a->metadata_only) {
		r.stamp.count = a->last.count;
		memcpy(r.stamp.digest, a->last.digest, sizeof r.stamp.digest);
	} else if (a->finished) {
		ag_digest_hex(&a->digest, r.stamp.digest);
	}
	http_req_clear(&a->q);
	a->done(a, &r, a->arg);
	a->timer.data = a;
	uv_close((uv_handle_t *)&a->timer, free_cb);
}

static void finish(struct arcgis *a, enum ag_fin fin)
{
	a->stage = AG_FINISH;
	a->fin = fin;
	if (a->fd < 0) {
		/* prep failed before the .part was open: nothing to close. */
		deliver(a);
		return;
	}
	ag_queue_job(a, AGW_FINISH);
}

static void fail(struct arcgis *a, int err, bool retryable, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct arcgis *a, int err, bool retryable, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->error, sizeof a->error, fmt, ap);
	va_end(ap);
	a->outcome = ARCGIS_FAILED;
	a->err = err;
	a->retryable = retryable;
	finish(a, AGF_KEEP);
}

static void fail_io(struct arcgis *a)
{
	fail(a, -a->job_err, true, "%s %s: %s", a->job_what, a->part_path,
	     strerror(a->job_err));
}

/* ---- retries of one request ---- */

static void on_timer(uv_timer_t *t)
{
	struct arcgis *a = t->data;
	a->timer_on = false;
	send_request(a);
}

/* The request failed in a way that may pass: again after a pause, or the
 * attempt fails retryable.  RETRY_AFTER_MS: the server's wish, or -1. */
static void retry(struct arcgis *a, int64_t retry_after_ms, uint64_t floor_ms,
                  const char *why)
{
	struct cfg_retry r = { .retries = a->retries, .delay_ms = a->retry_delay_ms,
	                       .max_delay_ms = AG_RETRY_MAX };
	uint64_t wait;

	if (a->tries >= a->retries) {
		a->retry_after_ms = retry_after_ms;
		fail(a, -EIO, true, "%s (after %u tries)", why, a->tries + 1);
		return;
	}
	a->tries++;
	wait = backoff_delay(&r, a->tries, backoff_random());
	if (wait < floor_ms)
		wait = floor_ms;
	if (retry_after_ms >= 0)
		wait = (uint64_t)retry_after_ms;
	a->timer_on = true;
	uv_timer_start(&a->timer, on_timer, wait, 0);
}

/* ---- requests ---- */

static char *page_form(struct arcgis *a)
{
	const char *oid = a->layer.oid_name;
	char *where = NULL, *form, count[24];
	struct buf ids;

	buf_init(&ids, 1024, AG_BODY_MAX);
	if (a->chunk_asks == 0) {
		/* The range alone when the request has no filter of its own. */
		bool all = strcmp(a->where, "1=1") == 0;
		if (asprintf(&where, "%s%s%s%s >= %" PRId64 " AND %s <= %" PRId64,
		             all ? "" : "(", all ? "" : a->where, all ? "" : ") AND ",
		             oid, a->ids[a->next], oid, a->ids[a->chunk_end - 1]) < 0)
			where = NULL;
	} else {
		for (size_t i = a->next; i < a->chunk_end; i++)
			if (!a->have[i - a->next])
				buf_printf(&ids, "%s%" PRId64, ids.len ? "," : "", a->ids[i]);
		where = strdup(a->where);
	}
	snprintf(count, sizeof count, "%zu", a->chunk_end - a->next);
	char *order = NULL;
	if (asprintf(&order, "%s ASC", oid) < 0)
		order = NULL;
	const char *names[] = { "where", "outFields", "outSR", "returnGeometry",
	                        "orderByFields", "resultRecordCount", "f", "objectIds" };
	const char *values[] = { where, "*", "4326", a->layer.geometry ? "true" : "false",
	                         order, count, "json", ids.p ? ids.p : "" };
	form = where && order && !ids.err
	       ? ag_form(names, values, a->chunk_asks ? 8 : 7) : NULL;
	free(where);
	free(order);
	buf_free(&ids);
	return form;
}

static void on_answer(struct http_req *q);

/*
 * ARCGIS.md 2.5 and 6.8 step 5: "Error performing query operation", an
 * ArcGIS error 500/504 or an HTTP 500/504 on a page usually means the page
 * is too heavy.  HEAVY says whether this failure was one.  At the
 * AG_HEAVY_HALVE-th in a row on a chunk's range ask, the page size is
 * halved (not below the floor) for the rest of the attempt and the chunk
 * starts again at the new size: true.  Else false, and the caller retries
 * as usual.  The chunk has written nothing yet (a chunk goes to the .part
 * whole), so only the request changes, never the file.
 */
static bool halve_page(struct arcgis *a, bool heavy)
{
	unsigned n;

	if (!heavy || a->stage != AG_PAGE || a->chunk_asks != 0) {
		a->heavy = 0;
		return false;
	}
	if (++a->heavy < AG_HEAVY_HALVE || a->page_size <= a->min_page)
		return false;
	n = a->page_size / 2 > a->min_page ? a->page_size / 2 : a->min_page;
	a->heavy = 0;
	a->page_size = n;
	a->halvings++;
	a->n_rows = 0;
	a->chunk_text.len = 0;
	start_chunk(a);
	return true;
}

static void send_request(struct arcgis *a)
{
	char *url = NULL, *form = NULL;
	int rc;

	switch (a->stage) {
	case AG_META:
	case AG_RECHECK_META:
		if (asprintf(&url, "%s?f=json", a->url) < 0)
			url = NULL;
		break;
	case AG_COUNT:
	case AG_RECHECK_COUNT:
	case AG_IDS: {
		const char *names[] = { "where", a->stage == AG_IDS ? "returnIdsOnly"
		                                                    : "returnCountOnly", "f" };
		const char *values[] = { a->where, "true", "json" };
		form = ag_form(names, values, 3);
		break;
	}
	case AG_PAGE:
		form = page_form(a);
		break;
	default:
		abort();
	}
	if (a->stage != AG_META && a->stage != AG_RECHECK_META &&
	    asprintf(&url, "%s/query", a->url) < 0)
		url = NULL;
	if (!url || (!form && a->stage != AG_META && a->stage != AG_RECHECK_META)) {
		free(url);
		free(form);
		fail(a, -ENOMEM, true, "out of memory");
		return;
	}
	a->requests++;
	rc = http_req_start(&a->q, a->http, &a->lim, a->allow_http, url, form, AG_BODY_MAX,
	                    on_answer);
	free(url);
	if (rc < 0)
		fail(a, rc, true, "cannot start a request to %s: %s", a->url, strerror(-rc));
}

static void on_answer(struct http_req *q)
{
	struct arcgis *a = container_of(q, struct arcgis, q);
	char why[AG_ERR_MAX];

	a->request_bytes += q->body.len;
	if (q->rc != CURLE_OK) {
		snprintf(why, sizeof why, "%s: %s", a->url,
		         q->body.err ? "the answer is larger than its cap"
		         : q->errbuf[0] ? q->errbuf : curl_easy_strerror(q->rc));
		retry(a, -1, 0, why);
		return;
	}
	if (q->status == 429 || q->status == 408 || q->status >= 500) {
		if (halve_page(a, q->status == 500 || q->status == 504))
			return;
		snprintf(why, sizeof why, "HTTP %ld from %s", q->status, a->url);
		retry(a, q->retry_after_ms, q->status == 429 ? a->rate_wait_ms : 0, why);
		return;
	}
	if (q->status < 200 || q->status > 299) {
		fail(a, -EIO, false, "HTTP %ld from %s", q->status, a->url);
		return;
	}
	if (a->stage == AG_PAGE)
		a->pages++;
	ag_queue_job(a, AGW_PARSE);
}

/* ---- the stages ---- */

static void goto_stage(struct arcgis *a, enum ag_stage s)
{
	a->stage = s;
	a->tries = 0;
	send_request(a);
}

/* The layer moved under the attempt: start over, or give up. */
static void reload(struct arcgis *a, const char *what)
{
	if (++a->reloads > ARCGIS_MAX_RELOADS) {
		/* Rows of several generations: nothing to resume from. */
		snprintf(a->error, sizeof a->error, "the layer %s moved %u times during one "
		         "attempt (last: %s)", a->url, a->reloads, what);
		a->outcome = ARCGIS_FAILED;
		a->err = -EAGAIN;
		a->retryable = true;
		finish(a, AGF_DISCARD);
		return;
	}
	a->n_rows = 0;
	a->chunk_text.len = 0;
	a->next = 0;
	a->bytes = a->rows_done = 0;
	a->pages_done = 0;
	memset(&a->digest, 0, sizeof a->digest);
	a->checking_short = false;
	a->have_side = false;
	goto_stage(a, AG_META);
}

static bool stamps_equal(const struct arcgis *a)
{
	return a->have_last && !a->force && a->last.data_edit_ms >= 0 &&
	       a->last.schema_edit_ms >= 0 && a->last.data_edit_ms == a->layer.data_edit_ms &&
	       a->last.schema_edit_ms == a->layer.schema_edit_ms;
}

/* Where the .part goes on: the sidecar's point, if it is of this version
 * of the layer and these ids; else from the header. */
static void after_ids(struct arcgis *a)
{
	a->next = 0;
	a->reset_to = 0;
	if (a->have_side && a->side_data == a->layer.data_edit_ms &&
	    a->side_schema == a->layer.schema_edit_ms && a->side_nids == a->n_ids &&
	    a->side_next <= a->n_ids && a->ids[a->side_next - 1] == a->side_last_oid) {
		a->next = a->side_next;
		a->reset_to = a->bytes = a->side_bytes;
		a->rows_done = a->side_rows;
		a->pages_done = a->side_pages;
		a->digest = a->side_digest;
	}
	a->have_side = false;
	a->stage = AG_RESET;
	ag_queue_job(a, AGW_RESET);
}

static void start_chunk(struct arcgis *a)
{
	size_t n;

	if (a->next >= a->n_ids) {
		goto_stage(a, AG_RECHECK_META);
		return;
	}
	n = a->n_ids - a->next < a->page_size ? a->n_ids - a->next : a->page_size;
	a->chunk_end = a->next + n;
	a->chunk_asks = 0;
	memset(a->have, 0, a->page_size * sizeof *a->have);
	goto_stage(a, AG_PAGE);
}

static void after_page(struct arcgis *a)
{
	a->heavy = 0;
	if (a->chunk_complete) {
		if (a->max_bytes && a->bytes > a->max_bytes) {
			fail(a, -EFBIG, false, "%s: the snapshot is larger than %" PRIu64 " bytes",
			     a->url, a->max_bytes);
			return;
		}
		start_chunk(a);
		return;
	}
	if (a->chunk_asks == 0) {
		a->chunk_asks = 1;
		a->tries = 0;
		send_request(a);
		return;
	}
	a->checking_short = true;
	goto_stage(a, AG_RECHECK_META);
}

static void after_recheck_count(struct arcgis *a)
{
	char dg[ARCGIS_DIGEST_HEX];

	if (a->job_count != a->count) {
		reload(a, "the count moved");
		return;
	}
	if (a->checking_short) {
		fail(a, -EIO, true, "%s: %zu of %zu rows of ids %" PRId64 "..%" PRId64
		     " did not come, asked twice", a->url, a->chunk_end - a->next - a->n_rows,
		     a->chunk_end - a->next, a->ids[a->next], a->ids[a->chunk_end - 1]);
		return;
	}
	if (a->rows_done != (uint64_t)a->count) {
		reload(a, "the rows do not add up to the count");
		return;
	}
	a->finished = true;
	ag_digest_hex(&a->digest, dg);
	if (!a->force && a->have_last && a->last.count == a->count &&
	    strcmp(a->last.digest, dg) == 0) {
		a->outcome = ARCGIS_UNCHANGED;
		finish(a, AGF_DISCARD);
		return;
	}
	a->outcome = ARCGIS_PUBLISHED;
	finish(a, AGF_PUBLISH);
}

static void after_parse(struct arcgis *a)
{
	if (a->job_parse < 0) {
		if (a->job_retryable && halve_page(a, ag_error_heavy(a->job_msg)))
			return;
		if (a->job_retryable)
			retry(a, -1, 0, a->job_msg);
		else
			fail(a, -EIO, false, "%s: %s", a->url, a->job_msg);
		return;
	}
	switch (a->job_stage) {
	case AG_META:
		if (stamps_equal(a)) {
			a->metadata_only = true;
			a->outcome = ARCGIS_UNCHANGED;
			finish(a, AGF_DISCARD);
			return;
		}
		a->page_size = a->req_page_size && a->req_page_size < a->layer.max_records
		               ? a->req_page_size : a->layer.max_records;
		free(a->rows);
		free(a->have);
		a->rows = calloc(a->page_size, sizeof *a->rows);
		a->have = calloc(a->page_size, sizeof *a->have);
		if (!a->rows || !a->have) {
			fail(a, -ENOMEM, true, "out of memory");
			return;
		}
		goto_stage(a, AG_COUNT);
		return;
	case AG_COUNT:
		a->count = a->job_count;
		goto_stage(a, AG_IDS);
		return;
	case AG_IDS:
		if ((int64_t)a->n_ids != a->count) {
			reload(a, "the ids do not match the count");
			return;
		}
		after_ids(a);
		return;
	case AG_PAGE:
		after_page(a);
		return;
	case AG_RECHECK_META:
		if (a->job_count) {
			reload(a, "its edit dates moved");
			return;
		}
		goto_stage(a, AG_RECHECK_COUNT);
		return;
	case AG_RECHECK_COUNT:
		after_recheck_count(a);
		return;
	default:
		abort();
	}
}

void ag_job_done(struct arcgis *a)
{
	if (a->job == AGW_FINISH) {
		if (a->job_err && a->outcome != ARCGIS_FAILED) {
			snprintf(a->error, sizeof a->error, "%s %s: %s", a->job_what,
			         a->fin == AGF_PUBLISH ? a->final_path : a->part_path,
			         strerror(a->job_err));
			a->outcome = ARCGIS_FAILED;
			a->err = -a->job_err;
			a->retryable = true;
		}
		deliver(a);
		return;
	}
	if (a->job_err) {
		fail_io(a);
		return;
	}
	if (a->cancelled) {
		a->outcome = ARCGIS_CANCELLED;
		finish(a, AGF_KEEP);
		return;
	}
	switch (a->job) {
	case AGW_PREP:  goto_stage(a, AG_META); break;
	case AGW_PARSE: after_parse(a); break;
	case AGW_RESET: start_chunk(a); break;
	default: abort();
	}
}

/* ---- public ---- */

static bool safe_name(const char *s)
{
	return s && *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0 && strlen(s) <= NAME_MAX;
}

static const char *check_request(const struct arcgis_request *req)
{
	if (!req->layer_url || !req->limits || !req->state_dir || !req->file_name ||
	    !req->date_zone || !req->exec_date)
		return "incomplete request";
	if (!config_name_valid(req->dataset))
		return "bad dataset name";
	if (strlen(req->exec_date) != 10 ||
	    strspn(req->exec_date, "0123456789-") != 10)
		return "bad exec date";
	if (!safe_name(req->file_name))
		return "bad file name";
	if (req->publish_path && (req->publish_path[0] != '/' ||
	                          !safe_name(strrchr(req->publish_path, '/') + 1)))
		return "bad publish path";
	if (strncasecmp(req->layer_url, "https://", 8) != 0 &&
	    !(req->allow_http && strncasecmp(req->layer_url, "http://", 7) == 0))
		return "only https layer URLs are allowed";
	if (strpbrk(req->layer_url, "?#"))
		return "the layer URL has a query";
	return NULL;
}

int arcgis_start(struct http *h, const struct arcgis_request *req, arcgis_done_cb done,
                 void *arg, struct arcgis **out, char **err)
{
	const char *why = check_request(req);
	struct arcgis *a;
	int rc;

	*out = NULL;
	if (err)
		*err = NULL;
	if (why) {
		if (err && asprintf(err, "%s: %s", why,
		                    req->layer_url ? req->layer_url : "(no URL)") < 0)
			*err = NULL;
		return -EINVAL;
	}
	if (!(a = calloc(1, sizeof *a)))
		return -ENOMEM;
	if ((rc = tz_load(req->date_zone, &a->tz)) < 0) {
		free(a);
		if (err && asprintf(err, "unknown time zone: %s", req->date_zone) < 0)
			*err = NULL;
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	a->http = h;
	a->done = done;
	a->arg = arg;
	a->fd = -1;
	buf_init(&a->chunk_text, 0, SIZE_MAX / 2);
	buf_init(&a->out, 0, SIZE_MAX / 2);
	a->lim = *req->limits;
	a->force = req->force;
	a->allow_http = req->allow_http;
	a->req_page_size = req->page_size;
	a->retries = req->retries ? req->retries : AG_RETRIES;
	a->retry_delay_ms = req->retry_delay_ms ? req->retry_delay_ms : AG_RETRY_DELAY;
	a->rate_wait_ms = req->rate_limit_wait_ms ? req->rate_limit_wait_ms : AG_RATE_WAIT;
	a->max_bytes = req->max_bytes;
	a->min_page = req->min_page_size ? req->min_page_size : AG_MIN_PAGE;
	a->count = -1;
	a->layer.data_edit_ms = a->layer.schema_edit_ms = -1;
	a->retry_after_ms = -1;
	if (req->last) {
		a->last = *req->last;
		a->last.digest[ARCGIS_DIGEST_HEX - 1] = '\0';
		a->have_last = true;
	}
	a->url = strdup(req->layer_url);
	a->where = strdup(req->where && *req->where ? req->where : "1=1");
	a->zone = strdup(req->date_zone);
	a->dataset = strdup(req->dataset);
	a->exec_date = strdup(req->exec_date);
	a->file_name = strdup(req->file_name);
	if (asprintf(&a->partial_dir, "%s/staging/.partial", req->state_dir) < 0)
		a->partial_dir = NULL;
	if (asprintf(&a->part_path, "%s/staging/.partial/%s.%s.part", req->state_dir,
	             req->dataset, req->exec_date) < 0)
		a->part_path = NULL;
	if (asprintf(&a->meta_path, "%s.arcgis", a->part_path ? a->part_path : "") < 0)
		a->meta_path = NULL;
	if (req->publish_path) {
		a->final_path = strdup(req->publish_path);
		a->final_dir = strdup(req->publish_path);
		if (a->final_dir && strrchr(a->final_dir, '/'))
			*strrchr(a->final_dir, '/') = '\0';
	} else {
		if (asprintf(&a->final_dir, "%s/staging/%s/exec_date=%s", req->state_dir,
		             req->dataset, req->exec_date) < 0)
			a->final_dir = NULL;
		if (asprintf(&a->final_path, "%s/%s", a->final_dir ? a->final_dir : "",
		             req->file_name) < 0)
			a->final_path = NULL;
	}
	uv_timer_init(http_loop(h), &a->timer);
	a->timer.data = a;
	if (!a->url || !a->where || !a->zone || !a->dataset || !a->exec_date ||
	    !a->file_name || !a->partial_dir || !a->part_path || !a->meta_path ||
	    !a->final_dir || !a->final_path) {
		uv_close((uv_handle_t *)&a->timer, free_cb);
		return -ENOMEM;
	}
	a->stage = AG_PREP;
	ag_queue_job(a, AGW_PREP);
	*out = a;
	return 0;
}

void arcgis_cancel(struct arcgis *a)
{
	if (!a || a->cancelled || a->stage == AG_FINISH)
		return;
	a->cancelled = true;
	if (a->job_running)
		return;                 /* ag_job_done sees the flag */
	if (a->timer_on) {
		uv_timer_stop(&a->timer);
		a->timer_on = false;
	}
	http_req_clear(&a->q);
	a->outcome = ARCGIS_CANCELLED;
	finish(a, AGF_KEEP);
}

void arcgis_progress(const struct arcgis *a, struct arcgis_progress *p)
{
	p->pages = a->pages_done;
	p->rows = a->rows_done;
	p->count = a->count;
	p->bytes = a->bytes;
}

static const char *const arcgis_outcome_table[] = {
	[ARCGIS_PUBLISHED] = "published",
	[ARCGIS_UNCHANGED] = "unchanged",
	[ARCGIS_FAILED]    = "failed",
	[ARCGIS_CANCELLED] = "cancelled",
};
STRING_TABLE_STATIC(arcgis_outcome, enum arcgis_outcome)

const char *arcgis_outcome_name(enum arcgis_outcome o)
{
	const char *s = arcgis_outcome_to_string(o);
	return s ? s : "?";
}
