/* test_http_turn.c - turn-taking in io/http (http_xfer_took, io/http_xfer.h)
 * against a real TCP server on loopback that sends a 48 MiB body as fast
 * as the socket takes it (a thread of the test, blocking writes): between
 * two poll phases one transfer gets at most HTTP_TURN_BYTES plus two
 * receive buffers (io/http_xfer.h), the whole body arrives, and a transfer its owner holds paused
 * stays paused across turns until the owner resumes it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "base/denverd.h"
#include "io/http_xfer.h"

#define BODY      (48u << 20)
#define CURL_BUF  (512 * 1024)   /* curl's largest chunk, as io/fetch.c sets */

/* ---- the server: one connection, one answer of BODY bytes ---- */

struct server {
	int listen_fd, port;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	char req[4096], head[128];
	static char chunk[1 << 20];
	int fd = accept(s->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	(void)!read(fd, req, sizeof req);    /* the request: one small packet */
	int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BODY);
	(void)!write(fd, head, (size_t)n);
	memset(chunk, 'x', sizeof chunk);
	for (size_t sent = 0; sent < BODY;) {
		ssize_t w = write(fd, chunk, sizeof chunk < BODY - sent ? sizeof chunk : BODY - sent);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	close(fd);
	return NULL;
}

static void server_start(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;

	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->listen_fd >= 0);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(s->listen_fd, 1), 0);
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

/* ---- the client: one transfer, counting bytes per loop turn ---- */

struct client {
	struct http_xfer x;
	char errbuf[CURL_ERROR_SIZE];
	uint64_t got, this_turn, max_turn;
	unsigned turns_with_data;
	bool done;
	CURLcode rc;
	uv_loop_t *loop;
	/* the hold test: pause (held) once past HOLD_AT, resume after
	 * HOLD_TURNS turns, and count what arrived while held */
	uint64_t hold_at;
	int held_turns;
	uint64_t got_while_held;
};

#define HOLD_TURNS 5

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct client *c = arg;
	size_t n = size * nmemb;

	(void)data;
	if (c->x.held)
		c->got_while_held += n;
	if (c->hold_at && c->got >= c->hold_at && !c->held_turns) {
		c->x.held = true;
		c->held_turns = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	c->got += n;
	c->this_turn += n;
	http_xfer_took(&c->x, n);
	return n;
}

static void on_done(struct http_xfer *x, CURLcode rc)
{
	struct client *c = container_of(x, struct client, x);
	c->done = true;
	c->rc = rc;
	uv_stop(c->loop);
}

/* After each poll phase: close the turn that ended (the bytes one poll
 * gave, with what curl delivered before it); resume a held transfer after
 * HOLD_TURNS turns. */
static void on_check(uv_check_t *p)
{
	struct client *c = p->data;

	if (c->this_turn) {
		c->turns_with_data++;
		if (c->this_turn > c->max_turn)
			c->max_turn = c->this_turn;
		c->this_turn = 0;
	}
	if (c->x.held && ++c->held_turns > HOLD_TURNS) {
		c->x.held = false;
		curl_easy_pause(c->x.easy, CURLPAUSE_CONT);
	}
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void run_transfer(struct client *c)
{
	uv_loop_t loop;
	uv_check_t turn_end;    /* after each poll: one turn ends */
	uv_timer_t tick;        /* turns while the held transfer waits */
	struct server s;
	struct http *h;
	char url[64];

	server_start(&s);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/big", s.port);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(http_init(&loop, &h), 0);
	uv_check_init(&loop, &turn_end);
	turn_end.data = c;
	uv_check_start(&turn_end, on_check);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 1, 1);

	c->x.easy = curl_easy_init();
	c->x.done = on_done;
	http_easy_defaults(c->x.easy, c->errbuf);
	curl_easy_setopt(c->x.easy, CURLOPT_URL, url);
	curl_easy_setopt(c->x.easy, CURLOPT_BUFFERSIZE, (long)CURL_BUF);
	curl_easy_setopt(c->x.easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->x.easy, CURLOPT_WRITEDATA, c);
	assert_int_equal(http_add(h, &c->x), 0);
	/* UV_RUN_DEFAULT, as the daemon runs (UV_RUN_ONCE adds a timer phase
	 * after the check phase of each call) */
	c->loop = &loop;
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(c->done);
	on_check(&turn_end);                /* the last turn's bytes */

	curl_easy_cleanup(c->x.easy);
	http_fini(h);
	uv_close((uv_handle_t *)&turn_end, NULL);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	server_stop(&s);
}

/* curl alone reads a readable socket up to 100 times per action: without
 * turns a loopback transfer hands over many MiB in one turn (measured
 * with the call taken out: 2 to 44 MB in one turn). */
static void test_turn_bounds_bytes_per_turn(void **state)
{
	struct client c = { 0 };

	(void)state;
	run_transfer(&c);
	assert_int_equal(c.rc, CURLE_OK);
	assert_int_equal(c.got, BODY);
	assert_true(c.max_turn <= HTTP_TURN_BYTES + 2 * CURL_BUF);
	assert_true(c.turns_with_data >= BODY / (HTTP_TURN_BYTES + 2 * CURL_BUF));
}

/* A transfer its owner paused (held) gets no bytes while held, however
 * many turns pass, and completes once the owner resumes it. */
static void test_held_transfer_stays_paused(void **state)
{
	struct client c = { .hold_at = 8u << 20 };

	(void)state;
	run_transfer(&c);
	assert_int_equal(c.rc, CURLE_OK);
	assert_int_equal(c.got, BODY);
	assert_true(c.held_turns > HOLD_TURNS);
	assert_int_equal(c.got_while_held, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_turn_bounds_bytes_per_turn),
		cmocka_unit_test(test_held_transfer_stays_paused),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
