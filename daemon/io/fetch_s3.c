/*
 * fetch_s3.c - the S3 sink of a fetch (fetch_int.h's struct fetch_sink):
 * the body streams into a multipart upload instead of a .part file.  The
 * stage machine of fetch.c is unchanged: its write jobs hand this sink one
 * FETCH_BUF_SIZE buffer at a time.
 *
 *   prep    decide the resume (below); list the key, so that a missing
 *           bucket or a refused signature fails before the download
 *   write   (threadpool) copy the buffer into the part being filled, update
 *           the content hash (XXH3-128, as local) and the part's MD5; at a
 *           part boundary keep the hash state reached there.  Then (loop)
 *           every full part is sent (UploadPart, Content-MD5), after a
 *           CreateMultipartUpload the first time.
 *   finish  publish: the last part, then CompleteMultipartUpload with
 *           If-None-Match: * (a body smaller than one part: one PutObject
 *           with If-None-Match instead, no upload at all); keep: wait for
 *           the parts in flight and leave the upload open for a resume;
 *           discard: AbortMultipartUpload.
 *
 * Memory: part buffers of part_size (one filling, the others in flight),
 * as many as fit in FETCH_S3_MEM (at least 3), allocated when first
 * needed; a write that would need a buffer while all are in flight waits
 * (and so does the transfer, paused by fetch.c) until a part is stored.
 * 8 MiB parts (the default): 5 buffers, 40 MiB; 16 MiB parts: 3, 48 MiB.
 *
 * Checksums: each part's Content-MD5 is checked by the server (SeaweedFS
 * and S3 answer BadDigest otherwise), and the ETag it returns must be that
 * MD5 (when it is 32 hex digits: with SSE-KMS S3's is not an MD5).
 *
 * Resume: every stored part is reported (FETCH_UPLOAD_PART) with the XXH3
 * state after it, so a restart continues the source with Range from the
 * end of the longest run of parts 1..k and the hash from their state,
 * without reading anything back.  The state is the raw XXH3_state_t: it is
 * only trusted with the same size (the same libxxhash); otherwise the
 * upload starts again from byte 0 (the same upload, parts overwritten).
 * Its one pointer (to the library's default secret) is replaced by this
 * process's on restore.
 *
 * An existing object (412 on the conditional complete or put) is this
 * snapshot already, when its ETag is the one these parts make (the MD5 of
 * the parts' MD5s, "-N"; or the MD5 for a put): a crash after the complete
 * and before the store knew.  Otherwise the fetch fails, and nothing is
 * overwritten.
 *
 * Loop thread, but write_work (threadpool), which owns the filling part,
 * the MD5 context and f->hash while it runs.
 */
#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t's size and its secret pointer */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/macro.h"
#include "common/fmt.h"
#include "io/fetch_s3_int.h"

/* ---- failure and events ---- */

void fs3_fail(struct fetch_s3 *s, bool retryable, int64_t retry_after_ms, const char *fmt, ...)
{
	struct fetch *f = s->f;
	va_list ap;

	if (s->failed)
		return;
	s->failed = true;
	va_start(ap, fmt);
	if (vasprintf(&f->sink_error, fmt, ap) < 0)
		f->sink_error = NULL;
	va_end(ap);
	f->sink_retryable = retryable;
	f->sink_retry_after_ms = retry_after_ms;
	if (!f->io_err) {
		f->io_err = EIO;
		f->io_what = "upload";
	}
}

void fs3_emit(struct fetch_s3 *s, enum fetch_upload_event ev,
                 const struct fetch_upload_part *part)
{
	struct fetch *f = s->f;
	struct fetch_upload u = {
		.key = s->key, .upload_id = s->upload_id, .url = f->url, .etag = f->etag,
		.last_modified = f->last_modified, .total = f->total,
	};
	if (s->on_upload && s->upload_id)
		s->on_upload(s->upload_arg, ev, &u, part);
}

void fs3_forget_parts(struct fetch_s3 *s)
{
	s->gen++;
	for (int i = 0; i < s->n_bufs; i++)
		if (s->b[i].st != P_SENDING) {
			s->b[i].st = P_FREE;
			s->b[i].len = 0;
		}
	s->fill = s->spare = -1;
	s->next_number = 1;
	s->bytes = 0;
	memset(s->done, 0, s->n_done * sizeof *s->done);
	XXH3_128bits_reset(s->f->hash);
}

