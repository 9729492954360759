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
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <xxhash.h>

#include "base/clock.h"
#include "domain/config_types.h"
#include "base/denverd.h"
#include "domain/execdate.h"
#include "io/fetch.h"
#include "io/http.h"
#include "version.h"

#define FETCH_BUF_SIZE   (1024 * 1024)    /* one of the two write buffers */
#define FETCH_CURL_BUF   (256 * 1024)     /* curl's receive buffer (<= above) */
#define FETCH_WB_CHUNK   (8 * 1024 * 1024) /* start writeback this often */
#define FETCH_HDR_MAX    1024             /* a kept header value */
#define FETCH_META_MAX   (16 * 1024)      /* the sidecar's size */
#define FETCH_RETRY_AFTER_MAX (7LL * 24 * 3600 * 1000)

enum stage { ST_PREP, ST_XFER, ST_FLUSH, ST_FINISH };
enum job { JOB_PREP, JOB_WRITE, JOB_FINISH };
enum finish { FIN_KEEP, FIN_DISCARD, FIN_PUBLISH };

struct wbuf {
	char *data;
	size_t len;
};

struct fetch {
	struct http_xfer xfer;
	struct http *http;
	fetch_done_cb done;
	void *arg;

	/* the request, copied */
	char *url, *dataset, *exec_date, *file_name;
	char *prev_etag, *prev_lm, *prev_hash;
	struct cfg_fetch lim;
	bool force, allow_file;

	char *partial_dir, *part_path, *meta_path, *final_dir, *final_path;
	int fd;
	enum stage stage;

	/* resume: what prep found on disk */
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
	XXH3_state_t *hash;
	uint64_t wb_start;        /* worker: first byte not yet sent to writeback */
	int io_err;               /* first errno of a file operation */
	const char *io_what;      /* what that operation was */
	/* Written by the job on the worker, read in after_work: the loop
	 * thread never reads a field a running job writes. */
	int job_err;
	const char *job_what;
	int64_t prep_total;

