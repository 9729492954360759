/*
 * http_req.c - one GET or form POST with a capped in-memory body
 * (http_req.h), on the loop through http_xfer.h.  Loop thread, but for
 * http_req_text (any thread; zlib).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <zlib.h>

#include "base/macro.h"
#include "io/http_req.h"

int64_t http_retry_after_ms(const char *v, size_t n)
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

/* Content-Encoding's value (trimmed): a list of codings, identity none. */
static enum http_coding coding(const char *v, size_t n)
{
	enum http_coding c = HTTP_CODING_IDENTITY;

	while (n) {
		size_t k = 0, w;
		while (k < n && v[k] != ',')
			k++;
		w = k;
		const char *t = v;
		while (w && (*t == ' ' || *t == '\t')) {
			t++;
			w--;
		}
		while (w && (t[w - 1] == ' ' || t[w - 1] == '\t'))
			w--;
		if (w == 0 || (w == 8 && strncasecmp(t, "identity", 8) == 0))
			;
		else if (c == HTTP_CODING_IDENTITY &&
		         ((w == 4 && strncasecmp(t, "gzip", 4) == 0) ||
		          (w == 6 && strncasecmp(t, "x-gzip", 6) == 0)))
			c = HTTP_CODING_GZIP;
		else
			c = HTTP_CODING_OTHER;    /* another, or gzip twice */
		v += k < n ? k + 1 : k;
		n -= k < n ? k + 1 : k;
	}
	return c;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
	struct http_req *q = arg;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): forget the last. */
		q->retry_after_ms = -1;
		q->body.len = 0;
		q->coding = HTTP_CODING_IDENTITY;
		return n;
	}
	if (n > 17 && strncasecmp(line, "Content-Encoding:", 17) == 0) {
		const char *v = line + 17, *e = line + n;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n'))
			e--;
		q->coding = coding(v, (size_t)(e - v));
		return n;
	}
	if (n > 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
		const char *v = line + 12, *e = line + n;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		q->retry_after_ms = http_retry_after_ms(v, (size_t)(e - v));
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
	buf_free(&q->text);
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
	struct buf keep = q->body, keep_text = q->text;

	/* The last body's allocation is kept for this one (one page after
	 * another: no regrowing from 64 KB each time), and so is its text's. */
	memset(&q->body, 0, sizeof q->body);
	memset(&q->text, 0, sizeof q->text);
	http_req_clear(q);
	q->coding = HTTP_CODING_IDENTITY;
	if (keep_text.p && keep_text.max == cap) {
		q->text = keep_text;
		q->text.len = 0;
		q->text.err = 0;
		q->text.p[0] = '\0';
	} else {
		buf_free(&keep_text);
		buf_init(&q->text, 0, cap);
	}
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
	/* Not CURLOPT_ACCEPT_ENCODING: with it libcurl would inflate in its
	 * write path, on the loop thread; without it, it passes the body on
	 * as it came (http_req_text decodes). */
	q->headers = l = curl_slist_append(NULL, "Accept: application/json");
	if (l)
		l = curl_slist_append(l, "Accept-Encoding: gzip");
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
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, allow_http ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, allow_http ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)lim->max_redirects);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)lim->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)lim->timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)lim->low_speed_limit);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((lim->low_speed_time_ms + 999) / 1000));
	http_easy_defaults(e, q->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	q->xfer.easy = e;
	q->xfer.done = xfer_done;
	return http_add(h, &q->xfer) < 0 ? -EIO : 0;
}

/* Inflate the gzip stream SRC (N bytes) into OUT (emptied first). */
static int inflate_gzip(const char *src, size_t n, struct buf *out, char *msg, size_t n_msg)
{
	z_stream z;
	int zr, rc = 0;

	memset(&z, 0, sizeof z);
	out->len = 0;
	out->err = 0;
	if (inflateInit2(&z, 15 + 16) != Z_OK)     /* gzip only */
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)src;
	for (;;) {
		size_t in_left = n - (size_t)((const char *)z.next_in - src);
		size_t room;
		unsigned char one;

		z.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
		if (out->cap <= out->len + 1) {
			/* Grow (doubling; at first a guess from the input), up to the
			 * cap; at the cap, one byte more of output is too much. */
			size_t want = out->len ? out->len : 4 * n + 4096;
			if (want > out->max - out->len)
				want = out->max - out->len;
			if (want && !buf_reserve(out, want)) {
				rc = out->err == -E2BIG ? -E2BIG : -ENOMEM;
				break;
			}
		}
		room = out->cap - out->len - 1;
		if (room) {
			z.next_out = (Bytef *)out->p + out->len;
			z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
		} else {
			z.next_out = &one;
			z.avail_out = 1;
		}
		uInt out_before = z.avail_out, in_before = z.avail_in;
		zr = inflate(&z, Z_NO_FLUSH);
		size_t made = out_before - z.avail_out;
		if (!room && made) {
			rc = -E2BIG;
			break;
		}
		out->len += made;
		if (zr == Z_STREAM_END) {
			in_left = n - (size_t)((const char *)z.next_in - src);
			if (in_left >= 2 && (unsigned char)z.next_in[0] == 0x1f &&
			    (unsigned char)z.next_in[1] == 0x8b) {
				inflateReset(&z);     /* another member */
				continue;
			}
			break;                    /* trailing bytes ignored */
		}
		if (zr == Z_MEM_ERROR) {
			rc = -ENOMEM;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			snprintf(msg, n_msg, "a corrupt gzip body (%s)", z.msg ? z.msg : "bad data");
			rc = -EIO;
			break;
		}
		/* Room left for output but no input: the stream was cut. */
		if ((z.avail_out && (const char *)z.next_in == src + n) ||
		    (!made && z.avail_in == in_before)) {
			snprintf(msg, n_msg, "a gzip body cut short (%zu bytes)", n);
			rc = -EIO;
			break;
		}
	}
	inflateEnd(&z);
	if (rc == -E2BIG)
		snprintf(msg, n_msg, "the answer is larger than its cap (%zu bytes inflated)",
		         out->max);
	if (out->p)
		out->p[out->len] = '\0';
	if (rc < 0)
		out->len = 0;
	out->err = 0;
	return rc;
}

int http_req_text(struct http_req *q, const char **p, size_t *n, char *msg, size_t n_msg)
{
	int rc;

	*p = "";
	*n = 0;
	if (q->body.len == 0)
		return 0;                 /* an empty body is empty in every coding */
	switch (q->coding) {
	case HTTP_CODING_IDENTITY:
		*p = q->body.p;
		*n = q->body.len;
		return 0;
	case HTTP_CODING_GZIP:
		if ((rc = inflate_gzip(q->body.p, q->body.len, &q->text, msg, n_msg)) < 0)
			return rc;
		*p = q->text.p ? q->text.p : "";
		*n = q->text.len;
		return 0;
	default:
		snprintf(msg, n_msg, "a body in a Content-Encoding not asked for");
		return -EIO;
	}
}
