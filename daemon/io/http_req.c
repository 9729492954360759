/*
 * http_req.c - one GET or form POST with a capped in-memory body
 * (http_req.h), on the loop through http_xfer.h.  Loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/macro.h"
#include "io/http_req.h"
#include "version.h"

/* Retry-After: delta-seconds or an HTTP date; -1 when absent or bad. */
static int64_t retry_after(const char *v, size_t n)
{
	char tmp[128];
	char *end;

	if (n >= sizeof tmp)
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	long long s = strtoll(tmp, &end, 10);
	if (end != tmp && *end == '\0')
		return s < 0 ? -1 : s * 1000;
	time_t t = curl_getdate(tmp, NULL);
	if (t < 0)
		return -1;
	int64_t d = ((int64_t)t - (int64_t)time(NULL)) * 1000;
	return d < 0 ? 0 : d;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
	struct http_req *q = arg;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): forget the last. */
		q->retry_after_ms = -1;
		q->body.len = 0;
		return n;
	}
	if (n > 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
		const char *v = line + 12, *e = line + n;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		q->retry_after_ms = retry_after(v, (size_t)(e - v));
	}
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_req *q = arg;
	size_t n = size * nmemb;

	buf_put(&q->body, data, n);
	return q->body.err ? 0 : n;
}

static void xfer_done(struct http_xfer *x, CURLcode rc)
{
	struct http_req *q = container_of(x, struct http_req, xfer);
	q->rc = rc;
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
	q->done(q);
}

void http_req_clear(struct http_req *q)
{
	http_remove(&q->xfer);
	if (q->easy)
		curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->headers);
	free(q->post);
	buf_free(&q->body);
	q->easy = NULL;
	q->headers = NULL;
	q->post = NULL;
}

int http_req_start(struct http_req *q, struct http *h, const struct cfg_fetch *lim,
                   bool allow_http, const char *url, char *form, size_t cap,
                   void (*done)(struct http_req *q))
{
	CURL *e;
	struct curl_slist *l;
	struct buf keep = q->body;

	/* The last body's allocation is kept for this one (one page after
	 * another: no regrowing from 64 KB each time). */
	memset(&q->body, 0, sizeof q->body);
	http_req_clear(q);
	q->post = form;
	q->status = 0;
	q->retry_after_ms = -1;
	q->errbuf[0] = '\0';
	q->rc = CURLE_OK;
	q->done = done;
	if (keep.p && keep.max == cap) {
		q->body = keep;
		q->body.len = 0;
		q->body.err = 0;
		q->body.p[0] = '\0';
	} else {
		buf_free(&keep);
		buf_init(&q->body, cap < 64 * 1024 ? cap : 64 * 1024, cap);
	}
	q->easy = e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	q->headers = l = curl_slist_append(NULL, "Accept: application/json");
	if (l && form)
		l = curl_slist_append(l, "Content-Type: application/x-www-form-urlencoded");
	if (!l)
		return -ENOMEM;         /* http_req_clear frees what there is */
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (form) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  /* every coding curl has */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, allow_http ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, allow_http ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)lim->max_redirects);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)lim->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)lim->timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)lim->low_speed_limit);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((lim->low_speed_time_ms + 999) / 1000));
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "denverd/" DENVERD_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	q->xfer.easy = e;
	q->xfer.done = xfer_done;
	return http_add(h, &q->xfer) < 0 ? -EIO : 0;
}
