/*
 * lineage.c - OpenLineage run events: gathering what an event says, the
 * file transport and the HTTP queue (lineage.h).  The JSON is
 * lineage_event.c's.
 *
 * Gathering reads the store on the loop thread: the run's snapshot (one
 * row), its task's attempt count (the run's few task rows), a check's
 * results (one run's rows) and, for convert, the job's manifest
 * (state_dir/work/run-<id>/manifest.json, at most LINEAGE_MANIFEST_MAX
 * bytes, the file task_convert.c just read).  All are small and local.
 *
 * The file: opened, appended with one write(2) (O_APPEND, so each line is
 * whole even with other writers), closed, per event; never fsynced (an
 * observer's record, not state: a crash may lose the last lines).
 *
 * HTTP: a FIFO of event texts (base/list.h), the head sent alone; each
 * attempt is one http_post with lineage.timeout; a retryable failure
 * waits on the timer (backoff_wait, full jitter, Retry-After) and tries
 * the same event again, up to lineage.retries times, then gives it up
 * (counted, logged once until a delivery succeeds).  lineage.queue bounds
 * the waiting events: a new one pushes out the oldest waiting (not the
 * one in flight).  The struct http is lineage's own, so a stalled
 * receiver holds no download or alert slot.  At stop what waits is
 * dropped: nothing is drained, so stopping never waits on a receiver.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/denverd.h"
#include "base/fsutil.h"
#include "base/list.h"
#include "base/log.h"
#include "config/config.h"
#include "domain/backoff.h"
#include "io/fetch.h"
#include "io/http.h"
#include "notify/lineage.h"
#include "notify/lineage_int.h"
#include "notify/webhook.h"

/* One event waiting for HTTP. */
struct pending {
	LIST_FIELDS(struct pending, queue);
	size_t len;
	char body[];
};

struct lineage {
	struct denverd *d;
	struct http *http;
	uv_timer_t wait;                 /* between attempts */
	struct pending *head, *tail;     /* waiting, oldest first */
	unsigned waiting;
	struct pending *sending;         /* out of the list while it is tried */
	struct http_call *call;          /* its attempt in flight, or NULL */
	unsigned attempts;               /* of SENDING */
	bool http_failing, file_failing; /* logged; quiet until one succeeds */
	bool closing;
	struct lineage_counts counts;
};

/* ---- HTTP ---- */

static void send_next(struct lineage *l);
static void attempt(struct lineage *l);

static void drop_sending(struct lineage *l)
{
	free(l->sending);
	l->sending = NULL;
	l->attempts = 0;
}

/* The head of the queue gave up: counted, logged once (with the URL
 * redacted), and the next one goes. */
static void give_up(struct lineage *l, const char *why)
{
	char where[256];

	l->counts.failed++;
	if (!l->http_failing) {
		webhook_redact(l->d->cfg->lineage.url ? l->d->cfg->lineage.url : "", where,
		               sizeof where);
		log_warn(NULL, "lineage: an event was not delivered to %s after %u attempts: %s "
		         "(further failures are counted in metrics, not logged, until a "
		         "delivery succeeds)", where, l->attempts, why);
		l->http_failing = true;
	}
	drop_sending(l);
	send_next(l);
}

/* Answers worth another try: timeouts, throttling, server trouble. */
static bool retryable(const struct http_answer *a)
{
	if (!a->complete)
		return !a->bad_url;
	return a->status == 408 || a->status == 425 || a->status == 429 || a->status >= 500;
}

static void on_wait_over(uv_timer_t *t)
{
	attempt(container_of(t, struct lineage, wait));
}

static void on_answer(void *arg, const struct http_answer *a)
{
	struct lineage *l = arg;
	const struct cfg_lineage *c = &l->d->cfg->lineage;
	char why[64];

	l->call = NULL;                  /* gone once this returns */
	if (a->complete && a->status >= 200 && a->status < 300) {
		l->counts.delivered++;
		if (l->http_failing)
			log_info(NULL, "lineage: events are delivered again");
		l->http_failing = false;
		drop_sending(l);
		send_next(l);
		return;
	}
	snprintf(why, sizeof why, "HTTP status %ld", a->status);
	if (l->attempts > c->retries || !retryable(a)) {
		give_up(l, a->complete ? why : a->error);
		return;
	}
	struct cfg_retry r = {
		.retries = c->retries, .delay_ms = c->retry_delay_ms,
		.max_delay_ms = c->retry_max_delay_ms,
	};
	uv_timer_start(&l->wait, on_wait_over,
	               backoff_wait(&r, l->attempts - 1, backoff_random(), a->retry_after_ms), 0);
}

