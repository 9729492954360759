/*
 * fetch.h - one download of one dataset for one exec date: conditional,
 * resumable, streamed to disk with a content hash, published atomically.
 *
 * Files (all under state_dir, one filesystem so the rename is atomic):
 *   staging/.partial/<dataset>.<exec_date>.part       bytes so far
 *   staging/.partial/<dataset>.<exec_date>.part.meta  JSON sidecar: url,
 *        etag, last_modified, total - the validator a resume sends in If-Range
 *   staging/<dataset>/exec_date=<D>/<file_name>        the published snapshot
 * A snapshot appears under its final name only complete: fsync the file,
 * rename, fsync the directory, and only then the done callback, after which
 * the caller commits the state row (store_snapshot_add).
 *
 * The hash is XXH3-128 (libxxhash) of the bytes as served, written as 32
 * lowercase hex digits.  It is computed on the worker thread that writes
 * each buffer (see fetch.c for the measurements behind that choice).
 *
 * Loop thread only, except where said.
 */
#ifndef DENVERD_FETCH_H
#define DENVERD_FETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "domain/config_types.h"
#include "domain/template.h"

struct http;
struct fetch;
struct s3_client;

#define FETCH_HASH_HEX 33        /* 32 hex digits + NUL */

/*
 * S3 mode (fetch_request.s3 set): the body is not written to disk but
 * streamed into a multipart upload of <prefix>/staging/<dataset>/
 * exec_date=D/<file_name> (io/fetch_s3.c): parts of part_size bytes, each
 * with its Content-MD5 (the server refuses a part that arrived otherwise)
 * and its ETag checked against that MD5; the object appears only when
 * CompleteMultipartUpload (or, for a body smaller than one part, one
 * PutObject) succeeds, with If-None-Match: * so that a snapshot is never
 * overwritten.  What a resume needs is handed to the caller as it happens
 * (fetch_upload_cb), to keep in its store, and back in fetch_request.resume.
 */
struct fetch_upload_part {
	unsigned number;             /* 1.. */
	const char *etag;            /* = the MD5 of the part, hex */
	uint64_t size;
	uint64_t end;                /* offset of the byte after it in the file */
	const void *hash_state;      /* the content hash's state after it (opaque) */
	size_t hash_state_len;
};

/* An open upload, as fetch_upload_cb reported it. */
struct fetch_upload {
	const char *key;             /* the object's full key */
	const char *upload_id;
	const char *url;             /* the source URL it was made from */
	const char *etag;            /* the source's validators, for If-Range */
	const char *last_modified;
	int64_t total;               /* the source's size, -1 = unknown */
	const struct fetch_upload_part *parts;   /* any order */
	size_t n_parts;
};

enum fetch_upload_event {
	FETCH_UPLOAD_BEGIN,          /* an upload was created: keep it (upload) */
	FETCH_UPLOAD_PART,           /* a part is stored: keep it (part) */
	FETCH_UPLOAD_RESET,          /* the source started again from byte 0: forget
	                                the parts, keep the upload */
	FETCH_UPLOAD_END,            /* completed or aborted: forget it */
};

/* Called on the loop thread while the fetch runs; every pointer lives
 * during the call only.  The fetch goes on whatever the caller does. */
typedef void (*fetch_upload_cb)(void *arg, enum fetch_upload_event ev,
                                const struct fetch_upload *upload,
                                const struct fetch_upload_part *part);

/* What a caller asks for.  fetch_start copies every string. */
struct fetch_request {
	const char *url;             /* already expanded (fetch_url_expand) */
	const struct cfg_fetch *limits;
	const char *state_dir;
	const char *dataset;         /* [a-z0-9_]+ */
	const char *exec_date;       /* YYYY-MM-DD */
	const char *file_name;       /* published name, no '/' */
	/* The last published snapshot (store_snapshot_last); NULL = none. */
	const char *etag;            /* sent as If-None-Match */
	const char *last_modified;   /* sent as If-Modified-Since */
	const char *last_hash;       /* a 200 with this hash is "unchanged" */
	bool force;                  /* no conditional GET, no same-hash check */
	bool allow_file_urls;        /* file:// too (config allow_file_urls): read
	                                on the thread pool (fetch_local.c), its
	                                mtime as Last-Modified for a resume */
	/* S3 mode: NULL = the local files above.  The client must outlive
	 * the fetch; state_dir is then not used. */
	struct s3_client *s3;
	uint64_t part_size;          /* >= S3_MIN_PART_SIZE */
	const struct fetch_upload *resume;   /* a previous attempt's, or NULL */
	fetch_upload_cb on_upload;   /* NULL: nothing is kept, no resume */
	void *upload_arg;
};

