/*
 * purge.c - the partitions of a dataset before a date, listed, judged and
 * removed (purge.h).
 *
 * Stages: on the loop, the store's rows and what must stay (plan); on the
 * thread pool, the listing of staging/<dataset>/ and quarantine/<dataset>/
 * (list_work); on the loop, which partition goes and which rows are in it
 * (judge); on the thread pool, the removals (remove_work); on the loop, the
 * rows marked `removed` and DONE.  The worker touches only the purge's
 * parts and its copy of the state directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "api/purge.h"
#include "base/denverd.h"
#include "base/fsutil.h"
#include "base/macro.h"
#include "common/array.h"
#include "domain/config_types.h"
#include "engine/engine.h"
#include "io/s3.h"
#include "io/s3_objects.h"
#include "store/store.h"

#define PURGE_MAX_PARTS 10000   /* partitions one purge lists */
#define PURGE_MAX_FILES 64      /* entries a partition may hold (retain.c's cap) */

/* A partition that stays: by its place (area and name), or every
 * partition of EXEC_DATE (an active run's). */
struct keeper {
	enum purge_keep why;
	int64_t run_id;
	bool whole_date;
	enum purge_area area;
	char name[48];
	char exec_date[11];
};

struct purge_priv {
	uv_work_t work;
	struct purge *p;
	purge_done_cb done;
	void *arg;
	char *state_dir;
	struct store_snapshot *rows;     /* store_snapshots_before */
	size_t n_rows;
	struct store_snapshot *pub;      /* store_snapshots_published */
	size_t n_pub;
	struct keeper *keep;
	size_t n_keep, cap_keep;
	size_t cap_parts;
	struct s3_client *s3;            /* storage: s3, else NULL */
	int area;                        /* S3: the area being listed */
	size_t next;                     /* S3: the partition whose objects go next */
};

static const char *const area_names[] = { "staging", "quarantine" };

const char *purge_area_name(enum purge_area a)
{
	return area_names[a];
}

void purge_free(struct purge *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_parts; i++) {
		struct purge_part *x = &p->parts[i];
		for (size_t k = 0; k < x->n_keys; k++)
			free(x->keys[k]);
		free(x->keys);
		free(x->path);
		free(x->mirror);
		free(x->ids);
	}
	free(p->parts);
	free(p->missing);
	if (p->priv) {
		store_snapshots_free(p->priv->rows, p->priv->n_rows);
		store_snapshots_free(p->priv->pub, p->priv->n_pub);
		free(p->priv->keep);
		free(p->priv->state_dir);
		free(p->priv);
	}
	free(p);
}

static void fail(struct purge *p, int err, const char *what, const char *detail)
{
	if (p->err)
		return;
	p->err = err;
	snprintf(p->errmsg, sizeof p->errmsg, "%s: %s", what, detail);
}

static void finish(struct purge *p);

/* ---- places: where a row's file is, by area and partition name ---- */

/* The exec date of a partition NAME ("exec_date=D" or "exec_date=D.<ms>")
 * into DATE; false when NAME is not one of ours. */