/* One POST of l->sending to the current lineage.url. */
static void attempt(struct lineage *l)
{
	const struct cfg_lineage *c = &l->d->cfg->lineage;
	const char *headers[] = { "Content-Type: application/json", c->header, NULL };
	struct http_post_req req = {
		.url = c->url, .headers = headers, .body = l->sending->body,
		.body_len = l->sending->len, .timeout_ms = c->timeout_ms,
	};

	if (!c->url) {                   /* a reload turned HTTP off */
		l->counts.dropped++;
		drop_sending(l);
		send_next(l);
		return;
	}
	l->attempts++;
	if (http_post(l->http, &req, on_answer, l, &l->call) < 0)
		give_up(l, "the request could not be started");
}

/* Take the oldest waiting event and try it, unless one is being tried. */
static void send_next(struct lineage *l)
{
	struct pending *p = l->head;

	if (l->sending || !p || l->closing)
		return;
	LIST_REMOVE_TAIL(queue, l->head, l->tail, p);
	l->waiting--;
	l->sending = p;
	l->attempts = 0;
	/* From the loop, so the caller (a subscriber) never waits on curl. */
	uv_timer_start(&l->wait, on_wait_over, 0, 0);
}

/* Queue TEXT (LEN bytes) for HTTP, pushing out the oldest waiting event
 * when lineage.queue are waiting. */
static void enqueue(struct lineage *l, const char *text, size_t len)
{
	struct pending *p = malloc(sizeof *p + len + 1);

	if (!p) {
		l->counts.dropped++;
		return;
	}
	p->len = len;
	memcpy(p->body, text, len + 1);
	while (l->waiting >= l->d->cfg->lineage.queue && l->head) {
		struct pending *old = l->head;
		LIST_REMOVE_TAIL(queue, l->head, l->tail, old);
		l->waiting--;
		l->counts.dropped++;
		free(old);
	}
	LIST_APPEND_TAIL(queue, l->head, l->tail, p);
	l->waiting++;
	send_next(l);
}

/* ---- the file ---- */

static void append_file(struct lineage *l, const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	int rc = fd < 0 ? -errno : 0;
	char *line = NULL;

	/* One write(2) of the line and its newline. */
	if (rc == 0 && !(line = malloc(len + 1)))
		rc = -ENOMEM;
	if (rc == 0) {
		memcpy(line, text, len);
		line[len] = '\n';
		rc = write_all(fd, line, len + 1, FSUTIL_APPEND);
	}
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	free(line);
	if (rc < 0) {
		l->counts.file_errors++;
		if (!l->file_failing)
			log_warn(NULL, "lineage: cannot append to %s: %s (further failures are "
			         "counted in metrics, not logged, until a write succeeds)", path,
			         strerror(-rc));
		l->file_failing = true;
	} else if (l->file_failing) {
		log_info(NULL, "lineage: %s is written again", path);
		l->file_failing = false;
	}
}

/* ---- gathering ---- */

/* What lineage_task_state reads besides the event; freed by facts_clear. */
struct gathered {
	struct store_snapshot_ref snap;
	bool have_snap;
	char *source_url;
	struct store_dq_result *dq;
	size_t n_dq;
	json_t *manifest;
	unsigned attempts;
	const char *task;
};

struct dq_walk {
	struct gathered *g;
	int64_t run_id;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int on_dq_row(void *arg, const struct store_dq_value *v)
{
	struct dq_walk *w = arg;
	struct gathered *g = w->g;
	struct store_dq_result *r;

	if (v->run_id != w->run_id || g->n_dq >= CONFIG_MAX_CHECKS)
		return 0;
	r = &g->dq[g->n_dq];
	*r = v->result;
	r->name = strdup(v->result.name);
	r->type = strdup(v->result.type);
	r->severity = strdup(v->result.severity);
	r->outcome = strdup(v->result.outcome);
	r->threshold = dup_or_null(v->result.threshold);
	r->detail = dup_or_null(v->result.detail);
	r->lines = NULL;
	g->n_dq++;
	if (!r->name || !r->type || !r->severity || !r->outcome)
		return -ENOMEM;
	return 0;
}

static int on_task_row(void *arg, const struct store_task *t)
{
	struct gathered *g = arg;
	if (strcmp(t->name, g->task) == 0)
		g->attempts = t->attempts;
	return 0;
}

static void gathered_clear(struct gathered *g)
{
	if (g->have_snap)
		store_snapshot_ref_clear(&g->snap);
	free(g->source_url);
	for (size_t i = 0; i < g->n_dq; i++) {
		free((char *)g->dq[i].name);
		free((char *)g->dq[i].type);
		free((char *)g->dq[i].severity);
		free((char *)g->dq[i].outcome);
		free((char *)g->dq[i].threshold);
		free((char *)g->dq[i].detail);
	}
	free(g->dq);
	json_decref(g->manifest);
}

static json_t *read_manifest(const char *state_dir, int64_t run_id)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof path, "%s/work/run-%" PRId64 "/manifest.json", state_dir,
	             run_id) >= (int)sizeof path ||
	    stat(path, &st) < 0 || st.st_size > LINEAGE_MANIFEST_MAX)
		return NULL;
	return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

