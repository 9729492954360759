/*
 * s3.c - the S3 client of io/s3.h: a call is one easy handle driven by the
 * daemon's struct http, signed by libcurl (CURLOPT_AWS_SIGV4), sent again
 * on a retryable answer after a backoff timer.  The pure pieces
 * (encoding, class, XML) are s3_xml.c.  Loop thread only.
 *
 * Ownership: the client owns its calls (c->calls); a call owns its copies
 * of the request's strings, its URL, headers and answer; the request's
 * body stays the caller's until the done callback.  A call is freed right
 * after its done callback returns, or by s3_cancel / s3_client_free; its
 * retry timer, if it ever had one, is closed then and frees itself from
 * its close callback (the loop must run once more).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <uv.h>

#include "base/buf.h"
#include "base/list.h"
#include "base/macro.h"
#include "base/strtable.h"
#include "domain/backoff.h"
#include "io/http_req.h"
#include "io/http_xfer.h"
#include "io/s3_int.h"

#define S3_BODY_CAP   (8u * 1024 * 1024)   /* a kept answer (listings, errors) */
#define S3_ERR_CAP    (64u * 1024)         /* an error body beside a streamed GET */

struct s3_call {
	struct http_xfer xfer;
	struct s3_client *c;
	LIST_FIELDS(struct s3_call, calls);
	struct s3_request rq;     /* strings below are this call's copies */
	char *key, *src_key, *upload_id, *token, *token2, *delimiter, *range, *md5;
	char *url, *copy_source, *post;
	size_t post_len;
	size_t sent;              /* body bytes read by curl this attempt */
	struct curl_slist *headers;
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	/* the answer of this attempt */
	long status;
	char etag[S3_ETAG_MAX];
	int64_t retry_after_ms, content_length;
	struct buf resp;
	bool body_started, aborted;   /* paused: xfer.held (http_xfer.h) */
	unsigned attempt;
	uv_timer_t *timer;        /* the retry's; NULL until one is needed */
	s3_done_cb done;
	void *arg;
};

/* ---- one attempt ---- */

static size_t header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *k = arg;
	size_t n = size * nmemb;
	const char *v, *e = line + n;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', n);
		k->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		k->etag[0] = '\0';
		k->retry_after_ms = k->content_length = -1;
		return n;
	}
	v = memchr(line, ':', n);
	if (!v)
		return n;
	size_t name = (size_t)(v - line);
	for (v++; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	size_t len = (size_t)(e - v);
	if (name == 4 && strncasecmp(line, "ETag", 4) == 0 && len < sizeof k->etag) {
		memcpy(k->etag, v, len);
		k->etag[len] = '\0';
		s3x_unquote(k->etag);
	} else if (name == 11 && strncasecmp(line, "Retry-After", 11) == 0) {
		k->retry_after_ms = http_retry_after_ms(v, len);
	} else if (name == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		k->content_length = strtoll(v, NULL, 10);
	}
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *k = arg;
	size_t n = size * nmemb;

	if (k->rq.on_body && k->status >= 200 && k->status <= 299) {
		int rc = k->rq.on_body(k->arg, data, n);
		if (rc == S3_BODY_PAUSE) {
			k->xfer.held = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		if (rc < 0) {
			k->aborted = true;
			return 0;
		}
		k->body_started = true;
		http_xfer_took(&k->xfer, n);   /* a big GET yields the loop */
		return n;
	}
	buf_put(&k->resp, data, n);
	return k->resp.err ? 0 : n;
}

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *k = arg;
	size_t n = size * nmemb, left = k->rq.body_len - k->sent;

	if (n > left)
		n = left;
	memcpy(dst, (const char *)k->rq.body + k->sent, n);
	k->sent += n;
	return n;
}

static int seek_cb(void *arg, curl_off_t off, int origin)
{
	struct s3_call *k = arg;
	if (origin != SEEK_SET || off < 0 || (size_t)off > k->rq.body_len)
		return CURL_SEEKFUNC_FAIL;
	k->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

__attribute__((format(printf, 2, 3)))
static bool add_hdr(struct s3_call *k, const char *fmt, ...)
{
	char line[1024];
	struct curl_slist *l;
	va_list ap;

	va_start(ap, fmt);
	int w = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof line)
		return false;
	l = curl_slist_append(k->headers, line);
	if (l)
		k->headers = l;
	return l != NULL;
}

