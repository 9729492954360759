/*
 * webhook.h - JSON POSTs of alert notifications through http_post
 * (io/http.h), retried with exponential backoff and full jitter.
 *
 * A webhook URL often carries a secret (a token in the path or the query,
 * or user:password), so nothing here puts a URL into an error text; callers
 * that log one use webhook_redact().
 */
#ifndef DENVERD_WEBHOOK_H
#define DENVERD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct webhook;

/* Caps: deliveries in flight or waiting to retry, and the body size. */
#define WEBHOOK_MAX_PENDING 256
#define WEBHOOK_MAX_BODY    (64 * 1024)

struct webhook_opts {
	unsigned retries;          /* attempts after the first */
	uint64_t retry_delay_ms;   /* base of the backoff */
	uint64_t retry_max_delay_ms;
	uint64_t timeout_ms;       /* one attempt, connect included */
};

struct webhook_result {
	bool delivered;            /* a 2xx answer */
	unsigned attempts;
	long http_code;            /* of the last attempt; 0 = no answer */
	const char *error;         /* why the last attempt failed ("" when
	                              delivered); never contains the URL */
};

/* Called once per webhook_post, on the loop; R lives during the call. */
typedef void (*webhook_done_cb)(void *arg, int64_t tag, const struct webhook_result *r);

/* 0, -ENOMEM or -EIO.  curl_global_init() must have been called. */
int webhook_init(uv_loop_t *loop, struct webhook **out);

/* Drop every pending delivery (their callbacks are not called) and free W
 * once its handles have closed (the loop must run again).  Accepts NULL. */
void webhook_fini(struct webhook *w);

/*
 * POST BODY (JSON, copied) to URL (copied) with Content-Type
 * application/json.  A 2xx answer is success; 408, 425, 429, 5xx and
 * network errors are retried up to o->retries times (a Retry-After header
 * is honoured), other answers are final.  DONE(ARG, TAG, result) follows
 * exactly once.  Returns 0, -E2BIG (body too large), -ENOBUFS (too many
 * pending), -EINVAL (not an http or https URL) or -ENOMEM.
 */
int webhook_post(struct webhook *w, const char *url, const char *body,
                 const struct webhook_opts *o, webhook_done_cb done, void *arg,
                 int64_t tag);

/* Deliveries not finished yet. */
unsigned webhook_pending(const struct webhook *w);

/*
 * URL for a log line: scheme, host and port only; userinfo, path, query and
 * fragment become "/<redacted>" ("https://hooks.example.org/<redacted>").
 * Something that does not look like a URL gives "<redacted URL>".  OUT
 * always ends up terminated.
 */
void webhook_redact(const char *url, char *out, size_t len);

#endif
