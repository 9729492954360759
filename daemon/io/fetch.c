/*
 * fetch.c - one resumable, conditional download, streamed to a .part file.
 *
 * The loop thread only runs curl (through http.c) and copies bytes into one
 * of two FETCH_BUF_SIZE buffers.  Every file operation runs on the libuv
 * threadpool, one job at a time per fetch, in this order:
 *
 *   prep    mkdir staging/.partial; resume (re-hash the prefix) or truncate
 *   write*  [truncate] [sidecar] pwrite one buffer, hash it   (double buffer)
 *   finish  publish (fsync, rename, fsync dirs) | discard | keep the .part
 *
 * While a write job runs, curl fills the other buffer; when that is full
 * too, the transfer is paused (CURL_WRITEFUNC_PAUSE) until the write is
 * done, so memory stays at 2 x FETCH_BUF_SIZE however fast the network is.
 *
 * Where the time goes (perf, 1 GiB from loopback to ext4): the loop
 * thread's recv copies and TCP, then the write job, which was the
 * bottleneck (the transfer paused at 983 of 1,024 buffers): ext4's
 * delayed allocation per page, contending with writeback.  So the write
 * job keeps 64 MiB allocated ahead (fallocate, KEEP_SIZE; fetch_file.c)
 * and starts writeback every 8 MiB (sync_file_range WRITE), which leaves
 * the final fsync a few ms.  User-space CPU (callgrind, 64 MiB) is the
 * copy out of curl's buffer (53%) and XXH3 (37%): curl -o 20M
 * instructions, fetch_one 181M, both far below the kernel's share.
 * Buffers of 1 MiB with a 512 KiB curl buffer measured best: 2 MiB and
 * 512 KiB buffers were 1.6x and 1.1x slower on ext4.
 *
 * Measured, 1 GiB from loopback, 2 shared cores, min/median/max wall s
 * of 5 alternating runs: on ext4 (load ~1) before the reservation
 * 0.83/0.85/1.03, after it 0.63/0.75/0.90, against curl -o 1.20/1.24/1.42
 * and curl -o + sync 1.68/1.70/1.91 (1.65x and 2.27x).  With the cores
 * busy (load 5, tests/bench/fetch_bench --size 1073741824 --runs 5),
 * medians 0.90x curl -o and 1.20x curl -o + sync on ext4, 1.04x on tmpfs
 * (where sync costs nothing); fetch used less CPU than curl on both
 * (0.88x, 0.91x).
 *
 * Hash: XXH3-128.  tests/bench/hash_bench on this machine class (AMD EPYC,
 * with SHA-NI): XXH3-128 17.7 GB/s, SHA-256 (OpenSSL) 1.66 GB/s, BLAKE2b
 * 0.85 GB/s on one core.  At the 800 MB/s target SHA-256 would take about
 * half a core of the two this daemon shares, XXH3 under 5% (and CPUs
 * without SHA-NI are several times slower at SHA-256).  XXH3
 * is not cryptographic, which is fine here: the hash detects change, it
 * does not authenticate the server (TLS does).  It runs in the write job,
 * on the bytes just written, so the loop thread never hashes.
 *
 * Resume after a restart re-hashes the .part prefix in the prep job rather
 * than persisting the XXH3 state: the file on disk is then the only truth
 * (a persisted state could disagree with what reached the disk before a
 * crash), and reading the prefix back at disk speed costs far less than
 * downloading it again.
 *
 * Jobs run on libuv's shared threadpool (UV_THREADPOOL_SIZE, default 4).
 * A write waits when the pool is busy with long jobs (check scans, a
 * re-hash); the transfer then pauses, which curl does not count against
 * the low-speed limit.  The daemon should size the pool for limits.fetches
 * + limits.checks + 2.
 *
 * The module is several files over io/fetch_int.h (struct fetch, and which
 * thread owns which field): this one runs the transfer on the loop thread
 * (curl's header and write callbacks, the double buffer), the stage
 * machine that orders the jobs, and the public API; fetch_file.c holds the
 * three jobs and the sidecar; fetch_local.c reads a file:// source in
 * place of curl (whose file protocol cannot pause); fetch_judge.c decides
 * what the end of a transfer means; fetch_url.c expands URL templates;
 * fetch_s3*.c are the S3 sink.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/macro.h"
#include "base/strtable.h"
#include "domain/config_types.h"
#include "io/fetch_int.h"
#include "io/s3.h"

#define FETCH_CURL_BUF   (512 * 1024)     /* curl's receive buffer (<= FETCH_BUF_SIZE) */
#define FETCH_HDR_MAX    1024             /* a kept header value */

