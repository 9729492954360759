/*
 * alerts.c - turns finished runs and the passing of time into alerts.
 *
 * Memory: one struct akey per (target, reason) seen, holding the policy
 * state (alert_policy.h) and, while a firing is held back by the rate
 * limit, what to send once it may go.  One uv_timer, armed for the earliest
 * of the freshness deadlines and the held-back firings (capped at an hour,
 * so a jump of the wall clock is noticed), drives everything that is not a
 * finished run: no polling tick.
 *
 * A notification is committed to the store first, then logged, announced
 * to the subscribers and delivered (deliver.c); delivery success sets the
 * row's `delivered` time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/alert_policy.h"
#include "notify/alerts.h"
#include "notify/alerts_int.h"
#include "base/clock.h"
#include "common/fmt.h"
#include "base/denverd.h"
#include "base/list.h"
#include "base/strtable.h"
#include "domain/config_types.h"
#include "domain/run_state.h"
#include "io/job.h"
#include "base/log.h"
#include "store/store.h"
#include "notify/source_cadence.h"
#include "notify/webhook.h"

#define TIMER_CAP_MS        (3600 * 1000)   /* re-check at least hourly */

enum reason {
	R_RUN_FAILED, R_CHECK_FAILED, R_CHECK_WARNED, R_QUARANTINED, R_STALE, R_LATE, R__N
};

static const char *const reason_table[R__N] = {
	[R_RUN_FAILED] = "run_failed", [R_CHECK_FAILED] = "check_failed",
	[R_CHECK_WARNED] = "check_warned", [R_QUARANTINED] = "quarantined",
	[R_STALE] = "stale", [R_LATE] = "late",
};

STRING_TABLE_STATIC(reason, enum reason)

struct akey {
	char target[CONFIG_MAX_NAME + 1];
	enum reason reason;
	struct alert_key k;
	/* the held-back firing, sent by the timer once the interval has passed */
	char *message;
	int64_t run_id;
	char exec_date[11];
};

/* A dataset with a freshness SLA. */
struct fresh {
	char name[CONFIG_MAX_NAME + 1];
	uint64_t max_age_ms;
	int64_t last_ok;          /* end of the last succeeded/unchanged run; 0 = never */
	int64_t since;            /* when it was first configured (or we started) */
};

/* A dataset whose cadence the `late` alert watches (cadence_alert). */
struct late {
	char name[CONFIG_MAX_NAME + 1];
	int64_t margin_ms;
	struct cadence c;         /* as of the last read of its changes */
};

/* ---- keys ---- */

/* The key of (TARGET, REASON), created when CREATE; NULL when absent or
 * when the cap is reached. */
static struct akey *key_get(struct alerts *a, const char *target, enum reason reason,
                            bool create)
{
	for (size_t i = 0; i < a->n_keys; i++)
		if (a->keys[i].reason == reason && strcmp(a->keys[i].target, target) == 0)
			return &a->keys[i];
	if (!create || a->n_keys == ALERTS_MAX_KEYS || strlen(target) > CONFIG_MAX_NAME)
		return NULL;
	if (a->n_keys == a->cap_keys) {
		size_t cap = a->cap_keys ? a->cap_keys * 2 : 64;
		struct akey *nk = realloc(a->keys, cap * sizeof *nk);
		if (!nk)
			return NULL;
		a->keys = nk;
		a->cap_keys = cap;
	}
	struct akey *k = &a->keys[a->n_keys++];
	memset(k, 0, sizeof *k);
	snprintf(k->target, sizeof k->target, "%s", target);
	k->reason = reason;
	return k;
}

static int restore_key(void *arg, const struct store_alert *row)
{
	struct alerts *a = arg;
	int r = reason_from_string(row->reason);
	struct akey *k;

	if (r < 0 || !(k = key_get(a, row->dataset, (enum reason)r, true)))
		return 0;           /* a reason of a newer version, or over the cap */
	k->k.firing = strcmp(row->state, "firing") == 0;
	k->k.notified = k->k.firing;
	k->k.last_sent = row->ts;
	k->k.last_row = row->id;
	return 0;
}

