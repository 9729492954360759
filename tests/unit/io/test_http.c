/* test_http.c - http_post (io/http.h) against a real HTTP server on
 * loopback (tests/unit/loophttp.h, on the same loop): what goes on the
 * wire, what the answer says, and that cancel and fini free every call
 * without calling back (ASan checks the freeing); and http_req_text
 * (io/http_req.h), the decoding of a kept body, on its own. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>
#include <zlib.h>

#include "io/http.h"
#include "io/http_req.h"
#include "loophttp.h"

struct answer {
	int calls;
	bool complete, bad_url;
	long status;
	uint64_t retry_after_ms;
	char error[CURL_ERROR_SIZE];
};

static void on_answer(void *arg, const struct http_answer *a)
{
	struct answer *o = arg;
	o->calls++;
	o->complete = a->complete;
	o->bad_url = a->bad_url;
	o->status = a->status;
	o->retry_after_ms = a->retry_after_ms;
	snprintf(o->error, sizeof o->error, "%s", a->error);
}

/* A loop, a server answering SCRIPT, a struct http, a URL of the server,
 * and a tick, so that one uv_run(UV_RUN_ONCE) never waits forever once
 * the last curl timer has fired. */
struct rig {
	uv_loop_t loop;
	uv_timer_t tick;
	struct srv s;
	struct http *h;
	char url[128];
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void rig_start(struct rig *r, const int *script, int n)
{
	uv_loop_init(&r->loop);
	assert_int_equal(srv_start(&r->loop, &r->s, script, n), 0);
	snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d/in?k=v", r->s.port);
	assert_int_equal(http_init(&r->loop, &r->h), 0);
	uv_timer_init(&r->loop, &r->tick);
	uv_timer_start(&r->tick, on_tick, 20, 20);
}

static void rig_finish(struct rig *r)
{
	http_fini(r->h);
	uv_walk(&r->loop, loophttp_close_walk, NULL);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* Run the loop until A has been called (or 10 s have passed). */
static void run_until(uv_loop_t *loop, const struct answer *a)
{
	uint64_t until = uv_now(loop) + 10000;
	while (a->calls == 0 && uv_now(loop) < until)
		uv_run(loop, UV_RUN_ONCE);
	assert_int_equal(a->calls, 1);
}

/* Post REQ on R and wait for the answer, into A. */
static void post_and_wait(struct rig *r, const struct http_post_req *req, struct answer *a)
{
	struct http_call *c;

	assert_int_equal(http_post(r->h, req, on_answer, a, &c), 0);
	assert_non_null(c);
	run_until(&r->loop, a);
}

static const char *const json_header[] = { "Content-Type: application/json", NULL };

static void test_post_and_answer(void **state)
{
	static const int script[] = { 201 };
	static struct rig r;
	static char body[1501];
	struct answer a = { 0 };
	struct http_call *c;

	memset(body, 'b', sizeof body - 1);
	rig_start(&r, script, 1);
	struct http_post_req req = {
		.url = r.url, .headers = json_header, .body = body,
		.body_len = strlen(body), .timeout_ms = 5000,
	};
	assert_int_equal(http_post(r.h, &req, on_answer, &a, &c), 0);
	assert_non_null(c);
	assert_int_equal(a.calls, 0);                  /* never inside http_post */
	assert_int_equal(http_active(r.h), 1);
	run_until(&r.loop, &a);
	assert_true(a.complete);
	assert_false(a.bad_url);
	assert_int_equal(a.status, 201);
	assert_int_equal(a.retry_after_ms, 0);
	assert_string_equal(a.error, "");
	assert_int_equal(http_active(r.h), 0);
	assert_int_equal(r.s.requests, 1);
	assert_non_null(strstr(r.s.head[0], "POST /in?k=v HTTP/1.1"));
	assert_non_null(strcasestr(r.s.head[0], "\r\ncontent-type: application/json"));
	assert_non_null(strcasestr(r.s.head[0], "\r\ncontent-length: 1500"));
	assert_non_null(strcasestr(r.s.head[0], "\r\nuser-agent: denverd/"));
	assert_string_equal(r.s.body[0], body);
	rig_finish(&r);
}

static void test_retry_after(void **state)
{
	static const int script[] = { 503 };
	static struct rig r;
	struct answer a = { 0 };

	rig_start(&r, script, 1);
	r.s.extra_header = "Retry-After: 7\r\n";
	post_and_wait(&r, &(struct http_post_req){ .url = r.url, .body = "{}", .body_len = 2 }, &a);
	assert_true(a.complete);                       /* an answer, if a bad one */
	assert_int_equal(a.status, 503);
	assert_int_equal(a.retry_after_ms, 7000);
	rig_finish(&r);
}

static void test_timeout_is_incomplete(void **state)
{
	static const int hang[] = { 0 };
	static struct rig r;
	struct answer a = { 0 };

	rig_start(&r, hang, 1);
	post_and_wait(&r, &(struct http_post_req){ .url = r.url, .body = "x", .body_len = 1,
	                                           .timeout_ms = 200 }, &a);
	assert_false(a.complete);
	assert_false(a.bad_url);
	assert_int_equal(a.status, 0);
	assert_non_null(strcasestr(a.error, "timed out"));
	rig_finish(&r);
}

static void test_bad_urls(void **state)
{
	static const int script[] = { 200 };
	static const char *const urls[] = { "ftp://127.0.0.1/x", "file:///etc/passwd", "http://[::1" };
	static struct rig r;
	struct http_call *c;

	rig_start(&r, script, 1);
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		struct answer a = { 0 };
		post_and_wait(&r, &(struct http_post_req){ .url = urls[i], .body = "x", .body_len = 1 },
		              &a);
		if (!a.bad_url)
			fail_msg("%s: not a bad URL (error \"%s\")", urls[i], a.error);
		assert_false(a.complete);
		assert_true(a.error[0] != '\0');
	}
	assert_int_equal(r.s.requests, 0);
	struct http_post_req none = { .body = "x", .body_len = 1 };
	assert_int_equal(http_post(r.h, &none, on_answer, NULL, &c), -EINVAL);
	assert_null(c);
	rig_finish(&r);
}

/* A callback may start the next call (webhook retries do, from a timer;
 * this one does it from the callback itself). */
struct chain {
	struct http *h;
	const char *url;
	struct answer first, second;
};

static void on_first(void *arg, const struct http_answer *a)
{
	struct chain *ch = arg;
	struct http_call *c;
	struct http_post_req req = { .url = ch->url, .body = "2", .body_len = 1 };

	on_answer(&ch->first, a);
	assert_int_equal(http_post(ch->h, &req, on_answer, &ch->second, &c), 0);
}

static void test_post_from_the_callback(void **state)
{
	static const int script[] = { 500, 204 };
	static struct rig r;
	struct chain ch = { 0 };
	struct http_call *c;

	rig_start(&r, script, 2);
	ch.h = r.h;
	ch.url = r.url;
	struct http_post_req req = { .url = r.url, .body = "1", .body_len = 1 };
	assert_int_equal(http_post(r.h, &req, on_first, &ch, &c), 0);
	run_until(&r.loop, &ch.second);
	assert_int_equal(ch.first.status, 500);
	assert_int_equal(ch.second.status, 204);
	assert_string_equal(r.s.body[1], "2");
	rig_finish(&r);
}

static void test_cancel_and_fini_free_without_callback(void **state)
{
	static const int hang[] = { 0 };
	static struct rig r;
	struct answer a = { 0 };
	struct http_call *c1, *c2;

	rig_start(&r, hang, 1);
	struct http_post_req req = { .url = r.url, .body = "x", .body_len = 1, .timeout_ms = 5000 };
	assert_int_equal(http_post(r.h, &req, on_answer, &a, &c1), 0);
	assert_int_equal(http_post(r.h, &req, on_answer, &a, &c2), 0);
	for (int i = 0; i < 20 && r.s.requests < 2; i++)
		uv_run(&r.loop, UV_RUN_ONCE);
	assert_int_equal(r.s.requests, 2);             /* both are on the wire */
	http_call_cancel(c1);
	assert_int_equal(http_active(r.h), 1);
	rig_finish(&r);                                /* frees c2 (ASan) */
	assert_int_equal(a.calls, 0);
}

/* SRC as one gzip member (level 6) appended to OUT. */
static void gz_append(struct buf *out, const char *src, size_t n)
{
	z_stream z;
	unsigned char tmp[4096];
	int zr;

	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)n;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof tmp;
		zr = deflate(&z, Z_FINISH);
		buf_put(out, (const char *)tmp, sizeof tmp - z.avail_out);
	} while (zr == Z_OK);
	assert_int_equal(zr, Z_STREAM_END);
	deflateEnd(&z);
}