static void start_prep(struct fetch *f);
static void start_finish(struct fetch *f);
static void maybe_finish(struct fetch *f);
static void fetch_job_done(struct fetch *f);

/* ---- the result ---- */

static void fetch_free(struct fetch *f)
{
	if (f->sink && f->sink->free)
		f->sink->free(f);
	free(f->sink_error);
	fetch_local_free(f);
	if (f->easy)
		curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	free(f->buf[0].data);
	free(f->buf[1].data);
	XXH3_freeState(f->hash);
	free(f->url); free(f->dataset); free(f->exec_date); free(f->file_name);
	free(f->prev_etag); free(f->prev_lm); free(f->prev_hash);
	free(f->partial_dir); free(f->part_path); free(f->meta_path);
	free(f->final_dir); free(f->final_path);
	free(f->if_range); free(f->etag); free(f->last_modified);
	free(f->retry_after); free(f->date); free(f->fail_msg);
	free(f->meta_pending); free(f->wj.meta); free(f->error);
	free(f);
}

static void deliver(struct fetch *f)
{
	struct fetch_result r = {
		.outcome = f->outcome,
		.http_status = f->status,
		.path = f->outcome == FETCH_PUBLISHED ? f->final_path : NULL,
		.bytes = f->hash_hex[0] ? f->file_off : 0,
		.hash = f->hash_hex,
		.etag = f->etag,
		.last_modified = f->last_modified,
		.url = f->url,
		.resumed_from = f->resumed_from,
		.error = f->outcome == FETCH_FAILED ? (f->error ? f->error : "out of memory") : NULL,
		.err = f->outcome == FETCH_FAILED ? f->err : 0,
		.retryable = f->outcome == FETCH_FAILED && f->retryable,
		.retry_after_ms = f->outcome == FETCH_FAILED ? f->retry_after_ms : -1,
	};
	f->done(f, &r, f->arg);
	fetch_free(f);
}

/* ---- the transfer (loop thread) ---- */

static void reset_response(struct fetch *f)
{
	f->status = 0;
	free(f->etag); f->etag = NULL;
	free(f->last_modified); f->last_modified = NULL;
	free(f->retry_after); f->retry_after = NULL;
	free(f->date); f->date = NULL;
	f->range_start = f->range_total = -1;
}

/* Keep VALUE (trimmed, capped) of a header line NAME: VALUE. */
static bool header_is(const char *line, size_t n, const char *name, char **out)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	const char *v = line + k + 1, *e = line + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e - v > FETCH_HDR_MAX)
		e = v + FETCH_HDR_MAX;
	free(*out);
	*out = strndup(v, (size_t)(e - v));
	return true;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	char *cr = NULL;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		reset_response(f);
		const char *sp = memchr(line, ' ', n);
		if (sp)
			f->status = strtol(sp + 1, NULL, 10);
		return n;
	}
	if (header_is(line, n, "ETag", &f->etag) ||
	    header_is(line, n, "Last-Modified", &f->last_modified) ||
	    header_is(line, n, "Retry-After", &f->retry_after) ||
	    header_is(line, n, "Date", &f->date))
		return n;
	if (header_is(line, n, "Content-Range", &cr) && cr) {
		long long a, b, t;
		char star;
		if (sscanf(cr, "bytes %lld-%lld/%lld", &a, &b, &t) == 3) {
			f->range_start = a;
			f->range_total = t;
		} else if (sscanf(cr, "bytes %lld-%lld/%c", &a, &b, &star) == 3) {
			f->range_start = a;
		}
		free(cr);
	}
	return n;
}