static void noop(void *arg, const struct s3_result *r)
{
	(void)arg;
	(void)r;
}

/* ---- buffers ---- */

void fs3_upload_gone(struct fetch_s3 *s)
{
	fs3_emit(s, FETCH_UPLOAD_END, NULL);
	free(s->upload_id);
	s->upload_id = NULL;
}

int fs3_take_buffer(struct fetch_s3 *s)
{
	for (int i = 0; i < s->n_bufs; i++) {
		struct pbuf *b = &s->b[i];
		if (b->st != P_FREE)
			continue;
		if (!b->data && !(b->data = malloc(s->part_size)))
			return -1;
		b->st = P_FILL;
		b->len = 0;
		b->gen = s->gen;
		return i;
	}
	return -1;
}

/* ---- parts ---- */

static void part_done(void *arg, const struct s3_result *r)
{
	struct pbuf *b = arg;
	struct fetch_s3 *s = b->s;
	char md5hex[33];
	bool current = b->gen == s->gen;

	b->call = NULL;
	s->sending--;
	fmt_hex(b->md5, 16, md5hex);
	if (r->cls == S3_NOT_FOUND && s->upload_id) {
		/* NoSuchUpload: aborted by someone, or completed before a crash
		 * let the store know.  Forget it; the next attempt starts anew
		 * (and finds the object, if it is this snapshot). */
		fs3_upload_gone(s);
		fs3_fail(s, true, -1, "%s (the upload is gone; the next attempt starts again)",
		         r->message);
	} else if (r->cls != S3_OK) {
		if (current)
			fs3_fail(s, r->cls == S3_RETRYABLE, r->retry_after_ms, "%s", r->message);
	} else if (strlen(r->etag) == 32 && strcasecmp(r->etag, md5hex) != 0) {
		if (current)
			fs3_fail(s, true, -1, "UploadPart %u of s3://%s/%s: the server's ETag %s is not "
			     "the MD5 %s of the bytes sent", b->number, s3_client_bucket(s->c), s->key,
			     r->etag, md5hex);
	} else if (current) {
		struct done_part *d = &s->done[b->number - 1];
		snprintf(d->etag, sizeof d->etag, "%s", r->etag[0] ? r->etag : md5hex);
		d->size = b->len;
		d->end = b->end;
		struct fetch_upload_part p = {
			.number = b->number, .etag = d->etag, .size = b->len, .end = b->end,
			.hash_state = b->hash_after, .hash_state_len = sizeof *b->hash_after,
		};
		fs3_emit(s, FETCH_UPLOAD_PART, &p);
	}
	b->st = P_FREE;
	b->len = 0;
	fs3_pump(s);
}

static int send_part(struct fetch_s3 *s, struct pbuf *b)
{
	char md5[25];
	struct s3_request rq = {
		.op = S3_UPLOAD_PART, .key = s->key, .upload_id = s->upload_id,
		.part_number = b->number, .body = b->data, .body_len = b->len, .content_md5 = md5,
	};
	int rc;

	s3_md5_base64(b->md5, md5);
	if ((rc = s3_send(s->c, &rq, part_done, b, &b->call)) < 0)
		return rc;
	b->st = P_SENDING;
	s->sending++;
	return 0;
}

static void created(void *arg, const struct s3_result *r)
{
	struct fetch_s3 *s = arg;

	s->create_call = NULL;
	if (r->cls != S3_OK) {
		fs3_fail(s, r->cls == S3_RETRYABLE, r->retry_after_ms, "%s", r->message);
	} else if (!(s->upload_id = strdup(r->upload_id))) {
		fs3_fail(s, true, -1, "out of memory");
	} else {
		fs3_emit(s, FETCH_UPLOAD_BEGIN, NULL);
	}
	fs3_pump(s);
}

/*
 * Move things on: create the upload, send the ready parts, start a write
 * that waited for a buffer, or go on with the finish.  Called after every
 * event of the sink.
 */
