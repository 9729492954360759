/*
 * metrics.h - the daemon's state as Prometheus text (exposition format
 * 0.0.4): what `denverctl metrics` prints and node_exporter's textfile
 * collector reads.  The metric names and their meaning are documented in
 * denverd(8), section METRICS.
 */
#ifndef DENVERD_METRICS_H
#define DENVERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct denverd;

/* Cap on the text of one scrape; past it metrics_text() fails with -E2BIG. */
#define METRICS_MAX_TEXT (8u * 1024 * 1024)

/*
 * Render every metric of D (its store, configuration and process) into a
 * new NUL-terminated string, *out (caller frees), of *len bytes.  Returns 0,
 * -EIO (store; store_errmsg() says why), -E2BIG or -ENOMEM, with *out NULL.
 */
int metrics_text(struct denverd *d, char **out, size_t *len);

/* A scrape renders the store metrics on the loop while the last rendering
 * took at most METRICS_SYNC_MS; beyond, a worker thread renders them and
 * scrapes answer with the last rendering, refreshed when older than
 * METRICS_REFRESH_MS. */
#define METRICS_SYNC_MS    10
#define METRICS_REFRESH_MS 10000

/*
 * Register the `metrics` control command (args: none; result: {"text": the
 * Prometheus text}), open the worker's read-only store connection and
 * start a first rendering.  Call after control_init() and store_open().
 * 0, -EALREADY, or a negative errno (logged when it is the store's).
 */
int metrics_init(struct denverd *d);

/* Free what metrics_init made; a rendering in progress finishes on its
 * worker first (the loop must run on, as loop_drain does).  Accepts a
 * daemon whose metrics_init failed or never ran.  Call before store_close. */
void metrics_fini(struct denverd *d);

/* For tests: a worker rendering is in progress; change the two limits. */
bool metrics_refreshing(void);
void metrics_tune(int64_t sync_limit_ms, int64_t refresh_ms);

/* Resident set size of this process in bytes, from /proc/self/statm.
 * 0 or -errno. */
int metrics_rss(unsigned long long *bytes);

#endif