/* Move the filling buffer to a write job; the other becomes the filling
 * one.  Only when no write is in flight. */
static void submit_write(struct fetch *f)
{
	int idx = f->fill;
	f->wj.idx = idx;
	f->wj.off = f->file_off - f->buf[idx].len;
	f->wj.total = f->total;
	f->wj.truncate = f->truncate_pending;
	free(f->wj.meta);
	f->wj.meta = f->meta_pending;
	f->meta_pending = NULL;
	f->truncate_pending = false;
	f->writing = true;
	f->fill = !idx;
	f->buf[f->fill].len = 0;
	fetch_queue_job(f, WORK_WRITE, fetch_job_done);
}

/*
 * First body byte of a response: is it what we asked for?  A 206 that
 * continues the .part where it ends appends; a 2xx from the start (the
 * server ignored the Range, or If-Range saw a new validator) starts the
 * file again from zero.  Anything else is refused (false).
 */
static bool judge_first_body(struct fetch *f)
{
	curl_off_t len = -1;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->status);
	if (f->status == 206 && f->offset > 0 && f->range_start == (int64_t)f->offset) {
		f->total = f->range_total;
		f->resumed_from = f->offset;
		return true;
	}
	if (f->status == 206) {
		free(f->fail_msg);
		if (asprintf(&f->fail_msg, "HTTP 206 with an unexpected range (%" PRId64
		             " instead of %" PRIu64 ") from %s", f->range_start, f->offset,
		             f->url) < 0)
			f->fail_msg = NULL;
		return false;
	}
	if (f->status != 0 && (f->status < 200 || f->status > 299)) {
		f->status_abort = true;
		return false;
	}
	curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	f->total = len;
	fetch_body_from_zero(f);
	return true;
}

void fetch_body_from_zero(struct fetch *f)
{
	if (f->offset > 0) {
		f->truncate_pending = true;
		f->file_off = 0;
		f->offset = 0;
		f->resumed_from = 0;
		f->rate_b0 = 0;
	}
	free(f->meta_pending);
	f->meta_pending = fetch_meta_text(f);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	struct wbuf *b;

	if (f->io_err || n > FETCH_BUF_SIZE)
		return 0;
	if (!f->decided) {
		if (!judge_first_body(f))
			return 0;
		f->decided = true;
	}
	b = &f->buf[f->fill];
	if (b->len + n > FETCH_BUF_SIZE) {
		if (f->writing) {
			f->paused = f->xfer.held = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		submit_write(f);
		b = &f->buf[f->fill];
	}
	memcpy(b->data + b->len, data, n);
	fetch_body_added(f, n);
	http_xfer_took(&f->xfer, n);
	return n;
}

void fetch_body_added(struct fetch *f, size_t n)
{
	f->buf[f->fill].len += n;
	f->file_off += n;

	int64_t now = clock_mono_ms();
	if (now - f->rate_t0 >= 1000) {
		f->rate = (f->file_off - f->rate_b0) * 1000 / (uint64_t)(now - f->rate_t0);
		f->rate_t0 = now;
		f->rate_b0 = f->file_off;
	}
}

struct wbuf *fetch_fill_buffer(struct fetch *f)
{
	if (f->buf[f->fill].len < FETCH_BUF_SIZE)
		return &f->buf[f->fill];
	if (f->writing) {
		f->paused = true;
		return NULL;
	}
	submit_write(f);
	return &f->buf[f->fill];
}

void fetch_xfer_end(struct fetch *f, CURLcode rc)
{
	f->rc = rc;
	f->xfer_done = true;
	f->stage = ST_FLUSH;
	maybe_finish(f);
}

static void xfer_done(struct http_xfer *x, CURLcode rc)
{
	struct fetch *f = container_of(x, struct fetch, xfer);
	long st = 0;

	if (curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st)
		f->status = st;
	fetch_xfer_end(f, rc);
}

static int add_header(struct fetch *f, const char *name, const char *value)
{
	char *line;
	struct curl_slist *l;
	if (asprintf(&line, "%s: %s", name, value) < 0)
		return -ENOMEM;
	l = curl_slist_append(f->headers, line);
	free(line);
	if (!l)
		return -ENOMEM;
	f->headers = l;
	return 0;
}

static int setup_easy(struct fetch *f)
{
	CURL *e;
	char range[32];
	int rc = 0;

	if (f->easy)
		curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	f->headers = NULL;
	f->easy = e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	if (!f->force) {
		if (f->prev_etag && (rc = add_header(f, "If-None-Match", f->prev_etag)) < 0)
			return rc;
		if (f->prev_lm && (rc = add_header(f, "If-Modified-Since", f->prev_lm)) < 0)
			return rc;
	}
	if (f->offset > 0) {
		if ((rc = add_header(f, "If-Range", f->if_range)) < 0)
			return rc;
		snprintf(range, sizeof range, "%" PRIu64 "-", f->offset);
		curl_easy_setopt(e, CURLOPT_RANGE, range);
	}
	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, f->allow_file ? "http,https,file" : "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)f->lim.max_redirects);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)f->lim.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)f->lim.timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)f->lim.low_speed_limit);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
	                 (long)((f->lim.low_speed_time_ms + 999) / 1000));
	http_easy_defaults(e, f->errbuf);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)FETCH_CURL_BUF);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	f->xfer.easy = e;
	f->xfer.done = xfer_done;
	return 0;
}