/* Read what an event of task EV->task in state EV->state needs.  What
 * cannot be read is left out of the event, not a reason to skip it. */
static void gather(struct lineage *l, const struct lineage_task_event *ev,
                   const struct cfg_dataset *ds, struct gathered *g)
{
	struct store *st = l->d->store;
	bool final = run_state_final(ev->state);

	g->task = ev->task;
	store_tasks_each(st, ev->run_id, on_task_row, g);
	if (!ds)
		return;
	g->have_snap = store_snapshot_of_run(st, ev->run_id, &g->snap) == 0;
	if (!g->have_snap) {
		size_t bad;
		if (fetch_url_expand(ds->url, ev->exec_date, &g->source_url, &bad) < 0)
			g->source_url = NULL;
	}
	if (final && strcmp(ev->task, "check") == 0 &&
	    (g->dq = calloc(CONFIG_MAX_CHECKS, sizeof *g->dq))) {
		struct dq_walk w = { g, ev->run_id };
		store_dq_history(st, ds->name, 1, on_dq_row, &w);
	}
	if (final && strcmp(ev->task, "convert") == 0)
		g->manifest = read_manifest(l->d->cfg->state_dir, ev->run_id);
}

void lineage_task_state(struct lineage *l, const struct lineage_task_event *ev)
{
	const struct config *cfg = l ? l->d->cfg : NULL;
	const struct cfg_dataset *ds;
	struct gathered g = { 0 };
	int type;
	char *text = NULL;

	if (!cfg || (!cfg->lineage.file && !cfg->lineage.url) || !ev->task || !ev->run_id)
		return;
	ds = ev->dataset ? config_dataset(cfg, ev->dataset) : NULL;
	if (ev->dataset && !ds)
		return;                      /* removed by a reload */
	gather(l, ev, ds, &g);
	if ((type = lineage_type_of(ev->state, g.attempts <= 1)) < 0)
		goto out;
	struct lineage_facts f = {
		.namespace = cfg->lineage.namespace, .state_dir = cfg->state_dir,
		.storage = cfg->storage.type == STORAGE_S3 ? &cfg->storage : NULL, .ds = ds,
		.target = ds ? ds->name : ev->job, .task = ev->task, .run_id = ev->run_id,
		.exec_date = ev->exec_date, .ts = ev->ts, .type = (enum lineage_type)type,
		.message = ev->message, .source_url = g.source_url,
		.snap = g.have_snap ? &g.snap : NULL, .dq = g.dq, .n_dq = g.n_dq,
		.manifest = g.manifest,
	};
	if (!f.target || lineage_event_json(&f, &text) < 0) {
		l->counts.failed++;
		goto out;
	}
	l->counts.emitted++;
	if (cfg->lineage.file)
		append_file(l, cfg->lineage.file, text, strlen(text));
	if (cfg->lineage.url)
		enqueue(l, text, strlen(text));
out:
	free(text);
	gathered_clear(&g);
}

/* ---- life ---- */

static void on_closed(uv_handle_t *h)
{
	free(container_of((uv_timer_t *)h, struct lineage, wait));
}

int lineage_init(struct denverd *d)
{
	struct lineage *l = calloc(1, sizeof *l);
	int rc;

	d->lineage = NULL;
	if (!l)
		return -ENOMEM;
	l->d = d;
	if ((rc = http_init(d->loop, &l->http)) < 0) {
		free(l);
		return rc;
	}
	uv_timer_init(d->loop, &l->wait);
	d->lineage = l;
	return 0;
}

void lineage_fini(struct denverd *d)
{
	struct lineage *l = d->lineage;
	unsigned left;

	if (!l)
		return;
	l->closing = true;
	if (l->call)
		http_call_cancel(l->call);
	l->call = NULL;
	left = l->waiting + (l->sending ? 1 : 0);
	drop_sending(l);
	while (l->head) {
		struct pending *p = l->head;
		LIST_REMOVE_TAIL(queue, l->head, l->tail, p);
		free(p);
	}
	l->waiting = 0;
	l->counts.dropped += left;
	if (left)
		log_info(NULL, "lineage: %u events not delivered at stop", left);
	http_fini(l->http);
	uv_timer_stop(&l->wait);
	uv_close((uv_handle_t *)&l->wait, on_closed);
	d->lineage = NULL;
}

void lineage_counts(const struct lineage *l, struct lineage_counts *out)
{
	*out = (struct lineage_counts){ 0 };
	if (!l)
		return;
	*out = l->counts;
	out->queued = l->waiting + (l->sending ? 1 : 0);
}
