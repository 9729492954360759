/*
 * task_fetch.c - the fetch task: one snapshot by the dataset's source, a
 * download through fetch.h (source http), a paged layer through arcgis.h
 * (source arcgis), or a Hub export (source arcgis_hub): hub.h polls the
 * Download API for the file's URL, which fetch.h then downloads like an
 * http source's; then the snapshot row and retention.
 *
 * A Hub's result URL names one export and its signed redirect expires, so
 * it is asked for on every attempt and never stored: the download is not
 * conditional (no validators sent or kept; the snapshot row's url is the
 * configured Hub URL), only the same-hash check can end it unchanged, and
 * a 403 from the file (an expired signature) resolves once more
 * (HUB_RESOLVES), as tests/tools/hub_one does.
 *
 * Outcomes, the same for all: published -> succeeded (snapshot recorded,
 * then old partitions pruned to keep_snapshots); unchanged (304, the same
 * bytes, or the same layer stamps or row digest) -> the run ends
 * `unchanged`; failed -> failed, retryable as fetch or arcgis decides
 * (network, 408, 429, 5xx, disk, a layer reloaded too often), honouring
 * Retry-After; cancelled -> the .part stays for the next attempt, which
 * resumes it.
 *
 * storage: s3 and source arcgis.  The pager still pages into its local
 * .part: that keeps it resumable page by page (its sidecar), and whether
 * the layer is unchanged (the row digest) is known only after the last
 * page, when nothing should have been sent anywhere yet.  It publishes
 * the finished CSV as the held snapshot (io/arcgis.h: staging/.partial/
 * <dataset>.<exec_date>.held, with its stamp beside it), which is then
 * handed to the fetch into S3 as a file:// source with the upload
 * request (fetch_upload.h's upload_held_start): the parts, their MD5s,
 * the resume after a kill -9 (io/fetch_local.c resumes a file:// source
 * by its mtime and size as a download resumes by Range) and the
 * conditional complete are the download's code, not a second copy.  The held file is removed only once the snapshot row is
 * recorded; until then an attempt that finds it (with its stamp) uploads
 * it without asking the layer again, resuming the stored upload.  So the
 * local disk needed is one snapshot of the layer at most, transiently
 * (the .part, renamed to the held file); an unchanged layer uploads
 * nothing.  Streaming pages into the upload as they are written would
 * save that disk but tie the upload's parts to the pager's resume (a page
 * boundary is no part boundary), and a layer found unchanged at the end
 * would have uploaded it all for nothing.
 *
 * An ArcGIS snapshot's stamp (edit dates, count, row digest) is stored as
 * its ETag, in arcgis_stamp_format()'s text: the store already keeps one
 * validator per snapshot and per dataset (store_snapshot_last gives the
 * newer), an unchanged run updates it the way a 304 does, and the
 * "arcgis1;" prefix keeps it apart from an HTTP ETag, so a dataset moved
 * from one source to the other finds no stamp to trust and reads in full.
 * No column or migration is needed for it.
 *
 * Source changes (the input of the cadence) are recorded as fetch_changes.h
 * says, from on_fetch_done and on_arcgis_done.
 *
 * A snapshot already recorded for this run (the daemon died between
 * publishing and recording the task's end) makes the attempt succeed at
 * once instead of downloading again, which would see "unchanged" and drop
 * the snapshot from the pipeline.
 *
 * While it runs, a fetch.progress event goes to watchers every second
 * (progress_json has its fields).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "io/arcgis.h"
#include "io/fetch.h"
#include "io/hub.h"
#include "engine/tasks/fetch_changes.h"
#include "engine/tasks/fetch_upload.h"
#include "engine/tasks/retain.h"
#include "engine/task.h"
#include "engine/tasks/tasks.h"
#include "store/store.h"

#define PROGRESS_EVERY_MS 1000
#define HUB_RESOLVES      2    /* the first, and one after a 403 */

