/*
 * fetch_int.h - what the files of the fetch module share; nothing outside
 * daemon/io/fetch*.c includes it.  The public interface is io/fetch.h.
 *
 *   fetch.c        the transfer on the loop thread (curl callbacks, the
 *                  double buffer), the stage machine, the public API
 *   fetch_file.c   the threadpool jobs (prep, write, finish) and the
 *                  sidecar
 *   fetch_local.c  a file:// source, read on the threadpool instead of by
 *                  curl (whose file protocol cannot pause)
 *   fetch_judge.c  what a finished transfer means: the outcome, the error
 *                  text, retryable or not, what happens to the .part
 *   fetch_url.c    URL templates of an exec date
 *
 * Threads: a struct fetch belongs to the loop thread, except while a job of
 * fetch_file.c runs on a worker.  Then the job owns the fields listed as
 * "worker" below and the loop thread does not read them until
 * fetch_job_done(); the job never touches the others.  One job at a time
 * per fetch, but for fetch_local.c's read job, which may run beside a
 * write job (it owns only its own fields and the filling buffer's free
 * room: fetch_local.c says why that is safe).
 */
#ifndef DENVERD_FETCH_INT_H
#define DENVERD_FETCH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>
#include <xxhash.h>

#include "io/fetch.h"
#include "io/http_xfer.h"

#define FETCH_BUF_SIZE   (1024 * 1024)    /* one of the two write buffers */

/* Where a fetch is.  PREP: the prep job runs; XFER: curl transfers;
 * FLUSH: the transfer ended, buffered bytes are still being written;
 * FINISH: the finish job runs (or the result is being delivered). */
enum fetch_stage { ST_PREP, ST_XFER, ST_FLUSH, ST_FINISH };

/* The threadpool job in f->work (fetch_file.c). */
enum fetch_work { WORK_PREP, WORK_WRITE, WORK_FINISH };

/* What the finish job does with the .part: keep it for a resume, remove
 * it, or publish it under its final name. */
enum fetch_fin { FIN_KEEP, FIN_DISCARD, FIN_PUBLISH };

struct wbuf {
	char *data;
	size_t len;
};

struct fetch;
struct fetch_s3;
struct fetch_local;
/* What runs on the loop thread when a threadpool job of F is over. */
typedef void fetch_job_done_fn(struct fetch *f);

/*
 * Where the bytes go: the files under state_dir (fetch_file.c) or an S3
 * multipart upload (fetch_s3.c).  The stage machine in fetch.c is the same
 * for both; it hands each job to the sink.
 *   queue  run JOB for F (prep: decide the resume; write: take
 *          f->buf[f->wj.idx] and hash it; finish: do f->fin).  DONE(F) runs
 *          on the loop thread when it is over; never from inside queue,
 *          but for a finish with nothing to do.  A failure sets
 *          f->io_err/io_what (and f->sink_error for one in words).
 *   free   release the sink's state (fetch_free); may be NULL.
 */
struct fetch_sink {
	void (*queue)(struct fetch *f, enum fetch_work job, fetch_job_done_fn *done);
	void (*free)(struct fetch *f);
};
extern const struct fetch_sink fetch_sink_local;   /* fetch_file.c */
extern const struct fetch_sink fetch_sink_s3;      /* fetch_s3.c */

struct fetch {
	struct http_xfer xfer;
	struct http *http;
	const struct fetch_sink *sink;
	struct fetch_s3 *s3;      /* S3 mode: fetch_s3.c's state; else NULL */
	char *sink_error;         /* a failure of the sink in words (S3), or NULL */
	bool sink_retryable;
	int64_t sink_retry_after_ms;
	fetch_done_cb done;
	void *arg;

	/* the request, copied */
	char *url, *dataset, *exec_date, *file_name;
	char *prev_etag, *prev_lm, *prev_hash;
	struct cfg_fetch lim;
	bool force, allow_file;

	char *partial_dir, *part_path, *meta_path, *final_dir, *final_path;
	int fd;                   /* worker while a job runs */
	enum fetch_stage stage;

	/* resume: what prep found on disk (worker during the prep job) */
	uint64_t offset;          /* bytes of the .part the request continues */
	char *if_range;           /* validator for If-Range, or NULL */
	bool no_resume;           /* after a 416: ignore the .part */
	bool restarted;

	/* the current response (reset at each status line) */
	long status;
	char *etag, *last_modified, *retry_after, *date;
	int64_t range_start, range_total;
	bool decided;             /* first body byte seen and judged */
	bool status_abort;        /* body of an error response refused */
	char *fail_msg;           /* set by the write callback when it aborts */

	/* a file:// source (fetch_local.c) instead of curl's transfer */
	bool local_src;
	struct fetch_local *local;

	/* curl */
	CURL *easy;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode rc;
	bool xfer_done;
	bool paused;

