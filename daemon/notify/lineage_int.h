/*
 * lineage_int.h - what lineage.c (the subscriber and the transports) and
 * lineage_event.c (the JSON of one OpenLineage RunEvent) share, and the
 * unit tests see.  Nothing else includes it; the public API is lineage.h.
 */
#ifndef DENVERD_LINEAGE_INT_H
#define DENVERD_LINEAGE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "domain/config_types.h"
#include "domain/run_state.h"
#include "store/store.h"

/* The spec the events follow, and where denverd's own facets are defined
 * (docs/lineage-facets.json, a JSON Schema per custom facet). */
#define LINEAGE_SCHEMA_URL  "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
#define LINEAGE_PROJECT_URL "https://github.com/denverd/denverd"

/* Cap of the manifest read for a convert event (as task_convert.c's). */
#define LINEAGE_MANIFEST_MAX (1024 * 1024)

/* eventType.  START: a task's first attempt starts; RUNNING: a later one. */
enum lineage_type { LT_START, LT_RUNNING, LT_COMPLETE, LT_FAIL, LT_ABORT, _LT_MAX };

/* "START" ... "ABORT"; NULL outside the enum. */
const char *lineage_type_to_string(enum lineage_type t);

/*
 * The event type a task's new state gives, or -1 when it gives none
 * (queued, skipped: the task never ran).  FIRST: the running attempt is
 * the task's first.  A cancelled task is ABORT even when it never started.
 */
int lineage_type_of(enum run_state s, bool first);

/* What one event says; every pointer is borrowed for the call. */
struct lineage_facts {
	const char *namespace;          /* of the jobs (lineage.namespace) */
	const char *state_dir;          /* names the datasets and seeds the UUIDs */
	const struct cfg_storage *storage;  /* s3: the snapshots and the datastore are
	                                     * named in its bucket; NULL = local */
	const struct cfg_dataset *ds;   /* the dataset; NULL for a job run */
	const char *target;             /* dataset or job name */
	const char *task;               /* fetch check convert, or the job's name */
	int64_t run_id;
	const char *exec_date;
	int64_t ts;                     /* unix ms */
	enum lineage_type type;
	const char *message;            /* FAIL, ABORT: why; NULL = none */
	const char *source_url;         /* what fetch requested (expanded); NULL = unknown */
	const struct store_snapshot_ref *snap;   /* the run's snapshot; NULL = none yet */
	const struct store_dq_result *dq;        /* check: this run's results */
	size_t n_dq;
	const json_t *manifest;         /* convert: the job's manifest; NULL = none */
};

/*
 * The RunEvent of F as one line of JSON (no newline) in *out (caller
 * frees).  0 or -ENOMEM.
 */
int lineage_event_json(const struct lineage_facts *f, char **out);

/*
 * The run ID of TASK of run RUN_ID (TASK NULL: of the run itself, the
 * parent of its tasks) in the daemon whose state_dir is STATE_DIR, as
 * a UUID in OUT: the same inputs give the same UUID, in every process.
 * Version 8 (RFC 9562, section 5.8: vendor-defined bits): 122 bits of
 * two 64-bit FNV-1a hashes of the inputs, each finished by splitmix64.
 */
void lineage_run_uuid(const char *state_dir, int64_t run_id, const char *task,
                      char out[37]);

#endif
