/*
 * http_xfer.h - the easy-handle interface of io/http.h: a struct http
 * drives a transfer whose libcurl easy handle the caller sets up and owns.
 * For io/ only (it exposes libcurl types; nothing outside io/ includes
 * <curl/curl.h>, see scripts/layers).  Outside io/, use http_post().
 * Loop thread only.
 */
#ifndef DENVERD_HTTP_XFER_H
#define DENVERD_HTTP_XFER_H

#include <stdbool.h>

#include <curl/curl.h>

#include "base/list.h"
#include "io/http.h"

struct http_xfer;

/*
 * Called on the loop thread once the transfer has ended (RC is CURLE_OK or
 * the error).  The easy handle has already been removed from the multi
 * handle, so the callback may curl_easy_cleanup() it, free the struct that
 * holds X, or add X again (after resetting what it wants).
 */
typedef void (*http_done_cb)(struct http_xfer *x, CURLcode rc);

/*
 * One transfer.  Embed it in the owner's struct and get back with
 * container_of.  The caller creates and owns `easy` (and frees it after
 * the done callback or after http_remove); http_add() takes CURLOPT_PRIVATE
 * for itself, so the owner must not use it.
 */
struct http_xfer {
	CURL *easy;              /* set by the caller before http_add */
	http_done_cb done;       /* set by the caller before http_add */
	/* Optional: called by http_fini for a transfer still active (done is
	 * not), after it left the multi handle, so an owner that lives only
	 * as long as its transfer can free itself.  NULL: nothing is called. */
	void (*on_fini)(struct http_xfer *x);
	struct http *http;       /* private: set while the transfer is active */
	bool active;             /* private: added and not yet done/removed */
	LIST_FIELDS(struct http_xfer, xfers);   /* private: the active list */
};

/*
 * The options every denverd transfer sets alike on E: TLS peers and host
 * names verified, denverd's User-Agent, no signals (transfers run on the
 * loop thread), and ERRBUF (CURL_ERROR_SIZE bytes, the caller's, alive as
 * long as E) for curl's own words.  The caller sets everything else (URL,
 * protocols, limits, callbacks) and may override any of these after.
 */
void http_easy_defaults(CURL *e, char *errbuf);

/*
 * Start X.  X->easy and X->done must be set; X must not be active.  The
 * done callback is never called from inside http_add.  0, -EBUSY (X is
 * active), -EINVAL, or -EIO (curl refused the handle).
 */
int http_add(struct http *h, struct http_xfer *x);

/*
 * Stop X now, without calling its done callback (cancel).  No-op when X is
 * not active.  The easy handle stays the caller's.
 */
void http_remove(struct http_xfer *x);

#endif