/* ---- text ---- */

static void fmt_utc(int64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- subscribers ---- */

int alerts_subscribe(struct alerts *a, alerts_event_fn fn, void *arg)
{
	if (a->n_subs == ALERTS_MAX_SUBSCRIBERS)
		return -ENOSPC;
	a->subs[a->n_subs].fn = fn;
	a->subs[a->n_subs].arg = arg;
	a->n_subs++;
	return 0;
}

static void publish(struct alerts *a, const struct alert_event *ev)
{
	for (size_t i = 0; i < a->n_subs; i++)
		a->subs[i].fn(a->subs[i].arg, ev);
}

/* Record, announce and deliver one notification of K. */
static void notify(struct alerts *a, struct akey *k, bool recovery, const char *message,
                   int64_t run_id, const char *exec_date)
{
	const char *reason = reason_to_string(k->reason);
	const char *state = recovery ? "recovered" : "firing";
	struct log_ctx ctx = { .dataset = k->target, .run_id = run_id,
	                       .exec_date = exec_date[0] ? exec_date : NULL };
	int64_t now = clock_now_ms();
	int64_t id = store_alert_add(a->d->store, now, k->target, reason, state, message,
	                             run_id);

	if (id < 0) {
		log_err(&ctx, "alert %s %s not recorded: %s", reason, state,
		        store_errmsg(a->d->store));
		return;
	}
	k->k.last_row = id;
	log_msg(recovery ? LOG_NOTICE : LOG_WARNING, &ctx, "alert %s %s: %s", reason,
	        state, message);
	struct alert_event ev = {
		.ts = now, .alert_id = id, .dataset = k->target, .reason = reason,
		.state = state, .message = message, .run_id = run_id,
		.exec_date = exec_date[0] ? exec_date : NULL,
	};
	publish(a, &ev);
	if (a->d->cfg->alerts.webhook)
		deliver_webhook(a, &ev);
	if (a->d->cfg->alerts.command.n)
		deliver_command(a, &ev);
}

static void arm_timer(struct alerts *a);

/* The condition (TARGET, REASON) was observed: PROBLEM with MESSAGE. */
static void observe(struct alerts *a, const char *target, enum reason reason,
                    bool problem, const char *message, int64_t run_id,
                    const char *exec_date)
{
	struct akey *k = key_get(a, target, reason, problem);
	bool recovery;

	if (!k) {
		if (problem)
			log_err(NULL, "alert %s of %s dropped: more than %d alert keys",
			        reason_to_string(reason), target, ALERTS_MAX_KEYS);
		return;
	}
	switch (alert_observe(&k->k, problem, clock_now_ms(),
	                      a->d->cfg->alerts.min_interval_ms, &recovery)) {
	case ALERT_QUIET:
		break;
	case ALERT_SUPPRESS: {
		/* Keep the newest words for the firing the timer may send later. */
		char *m = strdup(message);
		if (m) {
			free(k->message);
			k->message = m;
			k->run_id = run_id;
			snprintf(k->exec_date, sizeof k->exec_date, "%s", exec_date);
		}
		if (k->k.last_row > 0 && store_alert_suppressed(a->d->store, k->k.last_row) < 0)
			log_err(NULL, "alert %s of %s: counting a suppressed repeat: %s",
			        reason_to_string(reason), target, store_errmsg(a->d->store));
		break;
	}
	case ALERT_NOTIFY:
		notify(a, k, recovery, message, run_id, exec_date);
		break;
	}
	if (!k->k.firing || k->k.notified) {
		free(k->message);
		k->message = NULL;
	}
	arm_timer(a);
}

/* ---- freshness ---- */

static struct fresh *fresh_get(struct alerts *a, const char *name)
{
	for (size_t i = 0; i < a->n_fresh; i++)
		if (strcmp(a->fresh[i].name, name) == 0)
			return &a->fresh[i];
	return NULL;
}

static int64_t fresh_deadline(const struct fresh *f)
{
	return (f->last_ok ? f->last_ok : f->since) + (int64_t)f->max_age_ms;
}

static void check_fresh(struct alerts *a, struct fresh *f, int64_t now)
{
	char msg[MESSAGE_MAX], age[FMT_DURATION_MAX], max[FMT_DURATION_MAX], when[32];
	struct akey *k = key_get(a, f->name, R_STALE, false);

	if (now < fresh_deadline(f) || (k && k->k.firing))
		return;
	fmt_duration(max, sizeof max, f->max_age_ms);
	if (f->last_ok) {
		fmt_duration(age, sizeof age, (uint64_t)(now - f->last_ok));
		fmt_utc(f->last_ok, when, sizeof when);
		snprintf(msg, sizeof msg, "%s has had no succeeded or unchanged run for %s "
		         "(max_age %s); the last one ended %s", f->name, age, max, when);
	} else {
		fmt_utc(f->since, when, sizeof when);
		snprintf(msg, sizeof msg, "%s has had no succeeded or unchanged run since "
		         "%s (max_age %s)", f->name, when, max);
	}
	observe(a, f->name, R_STALE, true, msg, 0, "");
}

/* ---- late against its own cadence ---- */

static struct late *late_get(struct alerts *a, const char *name)
{
	for (size_t i = 0; i < a->n_late; i++)
		if (strcmp(a->late[i].name, name) == 0)
			return &a->late[i];
	return NULL;
}

/* When L becomes late; 0 = never (not enough history). */
static int64_t late_deadline(const struct late *l)
{
	return l->c.enough ? l->c.expected_by + 1 : 0;
}

/* Read L's changes again; false (logged) when the store failed, and L
 * keeps what it had. */
static bool late_read(struct alerts *a, struct late *l)
{
	struct source_cadence sc;

	if (source_cadence_read(a->d->store, l->name, NULL, l->margin_ms, &sc) < 0) {
		log_err(NULL, "alerts: reading the source changes of %s: %s", l->name,
		        store_errmsg(a->d->store));
		return false;
	}
	l->c = sc.c;
	return true;
}

static void check_late(struct alerts *a, struct late *l, int64_t now)
{
	char msg[MESSAGE_MAX], quiet[FMT_DURATION_MAX], p95[FMT_DURATION_MAX],
	     margin[FMT_DURATION_MAX], when[32];
	struct akey *k = key_get(a, l->name, R_LATE, false);

	if (!cadence_late(&l->c, now) || (k && k->k.firing))
		return;
	fmt_duration(quiet, sizeof quiet, (uint64_t)(now - l->c.last_change));
	fmt_duration(p95, sizeof p95, (uint64_t)l->c.p95_gap_ms);
	fmt_duration(margin, sizeof margin, (uint64_t)l->c.margin_ms);
	fmt_utc(l->c.last_change, when, sizeof when);
	snprintf(msg, sizeof msg, "%s has not changed for %s, later than its usual %s "
	         "(p95 gap of %zu changes) + %s margin; the last change was seen %s",
	         l->name, quiet, p95, l->c.n_changes, margin, when);
	observe(a, l->name, R_LATE, true, msg, 0, "");
}

/* DATASET's run RUN_ID ended: its fetch may have recorded a change, which
 * ends a `late` episode. */
static void late_run_finished(struct alerts *a, const char *dataset, int64_t run_id,
                              const char *exec_date)
{
	struct late *l = late_get(a, dataset);
	char msg[MESSAGE_MAX], when[32];

	if (!l || !late_read(a, l) || cadence_late(&l->c, clock_now_ms()))
		return;
	fmt_utc(l->c.last_change, when, sizeof when);
	snprintf(msg, sizeof msg, "%s changed again (seen %s by run %" PRId64 ")", dataset,
	         when, run_id);
	observe(a, dataset, R_LATE, false, msg, run_id, exec_date);
}

/* A `late` episode restored from the store whose source changed while
 * denverd was down (or that a reload's new margin ends) ends now. */
static void late_settle(struct alerts *a, struct late *l, int64_t now)
{
	struct akey *k = key_get(a, l->name, R_LATE, false);
	char msg[MESSAGE_MAX], when[32];

	if (!k || !k->k.firing || cadence_late(&l->c, now))
		return;
	fmt_utc(l->c.last_change, when, sizeof when);
	snprintf(msg, sizeof msg, "%s is no longer late against its cadence (last change "
	         "seen %s)", l->name, when);
	observe(a, l->name, R_LATE, false, msg, 0, "");
}

/* Rebuild the watched list from the configuration and the store: one
 * bounded read of changes per dataset with cadence_alert. */
static int load_late(struct alerts *a)
{
	const struct config *cfg = a->d->cfg;
	struct late *list = calloc(cfg->n_datasets ? cfg->n_datasets : 1, sizeof *list);
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_datasets; i++) {
		const struct cfg_dataset *ds = &cfg->datasets[i];
		struct late *l = &list[n];
		if (!ds->cadence_alert || strlen(ds->name) > CONFIG_MAX_NAME)
			continue;
		snprintf(l->name, sizeof l->name, "%s", ds->name);
		l->margin_ms = (int64_t)ds->cadence_margin_ms;
		if (!late_read(a, l)) {
			free(list);
			return -EIO;
		}
		n++;
	}
	free(a->late);
	a->late = list;
	a->n_late = n;
	for (size_t i = 0; i < n; i++)
		late_settle(a, &list[i], clock_now_ms());
	return 0;
}

