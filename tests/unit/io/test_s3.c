/* test_s3.c - the S3 client's pieces (io/s3.h, io/s3_int.h): SigV4 URI
 * encoding and the canonical query (which libcurl 7.88 signs as given),
 * the base64 of an MD5, the XML error and listings, the class of an
 * answer, keys; and, on a loopback server (loophttp.h), what a request
 * puts on the wire and that a 503 is sent again. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include "io/http.h"
#include "io/s3.h"
#include "io/s3_creds.h"
#include "io/s3_int.h"
#include "loophttp.h"

static void test_uri_encode(void **state)
{
	char out[128];
	const char *k = "dir/a b+c=\xc3\xa9~_-.x";

	assert_int_equal(s3_uri_encode(k, strlen(k), true, out, sizeof out),
	                 (int)strlen("dir/a%20b%2Bc%3D%C3%A9~_-.x"));
	assert_string_equal(out, "dir/a%20b%2Bc%3D%C3%A9~_-.x");
	s3_uri_encode(k, strlen(k), false, out, sizeof out);
	assert_string_equal(out, "dir%2Fa%20b%2Bc%3D%C3%A9~_-.x");
	s3_uri_encode("", 0, true, out, sizeof out);
	assert_string_equal(out, "");
	/* Too small: refused whole, never cut. */
	assert_int_equal(s3_uri_encode("abc", 3, true, out, 3), -E2BIG);
	assert_int_equal(s3_uri_encode(" ", 1, true, out, 3), -E2BIG);
	assert_int_equal(s3_uri_encode(" ", 1, true, out, 4), 3);
}

static void test_query_build(void **state)
{
	char *q;
	const char *k1[] = { "uploadId", "partNumber" }, *v1[] = { "a/b+c", "3" };
	assert_int_equal(s3_query_build(k1, v1, 2, &q), 0);
	assert_string_equal(q, "partNumber=3&uploadId=a%2Fb%2Bc");
	free(q);
	/* A key without a value is "key=" (what the server signs). */
	const char *k2[] = { "uploads", "prefix" }, *v2[] = { "", "spark/x y" };
	assert_int_equal(s3_query_build(k2, v2, 2, &q), 0);
	assert_string_equal(q, "prefix=spark%2Fx%20y&uploads=");
	free(q);
	const char *k3[] = { "b", "a", "a" }, *v3[] = { NULL, "2", "1" };
	assert_int_equal(s3_query_build(k3, v3, 3, &q), 0);
	assert_string_equal(q, "a=1&a=2&b=");
	free(q);
	assert_int_equal(s3_query_build(NULL, NULL, 0, &q), 0);
	assert_string_equal(q, "");
	free(q);
}

static void test_md5_base64(void **state)
{
	/* MD5("") and MD5("abc") */
	const unsigned char e[16] = { 0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
	                              0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e };
	const unsigned char a[16] = { 0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
	                              0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72 };
	char out[25];
	s3_md5_base64(e, out);
	assert_string_equal(out, "1B2M2Y8AsgTpgAmY7PhCfg==");
	s3_md5_base64(a, out);
	assert_string_equal(out, "kAFQmDzST7DWlj99KOF/cg==");
}

static void test_xml_error(void **state)
{
	const char *body =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
		"<Message>Please reduce &amp; retry &lt;now&gt; &#39;ok&#x27;</Message>"
		"<Resource>/b/k</Resource></Error>";
	char code[S3_CODE_MAX], msg[S3_MSG_MAX];

	assert_true(s3_xml_error(body, strlen(body), code, msg));
	assert_string_equal(code, "SlowDown");
	assert_string_equal(msg, "Please reduce & retry <now> 'ok'");
	assert_false(s3_xml_error("<ListBucketResult/>", 19, code, msg));
	assert_string_equal(code, "");
	assert_false(s3_xml_error("<Error><Code>", 13, code, msg));    /* cut */
	assert_false(s3_xml_error("", 0, code, msg));
	/* A message longer than the cap is cut, not overrun. */
	char big[2 * S3_MSG_MAX + 64];
	int n = snprintf(big, sizeof big, "<Error><Code>X</Code><Message>");
	memset(big + n, 'm', S3_MSG_MAX + 10);
	snprintf(big + n + S3_MSG_MAX + 10, sizeof big - (size_t)n - S3_MSG_MAX - 10,
	         "</Message></Error>");
	assert_true(s3_xml_error(big, strlen(big), code, msg));
	assert_int_equal(strlen(msg), S3_MSG_MAX - 1);
}