	/* the threadpool job */
	uv_work_t work;
	enum job job;
	struct {                  /* write job */
		int idx;
		uint64_t off;
		bool truncate;
		char *meta;
	} wj;
	enum finish fin;
	bool fin_truncate;        /* the published file is empty (see judge) */

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

static void start_prep(struct fetch *f);
static void start_finish(struct fetch *f);
static void maybe_finish(struct fetch *f);

/* ---- small file helpers (worker threads) ---- */

/* mkdir -p PATH (0755).  0 or -errno. */
static int mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof tmp)
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int write_all(int fd, const char *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Replace the sidecar with TEXT: temp file + rename, so a reader sees the
 * old or the new one, never half. */
static int meta_write(const char *meta_path, const char *text)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", meta_path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text), 0);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, meta_path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* ---- the sidecar: what a resume needs to know about the .part ---- */

static char *meta_text(const struct fetch *f)
{
	json_t *o = json_pack("{s:s, s:s?, s:s?, s:I}", "url", f->url,
	                      "etag", f->etag, "last_modified", f->last_modified,
	                      "total", (json_int_t)f->total);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* The If-Range value for a resume of the response that wrote the sidecar:
 * a strong ETag, else Last-Modified (RFC 9110 13.1.5); NULL = not
 * resumable. */
static char *resume_validator(const char *etag, const char *lm)
{
	if (etag && etag[0] == '"')
		return strdup(etag);
	if (lm && *lm)
		return strdup(lm);
	return NULL;
}

/*
 * Worker: decide whether the .part can be continued.  It can when the
 * sidecar names the same URL and a validator and the .part is non-empty
 * and shorter than the total; then the prefix is re-hashed into f->hash.
 * Otherwise the .part is truncated and the sidecar removed.
 */
static int prep_resume(struct fetch *f)
{
	char text[FETCH_META_MAX];
	json_t *o = NULL;
	struct stat st;
	ssize_t n;
	int mfd, rfd = -1, rc = 0;
	const char *url, *etag, *lm;
	json_int_t total;

	mfd = open(f->meta_path, O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		return 0;
	n = read(mfd, text, sizeof text - 1);
	close(mfd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	o = json_loads(text, 0, NULL);
	if (!o || json_unpack(o, "{s:s, s?s, s?s, s:I}", "url", &url, "etag", &etag,
	                      "last_modified", &lm, "total", &total) < 0)
		goto out;
	etag = json_string_value(json_object_get(o, "etag"));
	lm = json_string_value(json_object_get(o, "last_modified"));
	if (strcmp(url, f->url) != 0 || fstat(f->fd, &st) < 0 || st.st_size <= 0)
		goto out;
	if (total >= 0 && (uint64_t)st.st_size >= (uint64_t)total)
		goto out;
	f->if_range = resume_validator(etag, lm);
	if (!f->if_range)
		goto out;
	rfd = open(f->part_path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		rc = -errno;
		goto out;
	}
	/* Re-hash the prefix, using a write buffer as scratch. */
	for (uint64_t done = 0; done < (uint64_t)st.st_size;) {
		n = read(rfd, f->buf[0].data, FETCH_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
		XXH3_128bits_update(f->hash, f->buf[0].data, (size_t)n);
		done += (uint64_t)n;
	}
	f->offset = (uint64_t)st.st_size;
	f->wb_start = f->offset;
	f->etag = etag ? strdup(etag) : NULL;
	f->last_modified = lm ? strdup(lm) : NULL;
	f->prep_total = total;
out:
	if (rfd >= 0)
		close(rfd);
	json_decref(o);
	if (f->offset == 0) {
		free(f->if_range);
		f->if_range = NULL;
		XXH3_128bits_reset(f->hash);
	}
	return rc;
}

static void prep_work(struct fetch *f)
{
	int rc;

	f->job_what = "create directory";
	if ((rc = mkdirs(f->partial_dir)) < 0)
		goto out;
	f->job_what = "open";
	f->fd = open(f->part_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		rc = -errno;
		goto out;
	}
	f->job_what = "re-read";
	if (!f->no_resume && (rc = prep_resume(f)) < 0)
		goto out;
	if (f->offset == 0) {
		f->job_what = "truncate";
		unlink(f->meta_path);
		if (ftruncate(f->fd, 0) < 0)
			rc = -errno;
	}
out:
	f->job_err = rc < 0 ? -rc : 0;
}

static void write_work(struct fetch *f)
{
	struct wbuf *b = &f->buf[f->wj.idx];
	int rc = 0;

	if (f->wj.truncate) {
		f->job_what = "truncate";
		if (ftruncate(f->fd, 0) < 0) {
			rc = -errno;
			goto out;
		}
		XXH3_128bits_reset(f->hash);
		f->wb_start = 0;
	}
	if (f->wj.meta) {
		f->job_what = "write sidecar";
		if ((rc = meta_write(f->meta_path, f->wj.meta)) < 0)
			goto out;
	}
	f->job_what = "write";
	if ((rc = write_all(f->fd, b->data, b->len, f->wj.off)) < 0)
		goto out;
	XXH3_128bits_update(f->hash, b->data, b->len);
	/* Start writeback as we go (without waiting for it), so the fsync of
	 * the publish step only has the tail left to write instead of the
	 * whole file, and dirty pages do not pile up on multi-GB files. */
	uint64_t end = f->wj.off + b->len;
	if (end - f->wb_start >= FETCH_WB_CHUNK) {
		sync_file_range(f->fd, (off_t)f->wb_start, (off_t)(end - f->wb_start),
		                SYNC_FILE_RANGE_WRITE);
		f->wb_start = end;
	}
out:
	f->job_err = rc < 0 ? -rc : 0;
}

static void finish_work(struct fetch *f)
{
	char parent[PATH_MAX];
	char *slash;
	bool renamed = false;
	int rc = 0;

	if (f->fin == FIN_PUBLISH) {
		f->job_what = "truncate";
		if (f->fin_truncate && ftruncate(f->fd, 0) < 0) {
			rc = -errno;
			goto out;
		}
		f->job_what = "fsync";
		if (fsync(f->fd) < 0) {
			rc = -errno;
			goto out;
		}
	}
	f->job_what = "close";
	rc = close(f->fd) < 0 && f->fin == FIN_PUBLISH ? -errno : 0;
	f->fd = -1;
	if (rc < 0 || f->fin != FIN_PUBLISH)
		goto out;
	f->job_what = "create directory";
	if ((rc = mkdirs(f->final_dir)) < 0)
		goto out;
	f->job_what = "rename";
	if (rename(f->part_path, f->final_path) < 0) {
		rc = -errno;
		goto out;
	}
	renamed = true;
	/* The new name, and the partition directory if mkdirs made it. */
	f->job_what = "fsync directory";
	if ((rc = fsync_dir(f->final_dir)) < 0)
		goto out;
	snprintf(parent, sizeof parent, "%s", f->final_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if ((rc = fsync_dir(parent)) < 0)
			goto out;
	}
	unlink(f->meta_path);
out:
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (rc < 0 || f->fin == FIN_DISCARD) {
		/* Nothing stays under the final name that is not known durable. */
		unlink(renamed ? f->final_path : f->part_path);
		unlink(f->meta_path);
	}
	f->job_err = rc < 0 ? -rc : 0;
}

static void work_cb(uv_work_t *w)
{
	struct fetch *f = container_of(w, struct fetch, work);
	switch (f->job) {
	case JOB_PREP:   prep_work(f); break;
	case JOB_WRITE:  write_work(f); break;
	case JOB_FINISH: finish_work(f); break;
	}
}

static void after_work(uv_work_t *w, int status);

static void queue_job(struct fetch *f, enum job job)
{
	int rc;
	f->job = job;
	rc = uv_queue_work(http_loop(f->http), &f->work, work_cb, after_work);
	if (rc < 0) {
		/* Only fails for a NULL callback: a bug, not a run-time state. */
		fprintf(stderr, "fetch: uv_queue_work: %s\n", uv_strerror(rc));
		abort();
	}
}

/* ---- outcome ---- */

static void set_error(struct fetch *f, int err, bool retryable, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_error(struct fetch *f, int err, bool retryable, const char *fmt, ...)
{
	va_list ap;
	f->outcome = FETCH_FAILED;
	f->err = err;
	f->retryable = retryable;
	free(f->error);
	va_start(ap, fmt);
	if (vasprintf(&f->error, fmt, ap) < 0)
		f->error = NULL;
	va_end(ap);
}

static void set_io_error(struct fetch *f, const char *path)
{
	set_error(f, -f->io_err, true, "%s %s: %s", f->io_what, path,
	          strerror(f->io_err));
}

/* Retry-After: delay-seconds, or an HTTP date compared with the response's
 * own Date (both from the server's clock) or, without one, ours. */
static int64_t retry_after_ms(const struct fetch *f)
{
	const char *v = f->retry_after;
	char *end;
	int64_t ms;

	if (!v || !*v)
		return -1;
	errno = 0;
	long long secs = strtoll(v, &end, 10);
	if (end != v && *end == '\0' && errno == 0) {
		if (secs < 0)
			return -1;
		ms = secs > FETCH_RETRY_AFTER_MAX / 1000 ? FETCH_RETRY_AFTER_MAX : secs * 1000;
		return ms;
	}
	time_t when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	time_t now = f->date ? curl_getdate(f->date, NULL) : -1;
	ms = now >= 0 ? ((int64_t)when - now) * 1000 : (int64_t)when * 1000 - clock_now_ms();
	if (ms < 0)
		ms = 0;
	return ms > FETCH_RETRY_AFTER_MAX ? FETCH_RETRY_AFTER_MAX : ms;
}

static bool status_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/* curl errors that a later attempt may not see again. */
static bool curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_FILE_COULDNT_READ_FILE:
	case CURLE_REMOTE_ACCESS_DENIED:
	case CURLE_LOGIN_DENIED:
	case CURLE_BAD_CONTENT_ENCODING:
		return false;
	default:
		return true;
	}
}

static void hash_hex(struct fetch *f)
{
	XXH128_hash_t h = XXH3_128bits_digest(f->hash);
	snprintf(f->hash_hex, sizeof f->hash_hex, "%016" PRIx64 "%016" PRIx64,
	         (uint64_t)h.high64, (uint64_t)h.low64);
}

/* Decide what the end of the transfer means, and what happens to the
 * .part: kept for a resume after retryable network trouble and cancel,
 * removed for everything else that does not publish. */
static void judge(struct fetch *f)
{
	long st = f->status;

	f->fin = FIN_DISCARD;
	/* A cancel that came after the last byte does not undo the download. */
	if (f->cancelled && !(f->xfer_done && f->rc == CURLE_OK)) {
		f->outcome = FETCH_CANCELLED;
		f->fin = FIN_KEEP;
		return;
	}
	if (f->io_err) {
		set_io_error(f, f->part_path);
		return;
	}
	if (f->fail_msg) {
		set_error(f, -EIO, true, "%s", f->fail_msg);
		return;
	}
	if (f->rc != CURLE_OK && !f->status_abort) {
		bool retry = curl_retryable(f->rc);
		if (f->rc == CURLE_TOO_MANY_REDIRECTS)
			set_error(f, -EIO, false, "too many redirects (more than %u) from %s",
			          f->lim.max_redirects, f->url);
		else if (st > 0)
			set_error(f, -EIO, retry, "%s%s%s (HTTP %ld) fetching %s",
			          curl_easy_strerror(f->rc), f->errbuf[0] ? ": " : "",
			          f->errbuf, st, f->url);
		else
			set_error(f, -EIO, retry, "%s%s%s fetching %s",
			          curl_easy_strerror(f->rc), f->errbuf[0] ? ": " : "",
			          f->errbuf, f->url);
		f->retry_after_ms = retry ? retry_after_ms(f) : -1;
		if (retry)
			f->fin = FIN_KEEP;
		return;
	}
	if (st == 304) {
		f->outcome = FETCH_UNCHANGED;
		return;
	}
	if (st == 416 && f->offset > 0 && !f->restarted) {
		/* The .part is no prefix of what the server has now. */
		f->no_resume = true;
		return;
	}
	if (st == 206 && !f->decided) {
		set_error(f, -EIO, true, "HTTP 206 without a body from %s", f->url);
		return;
	}
	if (st == 0 || (st >= 200 && st < 300 && !f->status_abort)) {
		if (!f->decided && f->offset > 0) {
			/* A 2xx with an empty body answered our Range: the file is
			 * empty now, not the old prefix.  No write ran for this
			 * response, so the hash is ours to reset here. */
			f->fin_truncate = true;
			f->file_off = 0;
			f->resumed_from = 0;
			XXH3_128bits_reset(f->hash);
		}
		hash_hex(f);
		if (!f->force && f->prev_hash && strcmp(f->prev_hash, f->hash_hex) == 0) {
			f->outcome = FETCH_UNCHANGED;
			return;
		}
		f->outcome = FETCH_PUBLISHED;
		f->fin = FIN_PUBLISH;
		return;
	}
	const char *reason = st == 404 ? " Not Found" : st == 429 ? " Too Many Requests" : "";
	set_error(f, -EIO, status_retryable(st), "HTTP %ld%s from %s", st, reason, f->url);
	f->retry_after_ms = retry_after_ms(f);
	if (f->retryable)
		f->fin = FIN_KEEP;
}

static void fetch_free(struct fetch *f)
{
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
	f->wj.truncate = f->truncate_pending;
	free(f->wj.meta);
	f->wj.meta = f->meta_pending;
	f->meta_pending = NULL;
	f->truncate_pending = false;
	f->writing = true;
	f->fill = !idx;
	f->buf[f->fill].len = 0;
	queue_job(f, JOB_WRITE);
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
	if (f->offset > 0) {
		f->truncate_pending = true;
		f->file_off = 0;
		f->offset = 0;
		f->resumed_from = 0;
		f->rate_b0 = 0;
	}
	f->meta_pending = meta_text(f);
	return true;
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
			f->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		submit_write(f);
		b = &f->buf[f->fill];
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	f->file_off += n;

	int64_t now = clock_mono_ms();
	if (now - f->rate_t0 >= 1000) {
		f->rate = (f->file_off - f->rate_b0) * 1000 / (uint64_t)(now - f->rate_t0);
		f->rate_t0 = now;
		f->rate_b0 = f->file_off;
	}
	return n;
}

static void xfer_done(struct http_xfer *x, CURLcode rc)
{
	struct fetch *f = container_of(x, struct fetch, xfer);
	long st = 0;

	f->rc = rc;
	f->xfer_done = true;
	if (curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st)
		f->status = st;
	f->stage = ST_FLUSH;
	maybe_finish(f);
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
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "denverd/" DENVERD_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)FETCH_CURL_BUF);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	f->xfer.easy = e;
	f->xfer.done = xfer_done;
	return 0;
}

/* Everything written that will be written: judge and run the finish job. */
static void maybe_finish(struct fetch *f)
{
	if (f->stage != ST_FLUSH || f->writing)
		return;
	if (!f->io_err && f->buf[f->fill].len > 0) {
		submit_write(f);
		return;
	}
	judge(f);
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
	if ((rc = setup_easy(f)) < 0 || (rc = http_add(f->http, &f->xfer)) < 0) {
		set_error(f, rc, true, "cannot start the transfer of %s: %s", f->url,
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
		set_io_error(f, f->part_path);
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
		/* Stop the transfer now; judge() reports the errno text. */
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
		f->paused = false;
		submit_write(f);
		curl_easy_pause(f->easy, CURLPAUSE_CONT);
	}
}

static void after_finish(struct fetch *f)
{
	if (f->io_err) {
		set_io_error(f, f->fin == FIN_PUBLISH ? f->final_path : f->part_path);
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

static void after_work(uv_work_t *w, int status)
{
	struct fetch *f = container_of(w, struct fetch, work);
	if (f->job_err && !f->io_err) {
		f->io_err = f->job_err;
		f->io_what = f->job_what;
	}
	f->job_err = 0;
	switch (f->job) {
	case JOB_PREP:   after_prep(f); break;
	case JOB_WRITE:  after_write(f); break;
	case JOB_FINISH: after_finish(f); break;
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
	free(f->if_range);
	f->if_range = NULL;
	reset_response(f);
	XXH3_128bits_reset(f->hash);
	queue_job(f, JOB_PREP);
}

static void start_finish(struct fetch *f)
{
	if (f->fd < 0 && f->fin != FIN_PUBLISH) {
		if (f->fin == FIN_DISCARD) {
			unlink(f->part_path);
			unlink(f->meta_path);
		}
		after_finish(f);
		return;
	}
	queue_job(f, JOB_FINISH);
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

	if (!req->url || !req->limits || !req->state_dir || !req->file_name)
		why = "incomplete request";
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

static char *dup_or_null(const char *s)
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
	f->total = -1;
	f->retry_after_ms = -1;
	f->url = strdup(req->url);
	f->dataset = strdup(req->dataset);
	f->exec_date = strdup(req->exec_date);
	f->file_name = strdup(req->file_name);
	f->prev_etag = dup_or_null(req->etag);
	f->prev_lm = dup_or_null(req->last_modified);
	f->prev_hash = dup_or_null(req->last_hash);
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
	if (f->stage == ST_XFER) {
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

const char *fetch_outcome_name(enum fetch_outcome o)
{
	switch (o) {
	case FETCH_PUBLISHED: return "published";
	case FETCH_UNCHANGED: return "unchanged";
	case FETCH_FAILED:    return "failed";
	case FETCH_CANCELLED: return "cancelled";
	}
	return "?";
}

/* ---- URL templates ---- */

int fetch_date_vars_init(struct fetch_date_vars *v, const char *d)
{
	int64_t day;

	if (!d || execdate_parse(d, &day) < 0)
		return -EINVAL;
	memcpy(v->exec_date, d, 11);
	memcpy(v->year, d, 4);
	v->year[4] = '\0';
	memcpy(v->month, d + 5, 2);
	v->month[2] = '\0';
	memcpy(v->day, d + 8, 2);
	v->day[2] = '\0';
	v->vars[0] = (struct template_var){ "exec_date", v->exec_date };
	v->vars[1] = (struct template_var){ "year", v->year };
	v->vars[2] = (struct template_var){ "month", v->month };
	v->vars[3] = (struct template_var){ "day", v->day };
	return 0;
}

int fetch_url_expand(const char *tmpl, const char *exec_date, char **out, size_t *bad)
{
	struct fetch_date_vars v;
	*out = NULL;
	if (fetch_date_vars_init(&v, exec_date) < 0)
		return -EINVAL;
	return template_expand(tmpl, v.vars, 4, out, bad);
}