/* ---- the timer ---- */

static void on_timer(uv_timer_t *t)
{
	struct alerts *a = container_of(t, struct alerts, timer);
	int64_t now = clock_now_ms();

	for (size_t i = 0; i < a->n_fresh; i++)
		check_fresh(a, &a->fresh[i], now);
	for (size_t i = 0; i < a->n_late; i++)
		check_late(a, &a->late[i], now);
	for (size_t i = 0; i < a->n_keys; i++) {
		struct akey *k = &a->keys[i];
		int64_t due = alert_pending_at(&k->k, a->d->cfg->alerts.min_interval_ms);
		if (due && due <= now && k->message) {
			char *m = k->message;
			k->message = NULL;
			observe(a, k->target, k->reason, true, m, k->run_id, k->exec_date);
			free(m);
		}
	}
	arm_timer(a);
}

static void arm_timer(struct alerts *a)
{
	int64_t now = clock_now_ms(), next = INT64_MAX;

	if (a->closing)
		return;
	for (size_t i = 0; i < a->n_fresh; i++) {
		struct akey *k = key_get(a, a->fresh[i].name, R_STALE, false);
		if (!k || !k->k.firing) {
			int64_t due = fresh_deadline(&a->fresh[i]);
			next = due < next ? due : next;
		}
	}
	for (size_t i = 0; i < a->n_late; i++) {
		struct akey *k = key_get(a, a->late[i].name, R_LATE, false);
		int64_t due = late_deadline(&a->late[i]);
		if (due && (!k || !k->k.firing))
			next = due < next ? due : next;
	}
	for (size_t i = 0; i < a->n_keys; i++) {
		int64_t due = alert_pending_at(&a->keys[i].k, a->d->cfg->alerts.min_interval_ms);
		if (due && a->keys[i].message)
			next = due < next ? due : next;
	}
	if (next == INT64_MAX) {
		uv_timer_stop(&a->timer);
		return;
	}
	int64_t delay = next - now;
	if (delay < 0)
		delay = 0;
	if (delay > TIMER_CAP_MS)
		delay = TIMER_CAP_MS;
	uv_timer_start(&a->timer, on_timer, (uint64_t)delay, 0);
}

