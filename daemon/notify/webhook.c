/*
 * webhook.c - alert POSTs with retries, one easy handle per attempt.
 *
 * Each delivery owns its easy handle, header list, copies of URL and body,
 * and a uv_timer for the wait between attempts; it is freed from the
 * timer's close callback, so no callback can reach freed memory.  The
 * struct webhook owns its own struct http, kept apart from the fetcher's
 * so a slow alert endpoint never takes a download slot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "domain/backoff.h"
#include "base/denverd.h"
#include "io/http.h"
#include "version.h"
#include "notify/webhook.h"

struct delivery {
	struct http_xfer x;
	uv_timer_t wait;              /* between attempts */
	struct webhook *w;
	struct delivery *next, *prev; /* w->list */
	char *url, *body;
	struct curl_slist *headers;
	struct webhook_opts opts;
	webhook_done_cb done;
	void *arg;
	int64_t tag;
	unsigned attempts;
	char errbuf[CURL_ERROR_SIZE];
};

struct webhook {
	uv_loop_t *loop;
	struct http *http;
	struct delivery *list;
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
	curl_slist_free_all(d->headers);
	free(d);
	w->open_timers--;
	maybe_free(w);
}

/* Unlink D and release it (the memory goes in the close callback). */
static void delivery_free(struct delivery *d)
{
	struct webhook *w = d->w;
	if (d->prev)
		d->prev->next = d->next;
	else
		w->list = d->next;
	if (d->next)
		d->next->prev = d->prev;
	w->pending--;
	http_remove(&d->x);
	if (d->x.easy)
		curl_easy_cleanup(d->x.easy);
	d->x.easy = NULL;
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
static bool retryable(CURLcode rc, long code)
{
	if (rc != CURLE_OK)
		return rc != CURLE_UNSUPPORTED_PROTOCOL && rc != CURLE_URL_MALFORMAT;
	return code == 408 || code == 425 || code == 429 || code >= 500;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void on_done(struct http_xfer *x, CURLcode rc);

static int attempt(struct delivery *d)
{
	CURL *e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	d->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, d->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "denverd/" DENVERD_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->opts.timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	d->x.easy = e;
	d->x.done = on_done;
	d->attempts++;
	if (http_add(d->w->http, &d->x) < 0) {
		curl_easy_cleanup(e);
		d->x.easy = NULL;
		return -EIO;
	}
	return 0;
}

static void on_wait_over(uv_timer_t *t)
{
	struct delivery *d = container_of(t, struct delivery, wait);
	if (attempt(d) < 0)
		finish(d, false, 0, "could not start another attempt");
}

static void on_done(struct http_xfer *x, CURLcode rc)
{
	struct delivery *d = container_of(x, struct delivery, x);
	long code = 0;
	curl_off_t retry_after = 0;
	char why[CURL_ERROR_SIZE + 64];

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		finish(d, true, code, "");
		return;
	}
	if (rc != CURLE_OK)
		snprintf(why, sizeof why, "%s", d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
	else
		snprintf(why, sizeof why, "HTTP status %ld", code);
	if (d->attempts > d->opts.retries || !retryable(rc, code)) {
		finish(d, false, code, why);
		return;
	}
	struct cfg_retry r = {
		.retries = d->opts.retries, .delay_ms = d->opts.retry_delay_ms,
		.max_delay_ms = d->opts.retry_max_delay_ms,
	};
	uint64_t wait = backoff_wait(&r, d->attempts - 1, backoff_random(),
	                             retry_after > 0 ? (uint64_t)retry_after * 1000 : 0);
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
	while (w->list)
		delivery_free(w->list);
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
	struct curl_slist *h;

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
	h = curl_slist_append(NULL, "Content-Type: application/json");
	d->headers = h ? curl_slist_append(h, "Expect:") : NULL;
	if (!d->headers)
		curl_slist_free_all(h);
	if (!d->url || !d->body || !d->headers) {
		free(d->url);
		free(d->body);
		curl_slist_free_all(d->headers);
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
	d->next = w->list;
	if (w->list)
		w->list->prev = d;
	w->list = d;
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
