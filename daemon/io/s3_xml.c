/*
 * s3_xml.c - the pure pieces of the S3 client (io/s3.h): SigV4 URI
 * encoding and the canonical query, base64 of an MD5, the class of an
 * answer, and reading S3's small XML answers (errors, CreateMultipartUpload,
 * CompleteMultipartUpload, ListObjectsV2, ListMultipartUploads).
 *
 * The XML is read with a tag finder, not a parser: S3 answers are flat,
 * machine-written documents whose elements of interest hold text only, and
 * only the entities XML predefines (and numeric ones) occur in them.  A
 * document that does not have the shape is read as "no such element".
 * No allocation but in s3x_list (the entries and their decoded text, in
 * one arena the caller frees).  Any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strtable.h"
#include "io/s3_int.h"

static const char *const s3_class_table[] = {
	[S3_OK] = "ok", [S3_RETRYABLE] = "retryable", [S3_PERMANENT] = "permanent",
	[S3_NOT_FOUND] = "not_found", [S3_PRECONDITION] = "precondition",
};
STRING_TABLE_STATIC(s3_class, enum s3_class)

const char *s3_class_name(enum s3_class c)
{
	const char *s = s3_class_to_string(c);
	return s ? s : "?";
}

/* ---- encoding ---- */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int s3_uri_encode(const char *s, size_t n, bool keep_slash, char *out, size_t out_size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			if (o + 1 >= out_size)
				return -E2BIG;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= out_size)
				return -E2BIG;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= out_size)
		return -E2BIG;
	out[o] = '\0';
	return (int)o;
}

/* S percent-encoded into a new string (3x is the worst case). */
char *s3x_encode_dup(const char *s, bool keep_slash)
{
	size_t n = strlen(s), cap = 3 * n + 1;
	char *out = malloc(cap);
	if (out && s3_uri_encode(s, n, keep_slash, out, cap) < 0) {
		free(out);
		out = NULL;
	}
	return out;
}

struct qpair {
	char *k, *v;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

int s3_query_build(const char *const *keys, const char *const *values, size_t n,
                   char **out)
{
	struct qpair *p = calloc(n ? n : 1, sizeof *p);
	size_t len = 1;
	int rc = 0;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		p[i].k = s3x_encode_dup(keys[i], false);
		p[i].v = s3x_encode_dup(values[i] ? values[i] : "", false);
		if (!p[i].k || !p[i].v)
			rc = -ENOMEM;
		else
			len += strlen(p[i].k) + strlen(p[i].v) + 2;
	}
	if (rc == 0) {
		qsort(p, n, sizeof *p, qpair_cmp);
		char *s = malloc(len), *w = s;
		if (!s)
			rc = -ENOMEM;
		for (size_t i = 0; s && i < n; i++)
			w += sprintf(w, "%s%s=%s", i ? "&" : "", p[i].k, p[i].v);
		if (s)
			*w = '\0';
		*out = s;
	}
	for (size_t i = 0; i < n; i++) {
		free(p[i].k);
		free(p[i].v);
	}
	free(p);
	return rc;
}

void s3_md5_base64(const unsigned char md5[16], char out[25])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < 16; i += 3) {
		unsigned v = (unsigned)md5[i] << 16;
		if (i + 1 < 16)
			v |= (unsigned)md5[i + 1] << 8;
		if (i + 2 < 16)
			v |= md5[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < 16 ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < 16 ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

/* ---- the class of an answer ---- */

/* Codes S3 (and its clones) send for a request worth sending again. */
static const char *const retry_codes[] = {
	"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
	"ThrottlingException", "RequestThrottled", "OperationAborted",
};

enum s3_class s3_classify(long status, const char *code)
{
	code = code ? code : "";
	for (size_t i = 0; i < sizeof retry_codes / sizeof *retry_codes; i++)
		if (strcmp(code, retry_codes[i]) == 0)
			return S3_RETRYABLE;
	if (status == 0 || status == 429 || status >= 500)
		return S3_RETRYABLE;
	if (status >= 200 && status <= 299)
		return S3_OK;
	if (status == 404 && strcmp(code, "NoSuchBucket") != 0)
		return S3_NOT_FOUND;
	if (status == 412)
		return S3_PRECONDITION;
	return S3_PERMANENT;
}

/* ---- XML ---- */

/* The text of the first <TAG>...</TAG> in [P, END), raw (entities not yet
 * decoded): *a and *n.  false when absent. */
bool s3x_find(const char *p, const char *end, const char *tag, const char **a, size_t *n)
{
	char open[72], close[72];
	size_t ko = (size_t)snprintf(open, sizeof open, "<%s>", tag);
	size_t kc = (size_t)snprintf(close, sizeof close, "</%s>", tag);

	if (!p || p >= end)
		return false;
	const char *o = memmem(p, (size_t)(end - p), open, ko);
	if (!o)
		return false;
	const char *t = o + ko;
	const char *c = memmem(t, (size_t)(end - t), close, kc);
	if (!c)
		return false;
	*a = t;
	*n = (size_t)(c - t);
	return true;
}

/* Decode XML text S[0..N) into OUT (cap OUT_SIZE, NUL-ended, cut when
 * longer).  Returns the length. */
size_t s3x_decode(const char *s, size_t n, char *out, size_t out_size)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
	};
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < out_size; i++) {
		char c = s[i];
		if (c == '&') {
			bool done = false;
			for (size_t e = 0; e < sizeof ents / sizeof *ents && !done; e++) {
				size_t k = strlen(ents[e].name);
				if (i + 1 + k <= n && memcmp(s + i + 1, ents[e].name, k) == 0) {
					c = ents[e].c;
					i += k;
					done = true;
				}
			}
			if (!done && i + 2 < n && s[i + 1] == '#') {
				char *endp;
				long v = s[i + 2] == 'x' ? strtol(s + i + 3, &endp, 16)
				                          : strtol(s + i + 2, &endp, 10);
				if (*endp == ';' && v > 0 && v < 128 && endp < s + n) {
					c = (char)v;
					i = (size_t)(endp - s);
				}
			}
		}
		out[o++] = c;
	}
	if (out_size)
		out[o] = '\0';
	return o;
}