/* Rebuild the SLA list from the configuration and the store. */
static int load_fresh(struct alerts *a)
{
	const struct config *cfg = a->d->cfg;
	struct fresh *list = calloc(cfg->n_datasets ? cfg->n_datasets : 1, sizeof *list);
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_datasets; i++) {
		const struct cfg_dataset *ds = &cfg->datasets[i];
		struct fresh *f = &list[n];
		int64_t first = 0;
		if (!ds->max_age_ms || strlen(ds->name) > CONFIG_MAX_NAME)
			continue;
		snprintf(f->name, sizeof f->name, "%s", ds->name);
		f->max_age_ms = ds->max_age_ms;
		if (store_freshness(a->d->store, ds->name, &f->last_ok, &first) < 0) {
			free(list);
			return -EIO;
		}
		/* Never stale for a time before the dataset was configured (the
		 * scheduler records when; until it has, since we started). */
		f->since = first ? first : a->started;
		n++;
	}
	free(a->fresh);
	a->fresh = list;
	a->n_fresh = n;
	return 0;
}

/* ---- finished runs ---- */

/* The alerts of D when they run, with the facts of RUN_ID in *R; NULL
 * (after logging a store problem) when there is nothing to judge. */
static struct alerts *judging(struct denverd *d, int64_t run_id, struct store_run_facts *r)
{
	struct alerts *a = d->alerts;
	int rc;

