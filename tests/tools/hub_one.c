/*
 * hub_one - run the Hub download flow (io/hub.h) and then the download of
 * the file it names (io/fetch.h) on a uv loop, and print the result as one
 * JSON object on stdout: {"hub": {...}, "fetch": {...} | null,
 * "resolves": N}.  For tests/integration/test_hub.py; not installed.
 *
 *   hub_one --url HUB_URL --state-dir DIR --dataset NAME --exec-date D
 *           [--file-name F] [--poll-ms MS] [--deadline-ms MS] [--retries N]
 *           [--update-cache] [--last-hash H] [--timeout MS]
 *           [--resolve-only] [--cancel-after MS]
 *
 * It does what a caller of hub.h should: the result URL is fetched at
 * once and never kept, and a 403 from the file (an expired signature) sends
 * it back to the Hub once for a fresh URL ("resolves" counts the flows).
 * http:// URLs are allowed (the emulator).  SIGTERM/SIGINT or
 * --cancel-after cancel whatever runs.  Exit status: 0 for any outcome, 2
 * for bad usage or a request hub_start or fetch_start refused.
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
#include "io/hub.h"

#define MAX_RESOLVES 2           /* the first, and one after a 403 */

struct tool {
	uv_loop_t *loop;
	struct http *http;
	struct hub_request hreq;
	struct fetch_request freq;
	bool resolve_only;
	struct hub *hub;             /* NULL unless running */
	struct fetch *fetch;         /* NULL unless running */
	json_t *hub_json;
	unsigned resolves;
	uv_signal_t sigterm, sigint;
	uv_timer_t cancel;
};

static void start_hub(struct tool *t);

static void finish(struct tool *t, json_t *fetch_json)
{
	json_t *o = json_pack("{s:O, s:o, s:I}", "hub", t->hub_json,
	                      "fetch", fetch_json ? fetch_json : json_null(),
	                      "resolves", (json_int_t)t->resolves);
	if (o)
		json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
	json_decref(t->hub_json);
	t->hub_json = NULL;
	uv_close((uv_handle_t *)&t->sigterm, NULL);
	uv_close((uv_handle_t *)&t->sigint, NULL);
	uv_close((uv_handle_t *)&t->cancel, NULL);
	http_fini(t->http);
	t->http = NULL;
}

static void on_fetch(struct fetch *f, const struct fetch_result *r, void *arg)
{
	struct tool *t = arg;
	json_t *o;

	(void)f;
	t->fetch = NULL;
	if (r->outcome == FETCH_FAILED && r->http_status == 403 && t->resolves < MAX_RESOLVES) {
		start_hub(t);                /* the signature expired: a fresh URL */
		return;
	}
	o = json_pack("{s:s, s:I, s:s?, s:I, s:s, s:s, s:s?, s:i, s:b}",
	              "outcome", fetch_outcome_name(r->outcome),
	              "http_status", (json_int_t)r->http_status, "path", r->path,
	              "bytes", (json_int_t)r->bytes, "hash", r->hash, "url", r->url,
	              "error", r->error, "err", r->err, "retryable", r->retryable);
	finish(t, o);
}

static void on_hub(struct hub *hb, const struct hub_result *r, void *arg)
{
	struct tool *t = arg;
	char *err = NULL;
	int rc;

	(void)hb;
	t->hub = NULL;
	json_decref(t->hub_json);
	t->hub_json = json_pack("{s:s, s:s?, s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:s?, s:i,"
	                        " s:b, s:I}",
	                        "outcome", hub_outcome_name(r->outcome),
	                        "result_url", r->result_url, "status", r->status,
	                        "record_count", (json_int_t)r->record_count,
	                        "cache_status", r->cache_status,
	                        "polls", (json_int_t)r->polls,
	                        "requests", (json_int_t)r->requests,
	                        "http_status", (json_int_t)r->http_status, "url", r->url,
	                        "error", r->error, "err", r->err, "retryable", r->retryable,
	                        "retry_after_ms", (json_int_t)r->retry_after_ms);
	if (r->outcome != HUB_READY || t->resolve_only) {
		finish(t, NULL);
		return;
	}
	t->freq.url = r->result_url;     /* fetch_start copies it */
	if ((rc = fetch_start(t->http, &t->freq, on_fetch, t, &t->fetch, &err)) < 0) {
		fprintf(stderr, "hub_one: fetch_start: %s\n", err ? err : strerror(-rc));
		free(err);
		exit(2);
	}
}

