/*
 * fetch_one - run one fetch (daemon/fetch.c) on a uv loop and print its
 * outcome as one JSON object on stdout.  For the integration tests and the
 * benchmark; not installed.
 *
 *   fetch_one --url URL --state-dir DIR --dataset NAME --exec-date D
 *             [--file-name F] [--etag E] [--last-modified LM] [--last-hash H]
 *             [--force] [--allow-file-urls] [--connect-timeout MS]
 *             [--low-speed-limit BYTES] [--low-speed-time MS] [--timeout MS]
 *             [--max-redirects N] [--progress-ms MS] [--lag] [--parallel N]
 *
 * --url may hold {year} {month} {day} {exec_date}.  SIGTERM/SIGINT cancel
 * the fetch (the .part is kept).  --progress-ms prints one JSON progress
 * line to stderr every MS.  --lag runs a 1 ms timer beside the fetch and
 * adds "max_loop_lag_ms" to the result: the longest the loop thread was
 * late, i.e. how long a control request could have waited.  --parallel N
 * runs N fetches of the URL at once through the one struct http, as
 * datasets <dataset>1 .. <dataset>N, and prints N lines (in that order).
 * --s3-endpoint URL --s3-bucket B [--s3-prefix P] [--part-size BYTES]
 * streams the body into S3 instead of state_dir (io/fetch_s3.c; the
 * credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); no resume.
 * Exit status: 0 for any outcome, 2 for bad usage
 * or a request fetch_start refused.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "io/fetch.h"
#include "io/http.h"
#include "io/s3.h"

#define MAX_PARALLEL 16

struct tool;

struct slot {
	struct tool *t;
	struct fetch *fetch;        /* NULL once done */
	json_t *result;
	char name[80];
};

struct tool {
	uv_loop_t *loop;
	struct http *http;
	struct s3_client *s3;
	struct slot slots[MAX_PARALLEL];
	unsigned n, running;
	uv_signal_t sigterm, sigint;
	uv_timer_t progress, lag;
	int64_t lag_due, lag_max;   /* ms, uv_now based */
};

static void close_all(struct tool *t)
{
	uv_close((uv_handle_t *)&t->sigterm, NULL);
	uv_close((uv_handle_t *)&t->sigint, NULL);
	uv_close((uv_handle_t *)&t->progress, NULL);
	uv_close((uv_handle_t *)&t->lag, NULL);
	s3_client_free(t->s3);
	t->s3 = NULL;
	http_fini(t->http);
	t->http = NULL;
}

static void on_done(struct fetch *f, const struct fetch_result *r, void *arg)
{
	struct slot *sl = arg;
	struct tool *t = sl->t;
	sl->fetch = NULL;
	sl->result = json_pack("{s:s, s:I, s:s?, s:I, s:s, s:s?, s:s?, s:s, s:I,"
	                      " s:s?, s:i, s:b, s:I}",
	                      "outcome", fetch_outcome_name(r->outcome),
	                      "http_status", (json_int_t)r->http_status,
	                      "path", r->path,
	                      "bytes", (json_int_t)r->bytes,
	                      "hash", r->hash,
	                      "etag", r->etag,
	                      "last_modified", r->last_modified,
	                      "url", r->url,
	                      "resumed_from", (json_int_t)r->resumed_from,
	                      "error", r->error,
	                      "err", r->err,
	                      "retryable", r->retryable,
	                      "retry_after_ms", (json_int_t)r->retry_after_ms);
	if (sl->result && t->lag_due)
		json_object_set_new(sl->result, "max_loop_lag_ms", json_integer(t->lag_max));
	if (--t->running == 0)
		close_all(t);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct tool *t = s->data;
	for (unsigned i = 0; i < t->n; i++)
		if (t->slots[i].fetch)
			fetch_cancel(t->slots[i].fetch);
}

