/*
 * fetch_changes.c - the source changes the fetch task records, and the
 * last snapshot it compares with (fetch_changes.h has the rules).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "engine/tasks/fetch_changes.h"

void fetch_change_record(const struct task_info *ti, const char *kind, const char *value,
                         int64_t at)
{
	struct store_change c = {
		.dataset = ti->target, .observed_at = at, .kind = kind, .value = value,
		.run_id = ti->run_id,
	};

	if (store_change_add(ti->d->store, &c) < 0)
		log_warn(&ti->log, "source change (%s) not recorded: %s", kind,
		         store_errmsg(ti->d->store));
}

bool fetch_last_snapshot(const struct task_info *ti, struct store_snapshot *last)
{
	int rc = store_snapshot_last(ti->d->store, ti->target, last);

	if (rc < 0 && rc != -ENOENT)
		log_warn(&ti->log, "reading the last snapshot: %s", store_errmsg(ti->d->store));
	return rc == 0;
}

/* NEW differs from a stored OLD (both present). */
static bool differs(const char *old, const char *new)
{
	return old && new && strcmp(old, new) != 0;
}

/* Which change an unchanged http fetch with response validators ETAG and
 * LAST_MODIFIED is against LAST (the stored ones): the new validator, or
 * NULL for none. */
static const char *new_validator(const struct store_snapshot *last, const char *etag,
                                 const char *last_modified)
{
	if (differs(last->etag, etag))
		return etag;
	if (differs(last->last_modified, last_modified))
		return last_modified;
	return NULL;
}

/* Which change an unchanged layer with stamp NOW is against the stored
 * validator OLD: the new edit date (ms) or 0 for none (also when OLD is
 * no stamp). */
static int64_t new_edit_date(const char *old, const struct arcgis_stamp *now)
{
	struct arcgis_stamp was;

	if (!old || arcgis_stamp_parse(old, &was) < 0)
		return 0;
	if (now->data_edit_ms && was.data_edit_ms && now->data_edit_ms != was.data_edit_ms)
		return now->data_edit_ms;
	if (now->schema_edit_ms && was.schema_edit_ms &&
	    now->schema_edit_ms != was.schema_edit_ms)
		return now->schema_edit_ms;
	return 0;
}

void fetch_note_validator(const struct task_info *ti, const char *etag,
                          const char *last_modified)
{
	struct store_snapshot last;
	const char *v = NULL;

	if (fetch_last_snapshot(ti, &last))
		v = new_validator(&last, etag, last_modified);
	if (v)
		fetch_change_record(ti, "validator", v, clock_now_ms());
	store_snapshot_clear(&last);
}

void fetch_note_edit_date(const struct task_info *ti, const struct arcgis_stamp *stamp)
{
	struct store_snapshot last;
	int64_t edit = 0;
	char value[24];

	if (fetch_last_snapshot(ti, &last))
		edit = new_edit_date(last.etag, stamp);
	store_snapshot_clear(&last);
	if (edit) {
		snprintf(value, sizeof value, "%" PRId64, edit);
		fetch_change_record(ti, "edit_date", value, clock_now_ms());
	}
}
