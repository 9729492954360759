/*
 * metrics.c - Prometheus text rendering of the store's aggregates, the
 * configuration's SLAs and the process's own figures.
 *
 * Everything about runs, fetches and checks is read from the store at each
 * scrape, so the numbers survive restarts and always agree with `denverctl
 * runs`; counters only fall when old rows are pruned, which Prometheus
 * treats as a reset.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "api/control.h"
#include "base/denverd.h"
#include "domain/config_types.h"
#include "denverd/protocol.h"
#include "base/log.h"
#include "api/metrics.h"
#include "store/store.h"
#include "version.h"

/* The output: a buf (buf.h) capped at METRICS_MAX_TEXT, NUL included. */
static void text_init(struct buf *t)
{
	buf_init(t, 4096, METRICS_MAX_TEXT - 1);
}

/* A label value with \ " and newline escaped, as the format requires. */
static void put_label_value(struct buf *t, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '\\': buf_printf(t, "\\\\"); break;
		case '"':  buf_printf(t, "\\\""); break;
		case '\n': buf_printf(t, "\\n"); break;
		default:   buf_printf(t, "%c", *v); break;
		}
	}
}

static void put_header(struct buf *t, const char *name, const char *type,
                       const char *help)
{
	buf_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_sample(struct buf *t, const char *name, const char *const *keys,
                       const char *const *values, int n, double value)
{
	buf_printf(t, "%s", name);
	for (int i = 0; i < n; i++) {
		buf_printf(t, "%s%s=\"", i ? "," : "{", keys[i]);
		put_label_value(t, values[i]);
		buf_printf(t, "\"");
	}
	buf_printf(t, "%s %.15g\n", n ? "}" : "", value);
}

/* Metric families answered by one store query each. */
static const struct family {
	const char *name, *type, *help;
	enum store_metric query;
	const char *labels[STORE_METRIC_MAX_LABELS];
	double scale;                  /* 1e-3 turns the store's ms into s */
} families[] = {
	{ "denverd_runs", "gauge",
	  "Runs recorded in the store, by target (dataset or job), kind and state.",
	  STORE_METRIC_RUNS, { "target", "kind", "state" }, 1 },
	{ "denverd_last_success_timestamp_seconds", "gauge",
	  "When the dataset's last succeeded or unchanged run ended: its data was "
	  "current then.",
	  STORE_METRIC_LAST_OK, { "dataset" }, 1e-3 },
	{ "denverd_snapshot_rows", "gauge",
	  "Data rows of the dataset's newest snapshot that was not quarantined.",
	  STORE_METRIC_SNAPSHOT_ROWS, { "dataset" }, 1 },
	{ "denverd_snapshot_bytes", "gauge",
	  "Size of the dataset's newest snapshot that was not quarantined.",
	  STORE_METRIC_SNAPSHOT_BYTES, { "dataset" }, 1 },
	{ "denverd_fetched_bytes_total", "counter",
	  "Bytes of all snapshots fetched (an unchanged source adds nothing).",
	  STORE_METRIC_FETCH_BYTES, { "dataset" }, 1 },
	{ "denverd_fetch_attempts_total", "counter",
	  "Fetch attempts by outcome.",
	  STORE_METRIC_FETCHES, { "dataset", "outcome" }, 1 },
	{ "denverd_fetch_duration_seconds", "gauge",
	  "Duration of the dataset's last successful fetch attempt.",
	  STORE_METRIC_FETCH_DURATION, { "dataset" }, 1e-3 },
	{ "denverd_check_results_total", "counter",
	  "Data-quality check results by outcome (pass, warn, fail).",
	  STORE_METRIC_CHECKS, { "dataset", "check", "outcome" }, 1 },
	{ "denverd_dataset_paused", "gauge",
	  "1 while the dataset's schedule is paused.",
	  STORE_METRIC_PAUSED, { "dataset" }, 1 },
	{ "denverd_tasks", "gauge",
	  "Tasks of unfinished runs: queued (waiting for a slot or for an "
	  "earlier task of their run) and running.",
	  STORE_METRIC_TASKS, { "state" }, 1 },
	{ "denverd_alert_firing", "gauge",
	  "1 while an alert is firing, 0 once it has recovered.",
	  STORE_METRIC_ALERTS_FIRING, { "dataset", "reason" }, 1 },
};

struct row_ctx {
	struct buf *t;
	const struct family *f;
};

static int on_row(void *arg, const struct store_metric_row *row)
{
	struct row_ctx *c = arg;
	put_sample(c->t, c->f->name, c->f->labels, row->labels, row->n_labels,
	           row->value * c->f->scale);
	return c->t->err;
}

int metrics_rss(unsigned long long *bytes)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "re");
	int rc = 0;

	if (!f)
		return -errno;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		rc = -EIO;
	else
		*bytes = resident * (unsigned long long)sysconf(_SC_PAGESIZE);
	fclose(f);
	return rc;
}

