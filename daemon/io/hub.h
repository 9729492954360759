/*
 * hub.h - the ArcGIS Hub download flow (docs/ARCGIS.md 5.1, 7.6): ask the
 * Download API for a layer's export file and hand back the URL it gives.
 *
 *   GET https://<hub>/api/download/v1/items/<item>/csv?layers=<id>&redirect=false
 *     -> 2xx {"status": "Pending", "progressInPercent": 0}      poll again
 *     -> 2xx {"status": "InProgress" | "ExportingData" | "PagingData" |
 *             "ConvertingData" | any other, ...}                  poll again
 *     -> 2xx {"status": "Completed" | "CompletedWithErrors",
 *             "resultUrl": "...", "recordCount": N, "cacheStatus": "..."}
 *                                                                 done
 *     -> 2xx {"status": "Failed", "message"?}    failed (a 200 can say so)
 *     -> non-2xx {"message": "..."}              failed with that message
 *     -> a 2xx body that is not a JSON object, or a network error:
 *        asked again after the poll interval, at most RETRIES times in a
 *        row (a WAF page or a proxy's hiccup is not an answer)
 * Polls are POLL_INTERVAL_MS apart (hub.js waits 3 s), and the whole flow
 * fails retryable once DEADLINE_MS has passed since hub_start.  With
 * update_cache the first request carries updateCache=true (a rebuild) and
 * the polls after it trackCacheUpdate=true.
 *
 * The result URL names one export (.../replicafilescache/<SVC>_<19
 * digits>.csv): it changes with every rebuild and the old name goes away,
 * so it is never stored; ask the Hub on every run and fetch it at once
 * with fetch_start (fetch.h), which follows its 302 to the signed blob
 * (?...&se=<expiry>&sp=r).  A 403 from that fetch means the signature has
 * expired (or was refused): resolve again, do not retry the same URL.
 *
 * The bodies are small status documents (capped at HUB_BODY_MAX, as they
 * come and inflated), decoded (http_req_text) and parsed on the loop
 * thread.  Loop thread only.
 */
#ifndef DENVERD_IO_HUB_H
#define DENVERD_IO_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/config_types.h"

struct http;
struct hub;

#define HUB_BODY_MAX       (64u * 1024)      /* one status answer */
#define HUB_POLL_INTERVAL  3000              /* ms, as hub.js */
#define HUB_DEADLINE       (30u * 60 * 1000) /* ms, the whole flow */
#define HUB_RETRIES        4                 /* non-answers in a row */

/* What a caller asks for.  hub_start copies every string. */
struct hub_request {
	const char *url;               /* https://<hub>/api/download/v1/items/
	                                  <item>/<format>?layers=<id>[&where=..];
	                                  without redirect=, updateCache=,
	                                  trackCacheUpdate= (added here) */
	const struct cfg_fetch *limits;/* timeouts of each request */
	uint64_t poll_interval_ms;     /* 0 = HUB_POLL_INTERVAL */
	uint64_t deadline_ms;          /* 0 = HUB_DEADLINE */
	unsigned retries;              /* 0 = HUB_RETRIES */
	bool update_cache;             /* ask for a rebuild */
	bool allow_http;               /* http:// too (tests); else https only,
	                                  for the polls and the result URL */
};

enum hub_outcome {
	HUB_READY,                     /* result_url is the file */
	HUB_FAILED,                    /* see error, retryable */
	HUB_CANCELLED,                 /* hub_cancel() */
};

/* Handed to the done callback; every pointer lives until it returns. */
struct hub_result {
	enum hub_outcome outcome;
	const char *result_url;        /* ready: fetch it now; else NULL */
	const char *status;            /* the last status seen, or "" */
	int64_t record_count;          /* recordCount, or -1 */
	const char *cache_status;      /* cacheStatus, or "" */
	unsigned polls;                /* status answers received */
	unsigned requests;             /* requests sent */
	long http_status;              /* of the last answer; 0 for none */
	const char *url;               /* the request's URL */
	/* failed */
	const char *error;             /* the Hub's message, or ours */
	int err;                       /* -EIO (HTTP, Failed), -ETIMEDOUT
	                                  (deadline), -ENOMEM, -EPROTO (a
	                                  result URL that is not allowed) */
	bool retryable;                /* network, 408/429/5xx, Failed (the
	                                  next request starts a new export),
	                                  non-answers, the deadline */
	int64_t retry_after_ms;        /* Retry-After of a failing answer, or -1 */
};

typedef void (*hub_done_cb)(struct hub *hb, const struct hub_result *r, void *arg);

/*
 * Start the flow through H.  0 and *out (valid until the done callback
 * returns), or a negative errno without calling DONE: -EINVAL for a bad
 * request (then *err, if not NULL, is a message the caller frees),
 * -ENOMEM.  DONE is called exactly once, never from inside hub_start, and
 * H outlives the flow.
 */
int hub_start(struct http *h, const struct hub_request *req, hub_done_cb done,
              void *arg, struct hub **out, char **err);

/* Stop HB: DONE follows with HUB_CANCELLED (from the loop, not from
 * inside this call).  Idempotent until the done callback. */
void hub_cancel(struct hub *hb);

/* Where HB is now, for a caller's progress report: a read of a few
 * fields, no I/O. */
struct hub_progress {
	const char *status;            /* the last status seen, or "" */
	int percent;                   /* its progressInPercent, or -1 */
	unsigned polls;                /* status answers so far */
};
void hub_progress(const struct hub *hb, struct hub_progress *p);

const char *hub_outcome_name(enum hub_outcome o);       /* "ready" ... */

#endif