/* ---- the stage machine (loop thread) ---- */

/* Everything written that will be written: judge and run the finish job. */
static void maybe_finish(struct fetch *f)
{
	if (f->stage != ST_FLUSH || f->writing)
		return;
	if (!f->io_err && f->buf[f->fill].len > 0) {
		submit_write(f);
		return;
	}
	fetch_judge(f);
	f->stage = ST_FINISH;
	start_finish(f);
}

static void start_transfer(struct fetch *f)
{
	int rc;

	f->stage = ST_XFER;
	f->rate_t0 = clock_mono_ms();
	f->rate_b0 = f->file_off = f->offset;
	f->decided = false;
	f->status_abort = false;
	f->xfer_done = false;
	f->errbuf[0] = '\0';
	if (f->local_src) {
		reset_response(f);
		rc = fetch_local_start(f);
	} else if ((rc = setup_easy(f)) == 0) {
		rc = http_add(f->http, &f->xfer);
	}
	if (rc < 0) {
		fetch_set_error(f, rc, true, "cannot start the transfer of %s: %s", f->url,
		                strerror(-rc));
		f->fin = FIN_KEEP;
		f->stage = ST_FINISH;
		start_finish(f);
	}
}

static void after_prep(struct fetch *f)
{
	if (f->offset > 0)
		f->total = f->prep_total;
	if (f->io_err) {
		fetch_set_io_error(f, f->part_path);
		f->fin = FIN_KEEP;
		f->stage = ST_FINISH;
		if (f->fd < 0) {
			deliver(f);
			return;
		}
		start_finish(f);
		return;
	}
	if (f->cancelled) {
		f->outcome = FETCH_CANCELLED;
		f->fin = FIN_KEEP;
		f->stage = ST_FINISH;
		start_finish(f);
		return;
	}
	start_transfer(f);
}

