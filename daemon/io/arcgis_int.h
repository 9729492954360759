/*
 * arcgis_int.h - what the files of the ArcGIS pager share; nothing outside
 * daemon/io/arcgis*.c (and its unit tests) includes it.  The public
 * interface is io/arcgis.h.
 *
 *   arcgis.c       the stage machine on the loop thread, retries, the API
 *   arcgis_http.c  the form body of a request (io/http_req.h sends it)
 *   arcgis_json.c  the layer document, count, ids, a FeatureSet page, and
 *                  what an error body means (pure; any thread)
 *   arcgis_csv.c   the canonical CSV, the row digest, the stamp text (pure)
 *   arcgis_page.c  a FeatureSet page, in one pass, into a chunk's rows (pure;
 *                  its JSON scanner is arcgis_scan.c)
 *   arcgis_file.c  the thread-pool jobs: prep, parse (and write a chunk),
 *                  reset, finish; the sidecar
 *
 * Threads: a struct arcgis belongs to the loop thread, except while a job
 * of arcgis_file.c runs on a worker.  Then the job owns the fields marked
 * "worker" and the loop thread reads none of them until arcgis_job_done();
 * one job at a time, and never a job and a request at once.
 */
#ifndef DENVERD_ARCGIS_INT_H
#define DENVERD_ARCGIS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "base/buf.h"
#include "io/arcgis.h"
#include "io/http_req.h"

struct tz;

#define AG_BODY_MAX      (64u * 1024 * 1024)  /* one answer in memory */
#define AG_ERR_MAX       512                  /* a kept error text */
#define AG_RETRIES       4                    /* one request, after the first */
#define AG_RETRY_DELAY   1000                 /* ms, backoff base */
#define AG_RETRY_MAX     (60u * 1000)         /* ms, one backoff delay's cap */
#define AG_RATE_WAIT     (60u * 1000)         /* ms after a 429 without Retry-After */
#define AG_MIN_PAGE      250                  /* the floor of page halving */
#define AG_HEAVY_HALVE   2                    /* heavy answers in a row that halve */

/* ---- arcgis_http.c: the form (the request is io/http_req.h) ---- */

/* "name=value&..." with each value percent-encoded (RFC 3986 unreserved
 * kept); NAMES and VALUES are N long.  NULL when out of memory. */
char *ag_form(const char *const *names, const char *const *values, size_t n);

/* ---- arcgis_json.c ---- */

enum ag_ftype { AG_F_OID, AG_F_DATE, AG_F_TEXT, AG_F_NUMBER, AG_F_OTHER };

struct ag_field {
	char *name;
	enum ag_ftype type;
};

/* The layer document: what the pager keeps. */
struct ag_layer {
	struct ag_field *fields;
	size_t n_fields;
	size_t oid_index;         /* into fields */
	char *oid_name;
	bool geometry;            /* a Feature Layer with a geometryType */
	unsigned max_records;
	int64_t data_edit_ms, schema_edit_ms;
};
void ag_layer_free(struct ag_layer *l);

/* What a body is, beyond its rows: 0 = JSON that is not an error; else
 * -EIO with MSG (AG_ERR_MAX) and *RETRYABLE set: an ArcGIS error object,
 * a body that is not JSON (retryable), truncated JSON (retryable).  The
 * parsed document is returned in *DOC when 0 (caller json_decref). */
struct json_t;
int ag_judge_body(const char *p, size_t n, struct json_t **doc, bool *retryable,
                  char *msg);
/* Whether MSG (as ag_judge_body wrote it) says the page was too heavy:
 * "Error performing query operation", or an ArcGIS error 500 or 504. */
bool ag_error_heavy(const char *msg);

/* Each returns 0 or -EIO with MSG (the body was JSON, but not the shape). */
int ag_parse_layer(struct json_t *doc, struct ag_layer *out, char *msg);
int ag_parse_count(struct json_t *doc, int64_t *out, char *msg);
/* The ids, sorted ascending, duplicates dropped; caller frees *IDS. */
int ag_parse_ids(struct json_t *doc, int64_t **ids, size_t *n, char *msg);

/* ---- arcgis_csv.c ---- */

struct ag_digest {
	uint64_t hi, lo;          /* the sum mod 2^128 */
};

/* One rendered row of a chunk: its oid, its CSV line (in the chunk's
 * text), the XXH3-128 of the line without its oid field. */
struct ag_row {
	int64_t oid;
	size_t off, len;
	struct ag_digest h;
};

/* Append VALUE as one RFC 4180 field (quoted when it must be). */
void ag_csv_field(struct buf *b, const char *v, size_t n);
/* The header line (field names, then x,y when the layer has geometry). */
void ag_csv_header(struct buf *b, const struct ag_layer *l);
/* EPOCH_MS as ISO 8601 in TZ ("2018-11-11T15:44:00-07:00"; ".123" when
 * the milliseconds are not 0).  OUT holds at least 40 bytes. */
void ag_csv_date(const struct tz *tz, int64_t epoch_ms, char *out, size_t n);
/* A real Date value as epoch ms: truncated; INT64_MIN outside int64 (what
 * x86-64's conversion gives, without the undefined behaviour). */