static bool partition_date(const char *name, char date[11])
{
	static const char pre[] = "exec_date=";
	const char *d = name + sizeof pre - 1, *rest = d + 10;

	if (strncmp(name, pre, sizeof pre - 1) != 0 || strlen(d) < 10 || strlen(name) >= 48)
		return false;
	for (int i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
			return false;
	if (*rest) {
		if (*rest++ != '.' || !*rest)
			return false;
		for (; *rest; rest++)
			if (*rest < '0' || *rest > '9')
				return false;
	}
	memcpy(date, d, 10);
	date[10] = '\0';
	return true;
}

/* The area and partition name of PATH (".../<area>/<dataset>/<name>/<file>",
 * a local path or an object key alike); -EINVAL when it is not that. */
static int place_of(const char *path, const char *dataset, enum purge_area *area,
                    char name[48])
{
	const char *end = strrchr(path, '/'), *p;
	const char *seg[3];             /* name, dataset, area: their starts */
	size_t len[3];
	char date[11];

	for (int i = 0; i < 3; i++) {
		if (!end || end == path)
			return -EINVAL;
		for (p = end - 1; p > path && *p != '/'; p--)
			;
		if (*p != '/')
			return -EINVAL;
		seg[i] = p + 1;
		len[i] = (size_t)(end - seg[i]);
		end = p;
	}
	if (len[0] >= 48 || len[1] != strlen(dataset) || strncmp(seg[1], dataset, len[1]) != 0)
		return -EINVAL;
	memcpy(name, seg[0], len[0]);
	name[len[0]] = '\0';
	if (!partition_date(name, date))
		return -EINVAL;
	for (int a = 0; a < 2; a++)
		if (len[2] == strlen(area_names[a]) && strncmp(seg[2], area_names[a], len[2]) == 0) {
			*area = (enum purge_area)a;
			return 0;
		}
	return -EINVAL;
}

/* ---- plan: what stays (loop thread) ---- */

static int add_keeper(struct purge_priv *pv, const struct keeper *k)
{
	if (ARRAY_RESERVE(pv->keep, pv->n_keep + 1, pv->cap_keep, 8) < 0)
		return -ENOMEM;
	pv->keep[pv->n_keep++] = *k;
	return 0;
}

/* Keep the partition of published snapshot S, for WHY. */
static int keep_snapshot(struct purge *p, const struct store_snapshot *s,
                         enum purge_keep why, int64_t run_id)
{
	struct keeper k = { .why = why, .run_id = run_id };

	if (place_of(s->path, p->dataset, &k.area, k.name) < 0)
		return 0;                   /* not a place purge lists */
	snprintf(k.exec_date, sizeof k.exec_date, "%s", s->exec_date);
	return add_keeper(p->priv, &k);
}

/* An active run of the dataset: its exec date, and its diff baseline. */
static int active_run(void *arg, const struct store_run *r)
{
	struct purge *p = arg;
	struct purge_priv *pv = p->priv;
	struct keeper k = { .why = PURGE_KEEP_ACTIVE, .run_id = r->id, .whole_date = true };
	int rc;

	if (strcmp(r->kind, "dataset") != 0 || strcmp(r->target, p->dataset) != 0)
		return 0;
	snprintf(k.exec_date, sizeof k.exec_date, "%s", r->exec_date);
	if ((rc = add_keeper(pv, &k)) < 0)
		return rc;
	for (size_t i = 0; i < pv->n_pub; i++)       /* newest exec date first */
		if (pv->pub[i].run_id != r->id && strcmp(pv->pub[i].exec_date, r->exec_date) <= 0)
			return keep_snapshot(p, &pv->pub[i], PURGE_KEEP_BASELINE, r->id);
	return 0;
}

static int plan(struct purge *p)
{
	struct purge_priv *pv = p->priv;
	struct store *st = p->d->store;
	int rc;

	if ((rc = store_snapshots_before(st, p->dataset, p->before, &pv->rows, &pv->n_rows)) < 0 ||
	    (rc = store_snapshots_published(st, p->dataset, &pv->pub, &pv->n_pub)) < 0)
		return rc;
	if (pv->n_pub && (rc = keep_snapshot(p, &pv->pub[0], PURGE_KEEP_NEWEST, 0)) < 0)
		return rc;
	return store_runs_active(st, active_run, p);
}

/* ---- listing (thread pool; S3 on the loop) ---- */

static struct purge_part *part_at(struct purge *p, enum purge_area area, const char *name)
{
	for (size_t i = 0; i < p->n_parts; i++)
		if (p->parts[i].area == area && strcmp(p->parts[i].name, name) == 0)
			return &p->parts[i];
	return NULL;
}

/* A new partition AREA/NAME of DATE at PATH (copied); NULL: no memory or
 * too many (*RC says which). */
static struct purge_part *part_add(struct purge *p, enum purge_area area, const char *name,
                                   const char *date, const char *path, int *rc)
{
	struct purge_part *part;

	*rc = p->n_parts == PURGE_MAX_PARTS ? -E2BIG : -ENOMEM;
	if (p->n_parts == PURGE_MAX_PARTS ||
	    ARRAY_RESERVE(p->parts, p->n_parts + 1, p->priv->cap_parts, 16) < 0)
		return NULL;
	part = &p->parts[p->n_parts];
	memset(part, 0, sizeof *part);
	part->area = area;
	memcpy(part->name, name, strlen(name) + 1);   /* < 48: partition_date */
	memcpy(part->exec_date, date, 11);
	if (!(part->path = strdup(path)))
		return NULL;
	p->n_parts++;
	*rc = 0;
	return part;
}

/* Count the files of partition directory PART and their bytes. */
static int measure(struct purge_part *part)
{
	DIR *d = opendir(part->mirror);
	struct dirent *e;
	struct stat sb;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		part->files++;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			part->bytes += (uint64_t)sb.st_size;
	}
	closedir(d);
	return 0;
}