struct fetch_task {
	struct stask *t;
	struct fetch *f;           /* source http or arcgis_hub, while it runs */
	struct arcgis *a;          /* source arcgis, while it runs */
	struct hub *h;             /* source arcgis_hub, while it polls */
	uv_timer_t timer;          /* progress events; also the "already done" kick */
	bool recorded;             /* a snapshot of this run exists already */
	/* source arcgis_hub: what the download after the polls needs (and
	 * file_name the held upload's) */
	char *file_name, *last_hash;
	unsigned resolves;         /* hub_start calls */
	/* source arcgis, S3 mode: the held snapshot, and its stamp while it
	 * uploads ("" before) */
	struct arcgis_held held;
	char stamp[ARCGIS_STAMP_MAX + 1];
};

static void on_closed(uv_handle_t *h)
{
	struct fetch_task *ft = container_of((uv_timer_t *)h, struct fetch_task, timer);

	free(ft->file_name);
	free(ft->last_hash);
	arcgis_held_clear(&ft->held);
	free(ft);
}

/* End the attempt with O and let the task struct go. */
static void finish(struct fetch_task *ft, const struct task_outcome *o)
{
	struct stask *t = ft->t;

	task_set_impl(t, NULL);
	uv_timer_stop(&ft->timer);
	uv_close((uv_handle_t *)&ft->timer, on_closed);
	task_done(t, o);
}

/* Record SNAP (what was published) for the attempt of FT, then prune. */
static void record_published(struct fetch_task *ft, struct store_snapshot *snap,
                             bool resumed, struct task_outcome *o, char *buf, size_t len)
{
	const struct task_info *ti = task_info(ft->t);
	struct store *st = ti->d->store;
	struct store_snapshot prev;
	bool had = fetch_last_snapshot(ti, &prev);
	bool new_bytes = !had || strcmp(prev.hash, snap->hash) != 0;

	store_snapshot_clear(&prev);
	snap->run_id = ti->run_id;
	snap->dataset = (char *)ti->target;
	snap->exec_date = (char *)ti->exec_date;
	snap->rows = -1;                       /* the check counts them */
	snap->published = clock_now_ms();
	if (store_snapshot_add(st, snap) < 0) {
		/* The file is in place; a retry finds validators unchanged only if
		 * they were stored, and they were not: it downloads again. */
		snprintf(buf, len, "published %s but could not record it: %s", snap->path,
		         store_errmsg(st));
		o->outcome = TO_FAILED;
		o->retryable = true;
		o->error = buf;
		return;
	}
	if (new_bytes)
		fetch_change_record(ti, "bytes", snap->hash, snap->published);
	if (retain_snapshots(ti->d->loop, st, ti->s3, ti->cfg->state_dir, ti->target,
	                     ti->dataset->keep_snapshots, NULL, NULL) < 0)
		log_warn(&ti->log, "retention not started: %s", store_errmsg(st));
	log_info(&ti->log, "published %s (%" PRIu64 " bytes%s)", snap->path, snap->bytes,
	         resumed ? ", resumed" : "");
	o->outcome = TO_SUCCEEDED;
}

/* An unchanged source's validators replace the dataset's (a 304's new
 * ETag, a reloaded layer's new stamp), so the next run compares with them. */
static void store_validators(const struct fetch_task *ft, const char *etag,
                             const char *last_modified)
{
	const struct task_info *ti = task_info(ft->t);

	if ((etag || last_modified) &&
	    store_validators_set(ti->d->store, ti->target, etag, last_modified,
	                         clock_now_ms()) < 0)
		log_warn(&ti->log, "validators not stored: %s", store_errmsg(ti->d->store));
}

/* A failed attempt, retryable as the source said, after RETRY_AFTER_MS
 * (its Retry-After; -1 = none). */
static void failed(struct task_outcome *o, const char *error, bool retryable,
                   int64_t retry_after_ms)
{
	o->outcome = TO_FAILED;
	o->retryable = retryable;
	o->retry_after_ms = retry_after_ms > 0 ? (uint64_t)retry_after_ms : 0;
	o->error = error;
}

