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
	/* The owner has paused receiving itself (CURL_WRITEFUNC_PAUSE) and
	 * will resume it: http_xfer_took's turn leaves X paused.  Owner's. */
	bool held;
	struct http *http;       /* private: set while the transfer is active */
	bool active;             /* private: added and not yet done/removed */
	bool turn_paused;        /* private: paused by http_xfer_took */
	size_t turn_bytes;       /* private: taken since X last yielded */
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
 * Turn-taking on the loop.  curl reads a readable socket up to 100 times
 * in one curl_multi_socket_action (50 MiB at a 512 KiB receive buffer),
 * so one fast transfer could hold the loop thread for tens of milliseconds
 * while the control socket waits.  A write callback that has taken N bytes
 * of X's body calls this: once X has taken HTTP_TURN_BYTES since it last
 * yielded, its receiving is paused (curl_easy_pause from inside the
 * callback, which curl allows: the bytes stay taken, nothing is copied)
 * and resumed just before the next poll, where it reads again beside
 * every other ready descriptor.  Between two polls a transfer gets at
 * most HTTP_TURN_BYTES plus two receive buffers (curl hands on the rest
 * of a buffer it has read, and may hold a little from the read before).
 * A transfer X->held stays paused; its owner resumes it.  Loop thread,
 * from X's write callback only.
 */
#define HTTP_TURN_BYTES (256 * 1024)
void http_xfer_took(struct http_xfer *x, size_t n);

/*
 * Stop X now, without calling its done callback (cancel).  No-op when X is
 * not active.  The easy handle stays the caller's.
 */
void http_remove(struct http_xfer *x);

#endif
