/*
 * source_cadence.c - a dataset's observed cadence from the store's
 * source_changes (source_cadence.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notify/source_cadence.h"
#include "store/store.h"

/* The change times as they are read, and the newest row's words. */
struct collect {
	int64_t at[STORE_CHANGES_MAX];
	size_t n;
	struct source_cadence *out;
};

static int on_change(void *arg, const struct store_change *c)
{
	struct collect *k = arg;

	if (k->n == STORE_CHANGES_MAX)
		return 0;                    /* the read is capped the same */
	k->at[k->n++] = c->observed_at;
	/* oldest first: the last row seen is the newest */
	snprintf(k->out->last_kind, sizeof k->out->last_kind, "%s", c->kind);
	snprintf(k->out->last_value, sizeof k->out->last_value, "%s",
	         c->value ? c->value : "");
	k->out->last_run_id = c->run_id;
	return 0;
}

int source_cadence_read(struct store *st, const char *dataset, const struct tz *tz,
                        int64_t margin_ms, struct source_cadence *out)
{
	_Static_assert(STORE_CHANGES_MAX <= CADENCE_MAX_CHANGES,
	               "the cadence takes every change the store hands");
	struct collect k = { .n = 0, .out = out };
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = store_changes_recent(st, dataset, STORE_CHANGES_MAX, on_change, &k)) < 0)
		return rc;
	return cadence_compute(k.at, k.n, tz, margin_ms < 0 ? 0 : margin_ms, &out->c);
}
