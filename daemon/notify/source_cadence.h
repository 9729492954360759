/*
 * source_cadence.h - a dataset's observed cadence (domain/cadence.h) from
 * its recorded source changes (store.h), the one reading that the `late`
 * alert (alerts.c) and `denverctl source` (api/cmd_source.c) share, so
 * both judge from the same window of changes.
 */
#ifndef DENVERD_SOURCE_CADENCE_H
#define DENVERD_SOURCE_CADENCE_H

#include <stdint.h>

#include "domain/cadence.h"

struct store;
struct tz;

struct source_cadence {
	struct cadence c;
	/* the newest change; kind "" when there is none */
	char last_kind[16];
	char last_value[160];          /* truncated; "" when it had none */
	int64_t last_run_id;           /* 0 = none */
};

/*
 * The cadence of DATASET from its newest STORE_CHANGES_MAX changes, in TZ
 * (NULL: gaps only), with MARGIN_MS.  0, or -EIO (store_errmsg says why).
 * Loop thread (the store's main connection); one bounded, indexed read.
 */
int source_cadence_read(struct store *st, const char *dataset, const struct tz *tz,
                        int64_t margin_ms, struct source_cadence *out);

#endif