static void test_classify(void **state)
{
	static const struct { long st; const char *code; enum s3_class want; } t[] = {
		{ 200, "", S3_OK }, { 206, "", S3_OK }, { 204, NULL, S3_OK },
		{ 0, "Network", S3_RETRYABLE }, { 500, "InternalError", S3_RETRYABLE },
		{ 503, "SlowDown", S3_RETRYABLE }, { 502, "", S3_RETRYABLE },
		{ 400, "RequestTimeout", S3_RETRYABLE }, { 429, "", S3_RETRYABLE },
		{ 403, "AccessDenied", S3_PERMANENT }, { 403, "SignatureDoesNotMatch", S3_PERMANENT },
		{ 403, "InvalidAccessKeyId", S3_PERMANENT }, { 400, "BadDigest", S3_PERMANENT },
		{ 404, "NoSuchBucket", S3_PERMANENT }, { 404, "NoSuchKey", S3_NOT_FOUND },
		{ 404, "NoSuchUpload", S3_NOT_FOUND }, { 404, "", S3_NOT_FOUND },
		{ 412, "PreconditionFailed", S3_PRECONDITION },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		enum s3_class c = s3_classify(t[i].st, t[i].code);
		if (c != t[i].want)
			fail_msg("%ld %s: %s, want %s", t[i].st, t[i].code ? t[i].code : "(null)",
			         s3_class_name(c), s3_class_name(t[i].want));
	}
}

