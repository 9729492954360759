/*
 * http.h - libcurl's multi interface driven by a libuv loop.
 *
 * One struct http owns one CURLM.  Its sockets are watched with uv_poll and
 * its timeout with a uv_timer (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION), so a
 * transfer never blocks the loop thread: no curl_easy_perform anywhere.
 * Generic: the fetch task and the alerts webhook both drive their easy
 * handles through it.  Loop thread only.
 */
#ifndef DENVERD_HTTP_H
#define DENVERD_HTTP_H

#include <stdbool.h>
#include <curl/curl.h>
#include <uv.h>

#include "base/list.h"

struct http;
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
	struct http *http;       /* private: set while the transfer is active */
	bool active;             /* private: added and not yet done/removed */
	LIST_FIELDS(struct http_xfer, xfers);   /* private: the active list */
};

/* Create a multi handle driven by LOOP.  0 or -ENOMEM/-EIO; *out set on 0.
 * curl_global_init() must have been called once by the program. */
int http_init(uv_loop_t *loop, struct http **out);

/*
 * Remove every active transfer (their done callbacks are NOT called), then
 * close the uv handles; the memory is freed from their close callbacks, so
 * the loop must run once more.  Accepts NULL.  Not from inside a callback
 * of this struct http.
 */
void http_fini(struct http *h);

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

/* The loop H runs on. */
uv_loop_t *http_loop(const struct http *h);

/* Number of active transfers (for status and tests). */
unsigned http_active(const struct http *h);

#endif
