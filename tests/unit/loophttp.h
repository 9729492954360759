/* loophttp.h - a small real HTTP server on 127.0.0.1 for the unit tests,
 * running on the test's own uv loop: each request (headers and a body of
 * Content-Length bytes) is recorded and answered with the next status of a
 * script, 0 meaning "never answer" (header only: each test is a program). */
#ifndef DENVERD_TEST_LOOPHTTP_H
#define DENVERD_TEST_LOOPHTTP_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/denverd.h"

#define MAX_REQ 16

/* ---- the loopback server ---- */

struct srv {
	uv_tcp_t tcp;
	int port;
	const int *script;          /* status per request; 0 = never answer */
	int n_script;
	int requests;
	char body[MAX_REQ][2048];
	char head[MAX_REQ][1024];
	const char *extra_header;   /* added to every answer, or NULL */
};

struct conn {
	uv_tcp_t tcp;
	struct srv *s;
	char buf[8192];
	size_t len;
	bool done;
};

static inline void conn_closed(uv_handle_t *h)
{
	free(container_of((uv_tcp_t *)h, struct conn, tcp));
}

static inline void after_write(uv_write_t *req, int status)
{
	struct conn *c = req->data;
	free(req);
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static inline void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = container_of((uv_tcp_t *)h, struct conn, tcp);
	*b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - 1 - c->len));
}

static inline void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = container_of((uv_tcp_t *)st, struct conn, tcp);
	struct srv *s = c->s;
	static char answer[512];

	if (n < 0) {
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	char *eoh = strstr(c->buf, "\r\n\r\n");
	const char *cl = strcasestr(c->buf, "content-length:");
	if (c->done || !eoh || !cl || c->len < (size_t)(eoh + 4 - c->buf) + strtoul(cl + 15, NULL, 10))
		return;
	c->done = true;
	int i = s->requests++;
	if (i < MAX_REQ) {
		snprintf(s->head[i], sizeof s->head[i], "%.*s", (int)(eoh - c->buf), c->buf);
		snprintf(s->body[i], sizeof s->body[i], "%s", eoh + 4);
	}
	int status = s->script[i < s->n_script ? i : s->n_script - 1];
	if (status == 0)
		return;                 /* hang: the client's timeout must act */
	snprintf(answer, sizeof answer, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n"
	         "Connection: close\r\n%s\r\nok", status,
	         s->extra_header ? s->extra_header : "");
	uv_write_t *w = malloc(sizeof *w);
	uv_buf_t out = uv_buf_init(answer, (unsigned)strlen(answer));
	w->data = c;
	uv_write(w, (uv_stream_t *)&c->tcp, &out, 1, after_write);
}

static inline void on_conn(uv_stream_t *server, int status)
{
	struct srv *s = container_of((uv_tcp_t *)server, struct srv, tcp);
	struct conn *c = calloc(1, sizeof *c);
	c->s = s;
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;            /* marks a connection for close_walk */
	if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	else
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* Listen on an ephemeral port of 127.0.0.1 (s->port).  0 or -1. */
static inline int srv_start(uv_loop_t *loop, struct srv *s, const int *script, int n)
{
	struct sockaddr_in sa;
	int len = sizeof sa;
	memset(s, 0, sizeof *s);
	s->script = script;
	s->n_script = n;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	if (uv_tcp_init(loop, &s->tcp) < 0 ||
	    uv_tcp_bind(&s->tcp, (struct sockaddr *)&sa, 0) < 0 ||
	    uv_listen((uv_stream_t *)&s->tcp, 64, on_conn) < 0)
		return -1;
	uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&sa, &len);
	s->port = ntohs(sa.sin_port);
	return 0;
}

/* Close what is left on LOOP: connections free themselves, other handles
 * belong to their owners (already closing, or on the test's stack). */
static inline void loophttp_close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_TCP && h->data ? conn_closed : NULL);
}

#endif