	if (!a || a->closing)
		return NULL;
	if ((rc = store_run_facts(d->store, run_id, r)) < 0) {
		log_err(NULL, "alerts: reading run %" PRId64 ": %s", run_id,
		        rc == -ENOENT ? "no such run" : store_errmsg(d->store));
		return NULL;
	}
	return a;
}

void alerts_run_finished(struct denverd *d, int64_t run_id)
{
	struct store_run_facts r;
	struct alerts *a = judging(d, run_id, &r);
	char msg[MESSAGE_MAX], head[160];

	if (!a)
		return;
	int state = run_state_from_string(r.state);
	bool ok = state == RUN_SUCCEEDED || state == RUN_UNCHANGED;
	bool failed = state == RUN_FAILED;
	snprintf(head, sizeof head, "run %" PRId64 " of %s for %s", run_id, r.target,
	         r.exec_date);

	if (strcmp(r.kind, "dataset") == 0) {
		late_run_finished(a, r.target, run_id, r.exec_date);
		if (r.quarantined) {
			snprintf(msg, sizeof msg, "%s: snapshot quarantined after %u failed "
			         "check%s: %s", head, r.n_fail, r.n_fail == 1 ? "" : "s", r.failed);
			observe(a, r.target, R_QUARANTINED, true, msg, run_id, r.exec_date);
		} else if (r.n_fail) {
			snprintf(msg, sizeof msg, "%s: %u check%s failed: %s", head, r.n_fail,
			         r.n_fail == 1 ? "" : "s", r.failed);
			observe(a, r.target, R_CHECK_FAILED, true, msg, run_id, r.exec_date);
		} else if (failed) {
			snprintf(msg, sizeof msg, "%s failed: %s", head,
			         r.error[0] ? r.error : "no error recorded");
			observe(a, r.target, R_RUN_FAILED, true, msg, run_id, r.exec_date);
		}
		if (r.n_warn && d->cfg->alerts.on_warn) {
			snprintf(msg, sizeof msg, "%s: %u check%s warned: %s", head, r.n_warn,
			         r.n_warn == 1 ? "" : "s", r.warned);
			observe(a, r.target, R_CHECK_WARNED, true, msg, run_id, r.exec_date);
		}
		if (r.n_checks && !r.n_fail) {
			snprintf(msg, sizeof msg, "%s: no check failed", head);
			observe(a, r.target, R_CHECK_FAILED, false, msg, run_id, r.exec_date);
		}
		if (r.n_checks && !r.n_warn) {
			snprintf(msg, sizeof msg, "%s: no check warned", head);
			observe(a, r.target, R_CHECK_WARNED, false, msg, run_id, r.exec_date);
		}
		if (state == RUN_SUCCEEDED && !r.quarantined) {
			snprintf(msg, sizeof msg, "%s: a new snapshot passed its checks", head);
			observe(a, r.target, R_QUARANTINED, false, msg, run_id, r.exec_date);
		}
		if (ok) {
			struct fresh *f = fresh_get(a, r.target);
			snprintf(msg, sizeof msg, "%s %s", head, r.state);
			observe(a, r.target, R_RUN_FAILED, false, msg, run_id, r.exec_date);
			if (f) {
				f->last_ok = r.ended ? r.ended : clock_now_ms();
				snprintf(msg, sizeof msg, "%s is fresh again: %s %s", r.target,
				         head, r.state);
				observe(a, r.target, R_STALE, false, msg, run_id, r.exec_date);
			}
		}
	} else if (failed) {
		snprintf(msg, sizeof msg, "%s failed: %s", head,
		         r.error[0] ? r.error : "no error recorded");
		observe(a, r.target, R_RUN_FAILED, true, msg, run_id, r.exec_date);
	} else if (ok) {
		snprintf(msg, sizeof msg, "%s %s", head, r.state);
		observe(a, r.target, R_RUN_FAILED, false, msg, run_id, r.exec_date);
	}
}

