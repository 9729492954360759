/*
 * s3.h - S3 requests on the loop: one client per storage target (endpoint,
 * region, bucket, prefix, addressing, credentials), asynchronous requests
 * through the daemon's struct http (io/http_xfer.h), errors parsed from the
 * XML body into a class.  No libcurl type appears here; callers outside
 * io/ (engine tasks, api) may use it.
 *
 * Signing: libcurl's CURLOPT_AWS_SIGV4 ("aws:amz:<region>:s3") signs every
 * request; this module adds what curl 7.88 does not: the
 * x-amz-content-sha256 header (UNSIGNED-PAYLOAD; each body carries its own
 * checksum instead, Content-MD5, see s3_request.content_md5), the session
 * token header, and a canonical query string (keys sorted, every key and
 * value percent-encoded per SigV4, s3_query_build), which curl 7.88 signs
 * as given.  Every header the caller sets is signed.
 *
 * Keys: s3_key() joins the client's prefix and a relative key
 * ("staging/<ds>/exec_date=D/<file>"); requests take full keys, so a key
 * read back from a listing is used as is.  URLs: path style
 * (<endpoint>/<bucket>/<key>) or virtual host (<scheme>://<bucket>.<host>/
 * <key>); the key is percent-encoded, '/' kept.
 *
 * Secrets: the secret key and session token are held by the client only;
 * they never appear in a message of this module (s3_result.message names
 * the operation, the bucket and key, the HTTP status and the S3 code and
 * message, nothing of the request's headers), and the client wipes them
 * when freed.
 *
 * Retries: a request whose answer is retryable (S3_RETRYABLE: no answer,
 * 500, 502, 503, 504, SlowDown, RequestTimeout, InternalError, ...) is sent
 * again by this module, up to s3_options.attempts in all, with
 * domain/backoff's full-jitter delays (and a longer Retry-After honoured)
 * on a uv timer; the done callback sees the last answer.  A GET whose body
 * callback has taken bytes is not retried (the caller holds half a body;
 * it decides), nor is a request the caller marks no_retry.
 *
 * Loop thread only.  Done callbacks are called once per s3_send() that
 * returned 0, never from inside s3_send(), unless s3_cancel() came first.
 */
#ifndef DENVERD_IO_S3_H
#define DENVERD_IO_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http;
struct s3_client;
struct s3_call;

#define S3_MIN_PART_SIZE   (8ull * 1024 * 1024)    /* denverd's floor (S3's is 5 MiB) */
#define S3_MAX_PARTS       10000
#define S3_ETAG_MAX        80                      /* an ETag as kept (quotes removed) */
#define S3_CODE_MAX        64
#define S3_MSG_MAX         512

/* What a client is made of; s3_client_new copies every string. */
struct s3_options {
	const char *endpoint;        /* "http://127.0.0.1:8333", "https://s3.us-west-2.amazonaws.com" */
	const char *region;          /* "us-east-1" */
	const char *bucket;
	const char *prefix;          /* "" or "denverd" (no leading or trailing '/') */
	bool path_style;             /* <endpoint>/<bucket>/<key> (SeaweedFS, MinIO) */
	const char *access_key;
	const char *secret_key;
	const char *session_token;   /* NULL or "" for none */
	unsigned attempts;           /* in all, for retryable answers; 0 = 5 */
	uint64_t retry_delay_ms;     /* backoff base; 0 = 200ms */
	uint64_t retry_max_delay_ms; /* cap of one delay; 0 = 10s */
	uint64_t connect_timeout_ms; /* 0 = 10s */
	uint64_t low_speed_time_ms;  /* abort below 1 KiB/s for this long; 0 = 60s */
};

/*
 * A client for OPT.  0 and *out, or -EINVAL with *err (caller frees; no
 * secret in it) for a bad endpoint, bucket name or missing credentials, or
 * -ENOMEM.  H must outlive the client.
 */
int s3_client_new(struct http *h, const struct s3_options *opt, struct s3_client **out,
                  char **err);

/* Cancel every call still in flight (no callbacks), wipe the secrets,
 * free.  Accepts NULL. */