static int start_hub(struct fetch_task *ft, char *err, size_t errlen, bool *retryable);
static int started(int rc, char *msg, char *err, size_t errlen, bool *retryable);

static void on_fetch_done(struct fetch *f, const struct fetch_result *r, void *arg)
{
	struct fetch_task *ft = arg;
	const struct task_info *ti = task_info(ft->t);
	bool hub = ti->dataset->source == SOURCE_ARCGIS_HUB, retryable = false;
	bool held = ft->stamp[0] != '\0';
	struct task_outcome o = { .outcome = TO_FAILED };
	/* a Hub's file: its validators are of one export, never sent again;
	 * a held layer's: the layer's stamp, the file's mean nothing */
	const char *etag = hub ? NULL : held ? ft->stamp : r->etag;
	const char *lm = hub || held ? NULL : r->last_modified;
	struct store_snapshot snap = {
		.path = (char *)r->path, .hash = (char *)r->hash,
		.url = hub || held ? ti->dataset->url : (char *)r->url,
		.etag = (char *)etag, .last_modified = (char *)lm, .bytes = r->bytes,
	};
	char buf[1024];

	ft->f = NULL;
	if (hub && r->outcome == FETCH_FAILED && r->http_status == 403 &&
	    ft->resolves < HUB_RESOLVES) {
		log_info(&ti->log, "HTTP 403 from the Hub's file (an expired signature?): "
		         "asking the Hub again");
		if (start_hub(ft, buf, sizeof buf, &retryable) == 0)
			return;
		failed(&o, buf, retryable, -1);
		finish(ft, &o);
		return;
	}
	switch (r->outcome) {
	case FETCH_PUBLISHED:
		record_published(ft, &snap, r->resumed_from > 0, &o, buf, sizeof buf);
		break;
	case FETCH_UNCHANGED:
		fetch_note_validator(ti, etag, lm);
		store_validators(ft, etag, lm);
		o.outcome = TO_UNCHANGED;
		break;
	case FETCH_CANCELLED:
		o.outcome = TO_CANCELLED;
		break;
	case FETCH_FAILED:
	default:
		failed(&o, r->error, r->retryable, r->retry_after_ms);
		break;
	}
	/* The held snapshot goes once recorded, or when no retry could upload
	 * it (the layer is still at its source); a retry or a cancel resumes
	 * it. */
	if (held && (o.outcome == TO_SUCCEEDED || (o.outcome == TO_FAILED && !o.retryable)))
		arcgis_held_remove(ti->d->loop, &ft->held);
	finish(ft, &o);
}

/* S3 mode: upload the held snapshot of the layer, whose stamp is STAMP
 * (on_fetch_done records it). */
static int start_held_upload(struct fetch_task *ft, const struct arcgis_stamp *stamp,
                             char *err, size_t errlen, bool *retryable)
{
	char *ferr = NULL;

	arcgis_stamp_format(stamp, ft->stamp, sizeof ft->stamp);
	return started(upload_held_start(task_info(ft->t), &ft->held, ft->file_name,
	                                 on_fetch_done, ft, &ft->f, &ferr),
	               ferr, err, errlen, retryable);
}

/* S3 mode: the pager published the held snapshot with stamp R->stamp:
 * keep the stamp beside it, then upload it.  0, or -errno with ERR set. */
static int held_published(struct fetch_task *ft, const struct arcgis_result *r, char *err,
                          size_t errlen, bool *retryable)
{
	int rc = arcgis_held_keep(&ft->held, &r->stamp);

	if (rc < 0) {
		snprintf(err, errlen, "keeping the stamp of %s: %s", ft->held.path, strerror(-rc));
		*retryable = true;
		arcgis_held_remove(task_info(ft->t)->d->loop, &ft->held);
		return rc;
	}
	return start_held_upload(ft, &r->stamp, err, errlen, retryable);
}