/* The query string of K's op, canonical (s3_query_build); "" for none. */
static int build_query(struct s3_call *k, char **out)
{
	const char *keys[6], *vals[6];
	char num[16], max[16];
	size_t n = 0;

	snprintf(max, sizeof max, "%u", k->rq.max_keys);

	switch (k->rq.op) {
	case S3_LIST:
		keys[n] = "list-type"; vals[n++] = "2";
		keys[n] = "prefix"; vals[n++] = k->key;
		if (k->token) { keys[n] = "continuation-token"; vals[n++] = k->token; }
		if (k->delimiter) { keys[n] = "delimiter"; vals[n++] = k->delimiter; }
		if (k->rq.max_keys) { keys[n] = "max-keys"; vals[n++] = max; }
		break;
	case S3_LIST_UPLOADS:
		keys[n] = "uploads"; vals[n++] = "";
		keys[n] = "prefix"; vals[n++] = k->key;
		if (k->token) { keys[n] = "key-marker"; vals[n++] = k->token; }
		if (k->token2) { keys[n] = "upload-id-marker"; vals[n++] = k->token2; }
		if (k->rq.max_keys) { keys[n] = "max-uploads"; vals[n++] = max; }
		break;
	case S3_CREATE_UPLOAD:
		keys[n] = "uploads"; vals[n++] = "";
		break;
	case S3_UPLOAD_PART:
	case S3_UPLOAD_PART_COPY:
		snprintf(num, sizeof num, "%u", k->rq.part_number);
		keys[n] = "partNumber"; vals[n++] = num;
		/* fall through */
	case S3_COMPLETE:
	case S3_ABORT:
		keys[n] = "uploadId"; vals[n++] = k->upload_id;
		break;
	default:
		break;
	}
	return s3_query_build(keys, vals, n, out);
}

static int build_url(struct s3_call *k)
{
	struct s3_client *c = k->c;
	bool bucket_level = k->rq.op == S3_LIST || k->rq.op == S3_LIST_UPLOADS;
	char *ekey = s3x_encode_dup(bucket_level ? "" : k->key, true), *q = NULL;
	int rc = ekey ? build_query(k, &q) : -ENOMEM;

	if (rc == 0) {
		const char *sep = q && *q ? "?" : "";
		if (c->path_style)
			rc = asprintf(&k->url, "%s/%s%s%s%s%s", c->endpoint, c->bucket,
			              bucket_level ? "" : "/", ekey, sep, q ? q : "");
		else
			rc = asprintf(&k->url, "%s://%s.%s/%s%s%s", c->scheme, c->bucket,
			              c->hostport, ekey, sep, q ? q : "");
		rc = rc < 0 ? -ENOMEM : 0;
	}
	free(ekey);
	free(q);
	return rc;
}

/* The XML body of a CompleteMultipartUpload. */
static int build_complete(struct s3_call *k)
{
	struct buf b;

	buf_init(&b, 64 + k->rq.n_parts * 80, SIZE_MAX / 2);
	buf_printf(&b, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < k->rq.n_parts; i++)
		buf_printf(&b, "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>",
		           k->rq.parts[i].number, k->rq.parts[i].etag);
	buf_printf(&b, "</CompleteMultipartUpload>");
	if (b.err) {
		buf_free(&b);
		return -ENOMEM;
	}
	k->post = buf_take(&b, &k->post_len);
	return k->post ? 0 : -ENOMEM;
}

static void xfer_done(struct http_xfer *x, CURLcode rc);

/* UploadPartCopy with a range, signed here (s3_sign.c) rather than by
 * curl 7.88, which orders x-amz-copy-source-range before
 * x-amz-copy-source.  Adds Host, x-amz-date and Authorization. */
static bool sign_part_copy(struct s3_call *k)
{
	struct s3_client *c = k->c;
	char host[512], date[17], auth[1024];
	bool ok = snprintf(host, sizeof host, "%s%s%s", c->path_style ? "" : c->bucket,
	                   c->path_style ? "" : ".", c->hostport) < (int)sizeof host &&
	          s3_sign_copy_range(&(struct s3_copy_sign){ .url = k->url, .host = host,
	                  .region = c->region, .access_key = c->access_key,
	                  .secret_key = c->secret_key, .token = c->token,
	                  .copy_source = k->copy_source, .range = k->range },
	                  date, auth, sizeof auth) == 0 &&
	          add_hdr(k, "Host: %s", host) && add_hdr(k, "x-amz-date: %s", date) &&
	          add_hdr(k, "%s", auth);

	explicit_bzero(auth, sizeof auth);
	return ok;
}

