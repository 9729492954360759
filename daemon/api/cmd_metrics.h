/*
 * cmd_metrics.h - the `metrics` control command (args: none; result:
 * {"text": the Prometheus text of metrics.h}).
 */
#ifndef DENVERD_API_CMD_METRICS_H
#define DENVERD_API_CMD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

struct denverd;

/* A scrape renders the store metrics on the loop while the last rendering
 * took at most METRICS_SYNC_MS; beyond, a worker thread renders them and
 * scrapes answer with the last rendering, refreshed when older than
 * METRICS_REFRESH_MS. */
#define METRICS_SYNC_MS    10
#define METRICS_REFRESH_MS 10000

/*
 * Register `metrics` with d->control, open the worker's read-only store
 * connection and start a first rendering.  Call after control_init() and
 * store_open().  0, -EALREADY, or a negative errno (logged when it is the
 * store's).
 */
int cmd_metrics_init(struct denverd *d);

/* Free what cmd_metrics_init made; a rendering in progress finishes on its
 * worker first (the loop must run on, as loop_drain does).  Accepts a
 * daemon whose cmd_metrics_init failed or never ran.  Call before
 * store_close. */
void cmd_metrics_fini(struct denverd *d);

/* For tests: a worker rendering is in progress; change the two limits. */
bool cmd_metrics_refreshing(void);
void cmd_metrics_tune(int64_t sync_limit_ms, int64_t refresh_ms);

#endif