static void put_process(struct buf *t, const struct denverd *d)
{
	static const char *const version_key[] = { "version" };
	static const char *const version_value[] = { DENVERD_VERSION };
	unsigned long long rss;

	put_header(t, "denverd_build_info", "gauge", "Version of the running denverd.");
	put_sample(t, "denverd_build_info", version_key, version_value, 1, 1);
	put_header(t, "process_start_time_seconds", "gauge",
	           "Start time of the process since the Unix epoch.");
	put_sample(t, "process_start_time_seconds", NULL, NULL, 0, d->started_ms / 1e3);
	put_header(t, "denverd_uptime_seconds", "gauge", "Seconds since denverd started.");
	put_sample(t, "denverd_uptime_seconds", NULL, NULL, 0,
	           (clock_now_ms() - d->started_ms) / 1e3);
	if (metrics_rss(&rss) == 0) {
		put_header(t, "process_resident_memory_bytes", "gauge",
		           "Resident memory size of denverd (not of its jobs).");
		put_sample(t, "process_resident_memory_bytes", NULL, NULL, 0, (double)rss);
	}
}

static void put_config(struct buf *t, const struct config *cfg)
{
	static const char *const key[] = { "dataset" };

	put_header(t, "denverd_dataset_max_age_seconds", "gauge",
	           "The dataset's freshness SLA (max_age); datasets without one "
	           "are not listed.");
	for (size_t i = 0; i < cfg->n_datasets; i++) {
		const struct cfg_dataset *ds = &cfg->datasets[i];
		const char *name[] = { ds->name };
		if (ds->max_age_ms)
			put_sample(t, "denverd_dataset_max_age_seconds", key, name, 1,
			           ds->max_age_ms / 1e3);
	}
}

/* The store families from ST into T: 0, -EIO (store_errmsg(ST) says why)
 * or the first error of T. */
static int put_store(struct buf *t, struct store *st)
{
	for (size_t i = 0; i < sizeof families / sizeof families[0] && !t->err; i++) {
		struct row_ctx c = { t, &families[i] };
		int rc;
		put_header(t, families[i].name, families[i].type, families[i].help);
		if ((rc = store_metric_rows(st, families[i].query, on_row, &c)) < 0)
			return rc;
	}
	return t->err;
}

int metrics_text(struct denverd *d, char **out, size_t *len)
{
	struct buf t;
	int rc;

	*out = NULL;
	*len = 0;
	text_init(&t);
	put_process(&t, d);
	if (d->cfg)
		put_config(&t, d->cfg);
	if ((rc = put_store(&t, d->store)) < 0 || (rc = t.err) < 0) {
		free(t.p);
		return rc;
	}
	*out = t.p;
	*len = t.len;
	return 0;
}

/* ---- the `metrics` command ----
 *
 * The store families aggregate the whole history: a few milliseconds for
 * Denver's two datasets, but about half a second for 100,000 runs, which
 * must not stall the loop.  So a scrape renders them on the loop only while
 * that is cheap (the last rendering took at most sync_limit_ms); otherwise
 * it answers from the last rendering done by a worker thread on its own
 * read-only connection, and starts a new one when that is older than
 * refresh_ms.  denverd_metrics_store_age_seconds says how old they are.
 */
struct metrics {
	struct denverd *d;
	struct store *reader;          /* the worker's connection */
	uv_work_t work;
	bool working, closing;
	struct buf out;               /* the worker's rendering ... */
	int out_rc;
	char out_err[256];
	int64_t out_cost_ms;
	char *cache;                   /* ... kept here once done */
	size_t cache_len;
	int64_t cache_ms;              /* wall time it was rendered; 0 = never */
	int64_t cost_ms;               /* what the last rendering took; -1 = unknown */
	int64_t sync_limit_ms, refresh_ms;
};

static struct metrics *M;

static void metrics_free(struct metrics *m)
{
	store_close(m->reader);
	free(m->out.p);
	free(m->cache);
	free(m);
}

static void refresh_work(uv_work_t *w)
{
	struct metrics *m = container_of(w, struct metrics, work);
	int64_t t0 = clock_mono_ms();

	text_init(&m->out);
	m->out_rc = put_store(&m->out, m->reader);
	if (m->out_rc == -EIO)
		snprintf(m->out_err, sizeof m->out_err, "%s", store_errmsg(m->reader));
	else if (m->out_rc < 0)
		snprintf(m->out_err, sizeof m->out_err, "%s", strerror(-m->out_rc));
	/* The reader idles until the next scrape: keep no cache meanwhile. */
	store_release_memory(m->reader);
	m->out_cost_ms = clock_mono_ms() - t0;
}

