/*
 * http_post.c - http_post() of io/http.h: one POST whose answer is its
 * status, on the easy-handle driver of http.c (io/http_xfer.h).
 *
 * A call owns its easy handle and header list, and curl owns copies of the
 * URL and the body (CURLOPT_URL copies, CURLOPT_COPYPOSTFIELDS too), so the
 * caller's request can go as soon as http_post returns.  The call is freed
 * right after its callback, by http_call_cancel, or by http_fini.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/macro.h"
#include "io/http_xfer.h"

struct http_call {
	struct http_xfer x;
	struct curl_slist *headers;
	http_answer_cb done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

static void call_free(struct http_call *c)
{
	if (c->x.easy)
		curl_easy_cleanup(c->x.easy);
	curl_slist_free_all(c->headers);
	free(c);
}

static void call_dropped(struct http_xfer *x)
{
	call_free(container_of(x, struct http_call, x));
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Retry-After in ms from curl's seconds (0 = none), saturating. */
static uint64_t retry_after_ms(curl_off_t secs)
{
	if (secs <= 0)
		return 0;
	return (uint64_t)secs > UINT64_MAX / 1000 ? UINT64_MAX : (uint64_t)secs * 1000;
}

static void call_done(struct http_xfer *x, CURLcode rc)
{
	struct http_call *c = container_of(x, struct http_call, x);
	long status = 0;
	curl_off_t retry_after = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
	struct http_answer a = {
		.complete = rc == CURLE_OK,
		.status = status,
		.retry_after_ms = retry_after_ms(retry_after),
		.bad_url = rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT,
		.error = rc == CURLE_OK ? "" : c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc),
	};
	c->done(c->arg, &a);
	call_free(c);
}

/* The header list: REQ's lines, then "Expect:" (no 100-continue). */
static int build_headers(struct http_call *c, const char *const *lines)
{
	struct curl_slist *l;

	for (size_t i = 0; lines && lines[i]; i++) {
		if (!(l = curl_slist_append(c->headers, lines[i])))
			return -ENOMEM;
		c->headers = l;
	}
	if (!(l = curl_slist_append(c->headers, "Expect:")))
		return -ENOMEM;
	c->headers = l;
	return 0;
}

static int setup_easy(struct http_call *c, const struct http_post_req *req)
{
	CURL *e = c->x.easy;

	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "") != CURLE_OK)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	http_easy_defaults(e, c->errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	return 0;
}

int http_post(struct http *h, const struct http_post_req *req, http_answer_cb done,
              void *arg, struct http_call **out)
{
	struct http_call *c;
	int rc;

	*out = NULL;
	if (!req->url || !done || (!req->body && req->body_len))
		return -EINVAL;
	if (!(c = calloc(1, sizeof *c)))
		return -ENOMEM;
	c->done = done;
	c->arg = arg;
	c->x.done = call_done;
	c->x.on_fini = call_dropped;
	if (!(c->x.easy = curl_easy_init()))
		rc = -ENOMEM;
	else if ((rc = build_headers(c, req->headers)) == 0 &&
	         (rc = setup_easy(c, req)) == 0)
		rc = http_add(h, &c->x);
	if (rc < 0) {
		call_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void http_call_cancel(struct http_call *c)
{
	http_remove(&c->x);
	call_free(c);
}
