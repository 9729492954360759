/*
 * fetch_changes.h - what the fetch task (task_fetch.c) records as a change
 * of the source (fetch_changes.c), and the dataset's last snapshot it
 * compares with.
 *
 * Source changes (store.h's source_changes, the input of the dataset's
 * cadence, domain/cadence.h) are recorded by the fetch task (task_fetch.c),
 * because only there are the old and the new side both at hand.  A fetch that ends:
 *   - published, with a hash other than the dataset's previous snapshot's
 *     (or with no previous snapshot: the first time the source is seen),
 *     is a change of kind `bytes` (value: the new hash).  A forced fetch
 *     that publishes the same bytes again is no change.
 *   - unchanged, http, with an ETag (else a Last-Modified) in the response
 *     that differs from the stored one, is a change of kind `validator`
 *     (value: the new ETag, else Last-Modified).  A validator appearing
 *     where none was stored is not: the server only started sending it.
 *   - unchanged, arcgis, with a data (else schema) edit date in the layer's
 *     stamp that differs from the stored stamp's, is a change of kind
 *     `edit_date` (value: the new edit date, unix ms).  The layer was
 *     edited even though its rows came out the same.
 * Nothing else is: a poll that found the same is a run, not a change.  The
 * comparison is with the validators stored before this fetch's replace
 * them.  The time recorded is the fetch's end (when denverd saw it), not
 * the source's own claim (Last-Modified, the edit date), which may be in
 * another clock or a lie; the cadence is as observed.  A change that
 * cannot be recorded is logged and the fetch's outcome stands.
 *
 * Loop thread (state.db); every function logs its own failure to TI's log
 * and returns nothing the caller must act on.
 */
#ifndef DENVERD_ENGINE_TASKS_FETCH_CHANGES_H
#define DENVERD_ENGINE_TASKS_FETCH_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/task.h"
#include "io/arcgis.h"
#include "store/store.h"

/* Record that TI's source changed (KIND, VALUE) at AT (unix ms). */
void fetch_change_record(const struct task_info *ti, const char *kind, const char *value,
                         int64_t at);

/* TI's dataset's last snapshot with its stored validators into *LAST
 * (caller clears it): true when there is one, false when not (logged when
 * the store failed). */
bool fetch_last_snapshot(const struct task_info *ti, struct store_snapshot *last);

/* An unchanged http fetch: a `validator` change when its ETAG or
 * LAST_MODIFIED is new.  Call before the new validators are stored. */
void fetch_note_validator(const struct task_info *ti, const char *etag,
                          const char *last_modified);

/* An unchanged layer: an `edit_date` change when STAMP's edit date is new.
 * Call before the stamp is stored. */
void fetch_note_edit_date(const struct task_info *ti, const struct arcgis_stamp *stamp);

#endif
