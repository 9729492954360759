/* test_webhook.c - alert POSTs against a real HTTP server on loopback (a
 * small uv_tcp server on the same loop, answering each request with the
 * next status of a script), and the redaction of URLs for logs. */
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

#include "base/denverd.h"
#include "loophttp.h"
#include "notify/webhook.h"

/* ---- the client side ---- */

struct outcome {
	int calls;
	int64_t tag;
	bool delivered;
	unsigned attempts;
	long code;
	char error[256];
};

static void on_done(void *arg, int64_t tag, const struct webhook_result *r)
{
	struct outcome *o = arg;
	o->calls++;
	o->tag = tag;
	o->delivered = r->delivered;
	o->attempts = r->attempts;
	o->code = r->http_code;
	snprintf(o->error, sizeof o->error, "%s", r->error);
}

/* Run LOOP until O has its callback (or 10 s have passed). */
static void run_until_done(uv_loop_t *loop, struct outcome *o)
{
	uint64_t until = uv_now(loop) + 10000;
	while (o->calls == 0 && uv_now(loop) < until)
		uv_run(loop, UV_RUN_ONCE);
}

static void finish_loop(uv_loop_t *loop, struct webhook *w)
{
	webhook_fini(w);
	uv_walk(loop, loophttp_close_walk, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

/* A loop, a server answering SCRIPT, a webhook, and a URL of the server. */
struct rig {
	uv_loop_t loop;
	struct srv s;
	struct webhook *w;
	char url[160];
};

static void rig_start(struct rig *r, const int *script, int n, const char *userinfo,
                      const char *path)
{
	uv_loop_init(&r->loop);
	assert_int_equal(srv_start(&r->loop, &r->s, script, n), 0);
	snprintf(r->url, sizeof r->url, "http://%s127.0.0.1:%d%s", userinfo, r->s.port, path);
	assert_int_equal(webhook_init(&r->loop, &r->w), 0);
}

static const struct webhook_opts fast = {
	.retries = 3, .retry_delay_ms = 10, .retry_max_delay_ms = 40, .timeout_ms = 2000,
};

static const char body[] = "{\"dataset\":\"traffic_accidents\",\"reason\":\"stale\"}";

static void test_retried_until_delivered(void **state)
{
	static const int script[] = { 503, 500, 200 };
	static struct rig r;
	struct outcome o = { 0 };

	rig_start(&r, script, 3, "", "/hook/s3cret-token?key=abc");
	assert_int_equal(webhook_post(r.w, r.url, body, &fast, on_done, &o, 42), 0);
	assert_int_equal(o.calls, 0);          /* never inside webhook_post */
	assert_int_equal(webhook_pending(r.w), 1);
	run_until_done(&r.loop, &o);
	assert_int_equal(o.calls, 1);
	assert_true(o.delivered);
	assert_int_equal(o.tag, 42);
	assert_int_equal(o.attempts, 3);
	assert_int_equal(o.code, 200);
	assert_int_equal(r.s.requests, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(r.s.body[i], body);
		assert_non_null(strstr(r.s.head[i], "POST /hook/s3cret-token?key=abc HTTP/1.1"));
		assert_non_null(strcasestr(r.s.head[i], "\r\ncontent-type: application/json"));
		assert_non_null(strcasestr(r.s.head[i], "\r\nuser-agent: denverd/"));
	}
	assert_int_equal(webhook_pending(r.w), 0);
	finish_loop(&r.loop, r.w);
}

static void test_gives_up_after_retries(void **state)
{
	static const int script[] = { 502 };
	static struct rig r;
	struct outcome o = { 0 };

	rig_start(&r, script, 1, "", "/hook");
	assert_int_equal(webhook_post(r.w, r.url, body, &fast, on_done, &o, 1), 0);
	run_until_done(&r.loop, &o);
	assert_false(o.delivered);
	assert_int_equal(o.attempts, 4);       /* the first and three retries */
	assert_int_equal(r.s.requests, 4);
	assert_string_equal(o.error, "HTTP status 502");
	finish_loop(&r.loop, r.w);
}

static void test_client_errors_are_final(void **state)
{
	static const int script[] = { 404, 200 };
	static struct rig r;
	struct outcome o = { 0 };

	rig_start(&r, script, 2, "", "/hook");
	assert_int_equal(webhook_post(r.w, r.url, body, &fast, on_done, &o, 1), 0);
	run_until_done(&r.loop, &o);
	assert_false(o.delivered);
	assert_int_equal(o.attempts, 1);
	assert_int_equal(o.code, 404);
	finish_loop(&r.loop, r.w);
}

static void test_timeout_and_refused_never_name_the_url(void **state)
{
	static const int hang[] = { 0 };
	static struct rig r;
	struct webhook_opts o1 = fast;
	struct outcome o = { 0 }, refused = { 0 };
	char closed_url[128];

	rig_start(&r, hang, 1, "user:pw@", "/t0ken");
	o1.retries = 1;
	o1.timeout_ms = 200;
	assert_int_equal(webhook_post(r.w, r.url, body, &o1, on_done, &o, 7), 0);
	run_until_done(&r.loop, &o);
	assert_false(o.delivered);
	assert_int_equal(o.attempts, 2);
	assert_int_equal(r.s.requests, 2);
	assert_int_equal(o.code, 0);
	assert_non_null(strcasestr(o.error, "timed out"));

	/* Nothing listens on the port of a closed server. */
	static struct srv gone;
	assert_int_equal(srv_start(&r.loop, &gone, hang, 1), 0);
	snprintf(closed_url, sizeof closed_url, "http://127.0.0.1:%d/t0ken?secret=1", gone.port);
	uv_close((uv_handle_t *)&gone.tcp, NULL);
	uv_run(&r.loop, UV_RUN_NOWAIT);
	assert_int_equal(webhook_post(r.w, closed_url, body, &o1, on_done, &refused, 8), 0);
	run_until_done(&r.loop, &refused);
	assert_false(refused.delivered);
	assert_int_equal(refused.attempts, 2);
	for (const char *e = o.error; e; e = e == o.error ? refused.error : NULL) {
		assert_null(strstr(e, "t0ken"));
		assert_null(strstr(e, "pw"));
		assert_null(strstr(e, "secret"));
	}
	finish_loop(&r.loop, r.w);
}

static void test_limits(void **state)
{
	static const int hang[] = { 0 };
	static struct rig r;
	struct outcome o = { 0 };
	char *big = malloc(WEBHOOK_MAX_BODY + 2);

	rig_start(&r, hang, 1, "", "/hook");
	memset(big, 'x', WEBHOOK_MAX_BODY + 1);
	big[WEBHOOK_MAX_BODY + 1] = '\0';
	assert_int_equal(webhook_post(r.w, r.url, big, &fast, on_done, &o, 1), -E2BIG);
	free(big);
	assert_int_equal(webhook_post(r.w, "ftp://127.0.0.1/x", body, &fast, on_done, &o, 1), -EINVAL);
	assert_int_equal(webhook_post(r.w, "file:///etc/passwd", body, &fast, on_done, &o, 1), -EINVAL);
	for (int i = 0; i < WEBHOOK_MAX_PENDING; i++)
		assert_int_equal(webhook_post(r.w, r.url, body, &fast, on_done, &o, i), 0);
	assert_int_equal(webhook_post(r.w, r.url, body, &fast, on_done, &o, 999), -ENOBUFS);
	uv_run(&r.loop, UV_RUN_NOWAIT);
	/* fini drops them all without callbacks and frees everything (ASan). */
	finish_loop(&r.loop, r.w);
	assert_int_equal(o.calls, 0);
}

static void test_redact(void **state)
{
	static const struct { const char *url, *want; } cases[] = {
		{ "https://hooks.example.org/secret-token", "https://hooks.example.org/<redacted>" },
		{ "https://hooks.example.org", "https://hooks.example.org" },
		{ "https://hooks.example.org/", "https://hooks.example.org" },
		{ "https://hooks.example.org?token=x", "https://hooks.example.org/<redacted>" },
		{ "https://hooks.example.org#frag", "https://hooks.example.org/<redacted>" },
		{ "https://user:pass@hooks.example.org:8443/", "https://hooks.example.org:8443/<redacted>" },
		{ "http://a@b@127.0.0.1:9/x", "http://127.0.0.1:9/<redacted>" },
		{ "http://[::1]:8080/x", "http://[::1]:8080/<redacted>" },
		/* a password with a '/' breaks the authority apart: say nothing */
		{ "https://user:pa/ss@hooks.example.org/", "<redacted URL>" },
		{ "hooks.example.org/token", "<redacted URL>" },
		{ "://x", "<redacted URL>" },
		{ "HTTPS://H/t", "<redacted URL>" },
		{ "", "<redacted URL>" },
	};
	char out[64], tiny[8];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		webhook_redact(cases[i].url, out, sizeof out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].url, out, cases[i].want);
	}
	webhook_redact("https://hooks.example.org/secret", tiny, sizeof tiny);
	assert_string_equal(tiny, "https:/");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retried_until_delivered),
		cmocka_unit_test(test_gives_up_after_retries),
		cmocka_unit_test(test_client_errors_are_final),
		cmocka_unit_test(test_timeout_and_refused_never_name_the_url),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_redact),
	};
	int rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