void fs3_pump(struct fetch_s3 *s)
{
	struct fetch *f = s->f;
	bool ready = false;

	if (s->working)
		return;                   /* after_work pumps */
	for (int i = 0; i < s->n_bufs; i++) {
		struct pbuf *b = &s->b[i];
		if (b->st != P_READY)
			continue;
		if (s->failed || b->gen != s->gen) {
			b->st = P_FREE;
			b->len = 0;
			continue;
		}
		ready = true;
		if (s->upload_id && send_part(s, b) < 0)
			fs3_fail(s, true, -1, "UploadPart of s3://%s/%s: cannot start the request",
			     s3_client_bucket(s->c), s->key);
	}
	if (ready && !s->upload_id && !s->create_call && !s->failed) {
		struct s3_request rq = { .op = S3_CREATE_UPLOAD, .key = s->key };
		if (s3_send(s->c, &rq, created, s, &s->create_call) < 0)
			fs3_fail(s, true, -1, "CreateMultipartUpload of s3://%s/%s: cannot start the "
			     "request", s3_client_bucket(s->c), s->key);
	}
	if (s->write_waiting) {
		s->write_waiting = false;
		fetch_sink_s3.queue(f, WORK_WRITE, s->job_done);
		return;
	}
	if (s->finishing)
		fs3_finish_step(s);
}

/* ---- the jobs ---- */

/* Worker: the buffer of the write job into the parts (see the top). */
static void write_work(struct fetch *f)
{
	struct fetch_s3 *s = f->s3;
	const char *p = f->buf[f->wj.idx].data;
	size_t n = f->buf[f->wj.idx].len;

	while (n > 0) {
		struct pbuf *b = &s->b[s->fill];
		size_t k = s->part_size - b->len < n ? s->part_size - b->len : n;
		memcpy(b->data + b->len, p, k);
		XXH3_128bits_update(f->hash, p, k);
		EVP_DigestUpdate(s->md5, p, k);
		b->len += k;
		s->bytes += k;
		p += k;
		n -= k;
		if (b->len < s->part_size)
			break;
		EVP_DigestFinal_ex(s->md5, b->md5, NULL);
		EVP_DigestInit_ex(s->md5, EVP_md5(), NULL);
		XXH3_copyState(b->hash_after, f->hash);
		b->end = s->bytes;
		b->st = P_READY;
		s->fill = s->spare;       /* -1 when the buffer ended exactly */
		s->spare = -1;
		if (s->fill >= 0)
			s->b[s->fill].number = s->next_number++;
	}
}

static void work_cb(uv_work_t *w)
{
	struct fetch *f = container_of(w, struct fetch, work);
	if (f->s3->job == WORK_WRITE)
		write_work(f);
}

static void after_work(uv_work_t *w, int status)
{
	struct fetch *f = container_of(w, struct fetch, work);
	struct fetch_s3 *s = f->s3;

	(void)status;
	s->working = false;
	if (s->job == WORK_WRITE) {
		fs3_pump(s);
		if (s->write_waiting)
			return;               /* cannot happen: the job had its buffers */
	}
	s->job_done(f);
}

static void run_later(struct fetch *f)
{
	f->s3->working = true;
	if (uv_queue_work(http_loop(f->http), &f->work, work_cb, after_work) < 0) {
		fprintf(stderr, "fetch_s3: uv_queue_work failed\n");
		abort();
	}
}