static void after_write(struct fetch *f)
{
	f->writing = false;
	if (f->io_err) {
		/* Stop the transfer now; fetch_judge() reports the errno text.
		 * A file being read stops after the read in flight, if any. */
		if (f->stage == ST_XFER && f->local_src) {
			fetch_local_stop(f);
			return;
		}
		if (f->stage == ST_XFER) {
			http_remove(&f->xfer);
			f->stage = ST_FLUSH;
		}
		maybe_finish(f);
		return;
	}
	if (f->stage == ST_FLUSH) {
		maybe_finish(f);
		return;
	}
	if (f->paused) {
		/* The filling buffer is full: write it, then take the chunk
		 * curl held back (curl may deliver it from inside the unpause). */
		f->paused = f->xfer.held = false;
		submit_write(f);
		if (f->local_src)
			fetch_local_continue(f);
		else
			curl_easy_pause(f->easy, CURLPAUSE_CONT);
	}
}

static void after_finish(struct fetch *f)
{
	if (f->io_err) {
		fetch_set_io_error(f, f->fin == FIN_PUBLISH ? f->final_path : f->part_path);
		f->outcome = FETCH_FAILED;
	}
	if (f->outcome != FETCH_FAILED && f->no_resume && !f->restarted) {
		if (f->cancelled) {
			f->outcome = FETCH_CANCELLED;
			deliver(f);
			return;
		}
		/* 416 on a resume: once more, from zero. */
		f->restarted = true;
		f->offset = 0;
		start_prep(f);
		return;
	}
	deliver(f);
}

/* Loop thread: the job fetch_queue_job started has ended (f->job says
 * which); move the stage machine on. */
static void fetch_job_done(struct fetch *f)
{
	switch (f->job) {
	case WORK_PREP:   after_prep(f); break;
	case WORK_WRITE:  after_write(f); break;
	case WORK_FINISH: after_finish(f); break;
	}
}

static void start_prep(struct fetch *f)
{
	f->stage = ST_PREP;
	f->fd = -1;
	f->io_err = 0;
	f->offset = 0;
	f->file_off = 0;
	f->wb_start = 0;
	f->alloc_end = 0;
	f->written_end = 0;
	free(f->if_range);
	f->if_range = NULL;
	reset_response(f);
	XXH3_128bits_reset(f->hash);
	fetch_queue_job(f, WORK_PREP, fetch_job_done);
}

static void start_finish(struct fetch *f)
{
	fetch_queue_job(f, WORK_FINISH, fetch_job_done);
}

/* ---- public ---- */

static bool safe_name(const char *s)
{
	return s && *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0 && strlen(s) <= NAME_MAX;
}

static int check_request(const struct fetch_request *req, char **err)
{
	struct fetch_date_vars v;
	const char *why = NULL;

	if (!req->url || !req->limits || (!req->state_dir && !req->s3) || !req->file_name)
		why = "incomplete request";
	else if (req->s3 && req->part_size < S3_MIN_PART_SIZE)
		why = "part size below 8 MiB";
	else if (!config_name_valid(req->dataset))
		why = "bad dataset name";
	else if (fetch_date_vars_init(&v, req->exec_date) < 0)
		why = "bad exec date";
	else if (!safe_name(req->file_name))
		why = "bad file name";
	else if (strncasecmp(req->url, "http://", 7) != 0 &&
	         strncasecmp(req->url, "https://", 8) != 0 &&
	         !(req->allow_file_urls && strncasecmp(req->url, "file://", 7) == 0))
		why = req->allow_file_urls ? "only http, https and file URLs are allowed"
		                           : "only http and https URLs are allowed "
		                             "(file:// needs allow_file_urls)";
	if (!why)
		return 0;
	if (err && asprintf(err, "%s: %s", why, req->url ? req->url : "(no URL)") < 0)
		*err = NULL;
	return -EINVAL;
}

