/*
 * fetch_file.c - the file side of a fetch: the three threadpool jobs (prep,
 * write, finish) and the sidecar a resume reads.  See fetch.c for the order
 * of the jobs and why the hash runs here.
 *
 * The *_work functions run on a libuv worker thread and may block on the
 * disk; they touch only the fields fetch_int.h marks "worker" and report
 * through f->job_err/job_what (positive errno, what was being done).
 * fetch_queue_job and after_work run on the loop thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/fsutil.h"
#include "base/macro.h"
#include "io/fetch_int.h"

#define FETCH_WB_CHUNK   (8 * 1024 * 1024) /* start writeback this often */
#define FETCH_PREALLOC   (64 * 1024 * 1024) /* space reserved ahead of the writes */
#define FETCH_META_MAX   (16 * 1024)      /* the sidecar's size */

/* ---- the sidecar: what a resume needs to know about the .part ---- */

/*
 * Replace the sidecar with TEXT: temp file + rename, so a reader sees the
 * old or the new one, never half.  Not write_atomic(): the sidecar needs
 * no fsync, because the .part it describes is not durable before publish
 * either; after a crash a lost or stale sidecar only costs the resume.
 */
static int meta_write(const char *meta_path, const char *text)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", meta_path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text), 0);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, meta_path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

