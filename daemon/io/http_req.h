/*
 * http_req.h - one GET, or one POST of a form, with the body kept in
 * memory up to a cap: what the ArcGIS pager (arcgis*.c) and the Hub
 * download flow (hub.c) send.  io/ only (libcurl types, as http_xfer.h).
 *
 * Redirects are followed (at most cfg_fetch.max_redirects, within the
 * allowed schemes), Accept-Encoding offers every coding curl has (the body
 * is kept decoded), the timeouts are cfg_fetch's, and Retry-After (seconds
 * or an HTTP date) is read from the last response.  Loop thread only.
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

struct http_req {
	struct http_xfer xfer;
	CURL *easy;
	struct curl_slist *headers;
	char *post;               /* form body, or NULL for a GET */
	struct buf body;          /* decoded body of the last response, capped */
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
 * allocation of the last body (not its text) is reused for the next.
 */
int http_req_start(struct http_req *q, struct http *h, const struct cfg_fetch *lim,
                   bool allow_http, const char *url, char *form, size_t cap,
                   void (*done)(struct http_req *q));

/* Stop Q without its callback; free what it holds (also after DONE).
 * Idempotent. */
void http_req_clear(struct http_req *q);

#endif
