/*
 * lineage_event.c - one OpenLineage RunEvent (spec 2-0-2) as JSON, from
 * the facts lineage.c gathered (lineage_int.h).  Pure: no store, no file,
 * no clock.
 *
 * The job is "<dataset>.<task>" (a job run's: the job) in the configured
 * namespace; the run facet "parent" names the run, job "<dataset>".  Three
 * datasets, named as OpenLineage's naming spec says for their kind:
 *   the source      namespace "https://host[:port]" (or "file"), name the
 *                   path and query of the URL (userinfo is dropped);
 *   the snapshots   namespace "file", name <state_dir>/staging/<dataset>;
 *   the datastore   namespace "file", name <state_dir>/datastore/<dataset>;
 * with storage: s3 both live in the bucket and are named as the spec says
 * for S3: namespace "s3://<bucket>", name the key path
 * [<prefix>/]staging/<dataset> and [<prefix>/]datastore/<dataset>.
 * fetch reads the source and writes the snapshots, check reads the
 * snapshots, convert reads them and writes the datastore.  Standard facets:
 * schema and dataSource (datasets), dataQualityMetrics and
 * dataQualityAssertions (check's input), outputStatistics (convert's
 * output), parent, errorMessage (runs), jobType (jobs).  denverd's own
 * (docs/lineage-facets.json): denverd_snapshot (hash, bytes, rows),
 * denverd_convert (months written, rows rejected by reason), denverd_run.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/lineage_int.h"
#include "version.h"

#define PRODUCER LINEAGE_PROJECT_URL "/tree/" DENVERD_VERSION
#define FACETS_URL LINEAGE_PROJECT_URL "/blob/" DENVERD_VERSION "/docs/lineage-facets.json#/$defs/"
#define SPEC_FACETS "https://openlineage.io/spec/facets/"

static const char *const type_names[_LT_MAX] = {
	[LT_START] = "START", [LT_RUNNING] = "RUNNING", [LT_COMPLETE] = "COMPLETE",
	[LT_FAIL] = "FAIL", [LT_ABORT] = "ABORT",
};

const char *lineage_type_to_string(enum lineage_type t)
{
	return (unsigned)t < _LT_MAX ? type_names[t] : NULL;
}

int lineage_type_of(enum run_state s, bool first)
{
	switch (s) {
	case RUN_RUNNING:   return first ? LT_START : LT_RUNNING;
	case RUN_SUCCEEDED:
	case RUN_UNCHANGED: return LT_COMPLETE;
	case RUN_FAILED:    return LT_FAIL;
	case RUN_CANCELLED: return LT_ABORT;
	default:            return -1;
	}
}

/* ---- the run ID ---- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void lineage_run_uuid(const char *state_dir, int64_t run_id, const char *task,
                      char out[37])
{
	/* The inputs, NUL-separated so that no two of them run together. */
	char id[24];
	int n = snprintf(id, sizeof id, "%" PRId64, run_id);
	uint64_t h[2] = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull };
	unsigned char b[16];

	for (int k = 0; k < 2; k++) {
		h[k] = fnv1a(h[k], "denverd-lineage", 16);
		h[k] = fnv1a(h[k], state_dir, strlen(state_dir) + 1);
		h[k] = fnv1a(h[k], id, (size_t)n + 1);
		if (task)
			h[k] = fnv1a(h[k], task, strlen(task) + 1);
		h[k] = splitmix64(h[k] ^ (uint64_t)k);
		for (int i = 0; i < 8; i++)
			b[8 * k + i] = (unsigned char)(h[k] >> (56 - 8 * i));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x80);     /* version 8 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);     /* variant 10 */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	         "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
	         b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* ---- pieces ---- */

/* A facet object with its _producer and _schemaURL (NULL on ENOMEM). */
static json_t *facet(const char *schema_url)
{
	return json_pack("{s:s, s:s}", "_producer", PRODUCER, "_schemaURL", schema_url);
}

/* Put VALUE (stolen; NULL is skipped and marks *oom) under KEY of OBJ. */
static void put(json_t *obj, const char *key, json_t *value, bool *oom)
{
	if (!value || !obj || json_object_set_new(obj, key, value) < 0)
		*oom = true;
}

static void push(json_t *arr, json_t *value, bool *oom)
{
	if (!value || !arr || json_array_append_new(arr, value) < 0)
		*oom = true;
}

/* ISO 8601 UTC with milliseconds: "2026-03-08T08:59:00.123Z". */
static void iso_time(int64_t ms, char out[80])
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(((ms % 1000) + 1000) % 1000));
}