char *fetch_meta_text(const struct fetch *f)
{
	json_t *o = json_pack("{s:s, s:s?, s:s?, s:I}", "url", f->url,
	                      "etag", f->etag, "last_modified", f->last_modified,
	                      "total", (json_int_t)f->total);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* The If-Range value for a resume of the response that wrote the sidecar:
 * a strong ETag, else Last-Modified (RFC 9110 13.1.5); NULL = not
 * resumable. */
char *fetch_resume_validator(const char *etag, const char *lm)
{
	if (etag && etag[0] == '"')
		return strdup(etag);
	if (lm && *lm)
		return strdup(lm);
	return NULL;
}

/*
 * Worker: decide whether the .part can be continued.  It can when the
 * sidecar names the same URL and a validator and the .part is non-empty
 * and shorter than the total; then the prefix is re-hashed into f->hash.
 * Otherwise the .part is truncated and the sidecar removed.
 */
static int prep_resume(struct fetch *f)
{
	char text[FETCH_META_MAX];
	json_t *o = NULL;
	struct stat st;
	ssize_t n;
	int mfd, rfd = -1, rc = 0;
	const char *url, *etag, *lm;
	json_int_t total;

	mfd = open(f->meta_path, O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		return 0;
	n = read(mfd, text, sizeof text - 1);
	close(mfd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	o = json_loads(text, 0, NULL);
	if (!o || json_unpack(o, "{s:s, s?s, s?s, s:I}", "url", &url, "etag", &etag,
	                      "last_modified", &lm, "total", &total) < 0)
		goto out;
	etag = json_string_value(json_object_get(o, "etag"));
	lm = json_string_value(json_object_get(o, "last_modified"));
	if (strcmp(url, f->url) != 0 || fstat(f->fd, &st) < 0 || st.st_size <= 0)
		goto out;
	if (total >= 0 && (uint64_t)st.st_size >= (uint64_t)total)
		goto out;
	f->if_range = fetch_resume_validator(etag, lm);
	if (!f->if_range)
		goto out;
	rfd = open(f->part_path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		rc = -errno;
		goto out;
	}
	/* Re-hash the prefix, using a write buffer as scratch. */
	for (uint64_t done = 0; done < (uint64_t)st.st_size;) {
		n = read(rfd, f->buf[0].data, FETCH_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
		XXH3_128bits_update(f->hash, f->buf[0].data, (size_t)n);
		done += (uint64_t)n;
	}
	f->offset = (uint64_t)st.st_size;
	f->wb_start = f->offset;
	f->alloc_end = f->written_end = f->offset;
	f->etag = etag ? strdup(etag) : NULL;
	f->last_modified = lm ? strdup(lm) : NULL;
	f->prep_total = total;
out:
	if (rfd >= 0)
		close(rfd);
	json_decref(o);
	if (f->offset == 0) {
		free(f->if_range);
		f->if_range = NULL;
		XXH3_128bits_reset(f->hash);
	}
	return rc;
}

static void prep_work(struct fetch *f)
{
	int rc;

	f->job_what = "create directory";
	if ((rc = mkdir_p(f->partial_dir, 0755)) < 0)
		goto out;
	f->job_what = "open";
	f->fd = open(f->part_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		rc = -errno;
		goto out;
	}
	f->job_what = "re-read";
	if (!f->no_resume && (rc = prep_resume(f)) < 0)
		goto out;
	if (f->offset == 0) {
		f->job_what = "truncate";
		unlink(f->meta_path);
		if (ftruncate(f->fd, 0) < 0)
			rc = -errno;
	}
out:
	f->job_err = rc < 0 ? -rc : 0;
}

/*
 * Worker: keep FETCH_PREALLOC bytes of the file allocated ahead of the
 * write that ends at END (fallocate, KEEP_SIZE: the size still says what
 * was written, so a resume reads only real bytes).  Without it, every
 * pwrite on ext4 goes through delayed allocation, which the writeback
 * that sync_file_range starts keeps contending with: on this machine
 * 1 GiB of 1 MiB pwrites took 0.28-3.0 s (median 0.36 s) without and
 * 0.28-0.73 s (median 0.31 s) with; on tmpfs 0.47-0.64 s and 0.37-0.41 s.
 * Only when the response's size is known and never past it, so the
 * published file holds no block beyond its end, and a window rather than
 * the whole size, so a server announcing a huge body cannot take the disk
 * before its bytes arrive.  Best effort: a file system without fallocate,
 * or one that is full, still gets the writes (which report ENOSPC).
 */
static void reserve_ahead(struct fetch *f, uint64_t end)
{
	uint64_t total = f->wj.total > 0 ? (uint64_t)f->wj.total : 0;

	if (end + FETCH_PREALLOC / 2 <= f->alloc_end || f->alloc_end >= total)
		return;
	if (f->alloc_end < f->wj.off)
		f->alloc_end = f->wj.off;
	if (f->alloc_end >= total)
		return;
	uint64_t len = total - f->alloc_end < FETCH_PREALLOC ? total - f->alloc_end
	                                                      : FETCH_PREALLOC;
	if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)f->alloc_end, (off_t)len) < 0) {
		f->alloc_end = UINT64_MAX;    /* not supported, or full: stop trying */
		return;
	}
	f->alloc_end += len;
}

static void write_work(struct fetch *f)
{
	struct wbuf *b = &f->buf[f->wj.idx];
	int rc = 0;

	if (f->wj.truncate) {
		f->job_what = "truncate";
		if (ftruncate(f->fd, 0) < 0) {
			rc = -errno;
			goto out;
		}
		XXH3_128bits_reset(f->hash);
		f->wb_start = f->alloc_end = f->written_end = 0;
	}
	if (f->wj.meta) {
		f->job_what = "write sidecar";
		if ((rc = meta_write(f->meta_path, f->wj.meta)) < 0)
			goto out;
	}
	uint64_t end = f->wj.off + b->len;
	reserve_ahead(f, end);
	f->job_what = "write";
	if ((rc = write_all(f->fd, b->data, b->len, f->wj.off)) < 0)
		goto out;
	f->written_end = end;
	XXH3_128bits_update(f->hash, b->data, b->len);
	/* Start writeback as we go (without waiting for it), so the fsync of
	 * the publish step only has the tail left to write instead of the
	 * whole file, and dirty pages do not pile up on multi-GB files. */
	if (end - f->wb_start >= FETCH_WB_CHUNK) {
		sync_file_range(f->fd, (off_t)f->wb_start, (off_t)(end - f->wb_start),
		                SYNC_FILE_RANGE_WRITE);
		f->wb_start = end;
	}
out:
	f->job_err = rc < 0 ? -rc : 0;
}

static void finish_work(struct fetch *f)
{
	char parent[PATH_MAX];
	bool renamed = false;
	int rc = 0;

	if (f->fin == FIN_PUBLISH) {
		f->job_what = "truncate";
		if (f->fin_truncate && ftruncate(f->fd, 0) < 0) {
			rc = -errno;
			goto out;
		}
		/* Space reserved past the last byte (a body shorter than its
		 * announced size) is not part of the file. */
		if (!f->fin_truncate && f->alloc_end != UINT64_MAX &&
		    f->alloc_end > f->written_end)
			fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			          (off_t)f->written_end, (off_t)(f->alloc_end - f->written_end));
		f->job_what = "fsync";
		if (fsync(f->fd) < 0) {
			rc = -errno;
			goto out;
		}
	}
	f->job_what = "close";
	rc = close(f->fd) < 0 && f->fin == FIN_PUBLISH ? -errno : 0;
	f->fd = -1;
	if (rc < 0 || f->fin != FIN_PUBLISH)
		goto out;
	f->job_what = "create directory";
	if ((rc = mkdir_p(f->final_dir, 0755)) < 0)
		goto out;
	f->job_what = "rename";
	if (rename(f->part_path, f->final_path) < 0) {
		rc = -errno;
		goto out;
	}
	renamed = true;
	/* The new name, and the partition directory if mkdir_p made it. */
	f->job_what = "fsync directory";
	if ((rc = fsync_dir(f->final_dir)) < 0)
		goto out;
	if (path_parent(f->final_dir, parent, sizeof parent) == 0 &&
	    (rc = fsync_dir(parent)) < 0)
		goto out;
	unlink(f->meta_path);
out:
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (rc < 0 || f->fin == FIN_DISCARD) {
		/* Nothing stays under the final name that is not known durable. */
		unlink(renamed ? f->final_path : f->part_path);
		unlink(f->meta_path);
	}
	f->job_err = rc < 0 ? -rc : 0;
}