/* Prep: adopt the request's upload when it is this one, once. */
static void prep(struct fetch_s3 *s)
{
	struct fetch *f = s->f;
	uint64_t end = 0;
	unsigned k = 0;

	fs3_forget_parts(s);
	if (s->r_used || f->no_resume || !s->r_upload_id) {
		s->r_used = true;
		return;
	}
	s->r_used = true;
	if (strcmp(s->r_key, s->key) != 0 || strcmp(s->r_url, f->url) != 0) {
		struct s3_request rq = { .op = S3_ABORT, .key = s->r_key,
		                         .upload_id = s->r_upload_id };
		s3_send(s->c, &rq, noop, NULL, NULL);     /* best effort: the sweep at start
		                                            catches what this misses */
		return;
	}
	if (!(s->upload_id = strdup(s->r_upload_id)))
		return;
	/* The longest run of full parts 1..k, each ending where it should;
	 * the hash continues from the state after part k. */
	const struct fetch_upload_part *last = NULL;
	for (bool found = true; found && k < s->n_done;) {
		found = false;
		for (size_t i = 0; i < s->r_n && !found; i++) {
			const struct fetch_upload_part *p = &s->r_parts[i];
			if (p->number != k + 1 || p->size != s->part_size ||
			    p->end != end + s->part_size || p->hash_state_len != sizeof(XXH3_state_t) ||
			    !p->etag || strlen(p->etag) >= S3_ETAG_MAX)
				continue;
			snprintf(s->done[k].etag, sizeof s->done[k].etag, "%s", p->etag);
			s->done[k].size = p->size;
			s->done[k].end = p->end;
			end = p->end;
			last = p;
			k++;
			found = true;
		}
	}
	if (last) {
		/* The state holds a pointer to libxxhash's default secret, which
		 * a new process has elsewhere: take this process's. */
		XXH3_128bits_reset(f->hash);
		const unsigned char *secret = f->hash->extSecret;
		memcpy(f->hash, last->hash_state, sizeof(XXH3_state_t));
		f->hash->extSecret = secret;
	}
	f->if_range = k ? fetch_resume_validator(s->r_etag, s->r_lm) : NULL;
	if (!f->if_range) {
		fs3_forget_parts(s);
		return;
	}
	s->next_number = k + 1;
	s->bytes = end;
	f->offset = end;
	f->prep_total = s->r_total;
	f->etag = s->r_etag ? strdup(s->r_etag) : NULL;
	f->last_modified = s->r_lm ? strdup(s->r_lm) : NULL;
}

static void bucket_checked(void *arg, const struct s3_result *r)
{
	struct fetch_s3 *s = arg;

	s->final_call = NULL;
	if (r->cls != S3_OK)
		fs3_fail(s, r->cls == S3_RETRYABLE, r->retry_after_ms, "%s", r->message);
	s->job_done(s->f);
}

/*
 * Before the download: list the key in the bucket.  A missing bucket (or
 * wrong credentials) fails here, before a byte is fetched, and never
 * creates anything (SeaweedFS makes a bucket on the first write to it).
 */
static void check_bucket(struct fetch_s3 *s)
{
	struct s3_request rq = { .op = S3_LIST, .key = s->key, .max_keys = 1 };

	if (s3_send(s->c, &rq, bucket_checked, s, &s->final_call) < 0) {
		fs3_fail(s, true, -1, "ListObjectsV2 s3://%s/%s: cannot start the request",
		     s3_client_bucket(s->c), s->key);
		run_later(s->f);
	}
}

/* ---- the sink ---- */

static void s3_queue(struct fetch *f, enum fetch_work job, fetch_job_done_fn *done)
{
	struct fetch_s3 *s = f->s3;

	f->job = job;
	s->job = job;
	s->job_done = done;
	switch (job) {
	case WORK_PREP:
		prep(s);
		check_bucket(s);
		return;
	case WORK_WRITE:
		if (f->wj.truncate) {
			fs3_forget_parts(s);
			fs3_emit(s, FETCH_UPLOAD_RESET, NULL);
			f->wj.truncate = false;
		}
		if (s->failed) {
			f->buf[f->wj.idx].len = 0;   /* nothing more goes up */
			run_later(f);
			return;
		}
		if (s->fill < 0 && (s->fill = fs3_take_buffer(s)) >= 0)
			s->b[s->fill].number = s->next_number++;
		if (s->fill >= 0 && s->spare < 0 &&
		    s->b[s->fill].len + f->buf[f->wj.idx].len >= s->part_size)
			s->spare = fs3_take_buffer(s);
		if (s->fill < 0 || (s->spare < 0 &&
		                    s->b[s->fill].len + f->buf[f->wj.idx].len >= s->part_size)) {
			if (s->sending == 0 && !s->create_call) {
				fs3_fail(s, true, -1, "out of memory for the upload's parts");
				f->buf[f->wj.idx].len = 0;
				run_later(f);
				return;
			}
			s->write_waiting = true;     /* fs3_pump() queues it again */
			return;
		}
		if (s->next_number > S3_MAX_PARTS) {
			fs3_fail(s, false, -1, "s3://%s/%s: more than %u parts of %" PRIu64 " bytes "
			     "(raise storage.part_size)", s3_client_bucket(s->c), s->key,
			     S3_MAX_PARTS, s->part_size);
			f->buf[f->wj.idx].len = 0;
		}
		run_later(f);
		return;
	case WORK_FINISH:
		s->finishing = true;
		fs3_finish_step(s);
		return;
	}
}