void alerts_promoted(struct denverd *d, int64_t run_id)
{
	struct store_run_facts r;
	struct alerts *a = judging(d, run_id, &r);
	char msg[MESSAGE_MAX];

	if (!a)
		return;
	snprintf(msg, sizeof msg, "run %" PRId64 " of %s for %s: the quarantined snapshot "
	         "was promoted by the operator", run_id, r.target, r.exec_date);
	observe(a, r.target, R_QUARANTINED, false, msg, run_id, r.exec_date);
}

/* ---- what is firing ---- */

int alerts_firing_each(struct alerts *a, const char *dataset,
                       int (*fn)(void *arg, const struct alert_firing *f), void *arg)
{
	int rc;

	for (size_t i = 0; i < a->n_keys; i++) {
		const struct akey *k = &a->keys[i];
		if (!k->k.firing || (dataset && strcmp(dataset, k->target) != 0))
			continue;
		struct alert_firing f = {
			.dataset = k->target, .reason = reason_to_string(k->reason),
			.notified = k->k.notified,
		};
		if ((rc = fn(arg, &f)) != 0)
			return rc;
	}
	return 0;
}

/* ---- life cycle ---- */

static void alerts_maybe_free(struct alerts *a);

int alerts_init(struct denverd *d)
{
	struct alerts *a = calloc(1, sizeof *a);
	int rc;

	if (!a)
		return -ENOMEM;
	a->d = d;
	a->maybe_free = alerts_maybe_free;
	a->started = clock_now_ms();
	d->alerts = a;
	uv_timer_init(d->loop, &a->timer);
	a->timer_open = true;
	if ((rc = webhook_init(d->loop, &a->webhook)) < 0)
		return rc;
	if ((rc = store_alerts_latest(d->store, restore_key, a)) < 0)
		return rc;
	if ((rc = load_fresh(a)) < 0 || (rc = load_late(a)) < 0)
		return rc;
	arm_timer(a);
	return 0;
}

void alerts_reload(struct denverd *d)
{
	struct alerts *a = d->alerts;
	if (!a || a->closing)
		return;
	if (load_fresh(a) < 0)
		log_err(NULL, "alerts: reading freshness after the reload: %s; keeping the "
		        "previous deadlines", store_errmsg(d->store));
	if (load_late(a) < 0)
		log_err(NULL, "alerts: reading the source changes after the reload; keeping "
		        "the previous cadences");
	arm_timer(a);
}

/* Free A once alerts_fini has run and nothing of it is left running (its
 * timer closed, no command running); a->maybe_free points here. */
static void alerts_maybe_free(struct alerts *a)
{
	if (!a->closing || a->timer_open || a->commands)
		return;
	for (size_t i = 0; i < a->n_keys; i++)
		free(a->keys[i].message);
	free(a->keys);
	free(a->fresh);
	free(a->late);
	free(a);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct alerts *a = container_of((uv_timer_t *)h, struct alerts, timer);
	a->timer_open = false;
	alerts_maybe_free(a);
}

void alerts_fini(struct denverd *d)
{
	struct alerts *a = d ? d->alerts : NULL;
	if (!a)
		return;
	d->alerts = NULL;
	a->closing = true;
	webhook_fini(a->webhook);
	a->webhook = NULL;
	for (struct command *c = a->commands; c; c = c->commands_next)
		job_cancel(c->job);
	uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}
