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
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "api/metrics.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/denverd.h"
#include "domain/config_types.h"
#include "store/store.h"
#include "version.h"

void metrics_buf_init(struct buf *t)
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

void metrics_put_gauge(struct buf *t, const char *name, const char *help, double value)
{
	put_header(t, name, "gauge", help);
	put_sample(t, name, NULL, NULL, 0, value);
}

void metrics_put_process(struct buf *t, const struct denverd *d)
{
	static const char *const version_key[] = { "version" };
	static const char *const version_value[] = { DENVERD_VERSION };
	unsigned long long rss;

	put_header(t, "denverd_build_info", "gauge", "Version of the running denverd.");
	put_sample(t, "denverd_build_info", version_key, version_value, 1, 1);
	metrics_put_gauge(t, "process_start_time_seconds",
	                  "Start time of the process since the Unix epoch.", d->started_ms / 1e3);
	metrics_put_gauge(t, "denverd_uptime_seconds", "Seconds since denverd started.",
	                  (clock_now_ms() - d->started_ms) / 1e3);
	if (metrics_rss(&rss) == 0)
		metrics_put_gauge(t, "process_resident_memory_bytes",
		                  "Resident memory size of denverd (not of its jobs).", (double)rss);
}

void metrics_put_config(struct buf *t, const struct config *cfg)
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

int metrics_put_store(struct buf *t, struct store *st)
{
	for (size_t i = 0; i < ARRAY_SIZE(families) && !t->err; i++) {
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
	metrics_buf_init(&t);
	metrics_put_process(&t, d);
	if (d->cfg)
		metrics_put_config(&t, d->cfg);
	if ((rc = metrics_put_store(&t, d->store)) < 0 || (rc = t.err) < 0) {
		free(t.p);
		return rc;
	}
	*out = t.p;
	*len = t.len;
	return 0;
}