static int setup_easy(struct s3_call *k)
{
	struct s3_client *c = k->c;
	enum s3_op op = k->rq.op;
	CURL *e;
	bool ok = true;

	if (k->easy)
		curl_easy_cleanup(k->easy);
	curl_slist_free_all(k->headers);
	k->headers = NULL;
	k->sent = 0;
	k->status = 0;
	k->etag[0] = '\0';
	k->retry_after_ms = k->content_length = -1;
	k->errbuf[0] = '\0';
	k->resp.len = 0;
	k->resp.err = 0;
	k->easy = e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	ok = add_hdr(k, "%s", "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (ok && c->token)
		ok = add_hdr(k, "x-amz-security-token: %s", c->token);
	if (ok && k->md5)
		ok = add_hdr(k, "Content-MD5: %s", k->md5);
	if (ok && k->rq.if_none_match)
		ok = add_hdr(k, "%s", "If-None-Match: *");
	if (ok && k->range && op == S3_GET)
		ok = add_hdr(k, "Range: %s", k->range);
	if (ok && k->range && op == S3_UPLOAD_PART_COPY)
		ok = add_hdr(k, "x-amz-copy-source-range: %s", k->range);
	if (ok && k->copy_source)
		ok = add_hdr(k, "x-amz-copy-source: %s", k->copy_source);
	if (ok && (op == S3_COMPLETE || op == S3_CREATE_UPLOAD))
		ok = add_hdr(k, "%s", "Content-Type: application/xml");
	bool self_signed = op == S3_UPLOAD_PART_COPY && k->range && k->copy_source;
	if (ok && self_signed)
		ok = sign_part_copy(k);
	if (!ok)
		return -ENOMEM;
	switch (op) {
	case S3_PUT:
	case S3_UPLOAD_PART:
	case S3_COPY:
	case S3_UPLOAD_PART_COPY:
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)k->rq.body_len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, k);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, k);
		break;
	case S3_CREATE_UPLOAD:
	case S3_COMPLETE:
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, k->post ? k->post : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)k->post_len);
		break;
	case S3_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	case S3_DELETE:
	case S3_ABORT:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	default:
		break;
	}
	curl_easy_setopt(e, CURLOPT_URL, k->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, k->headers);
	if (!self_signed) {
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->sigv4);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->access_key);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->secret_key);
	}
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((c->low_speed_ms + 999) / 1000));
	http_easy_defaults(e, k->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, k);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
	k->xfer.easy = e;
	k->xfer.done = xfer_done;
	return 0;
}

/* ---- the answer ---- */

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Take K off its client and the multi handle: nothing can reach it any
 * more but its holder (deliver, which frees it after the callback). */
static void call_detach(struct s3_call *k)
{
	struct s3_client *c = k->c;

	if (!k->c)
		return;
	http_remove(&k->xfer);
	LIST_REMOVE(calls, c->calls, k);
	c->n_calls--;
	k->c = NULL;
}

static void call_free(struct s3_call *k)
{
	call_detach(k);
	if (k->timer) {
		uv_timer_stop(k->timer);
		k->timer->data = NULL;
		uv_close((uv_handle_t *)k->timer, timer_closed);
	}
	if (k->easy)
		curl_easy_cleanup(k->easy);
	curl_slist_free_all(k->headers);
	free(k->key); free(k->src_key); free(k->upload_id); free(k->token); free(k->token2);
	free(k->delimiter); free(k->range); free(k->md5); free(k->url);
	free(k->copy_source); free(k->post);
	free((void *)k->rq.parts);
	buf_free(&k->resp);
	free(k);
}

