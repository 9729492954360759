/*
 * http.c - libcurl multi interface on libuv (uv_poll per socket, one
 * uv_timer for curl's timeout): the driver under io/http_xfer.h.  The POST
 * of io/http.h is built on it in http_post.c.
 *
 * curl tells us through the socket callback which sockets to watch; each
 * gets a struct http_sock (assigned to the socket with curl_multi_assign)
 * holding its uv_poll.  Handles are closed with uv_close and freed in the
 * close callback; the struct http itself is freed when its last handle has
 * closed, so http_fini() never frees memory a pending callback still uses.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/list.h"
#include "base/macro.h"
#include "io/http_xfer.h"
#include "version.h"

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http *h;
	LIST_FIELDS(struct http_sock, socks);   /* h->socks: closed on fini */
};

struct http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	uv_prepare_t turn;               /* runs while a transfer yielded its turn */
	struct http_sock *socks;
	struct http_xfer *xfers;         /* active transfers */
	unsigned active;
	unsigned open_handles;           /* timer, turn + polls not yet closed */
	bool closing;
};

static void maybe_free(struct http *h)
{
	if (h->closing && h->open_handles == 0)
		free(h);
}

static void sock_closed(uv_handle_t *hd)
{
	struct http_sock *s = container_of((uv_poll_t *)hd, struct http_sock, poll);
	struct http *h = s->h;
	free(s);
	h->open_handles--;
	maybe_free(h);
}

static void sock_close(struct http_sock *s)
{
	LIST_REMOVE(socks, s->h->socks, s);
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* Take X off the active list and out of the multi handle. */
static void xfer_detach(struct http *h, struct http_xfer *x)
{
	curl_multi_remove_handle(h->multi, x->easy);
	LIST_REMOVE(xfers, h->xfers, x);
	x->active = false;
	x->turn_paused = false;
	x->turn_bytes = 0;
	x->http = NULL;
	h->active--;
}

/* The next loop turn, just before its poll phase (a prepare handle):
 * resume the transfers that yielded in the turn before.  Resuming arms
 * curl's 0 ms timer, so the poll does not block, and the transfer reads
 * again when the poll finds its socket readable: in the same batch as
 * every other ready descriptor, then it yields again. */
static void on_turn(uv_prepare_t *t)
{
	struct http *h = container_of(t, struct http, turn);
	struct http_xfer *x, *next;

	uv_prepare_stop(&h->turn);
	LIST_FOREACH_SAFE(xfers, x, next, h->xfers) {
		if (!x->turn_paused)
			continue;
		x->turn_paused = false;
		x->turn_bytes = 0;
		if (!x->held)
			curl_easy_pause(x->easy, CURLPAUSE_CONT);
	}
}

void http_xfer_took(struct http_xfer *x, size_t n)
{
	struct http *h = x->http;

	x->turn_bytes += n;
	if (!h || x->turn_paused || x->turn_bytes < HTTP_TURN_BYTES)
		return;
	if (curl_easy_pause(x->easy, CURLPAUSE_RECV) != CURLE_OK)
		return;
	x->turn_paused = true;
	uv_prepare_start(&h->turn, on_turn);
}

/* Hand every finished transfer to its owner. */
static void check_done(struct http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		struct http_xfer *x = NULL;
		CURLcode rc;
		if (m->msg != CURLMSG_DONE)
			continue;
		rc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x) {
			curl_multi_remove_handle(h->multi, m->easy_handle);
			continue;
		}
		xfer_detach(h, x);
		x->done(x, rc);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = container_of(p, struct http_sock, poll);
	struct http *h = s->h;
	int flags = 0, running;

	/* An error on the socket: let curl find out by reading and writing. */
	if (status < 0)
		flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, s->fd, flags, &running);
	check_done(h);
}

static void on_timer(uv_timer_t *t)
{
	struct http *h = container_of(t, struct http, timer);
	int running;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "as soon as
 * possible", which a 0 ms uv timer gives without recursing into curl. */
static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct http *h = arg;
	if (timeout_ms < 0)
		return uv_timer_stop(&h->timer) < 0 ? -1 : 0;
	return uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0) < 0 ? -1 : 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch FD for WHAT, or stop watching it.  curl
 * calls REMOVE before it closes the socket, so the poll never outlives
 * the descriptor it watches. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct http *h = arg;
	struct http_sock *s = sockp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			curl_multi_assign(h->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->fd = fd;
		s->h = h;
		LIST_PREPEND(socks, h->socks, s);
		h->open_handles++;
		curl_multi_assign(h->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if (uv_poll_start(&s->poll, events, on_poll) < 0)
		return -1;
	return 0;
}

int http_init(uv_loop_t *loop, struct http **out)
{
	struct http *h;

	*out = NULL;
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		return -EIO;
	}
	uv_timer_init(loop, &h->timer);
	uv_prepare_init(loop, &h->turn);
	h->open_handles = 2;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*out = h;
	return 0;
}

/* The timer's and the turn's close callback (hd->data is the struct http). */
static void handle_closed(uv_handle_t *hd)
{
	struct http *h = hd->data;
	h->open_handles--;
	maybe_free(h);
}

void http_fini(struct http *h)
{
	if (!h)
		return;
	/* Detach the callbacks first: cleanup closes cached connections and
	 * must not call back into a struct that is going away. */
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, NULL);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, NULL);
	while (h->xfers) {
		struct http_xfer *x = h->xfers;
		xfer_detach(h, x);
		if (x->on_fini)
			x->on_fini(x);
	}
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	h->closing = true;
	while (h->socks) {
		uv_poll_stop(&h->socks->poll);
		sock_close(h->socks);
	}
	h->timer.data = h->turn.data = h;
	uv_close((uv_handle_t *)&h->timer, handle_closed);
	uv_close((uv_handle_t *)&h->turn, handle_closed);
}

int http_add(struct http *h, struct http_xfer *x)
{
	if (!x->easy || !x->done || h->closing)
		return -EINVAL;
	if (x->active)
		return -EBUSY;
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
	if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK)
		return -EIO;
	x->http = h;
	x->active = true;
	LIST_PREPEND(xfers, h->xfers, x);
	h->active++;
	return 0;
}

void http_remove(struct http_xfer *x)
{
	struct http *h = x->http;
	if (!x->active || !h)
		return;
	xfer_detach(h, x);
}

unsigned http_active(const struct http *h)
{
	return h ? h->active : 0;
}

uv_loop_t *http_loop(const struct http *h)
{
	return h->loop;
}

void http_easy_defaults(CURL *e, char *errbuf)
{
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "denverd/" DENVERD_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
}