void s3_client_free(struct s3_client *c);

const char *s3_client_bucket(const struct s3_client *c);
const char *s3_client_prefix(const struct s3_client *c);   /* "" when none */

/* PREFIX "/" REL (or REL when the prefix is empty) into *out (caller
 * frees).  0, -EINVAL (REL empty or starting with '/'), -ENOMEM. */
int s3_key(const struct s3_client *c, const char *rel, char **out);

/* "s3://<bucket>/<key>" into *out (caller frees); for messages and rows. */
int s3_uri(const struct s3_client *c, const char *key, char **out);

/* ---- requests ---- */

enum s3_op {
	S3_PUT,             /* PutObject: body, content_md5, if_none_match */
	S3_GET,             /* GetObject: body streamed to on_body; range */
	S3_HEAD,            /* HeadObject */
	S3_DELETE,          /* DeleteObject */
	S3_COPY,            /* CopyObject from src_key (same bucket); if_none_match */
	S3_LIST,            /* ListObjectsV2: key = prefix to list, token */
	S3_LIST_UPLOADS,    /* ListMultipartUploads: key = prefix, token = key-marker,
	                       token2 = upload-id-marker */
	S3_CREATE_UPLOAD,   /* CreateMultipartUpload -> result.upload_id */
	S3_UPLOAD_PART,     /* UploadPart: upload_id, part_number, body, content_md5 */
	S3_UPLOAD_PART_COPY,/* UploadPartCopy: src_key, range ("bytes=a-b") */
	S3_COMPLETE,        /* CompleteMultipartUpload: upload_id, parts; if_none_match */
	S3_ABORT,           /* AbortMultipartUpload: upload_id */
};
#define S3_OP_COUNT (S3_ABORT + 1)
const char *s3_op_name(enum s3_op op);    /* "PutObject", ... */

/* One part of a CompleteMultipartUpload. */
struct s3_part {
	unsigned number;             /* 1..S3_MAX_PARTS, ascending */
	const char *etag;            /* as UploadPart returned it (no quotes) */
};

/* Called with each piece of a GET's body, in order.  Return 0 to go on,
 * S3_BODY_PAUSE to pause the transfer (the piece is NOT taken: it comes
 * again after s3_resume), or a negative errno to abort (the call then
 * ends with class S3_PERMANENT, code "ClientAbort"). */
#define S3_BODY_PAUSE 1
typedef int (*s3_body_cb)(void *arg, const char *data, size_t n);

struct s3_request {
	enum s3_op op;
	const char *key;             /* full key (s3_key); for lists the prefix */
	const char *src_key;         /* COPY, UPLOAD_PART_COPY: full source key */
	const char *upload_id;       /* UPLOAD_PART(_COPY), COMPLETE, ABORT */
	unsigned part_number;        /* UPLOAD_PART(_COPY) */
	const struct s3_part *parts; /* COMPLETE */
	size_t n_parts;
	const char *token;           /* LIST: continuation-token; LIST_UPLOADS: key-marker */
	const char *token2;          /* LIST_UPLOADS: upload-id-marker */
	const char *delimiter;       /* LIST: "/" or NULL */
	unsigned max_keys;           /* LIST: max-keys, LIST_UPLOADS: max-uploads;
	                                0 = the server's (1000) */
	/* PUT, UPLOAD_PART: the body, borrowed until the done callback. */
	const void *body;
	size_t body_len;
	const char *content_md5;     /* base64 MD5 of the body (s3_md5_base64), or NULL */
	bool if_none_match;          /* If-None-Match: * (PUT, COPY, COMPLETE) */
	const char *range;           /* GET, UPLOAD_PART_COPY: "bytes=a-b"; NULL = whole */
	s3_body_cb on_body;          /* GET: the body; NULL = kept in result.body (capped) */
	bool no_retry;               /* one attempt whatever the answer */
};

