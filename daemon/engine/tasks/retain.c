/*
 * retain.c - remove staged snapshot partitions beyond keep_snapshots.
 *
 * The plan (which partitions go) is made on the loop thread from the
 * store's list; the directories are removed on the threadpool (unlinking a
 * multi-GB file takes long enough to stall the loop); the rows are marked
 * `removed` back on the loop thread, only for directories that are gone.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "engine/tasks/retain.h"
#include "store/store.h"

#define RETAIN_MAX_FILES 64     /* entries one partition may hold */

struct victim {
	char *dir;                  /* .../exec_date=D */
	int64_t *ids;               /* snapshot rows in it */
	size_t n_ids;
	int err;                    /* 0, or errno of its removal */
};

struct retain {
	uv_work_t work;
	struct store *st;
	struct victim *v;
	size_t n;
	retain_done_cb done;
	void *arg;
};

static void retain_free(struct retain *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].dir);
		free(r->v[i].ids);
	}
	free(r->v);
	free(r);
}

/* The partition directory of PATH, when PATH is
 * <anything>/exec_date=<EXEC_DATE>/<file>; NULL otherwise (a row that does
 * not look like ours is never a reason to delete a directory). */
static char *partition_dir(const char *path, const char *exec_date)
{
	/* An object in S3 (storage: s3) is not a directory here: its
	 * retention is the S3 side's (not done by this file). */
	if (strncmp(path, "s3://", 5) == 0)
		return NULL;
	char want[64];
	const char *slash = strrchr(path, '/');
	size_t wl;

	if (!slash || slash == path)
		return NULL;
	snprintf(want, sizeof want, "/exec_date=%s", exec_date);
	wl = strlen(want);
	if ((size_t)(slash - path) < wl || strncmp(slash - wl, want, wl) != 0)
		return NULL;
	return strndup(path, (size_t)(slash - path));
}

/* Remove DIR and the files in it (no recursion: a partition holds the
 * snapshot and its .keys index).  0 or errno. */
static int remove_partition(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int err = 0, count = 0;

	if (!d)
		return errno == ENOENT ? 0 : errno;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (++count > RETAIN_MAX_FILES) {
			err = E2BIG;
			break;
		}
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) {
			err = errno;
			break;
		}
	}
	closedir(d);
	if (!err && rmdir(dir) < 0 && errno != ENOENT)
		err = errno;
	return err;
}

static void retain_work(uv_work_t *w)
{
	struct retain *r = container_of(w, struct retain, work);
	for (size_t i = 0; i < r->n; i++)
		r->v[i].err = remove_partition(r->v[i].dir);
}

static void retain_after(uv_work_t *w, int status)
{
	struct retain *r = container_of(w, struct retain, work);
	char msg[512] = "";
	int removed = 0, rc = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct victim *v = &r->v[i];
		if (v->err) {
			if (!rc)
				snprintf(msg, sizeof msg, "remove %s: %s", v->dir, strerror(v->err));
			rc = -v->err;
			continue;
		}
		for (size_t k = 0; k < v->n_ids; k++) {
			int src = store_snapshot_set_state(r->st, v->ids[k], "removed");
			if (src < 0 && src != -ENOENT && !rc) {
				rc = src;
				snprintf(msg, sizeof msg, "mark snapshot %lld removed: %s",
				         (long long)v->ids[k], store_errmsg(r->st));
			}
		}
		removed++;
	}
	if (r->done)
		r->done(rc < 0 ? rc : removed, rc < 0 ? msg : NULL, r->arg);
	retain_free(r);
}

/* Group LIST (newest exec date first) into partitions; every partition
 * after the first KEEP distinct exec dates becomes a victim. */
static int plan(struct retain *r, const struct store_snapshot *list, size_t n,
                unsigned keep)
{
	unsigned dates = 0;
	const char *prev = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct store_snapshot *s = &list[i];
		bool new_date = !prev || strcmp(prev, s->exec_date) != 0;
		prev = s->exec_date;
		if (new_date)
			dates++;
		if (dates <= keep)
			continue;
		if (new_date) {
			struct victim *nv = realloc(r->v, (r->n + 1) * sizeof *nv);
			if (!nv)
				return -ENOMEM;
			r->v = nv;
			memset(&r->v[r->n], 0, sizeof *nv);
			r->n++;
		}
		struct victim *v = &r->v[r->n - 1];
		char *dir = partition_dir(s->path, s->exec_date);
		if (dir && !v->dir) {
			v->dir = dir;
		} else {
			free(dir);
			if (!v->dir && !dir)
				continue;       /* unrecognised path: leave the row alone */
		}
		int64_t *ids = realloc(v->ids, (v->n_ids + 1) * sizeof *ids);
		if (!ids)
			return -ENOMEM;
		v->ids = ids;
		v->ids[v->n_ids++] = s->id;
	}
	/* Drop victims without a directory we recognised. */
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].dir)
			r->v[k++] = r->v[i];
		else
			free(r->v[i].ids);
	}
	r->n = k;
	return 0;
}

int retain_snapshots(uv_loop_t *loop, struct store *st, const char *dataset,
                     unsigned keep, retain_done_cb done, void *arg)
{
	struct store_snapshot *list = NULL;
	struct retain *r;
	size_t n = 0;
	int rc;

	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->st = st;
	r->done = done;
	r->arg = arg;
	if ((rc = store_snapshots_published(st, dataset, &list, &n)) < 0)
		goto out;
	if ((rc = plan(r, list, n, keep ? keep : 1)) < 0)
		goto out;
	rc = uv_queue_work(loop, &r->work, retain_work, retain_after);
out:
	store_snapshots_free(list, n);
	if (rc < 0)
		retain_free(r);
	return rc;
}
