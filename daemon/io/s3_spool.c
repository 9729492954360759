/*
 * s3_spool.c - a streaming GET into a local file, double-buffered, written
 * and hashed on the thread pool (s3_spool.h).
 *
 * States: the GET fills buf[fill] on the loop; a full buffer is handed to
 * the worker (one write in flight at most) and the other one fills; a
 * piece that finds both busy pauses the GET until the write is done.
 * When the GET has ended and nothing is in flight, the rest is written,
 * then DONE.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/macro.h"
#include "io/s3.h"
#include "io/s3_spool.h"

struct s3_spool {
	uv_work_t work;
	uv_loop_t *loop;
	struct s3_client *c;
	struct s3_call *call;        /* the GET while it runs */
	char *path;
	int fd;
	struct { char *p; size_t len; } buf[2];
	int fill;                    /* the buffer the GET fills */
	int wbuf;                    /* the one being written */
	int werr;                    /* the worker's -errno */
	bool writing, paused, got_done, cancel;
	XXH3_state_t *h;
	uint64_t bytes;
	int64_t t0;
	int rc;
	char err[S3_MSG_MAX];
	s3_spool_done_cb done;
	void *arg;
};

static void spool_free(struct s3_spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->buf[0].p);
	free(sp->buf[1].p);
	XXH3_freeState(sp->h);
	free(sp->path);
	free(sp);
}

static void fail(struct s3_spool *sp, int rc, const char *msg)
{
	if (sp->rc)
		return;
	sp->rc = rc;
	snprintf(sp->err, sizeof sp->err, "%s", msg);
}

static void finish(struct s3_spool *sp)
{
	struct s3_spool_result r = { .rc = sp->rc, .bytes = sp->bytes,
	                             .seconds = (double)(clock_mono_ms() - sp->t0) / 1000.0 };

	if (sp->rc == 0) {
		XXH128_hash_t h = XXH3_128bits_digest(sp->h);
		snprintf(r.hash, sizeof r.hash, "%016" PRIx64 "%016" PRIx64, (uint64_t)h.high64,
		         (uint64_t)h.low64);
	} else {
		r.error = sp->err;
		unlink(sp->path);
	}
	sp->done(sp->arg, &r);
	spool_free(sp);
}

static void write_work(uv_work_t *w)
{
	struct s3_spool *sp = container_of(w, struct s3_spool, work);
	const char *p = sp->buf[sp->wbuf].p;
	size_t n = sp->buf[sp->wbuf].len;

	sp->werr = write_all(sp->fd, p, n, FSUTIL_APPEND);
	if (!sp->werr)
		XXH3_128bits_update(sp->h, p, n);
}

static void write_after(uv_work_t *w, int status);

/* Hand buf[fill] to the worker; the other buffer fills next. */
static int start_write(struct s3_spool *sp)
{
	int rc;

	sp->wbuf = sp->fill;
	sp->fill ^= 1;
	sp->buf[sp->fill].len = 0;
	sp->writing = true;
	if ((rc = uv_queue_work(sp->loop, &sp->work, write_work, write_after)) < 0)
		sp->writing = false;
	return rc;
}

/* The GET has ended and nothing is being written: the rest, or DONE. */
static void drain(struct s3_spool *sp)
{
	int rc;

	if (sp->rc == 0 && sp->buf[sp->fill].len) {
		if ((rc = start_write(sp)) == 0)
			return;
		fail(sp, rc, "cannot queue a write of the read-back file");
	}
	finish(sp);
}

static void write_after(uv_work_t *w, int status)
{
	struct s3_spool *sp = container_of(w, struct s3_spool, work);

	sp->writing = false;
	if (sp->werr) {
		char what[300];
		snprintf(what, sizeof what, "write %s: %s", sp->path, strerror(-sp->werr));
		fail(sp, sp->werr, what);
		sp->cancel = true;               /* the GET stops at its next piece */
	} else {
		sp->bytes += sp->buf[sp->wbuf].len;
	}
	sp->buf[sp->wbuf].len = 0;
	if (sp->got_done) {
		drain(sp);
	} else if (sp->paused) {
		sp->paused = false;
		s3_resume(sp->call);
	}
}

static int on_body(void *arg, const char *data, size_t n)
{
	struct s3_spool *sp = arg;

	if (sp->cancel)
		return -ECANCELED;
	if (sp->buf[sp->fill].len + n > S3_SPOOL_BUF) {
		if (sp->writing) {
			sp->paused = true;
			return S3_BODY_PAUSE;
		}
		if (start_write(sp) < 0)
			return -EIO;
	}
	if (n > S3_SPOOL_BUF)
		return -E2BIG;                   /* curl hands at most 16 KiB at a time */
	memcpy(sp->buf[sp->fill].p + sp->buf[sp->fill].len, data, n);
	sp->buf[sp->fill].len += n;
	return 0;
}

static void on_get(void *arg, const struct s3_result *r)
{
	struct s3_spool *sp = arg;

	sp->got_done = true;
	sp->call = NULL;
	if (r->cls == S3_OK)
		;
	else if (sp->cancel && !sp->rc)
		fail(sp, -ECANCELED, "cancelled");
	else if (!sp->cancel)
		fail(sp, r->cls == S3_NOT_FOUND ? -ENOENT : -EIO, r->message);
	if (!sp->writing)
		drain(sp);
}

int s3_spool(uv_loop_t *loop, struct s3_client *c, const char *key, const char *path,
             s3_spool_done_cb done, void *arg, struct s3_spool **out)
{
	struct s3_spool *sp = calloc(1, sizeof *sp);
	int rc = -ENOMEM;

	*out = NULL;
	if (!sp)
		return -ENOMEM;
	sp->fd = -1;
	if (!(sp->path = strdup(path)) || !(sp->buf[0].p = malloc(S3_SPOOL_BUF)) ||
	    !(sp->buf[1].p = malloc(S3_SPOOL_BUF)) || !(sp->h = XXH3_createState()))
		goto fail;
	XXH3_128bits_reset(sp->h);
	if ((sp->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0) {
		rc = -errno;
		goto fail;
	}
	sp->loop = loop;
	sp->c = c;
	sp->done = done;
	sp->arg = arg;
	sp->t0 = clock_mono_ms();
	if ((rc = s3_send(c, &(struct s3_request){ .op = S3_GET, .key = key, .on_body = on_body },
	                  on_get, sp, &sp->call)) < 0) {
		unlink(path);
		goto fail;
	}
	*out = sp;
	return 0;
fail:
	spool_free(sp);
	return rc;
}

void s3_spool_cancel(struct s3_spool *sp)
{
	sp->cancel = true;
	if (sp->paused && !sp->writing && sp->call) {
		sp->paused = false;
		s3_resume(sp->call);             /* its next piece sees the flag */
	}
}
