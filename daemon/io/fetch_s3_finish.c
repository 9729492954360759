/*
 * fetch_s3_finish.c - the end of an S3 fetch (fetch_s3.c's finish job):
 * publish (the last part, then the conditional CompleteMultipartUpload; a
 * body smaller than one part: one conditional PutObject), keep the upload
 * for a resume, or abort it; and, when the object exists already (412),
 * whether it is this snapshot (its ETag against the one these parts make).
 * Loop thread.
 */
#define XXH_STATIC_LINKING_ONLY
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/fmt.h"
#include "io/fetch_s3_int.h"

/* The ETag an object made of parts 1..N has: MD5 of their MD5s, "-N". */
static bool multipart_etag(struct fetch_s3 *s, unsigned n, char out[S3_ETAG_MAX])
{
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	unsigned char d[16], m[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;
	bool ok = x && EVP_DigestInit_ex(x, EVP_md5(), NULL);

	for (unsigned i = 0; ok && i < n; i++) {
		const char *e = s->done[i].etag;
		for (int j = 0; j < 16 && ok; j++)
			ok = sscanf(e + 2 * j, "%2hhx", &d[j]) == 1;
		ok = ok && EVP_DigestUpdate(x, d, 16);
	}
	ok = ok && EVP_DigestFinal_ex(x, m, &mlen) && mlen == 16;
	EVP_MD_CTX_free(x);
	if (ok) {
		fmt_hex(m, 16, out);
		snprintf(out + 32, S3_ETAG_MAX - 32, "-%u", n);
	}
	return ok;
}

/* ---- finishing ---- */

static void finished(struct fetch_s3 *s)
{
	s->finishing = false;
	s->job_done(s->f);
}

static void aborted(void *arg, const struct s3_result *r)
{
	struct fetch_s3 *s = arg;

	(void)r;     /* a failed abort leaves the upload to the sweep at start */
	s->final_call = NULL;
	fs3_emit(s, FETCH_UPLOAD_END, NULL);
	finished(s);
}

/* Abort the upload (when there is one), then finish. */
static void abort_upload(struct fetch_s3 *s)
{
	struct s3_request rq = { .op = S3_ABORT, .key = s->key, .upload_id = s->upload_id };

	s->abort_sent = true;
	if (!s->upload_id || s3_send(s->c, &rq, aborted, s, &s->final_call) < 0)
		finished(s);
}

static void headed(void *arg, const struct s3_result *r);

/* The object exists (412): HEAD it, to see whether it is this snapshot. */
static void head_existing(struct fetch_s3 *s)
{
	struct s3_request rq = { .op = S3_HEAD, .key = s->key };

	s->heading = true;
	if (s3_send(s->c, &rq, headed, s, &s->final_call) < 0) {
		fs3_fail(s, true, -1, "HeadObject s3://%s/%s: cannot start the request",
		     s3_client_bucket(s->c), s->key);
		abort_upload(s);
	}
}

static void stored(void *arg, const struct s3_result *r)
{
	struct fetch_s3 *s = arg;

	s->final_call = NULL;
	if (r->cls == S3_OK) {
		fs3_emit(s, FETCH_UPLOAD_END, NULL);
		finished(s);
	} else if (r->cls == S3_PRECONDITION) {
		head_existing(s);
	} else if (r->cls == S3_NOT_FOUND && s->upload_id) {
		fs3_upload_gone(s);
		fs3_fail(s, true, -1, "%s (the upload is gone; the next attempt starts again)",
		         r->message);
		finished(s);
	} else {
		fs3_fail(s, r->cls == S3_RETRYABLE, r->retry_after_ms, "%s", r->message);
		if (r->cls == S3_RETRYABLE)
			finished(s);      /* the upload stays for the next attempt */
		else
			abort_upload(s);
	}
}

static void headed(void *arg, const struct s3_result *r)
{
	struct fetch_s3 *s = arg;
	char want[S3_ETAG_MAX], md5hex[33];
	unsigned n = s->next_number - 1;

	s->final_call = NULL;
	if (s->upload_id) {
		multipart_etag(s, n, want);
	} else {
		fmt_hex(s->b[s->fill >= 0 ? s->fill : 0].md5, 16, md5hex);
		snprintf(want, sizeof want, "%s", md5hex);
	}
	if (r->cls == S3_OK && strcasecmp(r->etag, want) == 0) {
		abort_upload(s);          /* the same snapshot is there: published */
		return;
	}
	fs3_fail(s, false, -1, "s3://%s/%s exists already with other content (ETag %s, this "
	     "download's %s): a snapshot is never overwritten", s3_client_bucket(s->c), s->key,
	     r->cls == S3_OK ? r->etag : "unknown", want);
	abort_upload(s);
}

/* Everything stored: the conditional complete. */
static void complete(struct fetch_s3 *s)
{
	unsigned n = s->next_number - 1;
	struct s3_part *parts = calloc(n ? n : 1, sizeof *parts);
	struct s3_request rq = { .op = S3_COMPLETE, .key = s->key, .upload_id = s->upload_id,
	                         .n_parts = n, .if_none_match = true };
	int rc = parts ? 0 : -ENOMEM;

	for (unsigned i = 0; rc == 0 && i < n; i++) {
		parts[i].number = i + 1;
		parts[i].etag = s->done[i].etag;
		if (!s->done[i].etag[0])
			rc = -EIO;
	}
	rq.parts = parts;
	if (rc == 0)
		rc = s3_send(s->c, &rq, stored, s, &s->final_call);
	free(parts);
	if (rc < 0) {
		fs3_fail(s, true, -1, "CompleteMultipartUpload of s3://%s/%s: %s",
		     s3_client_bucket(s->c), s->key,
		     rc == -EIO ? "a part is missing" : "cannot start the request");
		finished(s);
	}
}

/* A body smaller than one part, and no upload: one conditional put. */
static void put_whole(struct fetch_s3 *s)
{
	struct pbuf *b = s->fill >= 0 ? &s->b[s->fill] : NULL;
	char md5[25];
	struct s3_request rq = { .op = S3_PUT, .key = s->key, .if_none_match = true,
	                         .content_md5 = md5 };

	if (!b) {
		int i = fs3_take_buffer(s);
		b = i >= 0 ? &s->b[i] : NULL;
		s->fill = i;
	}
	if (!b) {
		fs3_fail(s, true, -1, "out of memory");
		finished(s);
		return;
	}
	EVP_DigestFinal_ex(s->md5, b->md5, NULL);
	EVP_DigestInit_ex(s->md5, EVP_md5(), NULL);
	s3_md5_base64(b->md5, md5);
	rq.body = b->data;
	rq.body_len = b->len;
	if (s3_send(s->c, &rq, stored, s, &s->final_call) < 0) {
		fs3_fail(s, true, -1, "PutObject s3://%s/%s: cannot start the request",
		     s3_client_bucket(s->c), s->key);
		finished(s);
	}
}

/* One step of the finish; called again by fs3_pump() after each event. */
void fs3_finish_step(struct fetch_s3 *s)
{
	struct fetch *f = s->f;

	if (s->sending || s->create_call || s->final_call || s->abort_sent || s->heading)
		return;
	/* Kept for a resume: cancel, a retryable failure (ours or the
	 * source's).  Aborted: anything else that does not publish. */
	if (f->fin == FIN_KEEP || (s->failed && f->sink_retryable)) {
		finished(s);
		return;
	}
	if (f->fin == FIN_DISCARD || s->failed) {
		abort_upload(s);
		return;
	}
	/* Publish. */
	if (f->fin_truncate)
		fs3_forget_parts(s);
	if (!s->upload_id && s->next_number <= 2 && !s->done[0].etag[0]) {
		bool pending = false;
		for (int i = 0; i < s->n_bufs; i++)
			pending = pending || s->b[i].st == P_READY;
		if (!pending) {
			put_whole(s);
			return;
		}
	}
	if (s->fill >= 0 && s->b[s->fill].len > 0) {
		struct pbuf *b = &s->b[s->fill];
		EVP_DigestFinal_ex(s->md5, b->md5, NULL);
		EVP_DigestInit_ex(s->md5, EVP_md5(), NULL);
		XXH3_copyState(b->hash_after, f->hash);
		b->end = s->bytes;
		b->st = P_READY;
		s->fill = -1;
		fs3_pump(s);                  /* sends it (or creates the upload first) */
		return;
	}
	if (s->fill >= 0) {           /* an empty last part: not a part */
		s->b[s->fill].st = P_FREE;
		s->fill = -1;
		s->next_number--;
	}
	if (!s->upload_id) {          /* unreachable: a READY part made one */
		fs3_fail(s, true, -1, "no upload to complete");
		finished(s);
		return;
	}
	complete(s);
}