/* URL without its userinfo ("https://u:p@h/x" -> "https://h/x") into OUT. */
static void without_userinfo(const char *url, char *out, size_t len)
{
	const char *sep = strstr(url, "://"), *auth, *end, *host;

	if (!sep) {
		snprintf(out, len, "%s", url);
		return;
	}
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	for (host = end; host > auth && host[-1] != '@'; host--)
		;
	snprintf(out, len, "%.*s%s", (int)(auth - url), url, host);
}

/* Namespace and name of the source at URL (lineage_event.c's comment). */
static json_t *source_dataset(const char *url, bool *oom)
{
	const char *sep = strstr(url, "://"), *auth, *end, *host;
	json_t *ds;

	if (sep && strncmp(url, "file://", 7) == 0) {
		ds = json_pack("{s:s, s:s}", "namespace", "file", "name", url + 7);
	} else if (sep) {
		auth = sep + 3;           /* userinfo already dropped */
		end = auth + strcspn(auth, "/?#");
		host = auth;
		char ns[512];
		snprintf(ns, sizeof ns, "%.*s://%.*s", (int)(sep - url), url, (int)(end - host), host);
		ds = json_pack("{s:s, s:s}", "namespace", ns, "name", *end ? end : "/");
	} else {
		ds = json_pack("{s:s, s:s}", "namespace", "unknown", "name", url);
	}
	if (!ds)
		*oom = true;
	return ds;
}

/* The snapshots (DIR "staging") or the datastore (DIR "datastore") of the
 * target: local files under state_dir, or keys in the bucket of storage. */
static json_t *file_dataset(const struct lineage_facts *f, const char *dir, bool *oom)
{
	const struct cfg_storage *st = f->storage;
	const char *pre = st && st->prefix && *st->prefix ? st->prefix : NULL;
	char ns[512], name[4096];
	json_t *ds;

	if (st && st->bucket) {
		snprintf(ns, sizeof ns, "s3://%s", st->bucket);
		snprintf(name, sizeof name, "%s%s%s/%s", pre ? pre : "", pre ? "/" : "", dir,
		         f->target);
	} else {
		snprintf(ns, sizeof ns, "file");
		snprintf(name, sizeof name, "%s/%s/%s", f->state_dir, dir, f->target);
	}
	if (!(ds = json_pack("{s:s, s:s, s:{}}", "namespace", ns, "name", name, "facets")))
		*oom = true;
	return ds;
}

static json_t *schema_facet(const struct cfg_schema *sc, bool *oom)
{
	json_t *fc = facet(SPEC_FACETS "1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet");
	json_t *fields = json_array();

	for (size_t i = 0; i < sc->n_columns; i++)
		push(fields, json_pack("{s:s, s:s, s:i}", "name", sc->columns[i].name, "type",
		                       config_col_type_name(sc->columns[i].type),
		                       "ordinal_position", (int)i + 1), oom);
	put(fc, "fields", fields, oom);
	return fc;
}

static json_t *snapshot_facet(const struct lineage_facts *f, bool *oom)
{
	const struct store_snapshot_ref *s = f->snap;
	json_t *fc = facet(FACETS_URL "SnapshotDatasetFacet");

	put(fc, "execDate", json_string(f->exec_date), oom);
	put(fc, "path", json_string(s->path), oom);
	put(fc, "bytes", json_integer((json_int_t)s->bytes), oom);
	put(fc, "rows", s->rows >= 0 ? json_integer(s->rows) : json_null(), oom);
	put(fc, "hash", s->hash ? json_string(s->hash) : json_null(), oom);
	put(fc, "state", json_string(s->state), oom);
	return fc;
}

/* The check of result R in the configuration, or NULL. */
static const struct cfg_check *check_of(const struct cfg_dataset *ds, const char *name)
{
	for (size_t i = 0; ds && i < ds->n_checks; i++)
		if (strcmp(ds->checks[i].name, name) == 0)
			return &ds->checks[i];
	return NULL;
}

/* The one column a check is about, or NULL when it has none or several. */
static const char *check_column(const struct cfg_check *c)
{
	return c && c->columns.n == 1 ? c->columns.items[0] : NULL;
}

/* dataQualityMetrics: rows and bytes of the snapshot, and the null count
 * of each column a one-column nulls check measured (its observed share of
 * all rows, times the rows). */