static void on_progress(uv_timer_t *tm)
{
	struct tool *t = tm->data;
	struct fetch_progress p;
	for (unsigned i = 0; i < t->n; i++) {
		if (!t->slots[i].fetch)
			continue;
		fetch_progress(t->slots[i].fetch, &p);
		fprintf(stderr, "{\"progress\": {\"dataset\": \"%s\", \"bytes\": %llu,"
		        " \"total\": %lld, \"rate\": %llu, \"resumed_from\": %llu}}\n",
		        t->slots[i].name, (unsigned long long)p.bytes, (long long)p.total,
		        (unsigned long long)p.rate, (unsigned long long)p.resumed_from);
	}
}

static void on_lag(uv_timer_t *tm)
{
	struct tool *t = tm->data;
	int64_t now;
	uv_update_time(t->loop);
	now = (int64_t)uv_now(t->loop);
	if (now - t->lag_due > t->lag_max)
		t->lag_max = now - t->lag_due;
	t->lag_due = now + 1;
}

static int usage(const char *msg)
{
	fprintf(stderr, "fetch_one: %s\nusage: fetch_one --url URL --state-dir DIR"
	        " --dataset NAME --exec-date YYYY-MM-DD [--file-name F] [--etag E]"
	        " [--last-modified LM] [--last-hash H] [--force] [--allow-file-urls]"
	        " [--connect-timeout MS] [--low-speed-limit BYTES] [--low-speed-time MS]"
	        " [--timeout MS] [--max-redirects N] [--progress-ms MS] [--lag]"
	        " [--parallel N]\n", msg);
	return 2;
}

