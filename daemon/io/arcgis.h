/*
 * arcgis.h - one snapshot of an ArcGIS FeatureServer layer or table, paged
 * into the canonical CSV and published like a download (fetch.h).
 *
 * The procedure (docs/ARCGIS.md, section 6.8; tested against the emulator
 * in tests/arcgis/):
 *   1. GET <layer>?f=json: fields (names, types, layer order), maxRecordCount,
 *      objectIdField, editingInfo.  When the edit stamps equal LAST's, the
 *      run is UNCHANGED after this one request (metadata_only).
 *   2. returnCountOnly and returnIdsOnly (sorted here, never trusted sorted).
 *   3. Pages by POST, in object-id chunks of at most the page size (never
 *      above maxRecordCount): where=(<where>) AND <oid> >= a AND <oid> <= b,
 *      outFields=*, outSR=4326, f=json.  A page is judged by the rows it
 *      holds, never by its size or its exceededTransferLimit alone; a chunk
 *      that comes back short is asked again for what is missing.
 *   4. After the last page, editingInfo and the count again: if either
 *      moved, the attempt is discarded (the layer was reloaded meanwhile)
 *      and retried, at most ARCGIS_MAX_RELOADS times.
 *   5. The .part is fsynced, renamed, the directory fsynced (as fetch.h).
 *
 * The canonical CSV: UTF-8, RFC 4180 (CRLF, fields quoted when they hold a
 * comma, quote, CR or LF), a header of the field names in layer order
 * followed by x and y (the geometry in WGS 84 when the layer has one; the
 * columns are absent for tables), one row per feature in object-id order.
 * esriFieldTypeDate values (epoch ms) as ISO 8601 with an explicit offset in
 * the request's DATE_ZONE ("2018-11-11T15:44:00-07:00"); DateOnly as given;
 * null as an empty field; strings byte for byte (two spaces stay two
 * spaces); numbers as the shortest text that reads back the same.  The
 * object id column is kept (it says where a row came from) but it is not
 * part of the digest.
 *
 * Change detection without trusting the object ids: the stamp's digest is
 * the sum (mod 2^128) of XXH3-128 of each row's canonical text without the
 * object id, so the same rows in another order, or under fresh ids, give
 * the same digest.  A download whose digest and count equal LAST's ends
 * UNCHANGED and nothing is kept.
 *
 * Files (as fetch.h, one filesystem):
 *   staging/.partial/<dataset>.<exec_date>.part          rows so far
 *   staging/.partial/<dataset>.<exec_date>.part.arcgis   JSON sidecar: the
 *        layer URL, the stamp the pages came from, the sorted object ids'
 *        position reached, the .part's length and digest after the last
 *        completed page.  After a crash the next attempt truncates the .part
 *        to that length and goes on from the next chunk, so the published
 *        file is byte-identical to an uninterrupted one.
 *   staging/<dataset>/exec_date=<D>/<file_name>            the snapshot
 *
 * Memory: one page in memory at a time.  Inflating (a gzip answer is kept
 * as it came: io/http_req.h), JSON parsing and CSV writing run on the libuv
 * thread pool; the loop thread only moves bytes.  While a gzip page is
 * inflated and parsed its compressed body and its inflated text both
 * exist (each up to the body cap); both buffers are kept, emptied, for
 * the next answer.
 *
 * Loop thread only, except where said.
 */
#ifndef DENVERD_IO_ARCGIS_H
#define DENVERD_IO_ARCGIS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "domain/config_types.h"

struct http;
struct arcgis;

#define ARCGIS_DIGEST_HEX 33       /* 32 hex digits + NUL */
#define ARCGIS_HASH_HEX 33
#define ARCGIS_MAX_RELOADS 3       /* layer reloads survived by one attempt */

/* What identifies a version of a layer; -1 / "" where unknown. */
struct arcgis_stamp {
	int64_t data_edit_ms;          /* editingInfo.dataLastEditDate, else
	                                  lastEditDate */
	int64_t schema_edit_ms;        /* editingInfo.schemaLastEditDate */
	int64_t count;                 /* rows (returnCountOnly) */
	char digest[ARCGIS_DIGEST_HEX];/* of the rows, as above */
};

