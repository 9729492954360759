/*
 * http.h - HTTP on a libuv loop, through libcurl's multi interface.
 *
 * One struct http owns one CURLM.  Its sockets are watched with uv_poll and
 * its timeout with a uv_timer (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION), so a
 * transfer never blocks the loop thread: no curl_easy_perform anywhere.
 * Generic, with two ways in:
 *   - http_post() below: a request whose answer is its status (the alerts
 *     webhook).  No libcurl type appears here, so its callers need not
 *     include <curl/curl.h>; libcurl stays inside io/.
 *   - io/http_xfer.h, for io/ only: drive an easy handle of the caller's
 *     own (the fetch, which streams a body to disk).
 * Loop thread only.
 */
#ifndef DENVERD_HTTP_H
#define DENVERD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http;
struct http_call;

/* Create a multi handle driven by LOOP.  0 or -ENOMEM/-EIO; *out set on 0.
 * curl_global_init() must have been called once by the program. */
int http_init(uv_loop_t *loop, struct http **out);

/*
 * Remove every active transfer (their done callbacks are NOT called; calls
 * of http_post still in flight are freed), then close the uv handles; the
 * memory is freed from their close callbacks, so the loop must run once
 * more.  Accepts NULL.  Not from inside a callback of this struct http.
 */
void http_fini(struct http *h);

/* The loop H runs on. */
uv_loop_t *http_loop(const struct http *h);

/* Number of active transfers (for status and tests). */
unsigned http_active(const struct http *h);

/* ---- a POST and its status ---- */

/* What to send.  http_post copies everything it needs. */
struct http_post_req {
	const char *url;               /* http:// or https:// (others fail
	                                  with bad_url); redirects are not
	                                  followed: a 3xx is the answer */
	const char *const *headers;    /* "Name: value" lines, NULL-terminated;
	                                  NULL for none */
	const void *body;
	size_t body_len;
	uint64_t timeout_ms;           /* the whole exchange, connect included;
	                                  0 = none */
};

/* How it went; lives during the callback only. */
struct http_answer {
	bool complete;                 /* the exchange ran to its end: STATUS
	                                  is the server's answer */
	long status;                   /* HTTP status of the last response, 0
	                                  when none arrived (even if !complete) */
	uint64_t retry_after_ms;       /* its Retry-After, 0 when none */
	bool bad_url;                  /* !complete because the URL itself was
	                                  refused (malformed, scheme not http or
	                                  https): trying again cannot help */
	const char *error;             /* !complete: why, in words (libcurl's);
	                                  "" when complete */
};

/* Called once per http_post that returned 0, on the loop thread; the call
 * is gone by then (do not cancel it).  It may start new calls. */
typedef void (*http_answer_cb)(void *arg, const struct http_answer *a);

/*
 * POST REQ->body to REQ->url with REQ->headers (plus User-Agent
 * denverd/<version>; no "Expect: 100-continue", the body goes at once).
 * The answer's body is read and dropped.  Returns 0 and *out, the call
 * (valid until DONE runs or http_call_cancel), or -EINVAL (no URL or DONE,
 * H shutting down), -ENOMEM, -EIO (curl refused the request); then DONE is
 * never called.  DONE is never called from inside http_post.
 */
int http_post(struct http *h, const struct http_post_req *req, http_answer_cb done,
              void *arg, struct http_call **out);

/* Stop C now and free it; its DONE is not called.  Only before DONE. */
void http_call_cancel(struct http_call *c);

#endif