static void refresh_done(uv_work_t *w, int status)
{
	struct metrics *m = container_of(w, struct metrics, work);

	m->working = false;
	if (m->closing) {
		metrics_free(m);
		return;
	}
	if (status < 0 || m->out_rc < 0) {
		log_err(NULL, "metrics: rendering the store metrics: %s",
		        status < 0 ? uv_strerror(status) : m->out_err);
		free(m->out.p);
	} else {
		free(m->cache);
		m->cache = m->out.p;
		m->cache_len = m->out.len;
		m->cache_ms = clock_now_ms();
		m->cost_ms = m->out_cost_ms;
	}
	m->out.p = NULL;
	malloc_trim(0);        /* the reader's page cache and the last text */
}

static void refresh_start(struct metrics *m)
{
	int rc;
	if (m->working || m->closing)
		return;
	if ((rc = uv_queue_work(m->d->loop, &m->work, refresh_work, refresh_done)) < 0) {
		log_err(NULL, "metrics: starting a worker: %s", uv_strerror(rc));
		return;
	}
	m->working = true;
}

static int cmd_metrics(struct denverd *d, struct control_client *c, json_t *args,
                       json_t **result, struct control_error *err)
{
	struct metrics *m = M;
	struct buf t;
	int64_t age = 0;
	int rc = 0;

	text_init(&t);
	put_process(&t, d);
	put_config(&t, d->cfg);
	if (!m->working && m->cost_ms >= 0 && m->cost_ms <= m->sync_limit_ms) {
		int64_t t0 = clock_mono_ms();
		rc = put_store(&t, d->store);
		m->cost_ms = clock_mono_ms() - t0;
	} else {
		if (!m->cache_ms || clock_now_ms() - m->cache_ms >= m->refresh_ms)
			refresh_start(m);
		if (m->cache) {
			age = clock_now_ms() - m->cache_ms;
			buf_printf(&t, "%.*s", (int)m->cache_len, m->cache);
		} else {
			buf_printf(&t, "# The store metrics are being rendered; the next scrape has them.\n");
		}
	}
	if (m->cache || !m->working) {
		put_header(&t, "denverd_metrics_store_age_seconds", "gauge",
		           "How old the metrics read from the store are (0: read for "
		           "this scrape).");
		put_sample(&t, "denverd_metrics_store_age_seconds", NULL, NULL, 0, age / 1e3);
	}
	if (rc == 0)
		rc = t.err;
	if (rc < 0) {
		free(t.p);
		return control_error(err, rc, PROTO_EINTERNAL, "metrics: %s",
		                     rc == -EIO ? store_errmsg(d->store) : strerror(-rc));
	}
	*result = json_pack("{s:s%}", "text", t.p, t.len);
	free(t.p);
	if (!*result)
		return control_error(err, -ENOMEM, PROTO_EINTERNAL, "metrics: out of memory");
	return 0;
}

static const struct control_cmd metrics_cmds[] = {
	{ .name = "metrics", .fn = cmd_metrics },
};

int metrics_init(struct denverd *d)
{
	struct metrics *m;
	int rc;

	if (M)
		return -EALREADY;
	if (!(m = calloc(1, sizeof *m)))
		return -ENOMEM;
	m->d = d;
	m->cost_ms = -1;
	m->sync_limit_ms = METRICS_SYNC_MS;
	m->refresh_ms = METRICS_REFRESH_MS;
	if ((rc = store_reader_open(d->store, &m->reader)) < 0) {
		log_err(NULL, "metrics: %s", store_errmsg(d->store));
		free(m);
		return rc;
	}
	if ((rc = control_register(d->control, metrics_cmds,
	                           sizeof metrics_cmds / sizeof metrics_cmds[0])) < 0) {
		metrics_free(m);
		return rc;
	}
	M = m;
	refresh_start(m);      /* learns what a rendering costs */
	return 0;
}

void metrics_fini(struct denverd *d)
{
	struct metrics *m = M;
	if (!m)
		return;
	M = NULL;
	m->closing = true;
	if (!m->working)
		metrics_free(m);
}

bool metrics_refreshing(void)
{
	return M && M->working;
}

void metrics_tune(int64_t sync_limit_ms, int64_t refresh_ms)
{
	if (M) {
		M->sync_limit_ms = sync_limit_ms;
		M->refresh_ms = refresh_ms;
	}
}
