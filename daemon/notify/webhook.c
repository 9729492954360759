/*
 * webhook.c - alert POSTs with retries, one http_post call per attempt.
 *
 * Each delivery owns its copies of URL and body, the call in flight, and a
 * uv_timer for the wait between attempts; it is freed from the timer's
 * close callback, so no callback can reach freed memory.  The struct
 * webhook owns its own struct http, kept apart from the fetcher's so a
 * slow alert endpoint never takes a download slot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/macro.h"
#include "domain/backoff.h"
#include "io/http.h"
#include "notify/webhook.h"

struct delivery {
	uv_timer_t wait;              /* between attempts */
	struct webhook *w;
	LIST_FIELDS(struct delivery, deliveries);   /* w->deliveries */
	struct http_call *call;       /* the attempt in flight, or NULL */
	char *url, *body;
	struct webhook_opts opts;
	webhook_done_cb done;
	void *arg;
	int64_t tag;
	unsigned attempts;
};

struct webhook {
	uv_loop_t *loop;
	struct http *http;
	struct delivery *deliveries;
	unsigned pending;
	unsigned open_timers;         /* deliveries whose timer has not closed */
	bool closing;
};

static void maybe_free(struct webhook *w)
{
	if (w->closing && w->open_timers == 0)
		free(w);
}

static void delivery_closed(uv_handle_t *h)
{
	struct delivery *d = container_of((uv_timer_t *)h, struct delivery, wait);
	struct webhook *w = d->w;
	free(d->url);
	free(d->body);
	free(d);
	w->open_timers--;
	maybe_free(w);
}

/* Unlink D and release it (the memory goes in the close callback). */
static void delivery_free(struct delivery *d)
{
	struct webhook *w = d->w;
	LIST_REMOVE(deliveries, w->deliveries, d);
	w->pending--;
	if (d->call)
		http_call_cancel(d->call);
	d->call = NULL;
	uv_close((uv_handle_t *)&d->wait, delivery_closed);
}

static void finish(struct delivery *d, bool delivered, long code, const char *error)
{
	struct webhook_result r = {
		.delivered = delivered, .attempts = d->attempts,
		.http_code = code, .error = error,
	};
	d->done(d->arg, d->tag, &r);
	delivery_free(d);
}

/* Answers worth another try: timeouts, throttling, server trouble. */
static bool retryable(const struct http_answer *a)
{
	if (!a->complete)
		return !a->bad_url;
	return a->status == 408 || a->status == 425 || a->status == 429 || a->status >= 500;
}

static void on_answer(void *arg, const struct http_answer *a);

static int attempt(struct delivery *d)
{
	static const char *const headers[] = { "Content-Type: application/json", NULL };
	const struct http_post_req req = {
		.url = d->url, .headers = headers,
		.body = d->body, .body_len = strlen(d->body),
		.timeout_ms = d->opts.timeout_ms,
	};

	d->attempts++;
	return http_post(d->w->http, &req, on_answer, d, &d->call) < 0 ? -EIO : 0;
}

static void on_wait_over(uv_timer_t *t)
{
	struct delivery *d = container_of(t, struct delivery, wait);
	if (attempt(d) < 0)
		finish(d, false, 0, "could not start another attempt");
}

static void on_answer(void *arg, const struct http_answer *a)
{
	struct delivery *d = arg;
	char why[64];

	d->call = NULL;               /* gone once this returns */
	if (a->complete && a->status >= 200 && a->status < 300) {
		finish(d, true, a->status, "");
		return;
	}
	if (d->attempts > d->opts.retries || !retryable(a)) {
		snprintf(why, sizeof why, "HTTP status %ld", a->status);
		finish(d, false, a->status, a->complete ? why : a->error);
		return;
	}
	struct cfg_retry r = {
		.retries = d->opts.retries, .delay_ms = d->opts.retry_delay_ms,
		.max_delay_ms = d->opts.retry_max_delay_ms,
	};
	uint64_t wait = backoff_wait(&r, d->attempts - 1, backoff_random(), a->retry_after_ms);
	uv_timer_start(&d->wait, on_wait_over, wait, 0);
}

int webhook_init(uv_loop_t *loop, struct webhook **out)
{
	struct webhook *w = calloc(1, sizeof *w);
	int rc;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->loop = loop;
	if ((rc = http_init(loop, &w->http)) < 0) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void webhook_fini(struct webhook *w)
{
	if (!w)
		return;
	while (w->deliveries)
		delivery_free(w->deliveries);
	http_fini(w->http);
	w->http = NULL;
	w->closing = true;
	maybe_free(w);
}

int webhook_post(struct webhook *w, const char *url, const char *body,
                 const struct webhook_opts *o, webhook_done_cb done, void *arg,
                 int64_t tag)
{
	struct delivery *d;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return -EINVAL;
	if (strlen(body) > WEBHOOK_MAX_BODY)
		return -E2BIG;
	if (w->pending >= WEBHOOK_MAX_PENDING)
		return -ENOBUFS;
	d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->url = strdup(url);
	d->body = strdup(body);
	if (!d->url || !d->body) {
		free(d->url);
		free(d->body);
		free(d);
		return -ENOMEM;
	}
	d->w = w;
	d->opts = *o;
	d->done = done;
	d->arg = arg;
	d->tag = tag;
	uv_timer_init(w->loop, &d->wait);
	w->open_timers++;
	LIST_PREPEND(deliveries, w->deliveries, d);
	w->pending++;
	/* Start from the loop, so DONE can never run inside this call. */
	uv_timer_start(&d->wait, on_wait_over, 0, 0);
	return 0;
}

unsigned webhook_pending(const struct webhook *w)
{
	return w ? w->pending : 0;
}

/* HOST[0..n) looks like a host name or address with an optional numeric
 * port, so printing it cannot leak a password that broke the URL apart. */
static bool host_ok(const char *host, size_t n)
{
	const char *colon = NULL;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = host[i];
		if (c == ':' && host[0] != '[')
			colon = host + i;
		else if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		         !(c >= '0' && c <= '9') && !strchr(".-_[]:", c))
			return false;
	}
	if (colon)
		for (const char *p = colon + 1; p < host + n; p++)
			if (*p < '0' || *p > '9')
				return false;
	return true;
}

void webhook_redact(const char *url, char *out, size_t len)
{
	const char *sep = strstr(url, "://"), *authority, *host, *end;
	size_t scheme_len;
	bool secret_part;

	if (!len)
		return;
	scheme_len = sep ? (size_t)(sep - url) : 0;
	if (scheme_len == 0 || scheme_len > 16 ||
	    strspn(url, "abcdefghijklmnopqrstuvwxyz+-.") != scheme_len)
		goto opaque;
	authority = sep + 3;
	end = authority + strcspn(authority, "/?#");
	/* userinfo ends at the last '@' of the authority */
	for (host = end; host > authority && host[-1] != '@'; host--)
		;
	if (!host_ok(host, (size_t)(end - host)))
		goto opaque;
	/* A bare "/" path hides nothing; anything else might. */
	secret_part = host > authority || (*end && strcmp(end, "/") != 0);
	snprintf(out, len, "%.*s://%.*s%s", (int)scheme_len, url, (int)(end - host), host,
	         secret_part ? "/<redacted>" : "");
	return;
opaque:
	snprintf(out, len, "<redacted URL>");
}