static void start_hub(struct tool *t)
{
	char *err = NULL;
	int rc;

	t->resolves++;
	if ((rc = hub_start(t->http, &t->hreq, on_hub, t, &t->hub, &err)) < 0) {
		fprintf(stderr, "hub_one: %s\n", err ? err : strerror(-rc));
		free(err);
		exit(2);
	}
}

static void cancel_all(struct tool *t)
{
	if (t->hub)
		hub_cancel(t->hub);
	if (t->fetch)
		fetch_cancel(t->fetch);
}

static void on_signal(uv_signal_t *s, int signum)
{
	(void)signum;
	cancel_all(s->data);
}

static void on_cancel_timer(uv_timer_t *tm)
{
	cancel_all(tm->data);
}

static void usage(void)
{
	fprintf(stderr, "usage: hub_one --url U --state-dir D --dataset N --exec-date D "
	        "[--file-name F] [--poll-ms MS] [--deadline-ms MS] [--retries N] "
	        "[--update-cache] [--last-hash H] [--timeout MS] [--resolve-only] "
	        "[--cancel-after MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", 1, NULL, 'u' }, { "state-dir", 1, NULL, 's' },
		{ "dataset", 1, NULL, 'd' }, { "exec-date", 1, NULL, 'e' },
		{ "file-name", 1, NULL, 'f' }, { "poll-ms", 1, NULL, 'p' },
		{ "deadline-ms", 1, NULL, 'D' }, { "retries", 1, NULL, 'r' },
		{ "update-cache", 0, NULL, 'U' }, { "last-hash", 1, NULL, 'H' },
		{ "timeout", 1, NULL, 'T' }, { "resolve-only", 0, NULL, 'R' },
		{ "cancel-after", 1, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct cfg_fetch lim = {
		.connect_timeout_ms = 5000, .low_speed_limit = 1,
		.low_speed_time_ms = 10000, .timeout_ms = 30000, .max_redirects = 5,
	};
	struct tool t = { 0 };
	uint64_t cancel_after = 0;
	int c, rc;

	t.hreq.limits = &lim;
	t.hreq.allow_http = true;
	t.freq.limits = &lim;
	t.freq.file_name = "data.csv";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long long v = optarg ? strtoull(optarg, NULL, 10) : 0;
		switch (c) {
		case 'u': t.hreq.url = optarg; break;
		case 's': t.freq.state_dir = optarg; break;
		case 'd': t.freq.dataset = optarg; break;
		case 'e': t.freq.exec_date = optarg; break;
		case 'f': t.freq.file_name = optarg; break;
		case 'p': t.hreq.poll_interval_ms = v; break;
		case 'D': t.hreq.deadline_ms = v; break;
		case 'r': t.hreq.retries = (unsigned)v; break;
		case 'U': t.hreq.update_cache = true; break;
		case 'H': t.freq.last_hash = optarg; break;
		case 'T': lim.timeout_ms = v; break;
		case 'R': t.resolve_only = true; break;
		case 'C': cancel_after = v; break;
		default: usage();
		}
	}
	if (!t.hreq.url || !t.freq.state_dir || !t.freq.dataset || !t.freq.exec_date)
		usage();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t.loop = uv_default_loop();
	if ((rc = http_init(t.loop, &t.http)) < 0) {
		fprintf(stderr, "hub_one: http_init: %s\n", strerror(-rc));
		return 2;
	}
	uv_signal_init(t.loop, &t.sigterm);
	uv_signal_init(t.loop, &t.sigint);
	uv_timer_init(t.loop, &t.cancel);
	t.sigterm.data = t.sigint.data = t.cancel.data = &t;
	uv_signal_start(&t.sigterm, on_signal, SIGTERM);
	uv_signal_start(&t.sigint, on_signal, SIGINT);
	start_hub(&t);
	if (cancel_after)
		uv_timer_start(&t.cancel, on_cancel_timer, cancel_after, 0);
	uv_run(t.loop, UV_RUN_DEFAULT);
	uv_loop_close(t.loop);
	curl_global_cleanup();
	return 0;
}