static json_t *dq_metrics_facet(const struct lineage_facts *f, bool *oom)
{
	json_t *fc = facet(SPEC_FACETS "1-0-3/DataQualityMetricsInputDatasetFacet.json"
	                   "#/$defs/DataQualityMetricsInputDatasetFacet");
	json_t *cols = json_object();
	int64_t rows = f->snap ? f->snap->rows : -1;

	if (rows >= 0)
		put(fc, "rowCount", json_integer(rows), oom);
	if (f->snap)
		put(fc, "bytes", json_integer((json_int_t)f->snap->bytes), oom);
	for (size_t i = 0; i < f->n_dq; i++) {
		const struct store_dq_result *r = &f->dq[i];
		const char *col = check_column(check_of(f->ds, r->name));
		if (!col || strcmp(r->type, "nulls") != 0 || isnan(r->observed) || rows < 0)
			continue;
		put(cols, col, json_pack("{s:I}", "nullCount",
		                         (json_int_t)llround(r->observed * (double)rows)), oom);
	}
	put(fc, "columnMetrics", cols, oom);
	return fc;
}

/* dataQualityAssertions: one per check; success means it passed (a warn
 * did not, though it let the run go on: severity says which). */
static json_t *dq_assertions_facet(const struct lineage_facts *f, bool *oom)
{
	json_t *fc = facet(SPEC_FACETS "1-1-0/DataQualityAssertionsDatasetFacet.json"
	                   "#/$defs/DataQualityAssertionsDatasetFacet");
	json_t *list = json_array();

	for (size_t i = 0; i < f->n_dq; i++) {
		const struct store_dq_result *r = &f->dq[i];
		const char *col = check_column(check_of(f->ds, r->name));
		json_t *a = json_pack("{s:s, s:s, s:b, s:s}", "assertion", r->type, "name", r->name,
		                      "success", strcmp(r->outcome, "pass") == 0,
		                      "severity", r->severity);
		char actual[32];
		if (col)
			put(a, "column", json_string(col), oom);
		if (r->threshold)
			put(a, "expected", json_string(r->threshold), oom);
		if (!isnan(r->observed)) {
			snprintf(actual, sizeof actual, "%.17g", r->observed);
			put(a, "actual", json_string(actual), oom);
		}
		if (r->detail)
			put(a, "description", json_string(r->detail), oom);
		push(list, a, oom);
	}
	put(fc, "assertions", list, oom);
	return fc;
}

/* denverd_convert from the manifest (jobs/convert.py): the months it
 * rewrote and the rows it read, wrote and rejected by reason. */
static json_t *convert_facet(const json_t *m, bool *oom)
{
	json_t *fc = facet(FACETS_URL "ConvertDatasetFacet");
	json_t *months = json_object_get(m, "partitions");
	json_t *rejected = json_object_get(m, "rows_rejected");

	put(fc, "months", json_is_array(months) ? json_deep_copy(months) : json_array(), oom);
	put(fc, "rowsRead", json_deep_copy(json_object_get(m, "rows_read")), oom);
	put(fc, "rowsWritten", json_deep_copy(json_object_get(m, "rows_written")), oom);
	put(fc, "rowsRejected", json_is_object(rejected) ? json_deep_copy(rejected)
	                                                  : json_object(), oom);
	return fc;
}

/* ---- the datasets of each task ---- */

static void fetch_datasets(const struct lineage_facts *f, json_t *in, json_t *out, bool *oom)
{
	const char *raw = f->snap && f->snap->url ? f->snap->url : f->source_url;
	char url[4096];
	json_t *src, *facets, *snap;

	if (raw)
		without_userinfo(raw, url, sizeof url);
	if (raw && (src = source_dataset(url, oom))) {
		facets = json_object();
		json_t *fs = facet(SPEC_FACETS "1-0-1/DatasourceDatasetFacet.json"
		                   "#/$defs/DatasourceDatasetFacet");
		put(fs, "name", json_string(f->target), oom);
		put(fs, "uri", json_string(url), oom);
		put(facets, "dataSource", fs, oom);
		put(facets, "schema", schema_facet(&f->ds->schema, oom), oom);
		put(src, "facets", facets, oom);
		push(in, src, oom);
	}
	if ((snap = file_dataset(f, "staging", oom))) {
		put(json_object_get(snap, "facets"), "schema", schema_facet(&f->ds->schema, oom), oom);
		if (f->snap)
			put(json_object_get(snap, "facets"), "denverd_snapshot", snapshot_facet(f, oom),
			    oom);
		push(out, snap, oom);
	}
}

