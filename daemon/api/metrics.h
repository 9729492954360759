/*
 * metrics.h - the daemon's state as Prometheus text (exposition format
 * 0.0.4): what `denverctl metrics` prints (through cmd_metrics.c) and
 * node_exporter's textfile collector reads.  The metric names and their
 * meaning are documented in denverd(8), section METRICS.
 *
 * Rendering only: no loop, no control socket.  The store part may take
 * long (it aggregates the whole history); any thread may render into its
 * own buffer from its own store connection.
 */
#ifndef DENVERD_METRICS_H
#define DENVERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;
struct denverd;
struct store;

/* Cap on the text of one scrape; past it metrics_text() fails with -E2BIG. */
#define METRICS_MAX_TEXT (8u * 1024 * 1024)

/*
 * Render every metric of D (its store, configuration and process) into a
 * new NUL-terminated string, *out (caller frees), of *len bytes.  Returns 0,
 * -EIO (store; store_errmsg() says why), -E2BIG or -ENOMEM, with *out NULL.
 */
int metrics_text(struct denverd *d, char **out, size_t *len);

/* The pieces metrics_text() is made of, in its order, each appended to T
 * (errors stay in t->err, buf.h).  T starts empty from metrics_buf_init()
 * (capped at METRICS_MAX_TEXT, NUL included); its text is the caller's. */
void metrics_buf_init(struct buf *t);
void metrics_put_process(struct buf *t, const struct denverd *d);
void metrics_put_config(struct buf *t, const struct config *cfg);
/* The store's families from ST: 0, -EIO (store_errmsg(ST) says why) or
 * t->err. */
int metrics_put_store(struct buf *t, struct store *st);
/* One unlabelled gauge with its HELP and TYPE lines. */
void metrics_put_gauge(struct buf *t, const char *name, const char *help, double value);

/* Resident set size of this process in bytes, from /proc/self/statm.
 * 0 or -errno. */
int metrics_rss(unsigned long long *bytes);

#endif