static void deliver(struct s3_call *k, enum s3_class cls, const char *code, const char *msg)
{
	struct s3_result r = {
		.cls = cls, .status = k->status, .attempts = k->attempt, .code = code,
		.message = msg, .retry_after_ms = k->retry_after_ms, .etag = k->etag,
		.content_length = k->content_length, .body = k->resp.p ? k->resp.p : "",
		.body_len = k->resp.len, .next_token = "", .next_token2 = "", .upload_id = "",
	};
	struct s3x_listing l = { 0 };
	char id[1024], etag[S3_ETAG_MAX];
	s3_done_cb done = k->done;
	void *arg = k->arg;

	if (cls == S3_OK && (k->rq.op == S3_LIST || k->rq.op == S3_LIST_UPLOADS)) {
		if (s3x_list(r.body, r.body_len, k->rq.op == S3_LIST_UPLOADS, &l) < 0) {
			r.cls = S3_RETRYABLE;
			r.code = "NoMemory";
			r.message = "out of memory reading a listing";
		}
		r.entries = l.entries;
		r.n_entries = l.n;
		r.truncated = l.truncated;
		r.next_token = l.next ? l.next : "";
		r.next_token2 = l.next2 ? l.next2 : "";
	}
	if (cls == S3_OK && k->rq.op == S3_CREATE_UPLOAD) {
		const char *e = r.body + r.body_len;
		if (s3x_text(r.body, e, "UploadId", id, sizeof id) && id[0]) {
			r.upload_id = id;
		} else {
			r.cls = S3_PERMANENT;
			r.code = "NoUploadId";
			r.message = "CreateMultipartUpload: the answer holds no UploadId";
		}
	}
	if (cls == S3_OK && (k->rq.op == S3_COMPLETE || k->rq.op == S3_COPY ||
	                     k->rq.op == S3_UPLOAD_PART_COPY) && !k->etag[0] &&
	    s3x_text(r.body, r.body + r.body_len, "ETag", etag, sizeof etag)) {
		s3x_unquote(etag);
		r.etag = etag;
	}
	/* The result points into K: free it after the callback, which may
	 * start new calls but cannot reach this one (detached). */
	call_detach(k);
	done(arg, &r);
	s3x_list_free(&l);
	call_free(k);
}

static int start_attempt(struct s3_call *k);

static void retry_fire(uv_timer_t *t)
{
	struct s3_call *k = t->data;
	int rc;

	if (k && (rc = start_attempt(k)) < 0) {
		k->status = 0;
		deliver(k, S3_RETRYABLE, "Network", "cannot start the S3 request again");
	}
}

static void xfer_done(struct http_xfer *x, CURLcode rc)
{
	struct s3_call *k = container_of(x, struct s3_call, xfer);
	struct s3_client *c = k->c;
	char code[S3_CODE_MAX] = "", smsg[S3_MSG_MAX] = "", msg[S3_MSG_MAX + 512];
	const char *op = s3_op_name(k->rq.op);
	long st = 0;
	enum s3_class cls;

	if (curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st)
		k->status = st;
	if (k->aborted) {
		snprintf(msg, sizeof msg, "%s s3://%s/%s: stopped by its reader", op, c->bucket,
		         k->key);
		deliver(k, S3_PERMANENT, "ClientAbort", msg);
		return;
	}
	/* CompleteMultipartUpload (and copies) may fail inside a 200. */
	bool err_body = k->status >= 300 || k->rq.op == S3_COMPLETE || k->rq.op == S3_COPY ||
	                k->rq.op == S3_UPLOAD_PART_COPY;
	if (err_body && k->resp.p && s3_xml_error(k->resp.p, k->resp.len, code, smsg) &&
	    k->status < 300)
		k->status = 500;     /* as the SDKs do: an error in a 200 is retried */
	if (rc != CURLE_OK && !(k->status >= 300)) {
		k->status = 0;
		snprintf(code, sizeof code, "Network");
		snprintf(smsg, sizeof smsg, "%s", k->errbuf[0] ? k->errbuf : curl_easy_strerror(rc));
	}
	cls = s3_classify(k->status, code);
	if (cls == S3_RETRYABLE && k->attempt < c->attempts && !k->rq.no_retry &&
	    !k->body_started) {
		uint64_t ra = k->retry_after_ms > 0 ? (uint64_t)k->retry_after_ms : 0;
		uint64_t wait = backoff_wait(&c->retry, k->attempt - 1, backoff_random(), ra);
		if (wait > c->retry.max_delay_ms * 6)
			wait = c->retry.max_delay_ms * 6;
		if (!k->timer && (k->timer = malloc(sizeof *k->timer)) != NULL &&
		    uv_timer_init(http_loop(c->http), k->timer) != 0) {
			free(k->timer);
			k->timer = NULL;
		}
		if (k->timer) {
			k->timer->data = k;
			uv_timer_start(k->timer, retry_fire, wait, 0);
			return;
		}
	}
	if (cls == S3_OK) {
		deliver(k, cls, "", "");
		return;
	}
	if (k->status == 0)
		snprintf(msg, sizeof msg, "%s s3://%s/%s: no answer from %s: %s", op, c->bucket,
		         k->key, c->endpoint, smsg);
	else
		snprintf(msg, sizeof msg, "%s s3://%s/%s: HTTP %ld%s%s%s%s", op, c->bucket, k->key,
		         k->status, code[0] ? " " : "", code, smsg[0] ? ": " : "", smsg);
	if (cls == S3_RETRYABLE && k->attempt > 1) {
		size_t m = strlen(msg);
		snprintf(msg + m, sizeof msg - m, " (after %u attempts)", k->attempt);
	}
	deliver(k, cls, code, msg);
}