/* ---- the job on the pool ---- */

static void work_cb(uv_work_t *w)
{
	struct fetch *f = container_of(w, struct fetch, work);
	switch (f->job) {
	case WORK_PREP:   prep_work(f); break;
	case WORK_WRITE:  write_work(f); break;
	case WORK_FINISH: finish_work(f); break;
	}
}

/* Loop thread, once the job is over: its error becomes the fetch's (the
 * first one is kept), then the stage machine goes on. */
static void after_work(uv_work_t *w, int status)
{
	struct fetch *f = container_of(w, struct fetch, work);
	if (f->job_err && !f->io_err) {
		f->io_err = f->job_err;
		f->io_what = f->job_what;
	}
	f->job_err = 0;
	f->job_done(f);
}

void fetch_queue_job(struct fetch *f, enum fetch_work job, fetch_job_done_fn *done)
{
	f->sink->queue(f, job, done);
}

/* The local sink: every job on the pool, but a finish with no file open
 * and nothing to publish, which is done at once. */
static void local_queue(struct fetch *f, enum fetch_work job, fetch_job_done_fn *done)
{
	int rc;

	if (job == WORK_FINISH && f->fd < 0 && f->fin != FIN_PUBLISH) {
		if (f->fin == FIN_DISCARD) {
			unlink(f->part_path);
			unlink(f->meta_path);
		}
		f->job = job;
		done(f);
		return;
	}
	f->job = job;
	f->job_done = done;
	rc = uv_queue_work(http_loop(f->http), &f->work, work_cb, after_work);
	if (rc < 0) {
		/* Only fails for a NULL callback: a bug, not a run-time state. */
		fprintf(stderr, "fetch: uv_queue_work: %s\n", uv_strerror(rc));
		abort();
	}
}

const struct fetch_sink fetch_sink_local = { .queue = local_queue, .free = NULL };
