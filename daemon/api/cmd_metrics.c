/*
 * cmd_metrics.c - the `metrics` control command (cmd_metrics.h): the text
 * metrics.c renders, with the store's part rendered on a worker thread
 * when it is too slow for the loop.
 *
 * The store families aggregate the whole history: a few milliseconds for
 * Denver's two datasets, but about half a second for 100,000 runs, which
 * must not stall the loop.  So a scrape renders them on the loop only while
 * that is cheap (the last rendering took at most sync_limit_ms); otherwise
 * it answers from the last rendering done by a worker thread on its own
 * read-only connection, and starts a new one when that is older than
 * refresh_ms.  denverd_metrics_store_age_seconds says how old they are.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/cmd_metrics.h"
#include "api/control.h"
#include "api/metrics.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/denverd.h"
#include "base/log.h"
#include "denverd/protocol.h"
#include "engine/engine.h"
#include "store/store.h"

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

	metrics_buf_init(&m->out);
	m->out_rc = metrics_put_store(&m->out, m->reader);
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

	metrics_buf_init(&t);
	metrics_put_process(&t, d);
	metrics_put_config(&t, d->cfg);
	if (d->sched) {
		struct sched_spark_info si;
		sched_spark_info(d->sched, &si);
		if (si.state) {
			metrics_put_gauge(&t, "denverd_spark_ready", "1 while the Spark Connect "
			                  "endpoint accepts connections (spark.mode managed or external).",
			                  strcmp(si.state, "ready") == 0);
			metrics_put_gauge(&t, "denverd_spark_restarts", "Managed Spark Connect servers "
			                  "started after the first since denverd started.", si.restarts);
		}
	}
	if (!m->working && m->cost_ms >= 0 && m->cost_ms <= m->sync_limit_ms) {
		int64_t t0 = clock_mono_ms();
		rc = metrics_put_store(&t, d->store);
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
	if (m->cache || !m->working)
		metrics_put_gauge(&t, "denverd_metrics_store_age_seconds",
		                  "How old the metrics read from the store are (0: read for "
		                  "this scrape).", age / 1e3);
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

int cmd_metrics_init(struct denverd *d)
{
	struct store *reader;
	struct metrics *m;
	int rc;

	if (M)
		return -EALREADY;
	if ((rc = store_reader_open(d->store, &reader)) < 0) {
		log_err(NULL, "metrics: %s", store_errmsg(d->store));
		return rc;
	}
	if (!(m = calloc(1, sizeof *m))) {
		store_close(reader);
		return -ENOMEM;
	}
	*m = (struct metrics){ .d = d, .reader = reader, .cost_ms = -1,
	                       .sync_limit_ms = METRICS_SYNC_MS,
	                       .refresh_ms = METRICS_REFRESH_MS };
	if ((rc = control_register(d->control, metrics_cmds, ARRAY_SIZE(metrics_cmds))) < 0) {
		metrics_free(m);
		return rc;
	}
	M = m;
	refresh_start(m);      /* learns what a rendering costs */
	return 0;
}

void cmd_metrics_fini(struct denverd *d)
{
	struct metrics *m = M;
	if (!m)
		return;
	M = NULL;
	m->closing = true;
	if (!m->working)
		metrics_free(m);
}

bool cmd_metrics_refreshing(void)
{
	return M && M->working;
}

void cmd_metrics_tune(int64_t sync_limit_ms, int64_t refresh_ms)
{
	if (M) {
		M->sync_limit_ms = sync_limit_ms;
		M->refresh_ms = refresh_ms;
	}
}
