/*
 * hub.c - the Hub download flow (hub.h): polls of the Download API with
 * redirect=false on one uv timer, one request at a time (io/http_req.h),
 * until a result URL, a failure or the deadline.
 *
 *   start -(timer 0)-> poll -> answer -> ready | failed | (timer) poll ...
 *
 * The done callback always runs from the timer (a zero timeout when the
 * flow ends in an answer or a cancel), so never from inside hub_start or
 * hub_cancel; the struct is freed once the timer handle is closed after it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <uv.h>

#include "base/macro.h"
#include "base/strtable.h"
#include "io/http_req.h"
#include "io/hub.h"

#define HUB_ERR_MAX 512
#define HUB_WORD_MAX 64          /* a status or cacheStatus kept */

struct hub {
	struct http *http;
	hub_done_cb done;
	void *arg;

	/* the request, copied */
	char *url;
	struct cfg_fetch lim;
	uint64_t interval_ms, deadline_ms;
	unsigned retries;
	bool update_cache, allow_http;

	struct http_req q;
	uv_timer_t timer;
	uint64_t started_ms;      /* uv_now at hub_start */
	unsigned polls, requests, misses;
	long http_status;
	char status[HUB_WORD_MAX], cache_status[HUB_WORD_MAX];
	int percent;              /* progressInPercent of the last answer, or -1 */
	int64_t record_count;
	char *result_url;

	enum hub_outcome outcome;
	char error[HUB_ERR_MAX];
	int err;
	bool retryable;
	int64_t retry_after_ms;
	bool ended;               /* the outcome is set; deliver is due */
};

static void send_poll(struct hub *hb);

/* ---- the end ---- */

static void free_cb(uv_handle_t *t)
{
	struct hub *hb = t->data;
	http_req_clear(&hb->q);
	free(hb->url);
	free(hb->result_url);
	free(hb);
}

static void deliver(uv_timer_t *t)
{
	struct hub *hb = t->data;
	bool failed = hb->outcome == HUB_FAILED;
	struct hub_result r = {
		.outcome = hb->outcome,
		.result_url = hb->outcome == HUB_READY ? hb->result_url : NULL,
		.status = hb->status,
		.record_count = hb->record_count,
		.cache_status = hb->cache_status,
		.polls = hb->polls,
		.requests = hb->requests,
		.http_status = hb->http_status,
		.url = hb->url,
		.error = failed ? hb->error : NULL,
		.err = failed ? hb->err : 0,
		.retryable = failed && hb->retryable,
		.retry_after_ms = failed ? hb->retry_after_ms : -1,
	};
	http_req_clear(&hb->q);
	hb->done(hb, &r, hb->arg);
	uv_close((uv_handle_t *)&hb->timer, free_cb);
}

static void end(struct hub *hb, enum hub_outcome o)
{
	hb->ended = true;
	hb->outcome = o;
	http_req_clear(&hb->q);
	uv_timer_stop(&hb->timer);
	uv_timer_start(&hb->timer, deliver, 0, 0);
}

static void fail(struct hub *hb, int err, bool retryable, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct hub *hb, int err, bool retryable, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(hb->error, sizeof hb->error, fmt, ap);
	va_end(ap);
	hb->err = err;
	hb->retryable = retryable;
	end(hb, HUB_FAILED);
}

/* ---- polling ---- */

static void on_timer(uv_timer_t *t)
{
	send_poll(t->data);
}

/* The next poll after the interval, unless that is past the deadline. */
static void poll_later(struct hub *hb, const char *what)
{
	uint64_t spent = uv_now(http_loop(hb->http)) - hb->started_ms;

	if (spent + hb->interval_ms > hb->deadline_ms) {
		fail(hb, -ETIMEDOUT, true, "%s: %s after %u polls in %llu ms (deadline %llu ms)",
		     hb->url, what, hb->polls, (unsigned long long)spent,
		     (unsigned long long)hb->deadline_ms);
		return;
	}
	uv_timer_start(&hb->timer, on_timer, hb->interval_ms, 0);
}

