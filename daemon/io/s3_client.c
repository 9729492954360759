/*
 * s3_client.c - the S3 client of io/s3.h as an object: made from the
 * storage options (endpoint, region, bucket, prefix, addressing,
 * credentials, retry policy), its keys and URIs, the names of its
 * operations.  The calls are s3.c's.  Loop thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strtable.h"
#include "io/s3_int.h"

static const char *const s3_op_table[S3_OP_COUNT] = {
	[S3_PUT] = "PutObject", [S3_GET] = "GetObject", [S3_HEAD] = "HeadObject",
	[S3_DELETE] = "DeleteObject", [S3_COPY] = "CopyObject", [S3_LIST] = "ListObjectsV2",
	[S3_LIST_UPLOADS] = "ListMultipartUploads",
	[S3_CREATE_UPLOAD] = "CreateMultipartUpload", [S3_UPLOAD_PART] = "UploadPart",
	[S3_UPLOAD_PART_COPY] = "UploadPartCopy", [S3_COMPLETE] = "CompleteMultipartUpload",
	[S3_ABORT] = "AbortMultipartUpload",
};
STRING_TABLE_STATIC(s3_op, enum s3_op)

const char *s3_op_name(enum s3_op op)
{
	const char *s = s3_op_to_string(op);
	return s ? s : "?";
}

/* ---- the client ---- */

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static bool bucket_ok(const char *b)
{
	size_t n = b ? strlen(b) : 0;
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
		      b[i] == '.'))
			return false;
	return true;
}

__attribute__((format(printf, 2, 3)))
static int client_error(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -EINVAL;
}

int s3_client_new(struct http *h, const struct s3_options *o, struct s3_client **out,
                  char **err)
{
	struct s3_client *c;
	const char *ep = o->endpoint, *hp;
	size_t n;

	*out = NULL;
	if (err)
		*err = NULL;
	if (!ep || !(hp = strstr(ep, "://")) ||
	    (strncasecmp(ep, "http://", 7) != 0 && strncasecmp(ep, "https://", 8) != 0))
		return client_error(err, "storage endpoint %s: not an http:// or https:// URL",
		                    ep ? ep : "(none)");
	n = strlen(ep);
	while (n > 0 && ep[n - 1] == '/')
		n--;
	if (memchr(hp + 3, '/', n - (size_t)(hp + 3 - ep)) || n == (size_t)(hp + 3 - ep))
		return client_error(err, "storage endpoint %s: give scheme://host[:port] only", ep);
	if (!bucket_ok(o->bucket))
		return client_error(err, "storage bucket \"%s\": 3 to 63 of a-z 0-9 . -",
		                    o->bucket ? o->bucket : "");
	if (!o->access_key || !*o->access_key || !o->secret_key || !*o->secret_key)
		return client_error(err, "%s", "storage credentials: no access key or secret key");
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->http = h;
	c->endpoint = strndup(ep, n);
	c->scheme = strndup(ep, (size_t)(hp - ep));
	c->hostport = strndup(hp + 3, n - (size_t)(hp + 3 - ep));
	c->region = strdup(o->region && *o->region ? o->region : "us-east-1");
	c->bucket = strdup(o->bucket);
	c->prefix = strdup(o->prefix ? o->prefix : "");
	c->access_key = strdup(o->access_key);
	c->secret_key = strdup(o->secret_key);
	c->token = o->session_token && *o->session_token ? strdup(o->session_token) : NULL;
	c->path_style = o->path_style;
	c->attempts = o->attempts ? o->attempts : 5;
	c->retry.delay_ms = o->retry_delay_ms ? o->retry_delay_ms : 200;
	c->retry.max_delay_ms = o->retry_max_delay_ms ? o->retry_max_delay_ms : 10000;
	c->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
	c->low_speed_ms = o->low_speed_time_ms ? o->low_speed_time_ms : 60000;
	if (c->region && asprintf(&c->sigv4, "aws:amz:%s:s3", c->region) < 0)
		c->sigv4 = NULL;
	if (!c->endpoint || !c->scheme || !c->hostport || !c->region || !c->bucket ||
	    !c->prefix || !c->access_key || !c->secret_key || !c->sigv4 ||
	    (o->session_token && *o->session_token && !c->token)) {
		s3_client_free(c);
		return -ENOMEM;
	}
	/* The prefix is joined with '/': keep none at its ends. */
	n = strlen(c->prefix);
	while (n > 0 && c->prefix[n - 1] == '/')
		c->prefix[--n] = '\0';
	if (c->prefix[0] == '/')
		memmove(c->prefix, c->prefix + strspn(c->prefix, "/"),
		        strlen(c->prefix + strspn(c->prefix, "/")) + 1);
	*out = c;
	return 0;
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	while (c->calls)
		s3_cancel(c->calls);
	free(c->endpoint); free(c->scheme); free(c->hostport); free(c->region);
	free(c->bucket); free(c->prefix); free(c->sigv4);
	wipe_free(c->access_key);
	wipe_free(c->secret_key);
	wipe_free(c->token);
	free(c);
}

const char *s3_client_bucket(const struct s3_client *c) { return c->bucket; }
const char *s3_client_prefix(const struct s3_client *c) { return c->prefix; }
unsigned s3_active(const struct s3_client *c) { return c->n_calls; }

int s3_key(const struct s3_client *c, const char *rel, char **out)
{
	*out = NULL;
	if (!rel || !*rel || rel[0] == '/')
		return -EINVAL;
	if (c->prefix[0] ? asprintf(out, "%s/%s", c->prefix, rel) < 0
	                 : !(*out = strdup(rel))) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int s3_uri(const struct s3_client *c, const char *key, char **out)
{
	if (asprintf(out, "s3://%s/%s", c->bucket, key ? key : "") < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