enum fetch_outcome {
	FETCH_PUBLISHED,             /* new snapshot at result.path */
	FETCH_UNCHANGED,             /* 304, or 200 with last_hash: nothing kept */
	FETCH_FAILED,                /* see error, retryable, retry_after_ms */
	FETCH_CANCELLED,             /* fetch_cancel(): the .part is kept */
};

/* Handed to the done callback; every pointer lives until it returns. */
struct fetch_result {
	enum fetch_outcome outcome;
	long http_status;            /* last response; 0 for none or file:// */
	/* published (path, bytes, hash), and unchanged (hash when a body was
	 * downloaded, else ""; etag/last_modified of the response, NULL when
	 * the server sent none: store them as the new validators). */
	const char *path;            /* state_dir/staging/<dataset>/exec_date=D/
	                                <file_name> when published, else NULL;
	                                S3 mode: s3://<bucket>/<key> */
	uint64_t bytes;
	const char *hash;            /* 32 hex digits, or "" */
	const char *etag;
	const char *last_modified;
	const char *url;             /* the URL requested */
	uint64_t resumed_from;       /* bytes kept from a .part (0 = fresh) */
	/* failed */
	const char *error;           /* "HTTP 404 Not Found from <url>", ... */
	int err;                     /* negative errno, or -EIO for HTTP/curl */
	bool retryable;              /* network, 408, 429, 5xx, disk */
	int64_t retry_after_ms;      /* Retry-After, or -1 when not given */
};

/*
 * Called once per fetch_start, on the loop thread, after every file
 * operation has finished.  F is freed when the callback returns.
 */
typedef void (*fetch_done_cb)(struct fetch *f, const struct fetch_result *r,
                              void *arg);

struct fetch_progress {
	uint64_t bytes;              /* in the file so far, resumed prefix included */
	int64_t total;               /* full size, or -1 when unknown */
	uint64_t rate;               /* bytes per second over the last ~second */
	uint64_t resumed_from;
};

/*
 * Start a download through H.  Returns 0 and *out (valid until the done
 * callback returns), or a negative errno without calling DONE: -EINVAL for a
 * bad request (names, date, URL scheme not allowed: then *err, if not NULL,
 * is a message the caller frees), -ENOMEM.  The done callback never runs
 * from inside fetch_start.
 *
 * The caller runs at most one fetch per dataset and exec date at a time
 * (they share the .part), and keeps H alive until every fetch started on it
 * has called back: at shutdown, fetch_cancel each, wait for the callbacks,
 * then http_fini.  The daemon ignores SIGXFSZ so that a file-size limit
 * fails a write with EFBIG instead of killing it.
 */
int fetch_start(struct http *h, const struct fetch_request *req, fetch_done_cb done,
                void *arg, struct fetch **out, char **err);

/*
 * Stop F (daemon stop, run cancel).  The done callback follows with
 * FETCH_CANCELLED once buffered bytes are on disk; the .part and its
 * sidecar stay for a later resume.  If F is already publishing, the
 * publish completes and is reported as such.  Idempotent until the done
 * callback; never after it (F is gone).
 */
void fetch_cancel(struct fetch *f);

/* Progress of F right now. */
void fetch_progress(const struct fetch *f, struct fetch_progress *p);

const char *fetch_outcome_name(enum fetch_outcome o);   /* "published" ... */

/* ---- URL templates ---- */

/*
 * The template variables of an exec date: {exec_date} "2026-11-24",
 * {year} "2026", {month} "11", {day} "24" (zero-padded, as in the date).
 * The struct holds the strings; vars[] points into it.
 */
struct fetch_date_vars {
	char exec_date[11], year[5], month[3], day[3];
	struct template_var vars[4];
};

/* 0, or -EINVAL when EXEC_DATE is not a valid YYYY-MM-DD date. */
int fetch_date_vars_init(struct fetch_date_vars *v, const char *exec_date);

/* Expand TMPL for EXEC_DATE into *out (caller frees).  Errors as
 * template_expand, and -EINVAL for a bad date. */
int fetch_url_expand(const char *tmpl, const char *exec_date, char **out,
                     size_t *bad);

#endif