/* No answer (network, a body that is not a status): again, a few times. */
static void miss(struct hub *hb, const char *why)
{
	if (++hb->misses > hb->retries) {
		fail(hb, -EIO, true, "%s (%u times in a row)", why, hb->misses);
		return;
	}
	poll_later(hb, why);
}

static void keep(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

/* The message of an error body: {"message"} or {"error": {"message"}}. */
static const char *body_message(json_t *doc)
{
	const char *m = json_string_value(json_object_get(doc, "message"));
	if (!m)
		m = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
	return m && *m ? m : NULL;
}

static bool url_allowed(const struct hub *hb, const char *u)
{
	return strncasecmp(u, "https://", 8) == 0 ||
	       (hb->allow_http && strncasecmp(u, "http://", 7) == 0);
}

static void on_answer(struct http_req *q)
{
	struct hub *hb = container_of(q, struct hub, q);
	char why[HUB_ERR_MAX], zmsg[HUB_ERR_MAX / 2];
	const char *p;
	size_t n;
	json_t *doc;
	int zr;

	hb->http_status = q->status;
	if (q->rc != CURLE_OK) {
		snprintf(why, sizeof why, "%s: %s", hb->url,
		         q->body.err ? "the answer is larger than its cap"
		         : q->errbuf[0] ? q->errbuf : curl_easy_strerror(q->rc));
		miss(hb, why);
		return;
	}
	/* A status document is small (HUB_BODY_MAX, inflated too): decoded
	 * here on the loop thread, where it is parsed. */
	zr = http_req_text(q, &p, &n, zmsg, sizeof zmsg);
	doc = zr == 0 ? json_loadb(p, n, 0, NULL) : NULL;
	if (q->status < 200 || q->status > 299) {
		const char *m = doc ? body_message(doc) : NULL;
		hb->retry_after_ms = q->retry_after_ms;
		fail(hb, -EIO, q->status == 408 || q->status == 429 || q->status >= 500,
		     "HTTP %ld from %s%s%s", q->status, hb->url, m ? ": " : "", m ? m : "");
		json_decref(doc);
		return;
	}
	if (zr < 0) {
		snprintf(why, sizeof why, "%s: HTTP %ld with %s", hb->url, q->status,
		         zr == -ENOMEM ? "no memory to inflate its body" : zmsg);
		miss(hb, why);
		return;
	}
	if (!json_is_object(doc)) {
		snprintf(why, sizeof why, "%s: HTTP %ld with a body that is not a JSON object",
		         hb->url, q->status);
		json_decref(doc);
		miss(hb, why);
		return;
	}
	hb->misses = 0;
	hb->polls++;
	keep(hb->status, sizeof hb->status, json_string_value(json_object_get(doc, "status")));
	const char *cs = json_string_value(json_object_get(doc, "cacheStatus"));
	if (cs)
		keep(hb->cache_status, sizeof hb->cache_status, cs);
	json_t *pc = json_object_get(doc, "progressInPercent");
	hb->percent = json_is_number(pc) && json_number_value(pc) >= 0 &&
	              json_number_value(pc) <= 100 ? (int)json_number_value(pc) : -1;
	json_t *rc = json_object_get(doc, "recordCount");
	if (json_is_integer(rc))
		hb->record_count = json_integer_value(rc);
	const char *res = json_string_value(json_object_get(doc, "resultUrl"));

	if (strcasecmp(hb->status, "Failed") == 0) {
		const char *m = body_message(doc);
		fail(hb, -EIO, true, "%s: the export failed%s%s", hb->url, m ? ": " : "",
		     m ? m : "");
	} else if (res && *res) {
		if (!url_allowed(hb, res)) {
			fail(hb, -EPROTO, false, "%s: the result URL is not allowed: %.200s",
			     hb->url, res);
		} else if (!(hb->result_url = strdup(res))) {
			fail(hb, -ENOMEM, true, "out of memory");
		} else {
			end(hb, HUB_READY);
		}
	} else {
		snprintf(why, sizeof why, "still %s", hb->status[0] ? hb->status : "without a status");
		poll_later(hb, why);
	}
	json_decref(doc);
}

static void send_poll(struct hub *hb)
{
	const char *extra = !hb->update_cache ? ""
	                    : hb->requests == 0 ? "&updateCache=true" : "&trackCacheUpdate=true";
	char *url;
	int rc;

	if (asprintf(&url, "%s%credirect=false%s", hb->url, strchr(hb->url, '?') ? '&' : '?',
	             extra) < 0) {
		fail(hb, -ENOMEM, true, "out of memory");
		return;
	}
	hb->requests++;
	rc = http_req_start(&hb->q, hb->http, &hb->lim, hb->allow_http, url, NULL,
	                    HUB_BODY_MAX, on_answer);
	free(url);
	if (rc < 0)
		fail(hb, rc, true, "cannot start a request to %s: %s", hb->url, strerror(-rc));
}

/* ---- public ---- */

static const char *check_request(const struct hub_request *req)
{
	if (!req->url || !req->limits)
		return "incomplete request";
	if (strncasecmp(req->url, "https://", 8) != 0 &&
	    !(req->allow_http && strncasecmp(req->url, "http://", 7) == 0))
		return "only https Hub URLs are allowed";
	if (strchr(req->url, '#'))
		return "the Hub URL has a fragment";
	if (strcasestr(req->url, "redirect=") || strcasestr(req->url, "updateCache=") ||
	    strcasestr(req->url, "trackCacheUpdate="))
		return "the Hub URL already has redirect=, updateCache= or trackCacheUpdate=";
	return NULL;
}

int hub_start(struct http *h, const struct hub_request *req, hub_done_cb done,
              void *arg, struct hub **out, char **err)
{
	const char *why = check_request(req);
	struct hub *hb;

	*out = NULL;
	if (err)
		*err = NULL;
	if (why) {
		if (err && asprintf(err, "%s: %s", why, req->url ? req->url : "(no URL)") < 0)
			*err = NULL;
		return -EINVAL;
	}
	if (!(hb = calloc(1, sizeof *hb)))
		return -ENOMEM;
	if (!(hb->url = strdup(req->url))) {
		free(hb);
		return -ENOMEM;
	}
	hb->http = h;
	hb->done = done;
	hb->arg = arg;
	hb->lim = *req->limits;
	hb->interval_ms = req->poll_interval_ms ? req->poll_interval_ms : HUB_POLL_INTERVAL;
	hb->deadline_ms = req->deadline_ms ? req->deadline_ms : HUB_DEADLINE;
	hb->retries = req->retries ? req->retries : HUB_RETRIES;
	hb->update_cache = req->update_cache;
	hb->allow_http = req->allow_http;
	hb->record_count = -1;
	hb->percent = -1;
	hb->retry_after_ms = -1;
	uv_timer_init(http_loop(h), &hb->timer);
	hb->timer.data = hb;
	hb->started_ms = uv_now(http_loop(h));
	uv_timer_start(&hb->timer, on_timer, 0, 0);
	*out = hb;
	return 0;
}

void hub_cancel(struct hub *hb)
{
	if (!hb || hb->ended)
		return;
	end(hb, HUB_CANCELLED);
}

void hub_progress(const struct hub *hb, struct hub_progress *p)
{
	p->status = hb->status;
	p->percent = hb->percent;
	p->polls = hb->polls;
}

static const char *const hub_outcome_table[] = {
	[HUB_READY]     = "ready",
	[HUB_FAILED]    = "failed",
	[HUB_CANCELLED] = "cancelled",
};
STRING_TABLE_STATIC(hub_outcome, enum hub_outcome)

const char *hub_outcome_name(enum hub_outcome o)
{
	const char *s = hub_outcome_to_string(o);
	return s ? s : "?";
}