static void on_arcgis_done(struct arcgis *a, const struct arcgis_result *r, void *arg)
{
	struct fetch_task *ft = arg;
	const struct task_info *ti = task_info(ft->t);
	struct task_outcome o = { .outcome = TO_FAILED };
	char stamp[ARCGIS_STAMP_MAX + 1], buf[1024];
	struct store_snapshot snap = {
		.path = (char *)r->path, .hash = (char *)r->hash, .url = (char *)r->url,
		.etag = stamp, .bytes = r->bytes,
	};

	ft->a = NULL;
	arcgis_stamp_format(&r->stamp, stamp, sizeof stamp);
	switch (r->outcome) {
	case ARCGIS_PUBLISHED:
		log_info(&ti->log, "%" PRIu64 " rows in %u pages (%u requests, %" PRIu64
		         " bytes received)", r->rows, r->pages, r->requests, r->request_bytes);
		if (!ft->held.path) {
			record_published(ft, &snap, false, &o, buf, sizeof buf);
			break;
		}
		bool retryable = false;
		if (held_published(ft, r, buf, sizeof buf, &retryable) == 0)
			return;            /* on_fetch_done ends the attempt */
		failed(&o, buf, retryable, -1);
		break;
	case ARCGIS_UNCHANGED:
		log_info(&ti->log, "layer unchanged (%s)", r->metadata_only ?
		         "the same edit stamps" : "the same rows and count");
		fetch_note_edit_date(ti, &r->stamp);
		store_validators(ft, stamp, NULL);
		o.outcome = TO_UNCHANGED;
		break;
	case ARCGIS_CANCELLED:
		o.outcome = TO_CANCELLED;
		break;
	case ARCGIS_FAILED:
	default:
		failed(&o, r->error, r->retryable, r->retry_after_ms);
		break;
	}
	finish(ft, &o);
}

/*
 * The running attempt's figures, for fetch.progress events and status:
 * bytes_done, bytes_total (null when unknown), rate and resumed_from for a
 * download; for a layer also pages, rows_done and rows_total (the layer's
 * count, null until it is known), and rate 0 (bytes per second mean
 * little when most of the time is the server's); while a Hub export is
 * polled, bytes_done 0, bytes_total null, rate 0, hub_status (the last
 * status, "" before the first answer), hub_percent (null when not given)
 * and hub_polls.  All are a read of a few counters (no I/O), so status
 * stays cheap.
 */
static void progress_json(const struct fetch_task *ft, json_t *out)
{
	if (ft->h) {
		struct hub_progress p;
		hub_progress(ft->h, &p);
		json_object_set_new(out, "bytes_done", json_integer(0));
		json_object_set_new(out, "bytes_total", json_null());
		json_object_set_new(out, "rate", json_integer(0));
		json_object_set_new(out, "hub_status", json_string(p.status));
		json_object_set_new(out, "hub_percent",
		                    p.percent >= 0 ? json_integer(p.percent) : json_null());
		json_object_set_new(out, "hub_polls", json_integer((json_int_t)p.polls));
		return;
	}
	if (ft->f) {
		struct fetch_progress p;
		fetch_progress(ft->f, &p);
		json_object_set_new(out, "bytes_done", json_integer((json_int_t)p.bytes));
		json_object_set_new(out, "bytes_total",
		                    p.total >= 0 ? json_integer(p.total) : json_null());
		json_object_set_new(out, "rate", json_integer((json_int_t)p.rate));
		json_object_set_new(out, "resumed_from", json_integer((json_int_t)p.resumed_from));
	} else if (ft->a) {
		struct arcgis_progress p;
		arcgis_progress(ft->a, &p);
		json_object_set_new(out, "bytes_done", json_integer((json_int_t)p.bytes));
		json_object_set_new(out, "bytes_total", json_null());
		json_object_set_new(out, "rate", json_integer(0));
		json_object_set_new(out, "pages", json_integer((json_int_t)p.pages));
		json_object_set_new(out, "rows_done", json_integer((json_int_t)p.rows));
		json_object_set_new(out, "rows_total",
		                    p.count >= 0 ? json_integer(p.count) : json_null());
	}
}