/* The snapshots as an input, with what the check measured when it did. */
static void snapshot_input(const struct lineage_facts *f, json_t *in, bool check, bool *oom)
{
	json_t *snap = file_dataset(f, "staging", oom), *inf;

	if (!snap)
		return;
	put(json_object_get(snap, "facets"), "schema", schema_facet(&f->ds->schema, oom), oom);
	if (f->snap)
		put(json_object_get(snap, "facets"), "denverd_snapshot", snapshot_facet(f, oom), oom);
	if (check && (f->type == LT_COMPLETE || f->type == LT_FAIL) && (f->snap || f->n_dq)) {
		inf = json_object();
		put(inf, "dataQualityMetrics", dq_metrics_facet(f, oom), oom);
		put(inf, "dataQualityAssertions", dq_assertions_facet(f, oom), oom);
		put(snap, "inputFacets", inf, oom);
	}
	push(in, snap, oom);
}

static void convert_datasets(const struct lineage_facts *f, json_t *in, json_t *out, bool *oom)
{
	json_t *store = file_dataset(f, "datastore", oom), *facets, *written, *stats;

	snapshot_input(f, in, false, oom);
	if (!store)
		return;
	facets = json_object_get(store, "facets");
	put(facets, "schema", schema_facet(&f->ds->schema, oom), oom);
	if (f->manifest) {
		put(facets, "denverd_convert", convert_facet(f->manifest, oom), oom);
		written = json_object_get(f->manifest, "rows_written");
		if (json_is_integer(written)) {
			stats = facet(SPEC_FACETS "1-0-2/OutputStatisticsOutputDatasetFacet.json"
			              "#/$defs/OutputStatisticsOutputDatasetFacet");
			put(stats, "rowCount", json_integer(json_integer_value(written)), oom);
			put(store, "outputFacets", json_pack("{s:o}", "outputStatistics", stats), oom);
		}
	}
	push(out, store, oom);
}

/* ---- the event ---- */

static json_t *run_object(const struct lineage_facts *f, bool *oom)
{
	char id[37], parent_id[37];
	json_t *facets = json_object(), *parent, *own;

	lineage_run_uuid(f->state_dir, f->run_id, f->task, id);
	lineage_run_uuid(f->state_dir, f->run_id, NULL, parent_id);
	parent = facet(SPEC_FACETS "1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet");
	put(parent, "run", json_pack("{s:s}", "runId", parent_id), oom);
	put(parent, "job", json_pack("{s:s, s:s}", "namespace", f->namespace, "name", f->target),
	    oom);
	put(facets, "parent", parent, oom);
	own = facet(FACETS_URL "RunFacet");
	put(own, "runId", json_integer(f->run_id), oom);
	put(own, "execDate", json_string(f->exec_date), oom);
	put(own, "target", json_string(f->target), oom);
	put(own, "task", json_string(f->task), oom);
	put(facets, "denverd_run", own, oom);
	if ((f->type == LT_FAIL || f->type == LT_ABORT) && f->message) {
		json_t *err = facet(SPEC_FACETS "1-0-1/ErrorMessageRunFacet.json"
		                    "#/$defs/ErrorMessageRunFacet");
		put(err, "message", json_string(f->message), oom);
		put(err, "programmingLanguage", json_string("C"), oom);
		put(facets, "errorMessage", err, oom);
	}
	return json_pack("{s:s, s:o}", "runId", id, "facets", facets);
}

static json_t *job_object(const struct lineage_facts *f, bool *oom)
{
	char name[256];
	json_t *type = facet(SPEC_FACETS "2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet");

	if (f->ds)
		snprintf(name, sizeof name, "%s.%s", f->target, f->task);
	else
		snprintf(name, sizeof name, "%s", f->target);
	put(type, "processingType", json_string("BATCH"), oom);
	put(type, "integration", json_string("DENVERD"), oom);
	put(type, "jobType", json_string(f->ds ? "TASK" : "JOB"), oom);
	return json_pack("{s:s, s:s, s:{s:o}}", "namespace", f->namespace, "name", name,
	                 "facets", "jobType", type);
}

int lineage_event_json(const struct lineage_facts *f, char **out)
{
	char when[80];
	bool oom = false;
	json_t *in = json_array(), *outs = json_array(), *ev;

	*out = NULL;
	iso_time(f->ts, when);
	if (f->ds && strcmp(f->task, "fetch") == 0)
		fetch_datasets(f, in, outs, &oom);
	else if (f->ds && strcmp(f->task, "check") == 0)
		snapshot_input(f, in, true, &oom);
	else if (f->ds && strcmp(f->task, "convert") == 0)
		convert_datasets(f, in, outs, &oom);
	ev = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
	               "eventType", lineage_type_to_string(f->type), "eventTime", when,
	               "producer", PRODUCER, "schemaURL", LINEAGE_SCHEMA_URL,
	               "run", run_object(f, &oom), "job", job_object(f, &oom),
	               "inputs", in, "outputs", outs);
	if (ev && !oom)
		*out = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	return *out ? 0 : -ENOMEM;
}