/* A copy of S, or NULL for NULL and "" (no validator, no hash). */
static char *dup_nonempty(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int fetch_start(struct http *h, const struct fetch_request *req, fetch_done_cb done,
                void *arg, struct fetch **out, char **err)
{
	struct fetch *f;
	int rc;

	*out = NULL;
	if (err)
		*err = NULL;
	if ((rc = check_request(req, err)) < 0)
		return rc;
	f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->http = h;
	f->done = done;
	f->arg = arg;
	f->fd = -1;
	f->lim = *req->limits;
	f->force = req->force;
	f->allow_file = req->allow_file_urls;
	f->local_src = strncasecmp(req->url, "file://", 7) == 0;
	f->total = -1;
	f->retry_after_ms = -1;
	f->url = strdup(req->url);
	f->dataset = strdup(req->dataset);
	f->exec_date = strdup(req->exec_date);
	f->file_name = strdup(req->file_name);
	f->prev_etag = dup_nonempty(req->etag);
	f->prev_lm = dup_nonempty(req->last_modified);
	f->prev_hash = dup_nonempty(req->last_hash);
	f->buf[0].data = malloc(FETCH_BUF_SIZE);
	f->buf[1].data = malloc(FETCH_BUF_SIZE);
	f->hash = XXH3_createState();
	if (asprintf(&f->partial_dir, "%s/staging/.partial", req->state_dir) < 0)
		f->partial_dir = NULL;
	if (asprintf(&f->part_path, "%s/staging/.partial/%s.%s.part", req->state_dir,
	             req->dataset, req->exec_date) < 0)
		f->part_path = NULL;
	if (asprintf(&f->meta_path, "%s/staging/.partial/%s.%s.part.meta",
	             req->state_dir, req->dataset, req->exec_date) < 0)
		f->meta_path = NULL;
	if (asprintf(&f->final_dir, "%s/staging/%s/exec_date=%s", req->state_dir,
	             req->dataset, req->exec_date) < 0)
		f->final_dir = NULL;
	if (asprintf(&f->final_path, "%s/staging/%s/exec_date=%s/%s", req->state_dir,
	             req->dataset, req->exec_date, req->file_name) < 0)
		f->final_path = NULL;
	f->sink = &fetch_sink_local;
	if (req->s3 && fetch_s3_init(f, req) < 0) {
		fetch_free(f);
		return -ENOMEM;
	}
	if (!f->url || !f->dataset || !f->exec_date || !f->file_name ||
	    (req->etag && *req->etag && !f->prev_etag) ||
	    (req->last_modified && *req->last_modified && !f->prev_lm) ||
	    (req->last_hash && *req->last_hash && !f->prev_hash) ||
	    !f->buf[0].data || !f->buf[1].data || !f->hash || !f->partial_dir ||
	    !f->part_path || !f->meta_path || !f->final_dir || !f->final_path) {
		fetch_free(f);
		return -ENOMEM;
	}
	start_prep(f);
	*out = f;
	return 0;
}

void fetch_cancel(struct fetch *f)
{
	if (!f || f->cancelled)
		return;
	f->cancelled = true;
	if (f->stage == ST_XFER && f->local_src) {
		fetch_local_stop(f);
	} else if (f->stage == ST_XFER) {
		http_remove(&f->xfer);
		f->stage = ST_FLUSH;
		maybe_finish(f);
	}
}

void fetch_progress(const struct fetch *f, struct fetch_progress *p)
{
	int64_t now = clock_mono_ms(), dt = now - f->rate_t0;

	p->bytes = f->file_off;
	p->total = f->total;
	p->resumed_from = f->resumed_from;
	/* Before the first full second, the rate so far. */
	if (f->rate == 0 && dt > 0 && f->file_off > f->rate_b0)
		p->rate = (f->file_off - f->rate_b0) * 1000 / (uint64_t)dt;
	else
		p->rate = f->rate;
}

static const char *const fetch_outcome_table[] = {
	[FETCH_PUBLISHED] = "published",
	[FETCH_UNCHANGED] = "unchanged",
	[FETCH_FAILED]    = "failed",
	[FETCH_CANCELLED] = "cancelled",
};
STRING_TABLE_STATIC(fetch_outcome, enum fetch_outcome)

const char *fetch_outcome_name(enum fetch_outcome o)
{
	const char *s = fetch_outcome_to_string(o);
	return s ? s : "?";
}
