/*
 * retain.c - remove staged snapshot partitions beyond keep_snapshots.
 *
 * The plan (which partitions go) is made on the loop thread from the
 * store's list; the directories are removed on the threadpool (unlinking a
 * multi-GB file takes long enough to stall the loop); the rows are marked
 * `removed` back on the loop thread, only for directories that are gone.
 * In S3 mode the objects are deleted first, on the loop (io/s3_objects.h),
 * then the mirrors of their partitions on the threadpool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/macro.h"
#include "io/s3_objects.h"
#include "engine/tasks/retain.h"
#include "store/store.h"

#define RETAIN_MAX_FILES 64     /* entries one partition may hold */

struct victim {
	char *dir;                  /* .../exec_date=D (in S3 mode its mirror) */
	char *key;                  /* S3 mode: the snapshot's object; else NULL */
	int64_t *ids;               /* snapshot rows in it */
	size_t n_ids;
	int err;                    /* 0, or errno of its removal */
};

struct retain {
	uv_work_t work;
	uv_loop_t *loop;
	struct store *st;
	struct s3_client *s3;
	const char *state_dir;      /* borrowed for plan() only */
	struct victim *v;
	size_t n, next;             /* next: the victim whose object goes next */
	char s3err[256];
	retain_done_cb done;
	void *arg;
};

static void retain_free(struct retain *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].dir);
		free(r->v[i].key);
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
	/* An object in S3 (storage: s3) is not a directory here: plan()
	 * takes it through s3_uri_key and mirror_dir, or leaves it alone. */
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

/* The local mirror of object KEY's partition (STATE_DIR/<rel dir>), when
 * KEY is <prefix>/<area>/<ds>/exec_date=<EXEC_DATE>/<file>; else NULL. */
static char *mirror_dir(const char *state_dir, const struct s3_client *s3, const char *key,
                        const char *exec_date)
{
	const char *rel = s3_key_rel(s3, key);
	char *path, *dir;

	if (!rel || asprintf(&path, "%s/%s", state_dir, rel) < 0)
		return NULL;
	dir = partition_dir(path, exec_date);
	free(path);
	return dir;
}

static void retain_work(uv_work_t *w)
{
	struct retain *r = container_of(w, struct retain, work);
	for (size_t i = 0; i < r->n; i++)
		if (!r->v[i].err)
			r->v[i].err = -remove_dir_flat(r->v[i].dir, RETAIN_MAX_FILES);
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
				snprintf(msg, sizeof msg, "remove %s: %s", v->key ? v->key : v->dir,
				         v->key && r->s3err[0] ? r->s3err : strerror(v->err));
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
		const char *key = s3_uri_key(r->s3, s->path);
		char *dir = key ? mirror_dir(r->state_dir, r->s3, key, s->exec_date)
		                : partition_dir(s->path, s->exec_date);
		if (dir && key && !v->key && !(v->key = strdup(key))) {
			free(dir);
			return -ENOMEM;
		}
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

/* The objects, one after the other; then the directories. */
static void delete_next(struct retain *r);

static void object_deleted(void *arg, int rc, const char *error)
{
	struct retain *r = arg;

	if (rc < 0) {
		r->v[r->next].err = EIO;
		if (!r->s3err[0])
			snprintf(r->s3err, sizeof r->s3err, "%s", error);
	}
	r->next++;
	delete_next(r);
}

static void delete_next(struct retain *r)
{
	int rc;

	for (; r->next < r->n; r->next++) {
		struct victim *v = &r->v[r->next];
		const char *k = v->key;
		if (!k)
			continue;
		if ((rc = s3_delete_keys(r->s3, &k, 1, object_deleted, r)) == 0)
			return;
		v->err = -rc;
	}
	if ((rc = uv_queue_work(r->loop, &r->work, retain_work, retain_after)) < 0) {
		/* Nothing more can be done: report it, mark nothing. */
		if (r->done)
			r->done(rc, "cannot queue the removal of the key index mirrors", r->arg);
		retain_free(r);
	}
}

int retain_snapshots(uv_loop_t *loop, struct store *st, struct s3_client *s3,
                     const char *state_dir, const char *dataset, unsigned keep,
                     retain_done_cb done, void *arg)
{
	struct store_snapshot *list = NULL;
	struct retain *r;
	size_t n = 0;
	int rc;

	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->st = st;
	r->s3 = s3;
	r->state_dir = state_dir;
	r->done = done;
	r->arg = arg;
	if ((rc = store_snapshots_published(st, dataset, &list, &n)) < 0)
		goto out;
	if ((rc = plan(r, list, n, keep ? keep : 1)) < 0)
		goto out;
	for (size_t i = 0; s3 && i < r->n; i++)
		if (r->v[i].key) {
			r->next = i;
			delete_next(r);      /* calls DONE later, from a callback */
			store_snapshots_free(list, n);
			return 0;
		}
	rc = uv_queue_work(loop, &r->work, retain_work, retain_after);
out:
	store_snapshots_free(list, n);
	if (rc < 0)
		retain_free(r);
	return rc;
}
