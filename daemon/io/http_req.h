/*
 * http_req.h - one GET, or one POST of a form, with the body kept in
 * memory up to a cap: what the ArcGIS pager (arcgis*.c) and the Hub
 * download flow (hub.c) send.  io/ only (libcurl types, as http_xfer.h).
 *
 * Redirects are followed (at most cfg_fetch.max_redirects, within the
 * allowed schemes), the timeouts are cfg_fetch's, and Retry-After (seconds
 * or an HTTP date) is read from the last response.  Loop thread only, but
 * for http_req_text.
 *
 * Accept-Encoding: gzip is sent as a plain header, not through
 * CURLOPT_ACCEPT_ENCODING, so libcurl does not decode: the body is kept as
 * it came, with its Content-Encoding, and http_req_text inflates it where
 * the caller likes (the ArcGIS pager: on the thread pool, in the job that
 * parses it, so a page of megabytes is not inflated on the loop thread).
 */
#ifndef DENVERD_IO_HTTP_REQ_H
#define DENVERD_IO_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "domain/config_types.h"
#include "io/http_xfer.h"

/* The Content-Encoding of the last response. */
enum http_coding {
	HTTP_CODING_IDENTITY,     /* none, or identity */
	HTTP_CODING_GZIP,         /* gzip or x-gzip */
	HTTP_CODING_OTHER,        /* one we did not ask for (http_req_text fails) */
};

struct http_req {
	struct http_xfer xfer;
	CURL *easy;
	struct curl_slist *headers;
	char *post;               /* form body, or NULL for a GET */
	struct buf body;          /* the last response's body as it came, capped */
	enum http_coding coding;  /* ... and its Content-Encoding */
	struct buf text;          /* its inflated text (http_req_text), capped alike */
	long status;              /* of the last response; 0 for none */
	int64_t retry_after_ms;   /* -1 = none */
	char errbuf[CURL_ERROR_SIZE];
	CURLcode rc;              /* CURLE_WRITE_ERROR with body.err: over the cap */
	void (*done)(struct http_req *q);
};

/*
 * Start a GET of URL through H (a POST when FORM is not NULL: FORM is the
 * already-encoded body, taken over, also on failure).  The body is kept up
 * to CAP bytes; a larger one ends the transfer with body.err set.  DONE is
 * called once on the loop thread, never from inside this call.  0, or
 * -ENOMEM/-EIO without DONE.  Q must be zeroed before its first use; the
 * allocations of the last body and of its inflated text (not their bytes)
 * are reused for the next.
 */
int http_req_start(struct http_req *q, struct http *h, const struct cfg_fetch *lim,
                   bool allow_http, const char *url, char *form, size_t cap,
                   void (*done)(struct http_req *q));

/*
 * The text of the last body, decoded: *P and *N are the body itself when it
 * came without a coding, else q->text, inflated (gzip, members one after
 * another; bytes after a member that are not a new one are ignored, as
 * gzip(1) does) up to the same CAP as the body.  0; -EIO with MSG (N_MSG
 * bytes) for a corrupt or cut gzip stream or a coding not asked for;
 * -E2BIG with MSG when the inflated text is larger than the cap; -ENOMEM.
 * Any thread: it touches only body, coding and text, so the caller must
 * own Q (no transfer in flight: after DONE, before the next start).
 */
int http_req_text(struct http_req *q, const char **p, size_t *n, char *msg, size_t n_msg);

/* A Retry-After value V[0..N) (delta-seconds or an HTTP date) in ms from
 * now; -1 when bad.  Any thread. */
int64_t http_retry_after_ms(const char *v, size_t n);

/* Stop Q without its callback; free what it holds (also after DONE).
 * Idempotent. */
void http_req_clear(struct http_req *q);

#endif
