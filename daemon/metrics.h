/*
 * metrics.h - the daemon's state as Prometheus text (exposition format
 * 0.0.4): what `denverctl metrics` prints and node_exporter's textfile
 * collector reads.  The metric names and their meaning are documented in
 * denverd(8), section METRICS.
 */
#ifndef DENVERD_METRICS_H
#define DENVERD_METRICS_H

#include <stddef.h>

struct denverd;

/* Cap on the text of one scrape; past it metrics_text() fails with -E2BIG. */
#define METRICS_MAX_TEXT (8u * 1024 * 1024)

/*
 * Render every metric of D (its store, configuration and process) into a
 * new NUL-terminated string, *out (caller frees), of *len bytes.  Returns 0,
 * -EIO (store; store_errmsg() says why), -E2BIG or -ENOMEM, with *out NULL.
 */
int metrics_text(struct denverd *d, char **out, size_t *len);

/* Register the `metrics` control command (args: none; result: {"text":
 * the Prometheus text}).  Call after control_init().  0 or -errno. */
int metrics_init(struct denverd *d);

/* Resident set size of this process in bytes, from /proc/self/statm.
 * 0 or -errno. */
int metrics_rss(unsigned long long *bytes);

#endif
