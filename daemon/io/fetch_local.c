/*
 * fetch_local.c - a file:// source: the file read on the threadpool into
 * fetch.c's double buffer, in place of curl's transfer.
 *
 * Why not curl: its file protocol reads the whole file inside one
 * curl_multi_perform call (the loop thread blocks for as long as the file
 * takes to read) and cannot pause its write callback (CURLE_WRITE_ERROR
 * "Write callback asked for PAUSE when not supported"), so a file larger
 * than the two buffers could not be fetched at all.  Here one read job of
 * at most the filling buffer's free room runs at a time; when both buffers
 * are full the reader waits for the write job (fetch_local_continue), as
 * a paused transfer does.
 *
 * What a resume needs (the response's validators and size): the file's
 * mtime as a Last-Modified (HTTP date, to the second, as curl's file
 * protocol gives it) and its size.  A resume continues at f->offset when
 * both equal what the resume stored (if_range, prep_total); otherwise the
 * file is read from byte 0 and the .part (or the upload's parts) starts
 * again, as a 200 to a Range does.  A file rewritten within the same
 * second at the same size would pass: files that change in place are no
 * source to resume from.
 *
 * Threads: the read job (worker) touches only struct fetch_local's
 * job fields and the free room of the filling buffer, which nothing else
 * touches while it runs (the write job has the other buffer; curl is not
 * involved), so it may run beside a write job.  Everything else runs on the
 * loop thread.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"
#include "io/fetch_int.h"

enum local_op { LOCAL_OPEN, LOCAL_READ };

struct fetch_local {
	uv_work_t work;
	struct fetch *f;
	char *path;
	int fd;
	bool running;             /* a job is queued or runs */
	bool resume_ok;           /* the file is the one the resume stored */
	uint64_t off;             /* where the next read starts */
	/* the job's, written on the worker */
	enum local_op op;
	int err;                  /* positive errno */
	struct stat st;
	char *dst;
	size_t want;
	ssize_t got;
};

/* The path of a file:// URL (percent-decoded; "file://localhost/..." too);
 * NULL for another form or when out of memory. */
static char *url_path(const char *url)
{
	const char *p = url + 7;
	char *out, *o;

	if (strncasecmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/' || !(out = malloc(strlen(p) + 1)))
		return NULL;
	for (o = out; *p; p++) {
		unsigned v;
		if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
		    sscanf(p + 1, "%2x", &v) == 1 && v != 0) {
			*o++ = (char)v;
			p += 2;
		} else if (*p == '?' || *p == '#') {
			break;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static void work_cb(uv_work_t *w)
{
	struct fetch_local *l = container_of(w, struct fetch_local, work);

	l->err = 0;
	if (l->op == LOCAL_OPEN) {
		l->fd = open(l->path, O_RDONLY | O_CLOEXEC);
		if (l->fd < 0 || fstat(l->fd, &l->st) < 0)
			l->err = errno;
		else if (!S_ISREG(l->st.st_mode))
			l->err = EISDIR;
		return;
	}
	do
		l->got = pread(l->fd, l->dst, l->want, (off_t)l->off);
	while (l->got < 0 && errno == EINTR);
	if (l->got < 0)
		l->err = errno;
}

static void after_work(uv_work_t *w, int status);

static void queue(struct fetch_local *l, enum local_op op)
{
	l->op = op;
	l->running = true;
	if (uv_queue_work(http_loop(l->f->http), &l->work, work_cb, after_work) < 0) {
		fprintf(stderr, "fetch_local: uv_queue_work failed\n");
		abort();
	}
}

/* The transfer is over with RC (errbuf says more). */
static void end(struct fetch_local *l, CURLcode rc)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	fetch_xfer_end(l->f, rc);
}

/* The next read, into the filling buffer; or wait for a write. */
static void read_next(struct fetch_local *l)
{
	struct fetch *f = l->f;
	struct wbuf *b;

	if (f->cancelled || f->io_err) {
		end(l, f->cancelled ? CURLE_ABORTED_BY_CALLBACK : CURLE_WRITE_ERROR);
		return;
	}
	if (!(b = fetch_fill_buffer(f)))
		return;                   /* both full: fetch_local_continue follows */
	l->dst = b->data + b->len;
	l->want = FETCH_BUF_SIZE - b->len;
	queue(l, LOCAL_READ);
}

/* The file is open: its validators, and where to start. */
static void opened(struct fetch_local *l)
{
	struct fetch *f = l->f;
	char lm[64];
	struct tm tm;

	gmtime_r(&l->st.st_mtime, &tm);
	strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	free(f->etag);
	f->etag = NULL;
	free(f->last_modified);
	f->last_modified = strdup(lm);
	l->resume_ok = f->offset > 0 && f->if_range && strcmp(f->if_range, lm) == 0 &&
	               f->total == (int64_t)l->st.st_size;
	l->off = l->resume_ok ? f->offset : 0;
	f->total = (int64_t)l->st.st_size;
	read_next(l);
}

/* The first bytes came: the resume continues, or starts again from 0 (as
 * judge_first_body in fetch.c for a 206 or a 200). */
static void decide(struct fetch_local *l)
{
	struct fetch *f = l->f;

	f->decided = true;
	if (l->resume_ok) {
		f->resumed_from = f->offset;
		return;
	}
	fetch_body_from_zero(f);
}

static void after_work(uv_work_t *w, int status)
{
	struct fetch_local *l = container_of(w, struct fetch_local, work);
	struct fetch *f = l->f;

	(void)status;
	l->running = false;
	if (l->err) {
		snprintf(f->errbuf, sizeof f->errbuf, "%s %s: %s",
		         l->op == LOCAL_OPEN ? "open" : "read", l->path, strerror(l->err));
		end(l, l->op == LOCAL_OPEN ? CURLE_FILE_COULDNT_READ_FILE : CURLE_READ_ERROR);
		return;
	}
	if (l->op == LOCAL_OPEN) {
		opened(l);
		return;
	}
	if (l->got == 0) {
		/* The end.  A resume with nothing left to read is complete. */
		if (!f->decided && l->resume_ok)
			decide(l);
		end(l, CURLE_OK);
		return;
	}
	if (!f->decided)
		decide(l);
	l->off += (uint64_t)l->got;
	fetch_body_added(f, (size_t)l->got);
	read_next(l);
}

int fetch_local_start(struct fetch *f)
{
	struct fetch_local *l = f->local;

	if (!l) {
		if (!(l = calloc(1, sizeof *l)))
			return -ENOMEM;
		l->f = f;
		l->fd = -1;
		f->local = l;
	}
	free(l->path);
	if (!(l->path = url_path(f->url))) {
		snprintf(f->errbuf, sizeof f->errbuf, "not a local file URL");
		return -EINVAL;
	}
	queue(l, LOCAL_OPEN);
	return 0;
}

void fetch_local_continue(struct fetch *f)
{
	if (f->local && !f->local->running)
		read_next(f->local);
}

void fetch_local_stop(struct fetch *f)
{
	/* A job in flight ends the transfer when it is over (read_next sees
	 * the flag); a reader waiting for a write ends it now. */
	if (f->local && !f->local->running)
		end(f->local, CURLE_ABORTED_BY_CALLBACK);
}

void fetch_local_free(struct fetch *f)
{
	if (!f->local)
		return;
	if (f->local->fd >= 0)
		close(f->local->fd);
	free(f->local->path);
	free(f->local);
	f->local = NULL;
}