static int num(const char *s, unsigned long long *v)
{
	char *end;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno || end == s || *end) ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "dataset", required_argument, NULL, 'd' },
		{ "exec-date", required_argument, NULL, 'e' },
		{ "file-name", required_argument, NULL, 'f' },
		{ "etag", required_argument, NULL, 'E' },
		{ "last-modified", required_argument, NULL, 'L' },
		{ "last-hash", required_argument, NULL, 'H' },
		{ "force", no_argument, NULL, 'F' },
		{ "allow-file-urls", no_argument, NULL, 'A' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "low-speed-limit", required_argument, NULL, 'l' },
		{ "low-speed-time", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-redirects", required_argument, NULL, 'r' },
		{ "progress-ms", required_argument, NULL, 'p' },
		{ "lag", no_argument, NULL, 'g' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "s3-endpoint", required_argument, NULL, '1' },
		{ "s3-bucket", required_argument, NULL, '2' },
		{ "s3-prefix", required_argument, NULL, '3' },
		{ "part-size", required_argument, NULL, '4' },
		{ 0 },
	};
	struct cfg_fetch lim = {
		.connect_timeout_ms = 30000, .low_speed_limit = 1024,
		.low_speed_time_ms = 60000, .timeout_ms = 6 * 3600 * 1000ULL,
		.max_redirects = 5,
	};
	struct fetch_request req = { .limits = &lim };
	struct tool t = { 0 };
	const char *tmpl = NULL;
	unsigned long long v = 0, progress_ms = 0, parallel = 1;
	bool lag = false;
	struct s3_options so = { .path_style = true };
	unsigned long long part_size = 8ull << 20;
	char *url = NULL, *err = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool is_num = strchr("cltTrpP4", c) != NULL;
		if (is_num && num(optarg, &v) < 0)
			return usage("bad number");
		switch (c) {
		case 'u': tmpl = optarg; break;
		case 's': req.state_dir = optarg; break;
		case 'd': req.dataset = optarg; break;
		case 'e': req.exec_date = optarg; break;
		case 'f': req.file_name = optarg; break;
		case 'E': req.etag = optarg; break;
		case 'L': req.last_modified = optarg; break;
		case 'H': req.last_hash = optarg; break;
		case 'F': req.force = true; break;
		case 'A': req.allow_file_urls = true; break;
		case 'c': lim.connect_timeout_ms = v; break;
		case 'l': lim.low_speed_limit = v; break;
		case 't': lim.low_speed_time_ms = v; break;
		case 'T': lim.timeout_ms = v; break;
		case 'r': lim.max_redirects = (unsigned)v; break;
		case 'p': progress_ms = v; break;
		case 'g': lag = true; break;
		case 'P': parallel = v; break;
		case '1': so.endpoint = optarg; break;
		case '2': so.bucket = optarg; break;
		case '3': so.prefix = optarg; break;
		case '4': part_size = v; break;
		default: return usage("bad option");
		}
	}
	if (!tmpl || !req.state_dir || !req.dataset || !req.exec_date)
		return usage("--url, --state-dir, --dataset and --exec-date are required");
	if (parallel < 1 || parallel > MAX_PARALLEL)
		return usage("--parallel must be 1..16");
	if ((rc = fetch_url_expand(tmpl, req.exec_date, &url, NULL)) < 0)
		return usage("bad URL template or exec date");
	req.url = url;
	if (!req.file_name) {
		const char *slash = strrchr(url, '/');
		req.file_name = slash && slash[1] ? slash + 1 : "download";
	}
	/* A write past RLIMIT_FSIZE must fail with EFBIG, not kill us; the
	 * daemon ignores SIGXFSZ for the same reason. */
	signal(SIGXFSZ, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t.loop = uv_default_loop();
	if ((rc = http_init(t.loop, &t.http)) < 0) {
		fprintf(stderr, "fetch_one: http_init: %s\n", strerror(-rc));
		return 1;
	}
	if (so.endpoint) {
		so.access_key = getenv("AWS_ACCESS_KEY_ID");
		so.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
		so.session_token = getenv("AWS_SESSION_TOKEN");
		if (s3_client_new(t.http, &so, &t.s3, &err) < 0) {
			fprintf(stderr, "fetch_one: %s\n", err ? err : "out of memory");
			return 2;
		}
		req.s3 = t.s3;
		req.part_size = part_size;
	}
	uv_signal_init(t.loop, &t.sigterm);
	uv_signal_init(t.loop, &t.sigint);
	uv_timer_init(t.loop, &t.progress);
	uv_timer_init(t.loop, &t.lag);
	t.sigterm.data = t.sigint.data = t.progress.data = t.lag.data = &t;
	uv_signal_start(&t.sigterm, on_signal, SIGTERM);
	uv_signal_start(&t.sigint, on_signal, SIGINT);
	const char *base = req.dataset;
	for (t.n = 0; t.n < parallel; t.n++) {
		struct slot *sl = &t.slots[t.n];
		sl->t = &t;
		snprintf(sl->name, sizeof sl->name, "%s", base);
		if (parallel > 1)
			snprintf(sl->name, sizeof sl->name, "%.64s%u", base, t.n + 1);
		req.dataset = sl->name;
		if ((rc = fetch_start(t.http, &req, on_done, sl, &sl->fetch, &err)) < 0)
			break;
		t.running++;
	}
	if (rc < 0) {
		fprintf(stderr, "fetch_one: %s\n", err ? err : strerror(-rc));
		free(err);
		for (unsigned i = 0; i < t.n; i++)
			fetch_cancel(t.slots[i].fetch);
		if (t.running == 0)
			close_all(&t);
		uv_run(t.loop, UV_RUN_DEFAULT);
		uv_loop_close(t.loop);
		curl_global_cleanup();
		free(url);
		return 2;
	}
	if (progress_ms)
		uv_timer_start(&t.progress, on_progress, progress_ms, progress_ms);
	if (lag) {
		t.lag_due = (int64_t)uv_now(t.loop) + 1;
		uv_timer_start(&t.lag, on_lag, 1, 1);
	}
	uv_run(t.loop, UV_RUN_DEFAULT);
	rc = 0;
	for (unsigned i = 0; i < t.n; i++) {
		char *s = t.slots[i].result ? json_dumps(t.slots[i].result, JSON_COMPACT) : NULL;
		if (s)
			printf("%s\n", s);
		else
			rc = 1;
		free(s);
		json_decref(t.slots[i].result);
	}
	uv_loop_close(t.loop);
	curl_global_cleanup();
	free(url);
	return rc;
}