static void s3_free(struct fetch *f)
{
	struct fetch_s3 *s = f->s3;

	if (!s)
		return;
	for (int i = 0; i < s->n_bufs; i++) {
		if (s->b[i].call)
			s3_cancel(s->b[i].call);
		free(s->b[i].data);
		XXH3_freeState(s->b[i].hash_after);
	}
	if (s->create_call)
		s3_cancel(s->create_call);
	if (s->final_call)
		s3_cancel(s->final_call);
	EVP_MD_CTX_free(s->md5);
	free(s->done);
	free(s->key);
	free(s->upload_id);
	for (size_t i = 0; i < s->r_n; i++) {
		free((void *)s->r_parts[i].etag);
		free((void *)s->r_parts[i].hash_state);
	}
	free(s->r_parts);
	free(s->r_upload_id); free(s->r_etag); free(s->r_lm); free(s->r_key); free(s->r_url);
	free(s);
	f->s3 = NULL;
}

const struct fetch_sink fetch_sink_s3 = { .queue = s3_queue, .free = s3_free };

static char *dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = true;
	return d;
}

int fetch_s3_init(struct fetch *f, const struct fetch_request *req)
{
	struct fetch_s3 *s = calloc(1, sizeof *s);
	char *rel = NULL;
	bool oom = !s;

	if (!s)
		return -ENOMEM;
	f->s3 = s;
	f->sink = &fetch_sink_s3;
	s->f = f;
	s->c = req->s3;
	s->part_size = req->part_size;
	s->fill = s->spare = -1;
	s->next_number = 1;
	s->on_upload = req->on_upload;
	s->upload_arg = req->upload_arg;
	s->n_bufs = (int)(FETCH_S3_MEM / s->part_size);
	if (s->n_bufs < 3)
		s->n_bufs = 3;
	if (s->n_bufs > FETCH_S3_MAX_BUFS)
		s->n_bufs = FETCH_S3_MAX_BUFS;
	s->n_done = S3_MAX_PARTS;
	s->done = calloc(s->n_done, sizeof *s->done);
	s->md5 = EVP_MD_CTX_new();
	oom = !s->done || !s->md5 || !EVP_DigestInit_ex(s->md5, EVP_md5(), NULL);
	for (int i = 0; i < s->n_bufs; i++) {
		s->b[i].s = s;
		if (!(s->b[i].hash_after = XXH3_createState()))
			oom = true;
	}
	if (asprintf(&rel, "staging/%s/exec_date=%s/%s", req->dataset, req->exec_date,
	             req->file_name) < 0 || s3_key(s->c, rel, &s->key) < 0)
		oom = true;
	free(rel);
	free(f->final_path);
	f->final_path = NULL;
	if (!oom && s3_uri(s->c, s->key, &f->final_path) < 0)
		oom = true;
	const struct fetch_upload *u = req->resume;
	if (!oom && u && u->upload_id && u->key && u->url) {
		s->r_upload_id = dup_or_null(u->upload_id, &oom);
		s->r_key = dup_or_null(u->key, &oom);
		s->r_url = dup_or_null(u->url, &oom);
		s->r_etag = dup_or_null(u->etag, &oom);
		s->r_lm = dup_or_null(u->last_modified, &oom);
		s->r_total = u->total;
		s->r_parts = calloc(u->n_parts ? u->n_parts : 1, sizeof *s->r_parts);
		oom = oom || !s->r_parts;
		for (size_t i = 0; !oom && i < u->n_parts; i++) {
			struct fetch_upload_part *p = &s->r_parts[s->r_n++];
			*p = u->parts[i];
			p->etag = dup_or_null(u->parts[i].etag, &oom);
			p->hash_state = NULL;
			if (u->parts[i].hash_state_len && (p->hash_state =
			    malloc(u->parts[i].hash_state_len)) != NULL)
				memcpy((void *)p->hash_state, u->parts[i].hash_state,
				       u->parts[i].hash_state_len);
			else
				p->hash_state_len = 0;
		}
	}
	return oom ? -ENOMEM : 0;
}