/* The partitions before the date in <state_dir>/<area>/<dataset>. */
static int list_area(struct purge *p, enum purge_area area)
{
	struct purge_priv *pv = p->priv;
	char dir[4096], date[11];
	struct dirent *e;
	struct stat sb;
	DIR *d;
	int rc = 0;

	if (snprintf(dir, sizeof dir, "%s/%s/%s", pv->state_dir, area_names[area], p->dataset) >=
	    (int)sizeof dir)
		return -ENAMETOOLONG;
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && (e = readdir(d))) {
		if (!partition_date(e->d_name, date) || strcmp(date, p->before) >= 0 ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode))
			continue;
		char path[4096 + 320];
		struct purge_part *part = part_at(p, area, e->d_name);
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (!part && !(part = part_add(p, area, e->d_name, date, path, &rc)))
			break;
		if (!(part->mirror = strdup(path))) {
			rc = -ENOMEM;
			break;
		}
		if (!part->err)
			part->err = measure(part);
	}
	closedir(d);
	return rc;
}

static int part_order(const void *a, const void *b)
{
	const struct purge_part *x = a, *y = b;
	int c = strcmp(x->exec_date, y->exec_date);

	if (c == 0)
		c = (int)x->area - (int)y->area;
	return c ? c : strcmp(x->name, y->name);
}

static void list_work(uv_work_t *w)
{
	struct purge_priv *pv = container_of(w, struct purge_priv, work);
	struct purge *p = pv->p;
	int rc;

	for (int a = PURGE_STAGING; a <= PURGE_QUARANTINE; a++)
		if ((rc = list_area(p, (enum purge_area)a)) < 0) {
			fail(p, rc, area_names[a], strerror(-rc));
			break;
		}
	if (p->n_parts)
		qsort(p->parts, p->n_parts, sizeof *p->parts, part_order);
}

/* ---- listing on S3 (loop thread) ---- */

static void s3_listed(void *arg, int rc, const char *error);

/* One object of the listing: its partition found or added. */
static int s3_entry(void *arg, const struct s3_entry *e)
{
	struct purge *p = arg;
	struct purge_priv *pv = p->priv;
	const char *rel = s3_key_rel(pv->s3, e->key), *ds, *name, *file;
	char pname[48], date[11], uri[4096 + 128];
	struct purge_part *part;
	int rc;

	/* <area>/<dataset>/<partition>/<file> */
	if (!rel || !(ds = strchr(rel, '/')) || !(name = strchr(++ds, '/')) ||
	    !(file = strchr(++name, '/')) || !file[1] || strchr(file + 1, '/') ||
	    (size_t)(name - ds - 1) != strlen(p->dataset) ||
	    strncmp(ds, p->dataset, strlen(p->dataset)) != 0 ||
	    (size_t)(file - name) >= sizeof pname)
		return 0;                   /* not a partition of ours */
	memcpy(pname, name, (size_t)(file - name));
	pname[file - name] = '\0';
	if (!partition_date(pname, date) || strcmp(date, p->before) >= 0)
		return 0;
	if (!(part = part_at(p, (enum purge_area)pv->area, pname))) {
		snprintf(uri, sizeof uri, "s3://%s/%.*s", s3_client_bucket(pv->s3),
		         (int)(file - e->key), e->key);
		if (!(part = part_add(p, (enum purge_area)pv->area, pname, date, uri, &rc)))
			return rc;
	}
	char **keys = realloc(part->keys, (part->n_keys + 1) * sizeof *keys);
	if (!keys)
		return -ENOMEM;
	part->keys = keys;
	if (!(keys[part->n_keys] = strdup(e->key)))
		return -ENOMEM;
	part->n_keys++;
	part->files++;
	part->bytes += e->size;
	return 0;
}