static void test_listings(void **state)
{
	const char *objs =
		"<ListBucketResult><Name>b</Name><Prefix>p/</Prefix>"
		"<Contents><Key>p/a&amp;b.csv</Key><LastModified>2026-12-01T00:00:00.000Z"
		"</LastModified><ETag>&quot;0682dcf10486ae4f89f58f4c121dcc97&quot;</ETag>"
		"<Size>3000000</Size></Contents>"
		"<Contents><Key>p/c</Key><ETag>\"x-2\"</ETag><Size>0</Size></Contents>"
		"<IsTruncated>true</IsTruncated><NextContinuationToken>t/1=</NextContinuationToken>"
		"</ListBucketResult>";
	const char *ups =
		"<ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker></KeyMarker>"
		"<Upload><Key>p/x</Key><UploadId>U1</UploadId><Initiator><ID>i</ID></Initiator>"
		"<Initiated>2026-12-01T23:20:00Z</Initiated></Upload>"
		"<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
	struct s3x_listing l;

	assert_int_equal(s3x_list(objs, strlen(objs), false, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.entries[0].key, "p/a&b.csv");
	assert_string_equal(l.entries[0].etag, "0682dcf10486ae4f89f58f4c121dcc97");
	assert_int_equal(l.entries[0].size, 3000000);
	assert_string_equal(l.entries[0].time, "2026-12-01T00:00:00.000Z");
	assert_string_equal(l.entries[1].etag, "x-2");
	assert_true(l.truncated);
	assert_string_equal(l.next, "t/1=");
	s3x_list_free(&l);
	assert_int_equal(s3x_list(ups, strlen(ups), true, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.entries[0].key, "p/x");
	assert_string_equal(l.entries[0].upload_id, "U1");
	assert_string_equal(l.entries[0].time, "2026-12-01T23:20:00Z");
	assert_false(l.truncated);
	assert_string_equal(l.next, "");
	s3x_list_free(&l);
	assert_int_equal(s3x_list("", 0, false, &l), 0);
	assert_int_equal(l.n, 0);
	s3x_list_free(&l);
}

static void test_client_keys_and_refusals(void **state)
{
	struct s3_options o = { .endpoint = "http://127.0.0.1:9/", .bucket = "bk1",
	                        .prefix = "/den/verd/", .access_key = "AK",
	                        .secret_key = "SECRET-never-shown", .path_style = true };
	struct s3_client *c;
	char *err = NULL, *k;

	assert_int_equal(s3_client_new(NULL, &o, &c, &err), 0);
	assert_string_equal(s3_client_prefix(c), "den/verd");
	assert_int_equal(s3_key(c, "staging/x", &k), 0);
	assert_string_equal(k, "den/verd/staging/x");
	free(k);
	assert_int_equal(s3_key(c, "/abs", &k), -EINVAL);
	assert_int_equal(s3_uri(c, "a/b", &k), 0);
	assert_string_equal(k, "s3://bk1/a/b");
	free(k);
	s3_client_free(c);

	const struct s3_options bad[] = {
		{ .endpoint = "ftp://x", .bucket = "bk1", .access_key = "AK", .secret_key = "S" },
		{ .endpoint = "http://x/path", .bucket = "bk1", .access_key = "AK", .secret_key = "S" },
		{ .endpoint = "http://x", .bucket = "B!", .access_key = "AK", .secret_key = "S" },
		{ .endpoint = "http://x", .bucket = "bk1", .access_key = "AK",
		  .secret_key = "" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(s3_client_new(NULL, &bad[i], &c, &err), -EINVAL);
		assert_non_null(err);
		assert_null(strstr(err, "SECRET"));
		free(err);
	}
}

/* ---- credentials ---- */

static char *write_creds(const char *text, int mode)
{
	char *path = strdup("/tmp/test_s3_creds.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, (mode_t)mode);
	close(fd);
	return path;
}

static void test_credentials_file(void **state)
{
	struct s3_creds c;
	char *err = NULL;
	char *p = write_creds("# comment\n[other]\naws_access_key_id = OTHER\n"
	                      "aws_secret_access_key = other-secret\n\n[default]\n"
	                      "aws_access_key_id=AK\n aws_secret_access_key =  s3cr3t-value \n"
	                      "region = us-west-2\naws_session_token = TOK\n", 0600);

	assert_int_equal(s3_creds_load(p, &c, &err), 0);
	assert_string_equal(c.access_key, "AK");        /* [default] over the first */
	assert_string_equal(c.secret_key, "s3cr3t-value");
	assert_string_equal(c.session_token, "TOK");
	s3_creds_clear(&c);
	assert_null(c.secret_key);
	unlink(p);
	free(p);

	/* Readable by others, a bad line, a missing secret: refused by name,
	 * the value never in the message. */
	static const struct { const char *text; int mode; const char *words; } bad[] = {
		{ "aws_access_key_id=AK\naws_secret_access_key=s3cr3t-value\n", 0644,
		  "readable by others" },
		{ "aws_access_key_id=AK\ns3cr3t-value\n", 0600, ":2: expected name = value" },
		{ "aws_access_key_id=AK\n", 0600, "no aws_access_key_id and aws_secret_access_key" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		p = write_creds(bad[i].text, bad[i].mode);
		assert_int_equal(s3_creds_load(p, &c, &err), -EINVAL);
		assert_non_null(err);
		if (!strstr(err, bad[i].words) || !strstr(err, p) || strstr(err, "s3cr3t"))
			fail_msg("%zu: %s", i, err);
		assert_null(c.access_key);
		free(err);
		unlink(p);
		free(p);
	}
	/* A credential name without $CREDENTIALS_DIRECTORY. */
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(s3_creds_load("denverd-s3", &c, &err), -EINVAL);
	assert_non_null(strstr(err, "CREDENTIALS_DIRECTORY"));
	free(err);
	/* The environment. */
	setenv("AWS_ACCESS_KEY_ID", "EAK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(s3_creds_load(NULL, &c, &err), 0);
	assert_string_equal(c.secret_key, "env-secret");
	assert_null(c.session_token);
	s3_creds_clear(&c);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(s3_creds_load(NULL, &c, &err), -EINVAL);
	assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
	free(err);
}

/* ---- on the wire ---- */

struct got {
	int calls;
	enum s3_class cls;
	unsigned attempts;
	long status;
	char message[256];
};

static void on_done(void *arg, const struct s3_result *r)
{
	struct got *g = arg;
	g->calls++;
	g->cls = r->cls;
	g->attempts = r->attempts;
	g->status = r->status;
	snprintf(g->message, sizeof g->message, "%s", r->message);
}

static void test_put_on_the_wire_and_a_503_again(void **state)
{
	static const int script[] = { 503, 200 };
	uv_loop_t loop;
	struct srv srv = { 0 };
	struct http *h;
	struct s3_client *c;
	struct got g = { 0 };
	char ep[64], *err = NULL;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(srv_start(&loop, &srv, script, 2), 0);
	assert_int_equal(http_init(&loop, &h), 0);
	snprintf(ep, sizeof ep, "http://127.0.0.1:%d", srv.port);
	struct s3_options o = { .endpoint = ep, .bucket = "bk1", .access_key = "AKID",
	                        .secret_key = "SECRET-never-shown", .session_token = "TOK",
	                        .path_style = true, .retry_delay_ms = 10,
	                        .retry_max_delay_ms = 20 };
	assert_int_equal(s3_client_new(h, &o, &c, &err), 0);
	struct s3_request rq = { .op = S3_UPLOAD_PART, .key = "p/a b", .upload_id = "U/1",
	                         .part_number = 7, .body = "hello", .body_len = 5,
	                         .content_md5 = "XUFAKrxLKna5cZ2REBfFkg==" };
	assert_int_equal(s3_send(c, &rq, on_done, &g, NULL), 0);
	assert_int_equal(g.calls, 0);                    /* never from inside */
	uint64_t until = uv_now(&loop) + 10000;
	while (g.calls == 0 && uv_now(&loop) < until)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(g.cls, S3_OK);
	assert_int_equal(g.attempts, 2);
	assert_int_equal(srv.requests, 2);
	const char *head = srv.head[1];
	assert_non_null(strstr(head, "PUT /bk1/p/a%20b?partNumber=7&uploadId=U%2F1 HTTP/1.1"));
	assert_non_null(strstr(head, "x-amz-content-sha256: UNSIGNED-PAYLOAD"));
	assert_non_null(strstr(head, "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="));
	assert_non_null(strstr(head, "x-amz-security-token: TOK"));
	assert_non_null(strstr(head, "Credential=AKID/"));
	assert_non_null(strstr(head, "content-md5"));    /* signed */
	assert_null(strstr(head, "SECRET"));
	assert_string_equal(srv.body[1], "hello");
	s3_client_free(c);
	http_fini(h);
	uv_walk(&loop, loophttp_close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_query_build),
		cmocka_unit_test(test_md5_base64),
		cmocka_unit_test(test_xml_error),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_listings),
		cmocka_unit_test(test_client_keys_and_refusals),
		cmocka_unit_test(test_credentials_file),
		cmocka_unit_test(test_put_on_the_wire_and_a_503_again),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