static void on_timer(uv_timer_t *h)
{
	struct fetch_task *ft = container_of(h, struct fetch_task, timer);

	if (ft->recorded) {
		struct task_outcome o = { .outcome = TO_SUCCEEDED };
		log_info(&task_info(ft->t)->log, "snapshot already published by an earlier "
		         "attempt of this run; not downloading again");
		finish(ft, &o);
		return;
	}
	json_t *ev = json_object();
	if (ev) {
		progress_json(ft, ev);
		task_progress(ft->t, "fetch.progress", ev);
		json_decref(ev);
	}
}

/* The dataset's url and file_name for the attempt's exec date (caller
 * frees both, also on failure): 0, or -EINVAL or -ENOMEM with ERR set.
 * An arcgis layer's or a Hub's URL is no template. */
static int expand_names(const struct task_info *ti, char **url, char **file_name, char *err,
                        size_t errlen)
{
	const struct cfg_dataset *ds = ti->dataset;
	size_t bad = 0;
	int rc = 0;

	if (ds->source != SOURCE_HTTP) {
		if (!(*url = strdup(ds->url)))
			rc = -ENOMEM;
	} else {
		rc = fetch_url_expand(ds->url, ti->exec_date, url, &bad);
	}
	if (rc == 0 && (rc = fetch_url_expand(ds->file_name, ti->exec_date, file_name, &bad)) < 0
	    && rc != -ENOMEM)
		snprintf(err, errlen, "file_name \"%s\": bad placeholder at offset %zu",
		         ds->file_name, bad);
	else if (rc < 0 && rc != -ENOMEM)
		snprintf(err, errlen, "url \"%s\": bad placeholder at offset %zu", ds->url, bad);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* FT with its timer, for the attempt of T; NULL (ERR set) on failure. */
static struct fetch_task *fetch_task_new(struct stask *t, char *err, size_t errlen)
{
	struct fetch_task *ft = calloc(1, sizeof *ft);
	int rc;

	if (!ft) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ft->t = t;
	if ((rc = uv_timer_init(task_info(t)->d->loop, &ft->timer)) < 0) {
		free(ft);
		snprintf(err, errlen, "timer: %s", uv_strerror(rc));
		return NULL;
	}
	return ft;
}

/* What a start that returned RC means: 0, or RC with ERR set from MSG
 * (the starter's message, freed here) and *RETRYABLE. */
static int started(int rc, char *msg, char *err, size_t errlen, bool *retryable)
{
	if (rc < 0) {
		snprintf(err, errlen, "%s", msg ? msg : strerror(-rc));
		*retryable = rc == -ENOMEM;
	}
	free(msg);
	return rc < 0 ? rc : 0;
}

/* A download of URL (fetch.h), conditional on LAST's validators. */
static int start_http(struct fetch_task *ft, const char *url, const char *file_name,
                      const struct store_snapshot *last, char *err, size_t errlen,
                      bool *retryable)
{
	const struct task_info *ti = task_info(ft->t);
	const struct cfg_dataset *ds = ti->dataset;
	char *ferr = NULL;
	struct fetch_request req = {
		.url = url, .limits = &ds->fetch, .state_dir = ti->cfg->state_dir,
		.dataset = ds->name, .exec_date = ti->exec_date, .file_name = file_name,
		.etag = last->etag, .last_modified = last->last_modified, .last_hash = last->hash,
		.force = ti->force, .allow_file_urls = ti->cfg->allow_file_urls,
	};
	int rc = upload_fetch_start(ti, &req, on_fetch_done, ft, &ft->f, &ferr);

	return started(rc, ferr, err, errlen, retryable);
}

/* A snapshot of the layer at URL (arcgis.h), compared with the stamp of
 * LAST (its ETag; none when it holds an HTTP ETag or nothing). */
static int start_arcgis(struct fetch_task *ft, const char *url, const char *file_name,
                        const struct store_snapshot *last, char *err, size_t errlen,
                        bool *retryable)
{
	const struct task_info *ti = task_info(ft->t);
	const struct cfg_dataset *ds = ti->dataset;
	struct arcgis_stamp stamp;
	bool have = last->etag && arcgis_stamp_parse(last->etag, &stamp) == 0;
	char *aerr = NULL;
	struct arcgis_request req = {
		.layer_url = url, .where = ds->arcgis.where, .page_size = ds->arcgis.page_size,
		.date_zone = ds->arcgis.date_zone ? ds->arcgis.date_zone : ti->cfg->timezone,
		.limits = &ds->fetch, .state_dir = ti->cfg->state_dir, .dataset = ds->name,
		.exec_date = ti->exec_date, .file_name = file_name, .last = have ? &stamp : NULL,
		.force = ti->force, .allow_http = ds->arcgis.allow_http,
	};

	if (ti->s3) {
		struct arcgis_stamp held;
		int rc = arcgis_held_init(&ft->held, ti->cfg->state_dir, ds->name, ti->exec_date);
		if (rc == 0 && !(ft->file_name = strdup(file_name)))
			rc = -ENOMEM;
		if (rc < 0) {
			snprintf(err, errlen, "%s", strerror(-rc));
			*retryable = rc == -ENOMEM;
			return rc;
		}
		if (arcgis_held_find(&ft->held, &held) == 0) {
			log_info(&ti->log, "a finished snapshot of the layer waits for its upload "
			         "(%s): uploading it, the layer is not asked again", ft->held.path);
			return start_held_upload(ft, &held, err, errlen, retryable);
		}
		req.publish_path = ft->held.path;
	}
	return started(arcgis_start(ti->http, &req, on_arcgis_done, ft, &ft->a, &aerr), aerr,
	               err, errlen, retryable);
}

/* The Hub answered: download the file it names (fetch.h), not
 * conditional, the same-hash check only; or end the attempt. */
static void on_hub_done(struct hub *hb, const struct hub_result *r, void *arg)
{
	struct fetch_task *ft = arg;
	const struct task_info *ti = task_info(ft->t);
	const struct cfg_dataset *ds = ti->dataset;
	struct task_outcome o = { .outcome = TO_FAILED };
	bool retryable = false;
	char buf[1024], *ferr = NULL;

	(void)hb;
	ft->h = NULL;
	if (r->outcome == HUB_CANCELLED) {
		o.outcome = TO_CANCELLED;
		finish(ft, &o);
		return;
	}
	if (r->outcome != HUB_READY) {
		failed(&o, r->error, r->retryable, r->retry_after_ms);
		finish(ft, &o);
		return;
	}
	log_info(&ti->log, "the Hub's export is ready after %u polls (%s, cache %s, %" PRId64
	         " records): %s", r->polls, r->status, r->cache_status[0] ? r->cache_status : "-",
	         r->record_count, r->result_url);
	struct fetch_request req = {
		.url = r->result_url, .limits = &ds->fetch, .state_dir = ti->cfg->state_dir,
		.dataset = ds->name, .exec_date = ti->exec_date, .file_name = ft->file_name,
		.last_hash = ft->last_hash, .force = ti->force,
	};
	int rc = upload_fetch_start(ti, &req, on_fetch_done, ft, &ft->f, &ferr);
	if (started(rc, ferr, buf, sizeof buf, &retryable) < 0) {
		failed(&o, buf, retryable, -1);
		finish(ft, &o);
	}
}

/* Ask the Hub for the dataset's export (hub.h); on_hub_done goes on. */
static int start_hub(struct fetch_task *ft, char *err, size_t errlen, bool *retryable)
{
	const struct task_info *ti = task_info(ft->t);
	const struct cfg_dataset *ds = ti->dataset;
	char *herr = NULL;
	struct hub_request req = {
		.url = ds->url, .limits = &ds->fetch, .poll_interval_ms = ds->hub.poll_interval_ms,
		.deadline_ms = ds->hub.deadline_ms, .allow_http = ds->hub.allow_http,
	};

	ft->resolves++;
	return started(hub_start(ti->http, &req, on_hub_done, ft, &ft->h, &herr), herr, err,
	               errlen, retryable);
}

/* A Hub export of the dataset into FILE_NAME, compared with LAST's hash. */
static int start_arcgis_hub(struct fetch_task *ft, const char *file_name,
                            const struct store_snapshot *last, char *err, size_t errlen,
                            bool *retryable)
{
	if (!(ft->file_name = strdup(file_name)) ||
	    (last->hash && !(ft->last_hash = strdup(last->hash)))) {
		snprintf(err, errlen, "out of memory");
		*retryable = true;
		return -ENOMEM;
	}
	return start_hub(ft, err, errlen, retryable);
}

/* Start FT's snapshot of URL into FILE_NAME by the dataset's source,
 * conditional on its last snapshot: 0, or -errno with ERR set and
 * *RETRYABLE. */
static int start_download(struct fetch_task *ft, const char *url, const char *file_name,
                          char *err, size_t errlen, bool *retryable)
{
	const struct task_info *ti = task_info(ft->t);
	const struct cfg_dataset *ds = ti->dataset;
	struct store_snapshot last = { 0 };
	int rc = store_snapshot_last(ti->d->store, ds->name, &last);

	if (rc < 0 && rc != -ENOENT) {
		snprintf(err, errlen, "state store: %s", store_errmsg(ti->d->store));
		*retryable = true;
		return rc;
	}
	if (ds->source == SOURCE_ARCGIS)
		rc = start_arcgis(ft, url, file_name, &last, err, errlen, retryable);
	else if (ds->source == SOURCE_ARCGIS_HUB)
		rc = start_arcgis_hub(ft, file_name, &last, err, errlen, retryable);
	else
		rc = start_http(ft, url, file_name, &last, err, errlen, retryable);
	store_snapshot_clear(&last);
	return rc;
}

static int fetch_kind_start(struct stask *t, char *err, size_t errlen, bool *retryable)
{
	const struct task_info *ti = task_info(t);
	struct store_snapshot_ref mine;
	struct fetch_task *ft = NULL;
	char *url = NULL, *file_name = NULL;
	int rc;

	*retryable = false;
	if ((rc = expand_names(ti, &url, &file_name, err, errlen)) < 0)
		goto out;
	if (!(ft = fetch_task_new(t, err, errlen))) {
		rc = -ENOMEM;
		*retryable = true;
		goto out;
	}
	task_set_impl(t, ft);
	if (store_snapshot_of_run(ti->d->store, ti->run_id, &mine) == 0) {
		/* Published already: on_timer ends the attempt (never from here);
		 * a held layer snapshot it was made from is left over. */
		store_snapshot_ref_clear(&mine);
		if (ti->s3 && ti->dataset->source == SOURCE_ARCGIS &&
		    arcgis_held_init(&ft->held, ti->cfg->state_dir, ti->target, ti->exec_date) == 0)
			arcgis_held_remove(ti->d->loop, &ft->held);
		ft->recorded = true;
		uv_timer_start(&ft->timer, on_timer, 0, 0);
	} else if ((rc = start_download(ft, url, file_name, err, errlen, retryable)) == 0) {
		uv_timer_start(&ft->timer, on_timer, PROGRESS_EVERY_MS, PROGRESS_EVERY_MS);
	} else {
		task_set_impl(t, NULL);
		uv_close((uv_handle_t *)&ft->timer, on_closed);
	}
out:
	free(url);
	free(file_name);
	return rc;
}

static void fetch_kind_cancel(struct stask *t)
{
	struct fetch_task *ft = task_impl(t);

	if (ft && ft->f)
		fetch_cancel(ft->f);
	else if (ft && ft->a)
		arcgis_cancel(ft->a);
	else if (ft && ft->h)
		hub_cancel(ft->h);
}

static void fetch_kind_progress(const struct stask *t, json_t *out)
{
	const struct fetch_task *ft = task_impl(t);

	if (ft)
		progress_json(ft, out);
}

const struct task_kind task_kind_fetch = {
	.name = "fetch",
	.cls = TC_FETCH,
	.start = fetch_kind_start,
	.cancel = fetch_kind_cancel,
	.progress = fetch_kind_progress,
};