/* List <prefix>/<area>/<dataset>/ for pv->area. */
static int s3_list_area(struct purge *p)
{
	struct purge_priv *pv = p->priv;
	char rel[128], *prefix = NULL;
	int rc;

	snprintf(rel, sizeof rel, "%s/%s/", area_names[pv->area], p->dataset);
	if ((rc = s3_key(pv->s3, rel, &prefix)) == 0)
		rc = s3_list_all(pv->s3, prefix, s3_entry, s3_listed, p);
	free(prefix);
	return rc;
}

static void list_after(uv_work_t *w, int status);
static void list_work(uv_work_t *w);

/* One area listed: the next, then the local mirrors on the thread pool. */
static void s3_listed(void *arg, int rc, const char *error)
{
	struct purge *p = arg;
	struct purge_priv *pv = p->priv;

	if (rc < 0) {
		fail(p, rc, "listing the bucket", error);
		finish(p);
		return;
	}
	if (pv->area == PURGE_STAGING) {
		pv->area = PURGE_QUARANTINE;
		if ((rc = s3_list_area(p)) == 0)
			return;
	} else if ((rc = uv_queue_work(p->d->loop, &pv->work, list_work, list_after)) == 0) {
		return;
	}
	fail(p, rc, "purge", strerror(-rc));
	finish(p);
}

/* ---- judging (loop thread) ---- */