/*
 * A stamp as one validator string, so the store keeps it where it keeps an
 * ETag ("arcgis1;data=...;schema=...;count=...;digest=...").  format writes
 * at most ARCGIS_STAMP_MAX bytes; parse returns 0, or -EINVAL for a string
 * that is not one (an http ETag, say: then S is all unknown).
 */
#define ARCGIS_STAMP_MAX 160
void arcgis_stamp_format(const struct arcgis_stamp *s, char *buf, size_t n);
int arcgis_stamp_parse(const char *text, struct arcgis_stamp *s);

/* What a caller asks for.  arcgis_start copies every string. */
struct arcgis_request {
	const char *layer_url;         /* https://.../FeatureServer/<id>, no query */
	const char *where;             /* NULL = "1=1" */
	unsigned page_size;            /* 0 = the layer's maxRecordCount (the
	                                  ceiling in any case) */
	const char *date_zone;         /* IANA zone the dates are written in */
	const struct cfg_fetch *limits;/* timeouts, retries of one request,
	                                  max_bytes of the snapshot */
	const char *state_dir;
	const char *dataset;           /* [a-z0-9_]+ */
	const char *exec_date;         /* YYYY-MM-DD */
	const char *file_name;         /* published name, no '/' */
	const struct arcgis_stamp *last; /* the last good snapshot's; NULL = none */
	bool force;                    /* no metadata shortcut, no same-digest check */
	bool allow_http;               /* http:// too (tests, the demo); else https only */
	/* Added with the implementation (a superset: 0 keeps the default).
	 * cfg_fetch has no retry count and no size cap, so they are here.
	 * A request that fails in a way that may pass (network, HTTP
	 * 408/429/5xx, a body that is not JSON or is cut, an ArcGIS error
	 * with a 429/5xx code or "Error performing query operation") is sent
	 * again in place up to RETRIES times (default 4) after a backoff of
	 * base RETRY_DELAY_MS (default 1 s, full jitter, capped at 60 s), or
	 * its Retry-After; a 429 without Retry-After waits at least
	 * RATE_LIMIT_WAIT_MS (default 60 s, ARCGIS.md 2.6).  Then the attempt
	 * fails retryable with the .part kept for the next one. */
	unsigned retries;
	uint64_t retry_delay_ms;
	uint64_t rate_limit_wait_ms;
	uint64_t max_bytes;            /* of the snapshot; 0 = no cap */
	/* A page answered AG_HEAVY_HALVE (2) times in a row with "Error
	 * performing query operation", an ArcGIS error 500/504 or HTTP
	 * 500/504 is too heavy (ARCGIS.md 2.5, 6.8 step 5): the page size is
	 * halved, not below MIN_PAGE_SIZE (default 250, as the ArcGIS API for
	 * Python), for the rest of the attempt.  The file does not change:
	 * rows stay in object-id order whatever the chunks. */
	unsigned min_page_size;
	/* Where the finished snapshot is renamed to, instead of
	 * staging/<dataset>/exec_date=<D>/<file_name>: a path under
	 * staging/.partial (the same filesystem).  NULL = the default.  S3
	 * mode gives the held path below. */
	const char *publish_path;
};

enum arcgis_outcome {
	ARCGIS_PUBLISHED,              /* new snapshot at result.path */
	ARCGIS_UNCHANGED,              /* stamps or digest equal LAST's */
	ARCGIS_FAILED,                 /* see error, retryable, retry_after_ms */
	ARCGIS_CANCELLED,              /* arcgis_cancel(): the .part is kept */
};