int64_t ag_date_ms(double v);
/* A JSON number as the shortest text that reads back the same.  OUT
 * holds at least 32 bytes. */
void ag_csv_number(double v, char *out, size_t n);
void ag_digest_add(struct ag_digest *d, const struct ag_digest *x);
void ag_digest_hex(const struct ag_digest *d, char out[ARCGIS_DIGEST_HEX]);
int ag_digest_parse(const char *hex, struct ag_digest *d);

/* ---- arcgis_page.c ---- */

/* The chunk a page's rows go to: the chunk's N sorted IDS, a flag per id
 * (a row came), the rows (room for N) and their lines back to back. */
struct ag_chunk {
	const int64_t *ids;
	size_t n;
	bool *have;
	struct ag_row *rows;
	size_t n_rows;
	struct buf *text;
};

/* The page parser's buffers, kept from page to page. */
struct ag_pscan;
struct ag_pscan *ag_pscan_new(void);
void ag_pscan_free(struct ag_pscan *ps);

/* Judge the page body P (N bytes) and add its rows to C, exactly as
 * ag_judge_body and a walk of its DOM would (arcgis_page.c says how).
 * 0; -EIO with MSG (AG_ERR_MAX) and *RETRYABLE (the chunk as it was, but
 * for a bad feature: the rows before it stay); -ENOMEM. */
int ag_page_parse(struct ag_pscan *ps, const struct ag_layer *l, const struct tz *tz,
                  const char *p, size_t n, struct ag_chunk *c, bool *retryable, char *msg);

/* ---- the pager ---- */

enum ag_stage { AG_PREP, AG_META, AG_COUNT, AG_IDS, AG_RESET, AG_PAGE,
                AG_RECHECK_META, AG_RECHECK_COUNT, AG_FINISH };
enum ag_work { AGW_PREP, AGW_PARSE, AGW_RESET, AGW_FINISH };
enum ag_fin { AGF_KEEP, AGF_DISCARD, AGF_PUBLISH };

struct arcgis {
	struct http *http;
	arcgis_done_cb done;
	void *arg;

	/* the request, copied */
	char *url, *where, *zone, *dataset, *exec_date, *file_name;
	struct cfg_fetch lim;
	struct arcgis_stamp last;
	bool have_last, force, allow_http;
	unsigned req_page_size, page_size, retries;
	unsigned min_page;        /* the floor of halving */
	unsigned heavy;           /* heavy answers in a row for this chunk */
	unsigned halvings;
	uint64_t retry_delay_ms, rate_wait_ms, max_bytes;
	struct tz *tz;

	char *partial_dir, *part_path, *meta_path, *final_dir, *final_path;
	int fd;                   /* worker while a job runs */
	enum ag_stage stage;

	/* the layer as read this attempt */
	struct ag_layer layer;    /* worker during a parse of the layer */
	int64_t count;
	int64_t *ids;             /* sorted */
	size_t n_ids;
	size_t next;              /* first id of the next chunk */
	size_t chunk_end;         /* one past the chunk's last id */
	unsigned chunk_asks;      /* asks for this chunk (2: the re-ask) */
	struct ag_row *rows;      /* the chunk's rows so far (worker) */
	size_t n_rows;
	struct buf chunk_text;    /* their lines (worker) */
	struct buf out;           /* a chunk reordered for writing (worker) */
	struct ag_pscan *pscan;   /* (worker) */
	bool *have;               /* per id of the chunk: a row came (worker) */
	bool chunk_complete;      /* worker: set by the page parse */
	unsigned reloads;
	bool checking_short;      /* the recheck is for a chunk short twice */

	/* the file so far */
	uint64_t bytes, rows_done;
	unsigned pages_done;
	struct ag_digest digest;

	/* resume: the sidecar prep found (worker during prep) */
	bool have_side;
	int64_t side_data, side_schema;
	size_t side_next, side_nids;
	int64_t side_last_oid;
	uint64_t side_bytes, side_rows;
	unsigned side_pages;
	struct ag_digest side_digest;

	/* the request in flight and its retries */
	struct http_req q;
	unsigned tries;
	uv_timer_t timer;
	bool timer_on;

	/* the job (worker fields: job_*) */
	uv_work_t work;
	enum ag_work job;
	enum ag_stage job_stage;
	bool job_running;
	int job_err;              /* positive errno of a file operation */
	const char *job_what;
	int job_parse;            /* 0 or -EIO: the body's verdict */
	bool job_retryable;
	char job_msg[AG_ERR_MAX];
	int64_t job_count;
	uint64_t reset_to;        /* AGW_RESET: truncate to this (0: + header) */
	enum ag_fin fin;
	char hash_hex[ARCGIS_HASH_HEX];

	/* this attempt's figures */
	unsigned pages, requests;
	uint64_t request_bytes;
	bool metadata_only;

	/* outcome */
	enum arcgis_outcome outcome;
	char error[AG_ERR_MAX];
	int err;
	bool retryable;
	int64_t retry_after_ms;
	bool cancelled, finished;
};

/* ---- arcgis_file.c ---- */
void ag_queue_job(struct arcgis *a, enum ag_work job);

/* ---- arcgis.c ---- */
void ag_job_done(struct arcgis *a);

#endif