	/* writing */
	struct wbuf buf[2];
	int fill;                 /* buffer curl copies into */
	bool writing;             /* a write job is in flight */
	uint64_t file_off;        /* bytes handed to write jobs or buffered */
	bool truncate_pending;
	char *meta_pending;       /* sidecar text for the next write job */
	XXH3_state_t *hash;       /* worker while a job runs */
	uint64_t wb_start;        /* worker: first byte not yet sent to writeback */
	uint64_t alloc_end;       /* worker: end of the space reserved ahead (fallocate) */
	uint64_t written_end;     /* worker: end of the last write */
	int io_err;               /* first errno of a file operation */
	const char *io_what;      /* what that operation was */
	/* Written by the job on the worker, read in fetch_job_done: the loop
	 * thread never reads a field a running job writes. */
	int job_err;
	const char *job_what;
	int64_t prep_total;

	/* the threadpool job */
	uv_work_t work;
	enum fetch_work job;
	fetch_job_done_fn *job_done;   /* called when the job is over */
	struct {                  /* write job */
		int idx;
		uint64_t off;
		int64_t total;    /* the response's full size, -1 unknown */
		bool truncate;
		char *meta;
	} wj;
	enum fetch_fin fin;
	bool fin_truncate;        /* the published file is empty (judge_body) */

	/* progress */
	uint64_t resumed_from;
	int64_t total;
	int64_t rate_t0;
	uint64_t rate_b0, rate;

	/* outcome */
	enum fetch_outcome outcome;
	char *error;
	int err;
	bool retryable;
	int64_t retry_after_ms;
	char hash_hex[FETCH_HASH_HEX];
	bool cancelled;
};

/* ---- fetch_file.c ---- */

/*
 * Loop thread: run JOB for F through its sink.  For the local sink: on
 * libuv's threadpool; when it is over, f->io_err/io_what hold its error
 * (unless an earlier one is kept) and DONE(F) runs on the loop thread
 * (fetch.c's stage machine: handing it in keeps this file below fetch.c).
 * Never fails: the only error of uv_queue_work is a programming one, and
 * that aborts.
 */
void fetch_queue_job(struct fetch *f, enum fetch_work job, fetch_job_done_fn *done);

/* The If-Range value for a resume of a response with these validators: a
 * strong ETag, else Last-Modified; NULL = not resumable (or no memory). */
char *fetch_resume_validator(const char *etag, const char *lm);

/* ---- fetch_s3.c ---- */

/* Loop thread: make F's S3 sink from REQ (f->s3, f->sink).  0, -ENOMEM. */
int fetch_s3_init(struct fetch *f, const struct fetch_request *req);

/* The sidecar for the current response (url, etag, last_modified, total)
 * as compact JSON; the caller frees it.  NULL when out of memory. */
char *fetch_meta_text(const struct fetch *f);

/* ---- fetch.c, for fetch_local.c (loop thread) ---- */

/* The filling buffer with room in it (a full one handed to a write job
 * first); NULL when it is full and a write is in flight: then f->paused is
 * set and fetch_local_continue follows that write. */
struct wbuf *fetch_fill_buffer(struct fetch *f);
/* N bytes were put at the end of the filling buffer. */
void fetch_body_added(struct fetch *f, size_t n);
/* The body starts at byte 0, whatever the resume offered: the .part (or
 * the upload's parts) starts again, and the sidecar is of this response. */
void fetch_body_from_zero(struct fetch *f);
/* The transfer is over with RC (f->errbuf says more): flush, judge, finish. */
void fetch_xfer_end(struct fetch *f, CURLcode rc);

/* ---- fetch_local.c (loop thread) ---- */

/* Start reading f->url (file://) from f->offset, as a transfer: 0, or
 * -ENOMEM / -EINVAL (not a local file URL; f->errbuf says so). */
int fetch_local_start(struct fetch *f);
void fetch_local_continue(struct fetch *f);   /* after the write that paused it */
/* End the transfer (f->cancelled or f->io_err is set): now, or when the
 * read in flight is over. */
void fetch_local_stop(struct fetch *f);
void fetch_local_free(struct fetch *f);       /* accepts a fetch without one */

/* ---- fetch_judge.c (loop thread) ---- */

/*
 * Decide what the end of the transfer means (f->outcome, the error fields)
 * and what the finish job does with the .part (f->fin).  Called once every
 * buffered byte has been written.
 */
void fetch_judge(struct fetch *f);

/* F failed: outcome FETCH_FAILED with ERR (negative errno), RETRYABLE and
 * the formatted text (f->error NULL when out of memory). */
void fetch_set_error(struct fetch *f, int err, bool retryable, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* F failed at the file operation in f->io_err/io_what on PATH. */
void fetch_set_io_error(struct fetch *f, const char *path);

#endif