/* The decoded text of <TAG> in [P, END) into OUT; false when absent. */
bool s3x_text(const char *p, const char *end, const char *tag, char *out, size_t out_size)
{
	const char *a;
	size_t n;

	if (!s3x_find(p, end, tag, &a, &n)) {
		if (out_size)
			out[0] = '\0';
		return false;
	}
	s3x_decode(a, n, out, out_size);
	return true;
}

bool s3_xml_error(const char *body, size_t n, char code[S3_CODE_MAX], char msg[S3_MSG_MAX])
{
	const char *a, *end = body + n;
	size_t k;

	code[0] = msg[0] = '\0';
	if (!body || !s3x_find(body, end, "Error", &a, &k))
		return false;
	s3x_text(a, a + k, "Message", msg, S3_MSG_MAX);
	return s3x_text(a, a + k, "Code", code, S3_CODE_MAX) && code[0];
}

/* Remove the quotes around an ETag, in place. */
void s3x_unquote(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

/* Copy decoded text of TAG in [P, END) into the arena at *W; returns it. */
static const char *arena_text(const char *p, const char *end, const char *tag, char **w,
                              char *arena_end)
{
	const char *a;
	size_t n;
	char *out = *w;

	if (!s3x_find(p, end, tag, &a, &n) || out >= arena_end)
		return "";
	size_t len = s3x_decode(a, n, out, (size_t)(arena_end - out));
	*w = out + len + 1;
	return out;
}

int s3x_list(const char *body, size_t n, bool uploads, struct s3x_listing *l)
{
	const char *end = body + n, *p = body, *a;
	const char *elem = uploads ? "Upload" : "Contents";
	size_t k, count = 0;
	char tmp[32];

	memset(l, 0, sizeof *l);
	/* Count first: one allocation for the entries, one for their text
	 * (decoding only shortens, so N + a NUL per field is enough). */
	while (s3x_find(p, end, elem, &a, &k)) {
		count++;
		p = a + k;
	}
	l->entries = calloc(count ? count : 1, sizeof *l->entries);
	l->arena = malloc(n + 8 * (count + 1) + 1);
	if (!l->entries || !l->arena) {
		s3x_list_free(l);
		return -ENOMEM;
	}
	char *w = l->arena, *arena_end = l->arena + n + 8 * (count + 1) + 1;
	p = body;
	while (l->n < count && s3x_find(p, end, elem, &a, &k)) {
		struct s3_entry *e = &l->entries[l->n++];
		const char *ee = a + k;
		e->key = arena_text(a, ee, "Key", &w, arena_end);
		if (uploads) {
			e->upload_id = arena_text(a, ee, "UploadId", &w, arena_end);
			e->time = arena_text(a, ee, "Initiated", &w, arena_end);
		} else {
			char *et = (char *)arena_text(a, ee, "ETag", &w, arena_end);
			s3x_unquote(et);
			e->etag = et;
			e->time = arena_text(a, ee, "LastModified", &w, arena_end);
			if (s3x_text(a, ee, "Size", tmp, sizeof tmp))
				e->size = strtoull(tmp, NULL, 10);
		}
		p = ee;
	}
	/* The top-level fields come after the entries in S3's answers, but
	 * look from the start: an entry holds no element of these names. */
	l->truncated = s3x_text(body, end, "IsTruncated", tmp, sizeof tmp) &&
	               strcasecmp(tmp, "true") == 0;
	l->next = arena_text(body, end, uploads ? "NextKeyMarker" : "NextContinuationToken",
	                     &w, arena_end);
	l->next2 = uploads ? arena_text(body, end, "NextUploadIdMarker", &w, arena_end) : "";
	return 0;
}

void s3x_list_free(struct s3x_listing *l)
{
	free(l->entries);
	free(l->arena);
	memset(l, 0, sizeof *l);
}