static int start_attempt(struct s3_call *k)
{
	int rc;

	k->attempt++;
	k->body_started = k->aborted = k->xfer.held = false;
	if ((rc = setup_easy(k)) < 0)
		return rc;
	return http_add(k->c->http, &k->xfer) < 0 ? -EIO : 0;
}

/* ---- public ---- */

static bool need(bool cond, const void *p)
{
	return !cond || p != NULL;
}

static char *dup_opt(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = true;
	return d;
}

int s3_send(struct s3_client *c, const struct s3_request *rq, s3_done_cb done, void *arg,
            struct s3_call **out)
{
	struct s3_call *k;
	enum s3_op op = rq->op;
	bool oom = false;
	int rc;

	if (out)
		*out = NULL;
	if ((unsigned)op >= S3_OP_COUNT || !done || !rq->key ||
	    !need(op == S3_UPLOAD_PART || op == S3_UPLOAD_PART_COPY || op == S3_COMPLETE ||
	          op == S3_ABORT, rq->upload_id) ||
	    !need(op == S3_COPY || op == S3_UPLOAD_PART_COPY, rq->src_key) ||
	    !need(op == S3_COMPLETE, rq->parts) ||
	    ((op == S3_UPLOAD_PART || op == S3_UPLOAD_PART_COPY) &&
	     (rq->part_number < 1 || rq->part_number > S3_MAX_PARTS)) ||
	    (rq->body_len && !rq->body) ||
	    (op != S3_LIST && op != S3_LIST_UPLOADS && !*rq->key))
		return -EINVAL;
	k = calloc(1, sizeof *k);
	if (!k)
		return -ENOMEM;
	k->c = c;
	k->rq = *rq;
	k->done = done;
	k->arg = arg;
	k->key = dup_opt(rq->key, &oom);
	k->src_key = dup_opt(rq->src_key, &oom);
	k->upload_id = dup_opt(rq->upload_id, &oom);
	k->token = dup_opt(rq->token && *rq->token ? rq->token : NULL, &oom);
	k->token2 = dup_opt(rq->token2 && *rq->token2 ? rq->token2 : NULL, &oom);
	k->delimiter = dup_opt(rq->delimiter, &oom);
	k->range = dup_opt(rq->range, &oom);
	k->md5 = dup_opt(rq->content_md5, &oom);
	k->rq.parts = NULL;
	buf_init(&k->resp, 0, rq->on_body ? S3_ERR_CAP : S3_BODY_CAP);
	LIST_PREPEND(calls, c->calls, k);
	c->n_calls++;
	if (!(op == S3_PUT || op == S3_UPLOAD_PART)) {
		k->rq.body = NULL;
		k->rq.body_len = 0;
	}
	rc = oom ? -ENOMEM : 0;
	if (rc == 0 && op == S3_COMPLETE) {
		k->rq.n_parts = rq->n_parts;
		k->rq.parts = rq->parts;      /* read once, here */
		rc = build_complete(k);
		k->rq.parts = NULL;
	}
	if (rc == 0 && k->src_key) {
		char *e = s3x_encode_dup(k->src_key, true);
		if (!e || asprintf(&k->copy_source, "/%s/%s", c->bucket, e) < 0) {
			k->copy_source = NULL;
			rc = -ENOMEM;
		}
		free(e);
	}
	if (rc == 0)
		rc = build_url(k);
	if (rc == 0)
		rc = start_attempt(k);
	if (rc < 0) {
		call_free(k);
		return rc;
	}
	if (out)
		*out = k;
	return 0;
}

void s3_cancel(struct s3_call *k)
{
	if (k)
		call_free(k);
}

void s3_resume(struct s3_call *k)
{
	if (k && k->xfer.held && k->easy) {
		k->xfer.held = false;
		curl_easy_pause(k->easy, CURLPAUSE_CONT);
	}
}