enum s3_class {
	S3_OK,                       /* 2xx (206 for a range) */
	S3_RETRYABLE,                /* after the attempts: still throttled, 5xx, no answer */
	S3_PERMANENT,                /* 4xx other than those below; bad credentials */
	S3_NOT_FOUND,                /* 404: NoSuchKey, NoSuchUpload (NoSuchBucket is PERMANENT) */
	S3_PRECONDITION,             /* 412 (If-None-Match: * on an existing key) */
};
const char *s3_class_name(enum s3_class c);   /* "ok", "retryable", ... */

/* One object or upload of a listing (pointers into the result). */
struct s3_entry {
	const char *key;
	const char *upload_id;       /* LIST_UPLOADS only */
	const char *etag;            /* LIST only, no quotes */
	uint64_t size;               /* LIST only */
	const char *time;            /* LastModified / Initiated, as sent */
};

/* How a request went; every pointer lives during the callback only. */
struct s3_result {
	enum s3_class cls;
	long status;                 /* HTTP status of the last answer; 0 = none */
	unsigned attempts;           /* sent this many times */
	const char *code;            /* S3 error code ("SlowDown", "AccessDenied"),
	                                "Network" when no answer, "" on success */
	const char *message;         /* in words, for logs and errors:
	                                "PutObject s3://b/k: HTTP 403 AccessDenied:
	                                Access Denied"; "" on success */
	int64_t retry_after_ms;      /* of the last answer; -1 = none */
	const char *etag;            /* PUT, UPLOAD_PART, COMPLETE, HEAD, COPY: no quotes */
	int64_t content_length;      /* HEAD, GET: -1 = unknown */
	const char *upload_id;       /* CREATE_UPLOAD */
	const char *body;            /* GET without on_body, lists: the body (capped) */
	size_t body_len;
	/* LIST, LIST_UPLOADS */
	const struct s3_entry *entries;
	size_t n_entries;
	bool truncated;              /* call again with next_token(2) */
	const char *next_token;      /* LIST: NextContinuationToken; UPLOADS: NextKeyMarker */
	const char *next_token2;     /* UPLOADS: NextUploadIdMarker */
};

typedef void (*s3_done_cb)(void *arg, const struct s3_result *r);

/*
 * Send RQ (copied, but for body and parts' strings which are copied too,
 * and body which stays borrowed until DONE).  0 and *out (may be NULL:
 * then the call cannot be cancelled), or -EINVAL (a field missing for the
 * op), -ENOMEM.  On_body (GET) and DONE run on the loop thread.
 */
int s3_send(struct s3_client *c, const struct s3_request *rq, s3_done_cb done, void *arg,
            struct s3_call **out);

/* Stop CALL now; its DONE is not called.  Only before DONE. */
void s3_cancel(struct s3_call *call);

/* Resume a GET paused by its body callback. */
void s3_resume(struct s3_call *call);

/* Calls in flight (tests, status). */
unsigned s3_active(const struct s3_client *c);

/* ---- pieces, exposed for their unit tests ---- */

/* SigV4 URI encoding of S[0..N) appended to OUT (cap OUT_SIZE, NUL-ended):
 * unreserved A-Z a-z 0-9 - . _ ~ kept, '/' kept when KEEP_SLASH, every
 * other byte %XX (upper case).  Returns the length written, or -E2BIG. */
int s3_uri_encode(const char *s, size_t n, bool keep_slash, char *out, size_t out_size);

/* A canonical query from N key/value pairs (VALUES[i] NULL = "key="):
 * encoded, sorted by encoded key then value, joined with '&'.  *out is
 * the caller's.  0, -ENOMEM. */
int s3_query_build(const char *const *keys, const char *const *values, size_t n,
                   char **out);

/* The base64 of a 16-byte MD5 digest into OUT (25 bytes). */
void s3_md5_base64(const unsigned char md5[16], char out[25]);

/* Parse an S3 <Error> body: CODE and MSG (NUL-ended, capped, XML
 * entities decoded).  true when a Code was found. */
bool s3_xml_error(const char *body, size_t n, char code[S3_CODE_MAX], char msg[S3_MSG_MAX]);

/* The class of an answer: STATUS (0 = none) and its S3 CODE ("" = none). */
enum s3_class s3_classify(long status, const char *code);

#endif