/* Handed to the done callback; every pointer lives until it returns. */
struct arcgis_result {
	enum arcgis_outcome outcome;
	const char *path;              /* published: the snapshot, else NULL */
	uint64_t bytes;
	const char *hash;              /* XXH3-128 of the file as published (as
	                                  fetch.h's hash), or "" */
	uint64_t rows;
	unsigned pages;                /* query pages received in this attempt */
	unsigned requests;             /* every request this attempt sent */
	unsigned page_size;            /* at the end (after any halving); 0
	                                  before the layer document */
	unsigned halvings;             /* times the page size was halved */
	uint64_t request_bytes;        /* bytes received by them */
	bool metadata_only;            /* unchanged after the layer document */
	struct arcgis_stamp stamp;     /* of what was read (store as validator) */
	const char *url;               /* the layer URL */
	/* failed */
	const char *error;             /* the server's message, or ours */
	int err;                       /* negative errno, -EIO for HTTP/ArcGIS */
	bool retryable;                /* network, 429, 5xx, non-JSON, reload */
	int64_t retry_after_ms;        /* Retry-After, or -1 */
};

typedef void (*arcgis_done_cb)(struct arcgis *a, const struct arcgis_result *r, void *arg);

struct arcgis_progress {
	unsigned pages;                /* pages written so far, resumed ones included */
	uint64_t rows;                 /* rows written so far */
	int64_t count;                 /* the layer's count, or -1 before it is known */
	uint64_t bytes;                /* of the .part */
};

/*
 * Start a snapshot through H; as fetch_start: 0 and *out (valid until the
 * done callback returns), or a negative errno without calling DONE (-EINVAL
 * with *err, which the caller frees, for a bad request; -ENOMEM).  DONE is
 * never called from inside arcgis_start.  One at a time per dataset and
 * exec date; H outlives every snapshot started on it.
 */
int arcgis_start(struct http *h, const struct arcgis_request *req, arcgis_done_cb done,
                 void *arg, struct arcgis **out, char **err);

/* Stop A; DONE follows with ARCGIS_CANCELLED once written pages are on
 * disk (the .part and its sidecar stay for a resume).  Idempotent until the
 * done callback. */
void arcgis_cancel(struct arcgis *a);

void arcgis_progress(const struct arcgis *a, struct arcgis_progress *p);

const char *arcgis_outcome_name(enum arcgis_outcome o);  /* "published" ... */

/*
 * ---- S3 mode: the held snapshot (arcgis_held.c) ----
 *
 * With storage: s3 the pager still pages into the local .part (resumable
 * page by page, and "unchanged" is known only after the last page), then
 * publishes it as the held file, which the engine hands to the fetch into
 * S3 (fetch.h with the upload, source file://) and removes once the
 * object is complete:
 *   staging/.partial/<dataset>.<exec_date>.held        the finished CSV
 *   staging/.partial/<dataset>.<exec_date>.held.stamp  its stamp (text of
 *        arcgis_stamp_format), written after the held file is in place;
 *        a held file without it is not trusted (the pager runs again).
 * A held file with its stamp is a snapshot waiting for its upload: the
 * next attempt uploads it (resuming the multipart upload) without asking
 * the layer again.
 *
 * The functions block on the disk (a stat, a read or an fsynced write of
 * the stamp's few bytes); the engine calls them on the loop thread, as it
 * writes state.db there.  The removal runs on the threadpool.
 */
struct arcgis_held {
	char *path;                    /* the held CSV */
	char *stamp_path;
	char *url;                     /* file:// URL of path, percent-encoded */
};

/* The paths of DATASET's snapshot of EXEC_DATE under STATE_DIR (an absolute
 * path): 0, or -ENOMEM / -EINVAL (a relative STATE_DIR).  Clear with
 * arcgis_held_clear. */
int arcgis_held_init(struct arcgis_held *h, const char *state_dir, const char *dataset,
                     const char *exec_date);
void arcgis_held_clear(struct arcgis_held *h);

/* Whether a held snapshot with its stamp is there: 0 with *STAMP, else
 * -ENOENT (no file, no stamp, or a stamp that does not parse). */
int arcgis_held_find(const struct arcgis_held *h, struct arcgis_stamp *stamp);

/* Write STAMP next to the held file (temp, fsync, rename, fsync the
 * directory): 0 or -errno. */
int arcgis_held_keep(const struct arcgis_held *h, const struct arcgis_stamp *stamp);

/* Remove the held file and its stamp (what is not there is no error): on
 * LOOP's threadpool (the paths copied; done some time later), or here
 * when LOOP is NULL. */
void arcgis_held_remove(uv_loop_t *loop, const struct arcgis_held *h);

#endif
