/*
 * fetch_judge.c - what the end of a transfer means: published, unchanged,
 * cancelled or failed (with words, retryable or not, and the Retry-After
 * delay), and what becomes of the .part.  Loop thread; no I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "io/fetch_int.h"

#define FETCH_RETRY_AFTER_MAX (7LL * 24 * 3600 * 1000)

void fetch_set_error(struct fetch *f, int err, bool retryable, const char *fmt, ...)
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

void fetch_set_io_error(struct fetch *f, const char *path)
{
	if (f->sink_error) {
		fetch_set_error(f, -EIO, f->sink_retryable, "%s", f->sink_error);
		f->retry_after_ms = f->sink_retry_after_ms;
		return;
	}
	fetch_set_error(f, -f->io_err, true, "%s %s: %s", f->io_what, path,
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

/* A curl error ended the transfer (not our own refusal of an error body). */
static void judge_curl_error(struct fetch *f)
{
	bool retry = curl_retryable(f->rc);
	const char *sep = f->errbuf[0] ? ": " : "";

	if (f->rc == CURLE_TOO_MANY_REDIRECTS)
		fetch_set_error(f, -EIO, false, "too many redirects (more than %u) from %s",
		                f->lim.max_redirects, f->url);
	else if (f->status > 0)
		fetch_set_error(f, -EIO, retry, "%s%s%s (HTTP %ld) fetching %s",
		                curl_easy_strerror(f->rc), sep, f->errbuf, f->status, f->url);
	else
		fetch_set_error(f, -EIO, retry, "%s%s%s fetching %s",
		                curl_easy_strerror(f->rc), sep, f->errbuf, f->url);
	f->retry_after_ms = retry ? retry_after_ms(f) : -1;
	if (retry)
		f->fin = FIN_KEEP;
}

/* A complete 2xx (or file://) body: a new snapshot, or the last one again. */
static void judge_body(struct fetch *f)
{
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
}

/* The transfer completed (or we refused an error body): judge the status. */
static void judge_status(struct fetch *f)
{
	long st = f->status;

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
		fetch_set_error(f, -EIO, true, "HTTP 206 without a body from %s", f->url);
		return;
	}
	if (st == 0 || (st >= 200 && st < 300 && !f->status_abort)) {
		judge_body(f);
		return;
	}
	const char *reason = st == 404 ? " Not Found" : st == 429 ? " Too Many Requests" : "";
	fetch_set_error(f, -EIO, status_retryable(st), "HTTP %ld%s from %s", st, reason, f->url);
	f->retry_after_ms = retry_after_ms(f);
	if (f->retryable)
		f->fin = FIN_KEEP;
}

/* The .part is kept for a resume after retryable network trouble and
 * cancel, and removed for everything else that does not publish. */
void fetch_judge(struct fetch *f)
{
	f->fin = FIN_DISCARD;
	/* A cancel that came after the last byte does not undo the download. */
	if (f->cancelled && !(f->xfer_done && f->rc == CURLE_OK)) {
		f->outcome = FETCH_CANCELLED;
		f->fin = FIN_KEEP;
		return;
	}
	if (f->io_err)
		fetch_set_io_error(f, f->part_path);
	else if (f->fail_msg)
		fetch_set_error(f, -EIO, true, "%s", f->fail_msg);
	else if (f->rc != CURLE_OK && !f->status_abort)
		judge_curl_error(f);
	else
		judge_status(f);
}
