/*
 * fetch_upload.c - storage: s3 for the engine: the S3 client made at start
 * from the configuration and the credentials, the sweep of stale uploads
 * at start, and the fetch task's resume state (fetch_upload.h): every
 * event io/fetch_s3.c reports is written to state.db (store_uploads.c) at
 * once, on the loop thread, so that after a kill -9 the next attempt finds
 * the upload and its parts.  Also the start of a fetch with that state
 * (upload_fetch_start), and of the upload of an ArcGIS layer's held
 * snapshot (upload_held_start; the design is in task_fetch.c).
 *
 * The sweep aborts an upload under <prefix>/staging/ when it was begun
 * before this start (its Initiated time, with a minute of slack for clock
 * skew) and no s3_uploads row names it: a row is written when the upload
 * is created, so an upload without one is a crash's leftover (or another
 * daemon's on the same prefix, which is not supported).  Loop thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/denverd.h"
#include "base/log.h"
#include "config/config.h"
#include "engine/tasks/fetch_upload.h"
#include "engine/tasks/tasks.h"
#include "io/s3.h"
#include "io/s3_creds.h"
#include "store/store.h"

#define SWEEP_SLACK_MS (60 * 1000)

/* ---- the client ---- */

int upload_client_new(struct denverd *d, struct http *h, struct s3_client **out,
                      char ***env)
{
	const struct cfg_storage *cs = &d->cfg->storage;
	struct s3_creds cr;
	char *err = NULL;
	int rc;

	*out = NULL;
	*env = NULL;
	if (cs->type != STORAGE_S3)
		return 0;
	if ((rc = s3_creds_load(cs->credentials_file, &cr, &err)) < 0) {
		log_err(NULL, "%s", err ? err : "storage credentials: out of memory");
		free(err);
		return rc;
	}
	if ((rc = s3_creds_env(&cr, env)) < 0) {
		s3_creds_clear(&cr);
		log_err(NULL, "storage credentials: out of memory");
		return rc;
	}
	struct s3_options o = {
		.endpoint = cs->endpoint, .region = cs->region, .bucket = cs->bucket,
		.prefix = cs->prefix, .path_style = cs->path_style, .access_key = cr.access_key,
		.secret_key = cr.secret_key, .session_token = cr.session_token,
	};
	rc = s3_client_new(h, &o, out, &err);
	s3_creds_clear(&cr);
	if (rc < 0) {
		log_err(NULL, "%s", err ? err : "storage: out of memory");
		free(err);
		return rc;
	}
	log_info(NULL, "storage: s3://%s/%s at %s (parts of %" PRIu64 " MiB)", cs->bucket,
	         cs->prefix ? cs->prefix : "", cs->endpoint, cs->part_size >> 20);
	return 0;
}

void upload_client_free(struct s3_client *c)
{
	s3_client_free(c);
}

/* ---- the sweep at start ---- */

struct sweep {
	struct denverd *d;
	struct s3_client *c;
	char *prefix;
	int64_t before_ms;
	unsigned aborted, kept, pages;
};

struct owned {
	const char *id;
	bool found;
};

static int owned_row(void *arg, const char *upload_id, const char *key)
{
	struct owned *o = arg;
	(void)key;
	if (upload_id && strcmp(upload_id, o->id) == 0)
		o->found = true;
	return 0;
}