static const struct keeper *keeper_of(const struct purge_priv *pv, enum purge_area area,
                                      const char *name, const char *exec_date)
{
	for (size_t i = 0; i < pv->n_keep; i++) {
		const struct keeper *k = &pv->keep[i];
		if (k->whole_date ? strcmp(k->exec_date, exec_date) == 0
		                  : k->area == area && strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

static int push_id(int64_t **ids, size_t *n, int64_t id)
{
	int64_t *v = realloc(*ids, (*n + 1) * sizeof *v);

	if (!v)
		return -ENOMEM;
	v[(*n)++] = id;
	*ids = v;
	return 0;
}

/* Which partitions go, and the rows in each; rows whose partition is gone
 * become P->missing, unless a keeper holds their place. */
static int judge(struct purge *p)
{
	struct purge_priv *pv = p->priv;

	for (size_t i = 0; i < p->n_parts; i++) {
		struct purge_part *part = &p->parts[i];
		const struct keeper *k = keeper_of(pv, part->area, part->name, part->exec_date);
		part->keep = k ? k->why : PURGE_GOES;   /* an unreadable one too: */
		part->run_id = k ? k->run_id : 0;       /* its removal says why */
	}
	for (size_t i = 0; i < pv->n_rows; i++) {
		const struct store_snapshot *r = &pv->rows[i];
		struct purge_part *part;
		enum purge_area area;
		char name[48];
		int rc;
		if (place_of(r->path, p->dataset, &area, name) < 0)
			continue;            /* not a place of ours: left alone */
		if ((part = part_at(p, area, name)))
			rc = push_id(&part->ids, &part->n_ids, r->id);
		else if (!keeper_of(pv, area, name, r->exec_date))
			rc = push_id(&p->missing, &p->n_missing, r->id);
		else
			rc = 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- removal (thread pool), then the rows (loop thread) ---- */

static void remove_work(uv_work_t *w)
{
	struct purge_priv *pv = container_of(w, struct purge_priv, work);
	struct purge *p = pv->p;

	for (size_t i = 0; i < p->n_parts; i++) {
		struct purge_part *part = &p->parts[i];
		if (part->keep != PURGE_GOES)
			continue;
		if (!part->err && part->mirror)
			part->err = remove_dir_flat(part->mirror, PURGE_MAX_FILES);
		part->removed = part->err == 0;
	}
}

static void mark_removed(struct purge *p, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = store_snapshot_set_state(p->d->store, ids[i], "removed");
		if (rc < 0 && rc != -ENOENT)
			fail(p, rc, "state store", store_errmsg(p->d->store));
	}
}

static void finish(struct purge *p)
{
	struct purge_priv *pv = p->priv;

	pv->done(p, pv->arg);
}

static void remove_after(uv_work_t *w, int status)
{
	struct purge_priv *pv = container_of(w, struct purge_priv, work);
	struct purge *p = pv->p;

	(void)status;                    /* never cancelled */
	for (size_t i = 0; i < p->n_parts; i++)
		if (p->parts[i].removed)
			mark_removed(p, p->parts[i].ids, p->parts[i].n_ids);
	mark_removed(p, p->missing, p->n_missing);
	finish(p);
}

/* The objects of the partitions that go, one partition after the other;
 * then their mirrors on the thread pool. */
static void s3_remove_next(struct purge *p);

static void s3_removed(void *arg, int rc, const char *error)
{
	struct purge *p = arg;
	struct purge_part *part = &p->parts[p->priv->next++];

	if (rc < 0) {
		part->err = rc;
		fail(p, rc, part->path, error);
	}
	s3_remove_next(p);
}

static void s3_remove_next(struct purge *p)
{
	struct purge_priv *pv = p->priv;
	int rc;

	for (; pv->next < p->n_parts; pv->next++) {
		struct purge_part *part = &p->parts[pv->next];
		if (part->keep != PURGE_GOES || !part->n_keys)
			continue;
		if ((rc = s3_delete_keys(pv->s3, (const char *const *)part->keys, part->n_keys,
		                         s3_removed, p)) == 0)
			return;
		part->err = rc;
	}
	if ((rc = uv_queue_work(p->d->loop, &pv->work, remove_work, remove_after)) < 0) {
		fail(p, rc, "purge", uv_strerror(rc));
		finish(p);
	}
}

static void list_after(uv_work_t *w, int status)
{
	struct purge_priv *pv = container_of(w, struct purge_priv, work);
	struct purge *p = pv->p;
	int rc;

	(void)status;
	if (p->err)
		goto done;
	if ((rc = judge(p)) < 0) {
		fail(p, rc, "purge", strerror(-rc));
		goto done;
	}
	if (!p->act)
		goto done;
	if (pv->s3) {
		s3_remove_next(p);
		return;
	}
	if ((rc = uv_queue_work(p->d->loop, &pv->work, remove_work, remove_after)) == 0)
		return;
	fail(p, rc, "purge", uv_strerror(rc));
done:
	finish(p);
}

int purge_start(struct denverd *d, const char *dataset, const char *before, bool act,
                purge_done_cb done, void *arg, char *err, size_t errlen)
{
	struct purge *p = calloc(1, sizeof *p);
	struct purge_priv *pv = calloc(1, sizeof *pv);
	int rc;

	if (!p || !pv || !(pv->state_dir = strdup(d->cfg->state_dir))) {
		free(p);
		free(pv);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->priv = pv;
	pv->p = p;
	pv->done = done;
	pv->arg = arg;
	p->d = d;
	p->act = act;
	snprintf(p->dataset, sizeof p->dataset, "%s", dataset);
	snprintf(p->before, sizeof p->before, "%s", before);
	if ((rc = plan(p)) < 0) {
		snprintf(err, errlen, "state store: %s",
		         rc == -ENOMEM ? "out of memory" : store_errmsg(d->store));
		goto fail;
	}
	pv->s3 = d->sched ? sched_storage(d->sched) : NULL;
	if (pv->s3 && (rc = s3_list_area(p)) < 0) {
		snprintf(err, errlen, "cannot list the bucket: %s", strerror(-rc));
		goto fail;
	}
	if (!pv->s3 && (rc = uv_queue_work(d->loop, &pv->work, list_work, list_after)) < 0) {
		snprintf(err, errlen, "cannot queue the listing: %s", uv_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	purge_free(p);
	return rc;
}
