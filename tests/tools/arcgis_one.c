/*
 * arcgis_one - run one ArcGIS snapshot (io/arcgis.h) on a uv loop and print
 * its result as one JSON object on stdout.  For tests/integration/
 * test_arcgis.py; not installed.
 *
 *   arcgis_one --url LAYER_URL --state-dir DIR --dataset NAME --exec-date D
 *              [--file-name F] [--zone Z] [--where W] [--page-size N]
 *              [--last STAMP] [--force] [--retries N] [--retry-delay MS]
 *              [--rate-wait MS] [--max-bytes N] [--timeout MS]
 *              [--cancel-after MS] [--min-page-size N]
 *
 * http:// URLs are allowed (the emulator).  SIGTERM/SIGINT cancel the
 * snapshot (the .part and its sidecar stay); --cancel-after does the same
 * after MS.  "validator" in the output is the stamp as arcgis_stamp_format
 * writes it, for the next run's --last.  Exit status: 0 for any outcome, 2
 * for bad usage or a request arcgis_start refused.
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

#include "io/arcgis.h"
#include "io/http.h"

struct tool {
	uv_loop_t *loop;
	struct http *http;
	struct arcgis *a;
	uv_signal_t sigterm, sigint;
	uv_timer_t cancel;
};

static void on_done(struct arcgis *a, const struct arcgis_result *r, void *arg)
{
	struct tool *t = arg;
	char validator[ARCGIS_STAMP_MAX];
	json_t *o;

	(void)a;
	t->a = NULL;
	arcgis_stamp_format(&r->stamp, validator, sizeof validator);
	o = json_pack("{s:s, s:s?, s:I, s:s, s:I, s:I, s:I, s:I, s:b, s:s, s:I, s:I, s:s,"
	              " s:s, s:s?, s:i, s:b, s:I, s:I, s:I}",
	              "outcome", arcgis_outcome_name(r->outcome), "path", r->path,
	              "bytes", (json_int_t)r->bytes, "hash", r->hash,
	              "rows", (json_int_t)r->rows, "pages", (json_int_t)r->pages,
	              "requests", (json_int_t)r->requests,
	              "request_bytes", (json_int_t)r->request_bytes,
	              "metadata_only", r->metadata_only, "validator", validator,
	              "data_edit_ms", (json_int_t)r->stamp.data_edit_ms,
	              "count", (json_int_t)r->stamp.count, "digest", r->stamp.digest,
	              "url", r->url, "error", r->error, "err", r->err,
	              "retryable", r->retryable, "retry_after_ms", (json_int_t)r->retry_after_ms,
	              "page_size", (json_int_t)r->page_size,
	              "halvings", (json_int_t)r->halvings);
	if (o)
		json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(o);
	uv_close((uv_handle_t *)&t->sigterm, NULL);
	uv_close((uv_handle_t *)&t->sigint, NULL);
	uv_close((uv_handle_t *)&t->cancel, NULL);
	http_fini(t->http);
	t->http = NULL;
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct tool *t = s->data;
	(void)signum;
	if (t->a)
		arcgis_cancel(t->a);
}

static void on_cancel_timer(uv_timer_t *tm)
{
	struct tool *t = tm->data;
	if (t->a)
		arcgis_cancel(t->a);
}

static void usage(void)
{
	fprintf(stderr, "usage: arcgis_one --url U --state-dir D --dataset N --exec-date D "
	        "[--file-name F] [--zone Z] [--where W] [--page-size N] [--last STAMP] "
	        "[--force] [--retries N] [--retry-delay MS] [--rate-wait MS] "
	        "[--max-bytes N] [--timeout MS] [--cancel-after MS] [--min-page-size N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", 1, NULL, 'u' }, { "state-dir", 1, NULL, 's' },
		{ "dataset", 1, NULL, 'd' }, { "exec-date", 1, NULL, 'e' },
		{ "file-name", 1, NULL, 'f' }, { "zone", 1, NULL, 'z' },
		{ "where", 1, NULL, 'w' }, { "page-size", 1, NULL, 'p' },
		{ "last", 1, NULL, 'L' }, { "force", 0, NULL, 'F' },
		{ "retries", 1, NULL, 'r' }, { "retry-delay", 1, NULL, 'R' },
		{ "rate-wait", 1, NULL, 'W' }, { "max-bytes", 1, NULL, 'm' },
		{ "timeout", 1, NULL, 'T' }, { "cancel-after", 1, NULL, 'C' },
		{ "min-page-size", 1, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct cfg_fetch lim = {
		.connect_timeout_ms = 5000, .low_speed_limit = 1,
		.low_speed_time_ms = 10000, .timeout_ms = 30000, .max_redirects = 5,
	};
	struct arcgis_request req = {
		.date_zone = "America/Denver", .file_name = "data.csv", .limits = &lim,
		.allow_http = true,
	};
	struct arcgis_stamp last;
	uint64_t cancel_after = 0;
	struct tool t = { 0 };
	char *err = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long long v = optarg ? strtoull(optarg, NULL, 10) : 0;
		switch (c) {
		case 'u': req.layer_url = optarg; break;
		case 's': req.state_dir = optarg; break;
		case 'd': req.dataset = optarg; break;
		case 'e': req.exec_date = optarg; break;
		case 'f': req.file_name = optarg; break;
		case 'z': req.date_zone = optarg; break;
		case 'w': req.where = optarg; break;
		case 'p': req.page_size = (unsigned)v; break;
		case 'L':
			if (arcgis_stamp_parse(optarg, &last) < 0)
				usage();
			req.last = &last;
			break;
		case 'F': req.force = true; break;
		case 'r': req.retries = (unsigned)v; break;
		case 'R': req.retry_delay_ms = v; break;
		case 'W': req.rate_limit_wait_ms = v; break;
		case 'm': req.max_bytes = v; break;
		case 'T': lim.timeout_ms = v; break;
		case 'C': cancel_after = v; break;
		case 'P': req.min_page_size = (unsigned)v; break;
		default: usage();
		}
	}
	if (!req.layer_url || !req.state_dir || !req.dataset || !req.exec_date)
		usage();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t.loop = uv_default_loop();
	if ((rc = http_init(t.loop, &t.http)) < 0) {
		fprintf(stderr, "arcgis_one: http_init: %s\n", strerror(-rc));
		return 2;
	}
	uv_signal_init(t.loop, &t.sigterm);
	uv_signal_init(t.loop, &t.sigint);
	uv_timer_init(t.loop, &t.cancel);
	t.sigterm.data = t.sigint.data = t.cancel.data = &t;
	uv_signal_start(&t.sigterm, on_signal, SIGTERM);
	uv_signal_start(&t.sigint, on_signal, SIGINT);
	if ((rc = arcgis_start(t.http, &req, on_done, &t, &t.a, &err)) < 0) {
		fprintf(stderr, "arcgis_one: %s\n", err ? err : strerror(-rc));
		free(err);
		return 2;
	}
	if (cancel_after)
		uv_timer_start(&t.cancel, on_cancel_timer, cancel_after, 0);
	uv_run(t.loop, UV_RUN_DEFAULT);
	uv_loop_close(t.loop);
	curl_global_cleanup();
	return 0;
}