/* "2026-12-01T23:20:00.000Z" in unix ms; -1 when it does not parse. */
static int64_t iso_ms(const char *s)
{
	struct tm tm = { 0 };
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

static void sweep_page(void *arg, const struct s3_result *r);

/* An abort's answer: a failed one leaves the upload to the next start. */
static void swept(void *arg, const struct s3_result *r)
{
	(void)arg;
	if (r->cls != S3_OK && r->cls != S3_NOT_FOUND)
		log_warn(NULL, "storage: %s", r->message);
}

static void sweep_next(struct sweep *w, const char *token, const char *token2)
{
	struct s3_request rq = { .op = S3_LIST_UPLOADS, .key = w->prefix, .token = token,
	                         .token2 = token2 };
	if (s3_send(w->c, &rq, sweep_page, w, NULL) < 0) {
		log_warn(NULL, "storage: cannot list the open uploads (out of memory)");
		free(w->prefix);
		free(w);
	}
}

static void sweep_page(void *arg, const struct s3_result *r)
{
	struct sweep *w = arg;

	if (r->cls != S3_OK) {
		log_warn(NULL, "storage: listing the open uploads failed, none aborted: %s",
		         r->message);
		free(w->prefix);
		free(w);
		return;
	}
	for (size_t i = 0; i < r->n_entries; i++) {
		const struct s3_entry *e = &r->entries[i];
		struct owned o = { .id = e->upload_id };
		int64_t t = iso_ms(e->time);
		store_upload_ids(w->d->store, owned_row, &o);
		if (o.found || t < 0 || t >= w->before_ms) {
			w->kept++;
			continue;
		}
		struct s3_request rq = { .op = S3_ABORT, .key = e->key, .upload_id = e->upload_id };
		if (s3_send(w->c, &rq, swept, NULL, NULL) == 0)
			w->aborted++;
	}
	if (r->truncated && ++w->pages < 1000) {
		sweep_next(w, r->next_token, r->next_token2);
		return;
	}
	log_info(NULL, "storage: %u stale upload%s under s3://%s/%s aborted, %u kept",
	         w->aborted, w->aborted == 1 ? "" : "s", s3_client_bucket(w->c), w->prefix,
	         w->kept);
	free(w->prefix);
	free(w);
}

void upload_sweep(struct denverd *d, struct s3_client *c)
{
	struct sweep *w = calloc(1, sizeof *w);

	if (!w || s3_key(c, "staging/", &w->prefix) < 0) {
		free(w);
		log_warn(NULL, "storage: no sweep of stale uploads (out of memory)");
		return;
	}
	w->d = d;
	w->c = c;
	w->before_ms = clock_now_ms() - SWEEP_SLACK_MS;
	sweep_next(w, NULL, NULL);
}

/* ---- the fetch task's uploads ---- */

struct upload_hold {
	struct fetch_upload u;
	char *s[5];
	struct fetch_upload_part *parts;
	size_t n;
};

static void on_upload(void *arg, enum fetch_upload_event ev, const struct fetch_upload *u,
                      const struct fetch_upload_part *p)
{
	const struct task_info *ti = arg;
	struct store *st = ti->d->store;
	struct store_upload su = {
		.dataset = ti->dataset->name, .exec_date = ti->exec_date, .key = u->key,
		.upload_id = u->upload_id, .url = u->url, .etag = u->etag,
		.last_modified = u->last_modified, .total = u->total,
	};
	int rc = 0;

	switch (ev) {
	case FETCH_UPLOAD_BEGIN:
		log_info(&ti->log, "upload of s3://%s/%s begun", s3_client_bucket(ti->s3), u->key);
		rc = store_upload_begin(st, &su);
		break;
	case FETCH_UPLOAD_PART: {
		struct store_upload_part sp = {
			.number = p->number, .etag = p->etag, .size = p->size, .end = p->end,
			.hash_state = p->hash_state, .hash_state_len = p->hash_state_len,
		};
		rc = store_upload_part(st, u->upload_id, &sp);
		break;
	}
	case FETCH_UPLOAD_RESET:
		rc = store_upload_reset(st, &su);
		break;
	case FETCH_UPLOAD_END:
		rc = store_upload_end(st, u->upload_id);
		break;
	}
	if (rc < 0)
		log_warn(&ti->log, "state store: the upload's resume state: %s (a restart "
		         "uploads again from the start)", store_errmsg(st));
}

static char *dup0(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*oom = true;
	return d;
}

static int hold_row(void *arg, const struct store_upload *u,
                    const struct store_upload_part *parts, size_t n)
{
	struct upload_hold *h = arg;
	bool oom = false;

	h->s[0] = dup0(u->key, &oom);
	h->s[1] = dup0(u->upload_id, &oom);
	h->s[2] = dup0(u->url, &oom);
	h->s[3] = dup0(u->etag, &oom);
	h->s[4] = dup0(u->last_modified, &oom);
	h->parts = calloc(n ? n : 1, sizeof *h->parts);
	if (oom || !h->parts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct fetch_upload_part *q = &h->parts[h->n++];
		q->number = parts[i].number;
		q->size = parts[i].size;
		q->end = parts[i].end;
		q->etag = dup0(parts[i].etag, &oom);
		q->hash_state_len = parts[i].hash_state_len;
		q->hash_state = parts[i].hash_state_len ? malloc(parts[i].hash_state_len) : NULL;
		if (oom || (parts[i].hash_state_len && !q->hash_state))
			return -ENOMEM;
		memcpy((void *)q->hash_state, parts[i].hash_state, parts[i].hash_state_len);
	}
	h->u = (struct fetch_upload){
		.key = h->s[0], .upload_id = h->s[1], .url = h->s[2], .etag = h->s[3],
		.last_modified = h->s[4], .total = u->total, .parts = h->parts, .n_parts = h->n,
	};
	return 1;
}

void upload_hold_free(struct upload_hold *h)
{
	if (!h)
		return;
	for (int i = 0; i < 5; i++)
		free(h->s[i]);
	for (size_t i = 0; i < h->n; i++) {
		free((void *)h->parts[i].etag);
		free((void *)h->parts[i].hash_state);
	}
	free(h->parts);
	free(h);
}

int upload_request(const struct task_info *ti, struct fetch_request *req,
                   struct upload_hold **hold)
{
	struct upload_hold *h;
	int rc;

	*hold = NULL;
	if (!ti->s3)
		return 0;
	req->s3 = ti->s3;
	req->part_size = ti->cfg->storage.part_size;
	req->on_upload = on_upload;
	req->upload_arg = (void *)ti;
	if (!(h = calloc(1, sizeof *h)))
		return -ENOMEM;
	rc = store_upload_get(ti->d->store, ti->dataset->name, ti->exec_date, hold_row, h);
	if (rc == 1) {
		req->resume = &h->u;
		log_info(&ti->log, "resuming the upload of s3://%s/%s: %zu part%s stored",
		         s3_client_bucket(ti->s3), h->u.key, h->n, h->n == 1 ? "" : "s");
	} else if (rc < 0) {
		log_warn(&ti->log, "state store: no resume of the upload: %s",
		         rc == -ENOMEM ? "out of memory" : store_errmsg(ti->d->store));
	}
	*hold = h;
	return 0;
}

int upload_fetch_start(const struct task_info *ti, struct fetch_request *req,
                       fetch_done_cb done, void *arg, struct fetch **out, char **err)
{
	struct upload_hold *hold = NULL;
	int rc = upload_request(ti, req, &hold);

	if (rc == 0)
		rc = fetch_start(ti->http, req, done, arg, out, err);
	upload_hold_free(hold);
	return rc;
}

int upload_held_start(const struct task_info *ti, const struct arcgis_held *held,
                      const char *file_name, fetch_done_cb done, void *arg,
                      struct fetch **out, char **err)
{
	const struct cfg_dataset *ds = ti->dataset;
	struct fetch_request req = {
		.url = held->url, .limits = &ds->fetch, .state_dir = ti->cfg->state_dir,
		.dataset = ds->name, .exec_date = ti->exec_date, .file_name = file_name,
		.force = true, .allow_file_urls = true,
	};

	return upload_fetch_start(ti, &req, done, arg, out, err);
}