/* A request whose last body is BODY (N bytes) in coding C, capped at CAP. */
static void req_with(struct http_req *q, enum http_coding c, const char *body, size_t n,
                     size_t cap)
{
	memset(q, 0, sizeof *q);
	buf_init(&q->body, 0, cap);
	buf_init(&q->text, 0, cap);
	buf_put(&q->body, body, n);
	assert_int_equal(q->body.err, 0);
	q->coding = c;
}

static void test_req_text(void **state)
{
	struct http_req q;
	struct buf gz, big;
	const char *p;
	size_t n;
	char msg[256];
	const char *doc = "{\"features\":[1,2,3]}";

	(void)state;
	/* identity: the body itself */
	req_with(&q, HTTP_CODING_IDENTITY, doc, strlen(doc), 1024);
	assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), 0);
	assert_ptr_equal(p, q.body.p);
	assert_int_equal(n, strlen(doc));
	http_req_clear(&q);

	/* gzip, two members one after another, and trailing zeros ignored */
	buf_init(&gz, 0, 1u << 20);
	gz_append(&gz, doc, 10);
	gz_append(&gz, doc + 10, strlen(doc) - 10);
	req_with(&q, HTTP_CODING_GZIP, gz.p, gz.len, 1024);
	buf_put(&q.body, "\0\0\0", 3);
	assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), 0);
	assert_int_equal(n, strlen(doc));
	assert_memory_equal(p, doc, n);
	assert_int_equal(p[n], '\0');
	http_req_clear(&q);

	/* cut short, at every length */
	for (size_t cut = 1; cut < gz.len / 2; cut++) {
		req_with(&q, HTTP_CODING_GZIP, gz.p, cut, 1024);
		assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), -EIO);
		assert_non_null(strstr(msg, "gzip"));
		http_req_clear(&q);
	}

	/* corrupt: a flipped byte in the stream or its CRC */
	for (size_t at = 10; at < gz.len / 2; at++) {
		req_with(&q, HTTP_CODING_GZIP, gz.p, gz.len / 2, 1024);
		q.body.p[at] ^= 0x55;
		assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), -EIO);
		http_req_clear(&q);
	}

	/* a coding not asked for */
	req_with(&q, HTTP_CODING_OTHER, doc, strlen(doc), 1024);
	assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), -EIO);
	http_req_clear(&q);

	/* the cap: a text of exactly the cap passes, one byte more is -E2BIG */
	buf_init(&big, 0, 1u << 20);
	for (int i = 0; i < 20000; i++)
		buf_printf(&big, "%d,", i);
	gz.len = 0;
	gz_append(&gz, big.p, big.len);
	req_with(&q, HTTP_CODING_GZIP, gz.p, gz.len, big.len);
	assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), 0);
	assert_int_equal(n, big.len);
	assert_memory_equal(p, big.p, n);
	/* again in the same (kept) text buffer */
	assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), 0);
	assert_int_equal(n, big.len);
	http_req_clear(&q);
	req_with(&q, HTTP_CODING_GZIP, gz.p, gz.len, big.len - 1);
	assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), -E2BIG);
	assert_non_null(strstr(msg, "cap"));
	http_req_clear(&q);

	/* an empty body is empty in any coding */
	req_with(&q, HTTP_CODING_GZIP, "", 0, 1024);
	assert_int_equal(http_req_text(&q, &p, &n, msg, sizeof msg), 0);
	assert_int_equal(n, 0);
	http_req_clear(&q);
	buf_free(&gz);
	buf_free(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_and_answer),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_timeout_is_incomplete),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_post_from_the_callback),
		cmocka_unit_test(test_cancel_and_fini_free_without_callback),
		cmocka_unit_test(test_req_text),
	};
	int rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
