/*
 * s3_int.h - what the files of the S3 client share; nothing outside
 * daemon/io/s3*.c (and their unit test) includes it.  The public
 * interface is io/s3.h.
 *
 *   s3_client.c  the client: made from the options, keys, names
 *   s3.c         a call's life (curl setup, answer, retries)
 *   s3_xml.c     the pure pieces: encoding, the class of an answer, XML
 *   s3_sign.c    a SigV4 signature of our own, where libcurl 7.88 gets it wrong
 */
#ifndef DENVERD_IO_S3_INT_H
#define DENVERD_IO_S3_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/config_types.h"
#include "io/s3.h"

/* A client (s3_client.c); its calls are s3.c's.  The secret and the
 * token are wiped when it is freed. */
struct s3_client {
	struct http *http;
	char *endpoint;           /* scheme://host[:port], no trailing '/' */
	char *scheme, *hostport;
	char *region, *bucket, *prefix, *sigv4;
	char *access_key, *secret_key, *token;
	bool path_style;
	struct cfg_retry retry;
	unsigned attempts;
	uint64_t connect_ms, low_speed_ms;
	struct s3_call *calls;        /* in flight (s3.c's list) */
	unsigned n_calls;
};



/* A listing read from an answer: ENTRIES and their text in ARENA, both
 * owned by the listing (s3x_list_free). */
struct s3x_listing {
	struct s3_entry *entries;
	size_t n;
	bool truncated;
	const char *next, *next2;    /* "" when absent */
	char *arena;
};

/* ListObjectsV2 (UPLOADS false) or ListMultipartUploads (true) body of N
 * bytes into L.  0 or -ENOMEM (L empty). */
int s3x_list(const char *body, size_t n, bool uploads, struct s3x_listing *l);
void s3x_list_free(struct s3x_listing *l);

/* The raw text of the first <TAG> in [P, END): *a, *n; false when absent. */
bool s3x_find(const char *p, const char *end, const char *tag, const char **a, size_t *n);

/* Its decoded text into OUT (capped, NUL-ended); false when absent. */
bool s3x_text(const char *p, const char *end, const char *tag, char *out, size_t out_size);

/* XML text decoded (the five named entities, &#N; and &#xN; below 128). */
size_t s3x_decode(const char *s, size_t n, char *out, size_t out_size);

/* S percent-encoded (s3_uri_encode) into a new string; NULL: no memory. */
char *s3x_encode_dup(const char *s, bool keep_slash);

/* Remove one pair of surrounding double quotes, in place. */
void s3x_unquote(char *s);

/* What s3_sign_v4 signs: a request with an unsigned payload
 * (x-amz-content-sha256: UNSIGNED-PAYLOAD, which must be among the
 * headers).  PATH is the URL's path as sent (encoded), QUERY its
 * canonical query (s3_query_build) or NULL; NAMES (lower case, sorted by
 * name alone) and VALUES the N headers signed, host and x-amz-date
 * (AMZ_DATE, "YYYYMMDDTHHMMSSZ") among them.  Borrowed. */
struct s3_sign_in {
	const char *method, *path, *query, *region, *amz_date;
	const char *access_key, *secret_key;
	const char *const *names, *const *values;
	size_t n;
};
/* "Authorization: AWS4-HMAC-SHA256 Credential=..." (a header line) into
 * AUTH (LEN bytes).  0, -E2BIG, -ENOMEM or -EIO. */
int s3_sign_v4(const struct s3_sign_in *in, char *auth, size_t len);

/* An UploadPartCopy with a range to URL (as sent; its query canonical),
 * sent to HOST: its x-amz-date (now) into DATE and its Authorization
 * header line into AUTH, signing host, x-amz-content-sha256
 * (UNSIGNED-PAYLOAD), x-amz-copy-source, x-amz-copy-source-range,
 * x-amz-date and, when TOKEN, x-amz-security-token.  0 or -errno. */
struct s3_copy_sign {
	const char *url, *host, *region, *access_key, *secret_key, *token;
	const char *copy_source, *range;
};
int s3_sign_copy_range(const struct s3_copy_sign *s, char date[17], char *auth, size_t len);

#endif
