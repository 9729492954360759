/*
 * targets.c - the engine's targets (a dataset or a job it schedules): the
 * table and its name lookup, schedule arithmetic, and the "last run" each
 * one shows in status.
 *
 * Time: every wall-clock reading comes from clock_now_ms() (clock.h), so the
 * DENVERD_NOW test hook moves schedules, catch-up and exec dates with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "domain/tz.h"
#include "engine/engine_int.h"

/* FNV-1a of NAME, into a bucket of by_name. */
static size_t name_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % SCHED_TARGET_BUCKETS;
}

struct target *sched_target(struct sched *s, const char *name)
{
	for (struct target *t = s->by_name[name_bucket(name)]; t; t = t->bucket_next)
		if (!t->removed && strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

struct target *target_new(struct sched *s, const char *name, enum target_kind kind)
{
	struct target *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	snprintf(t->name, sizeof t->name, "%s", name);
	t->kind = kind;
	for (int c = 0; c < _TC_MAX; c++)
		runq_lane_init(&t->lanes[c], &s->q[c]);
	LIST_PREPEND(targets, s->targets, t);
	LIST_PREPEND(bucket, s->by_name[name_bucket(t->name)], t);
	return t;
}

void target_unlink_free(struct sched *s, struct target *t)
{
	LIST_REMOVE(targets, s->targets, t);
	LIST_REMOVE(bucket, s->by_name[name_bucket(t->name)], t);
	free(t);
}

void sched_target_info(const struct target *t, struct sched_target_info *out)
{
	*out = (struct sched_target_info){
		.name = t->name, .job = t->kind == TK_JOB,
		.ds = t->kind == TK_DATASET ? t->ds : NULL, .paused = t->paused,
		.next_fire = t->next_fire, .last_run_id = t->last_run_id,
		.last_run_date = t->last_run_date, .last_run_state = t->last_run_state,
	};
}

int sched_targets_each(struct sched *s,
                       int (*fn)(void *arg, const struct target *t,
                                 const struct sched_target_info *info),
                       void *arg)
{
	struct sched_target_info info;
	int rc;

	for (const struct target *t = s->targets; t; t = t->targets_next) {
		if (t->removed)
			continue;
		sched_target_info(t, &info);
		if ((rc = fn(arg, t, &info)) != 0)
			return rc;
	}
	return 0;
}

void target_saw_run(struct target *t, const struct srun *r)
{
	if (r->id != t->last_run_id && strcmp(r->exec_date, t->last_run_date) < 0)
		return;
	t->last_run_id = r->id;
	memcpy(t->last_run_date, r->exec_date, sizeof t->last_run_date);
	t->last_run_state = r->state;
}

/* ---- schedule arithmetic ---- */

void target_schedule(struct target *t)
{
	const char *err = NULL;

	memset(&t->cron, 0, sizeof t->cron);
	t->next_fire = 0;
	if (!t->ds || !t->ds->schedule ||
	    cron_parse(t->ds->schedule, &t->cron, &err) < 0) {
		log_err(&(struct log_ctx){ .dataset = t->name }, "schedule \"%s\": %s; "
		        "the dataset will not be scheduled",
		        t->ds && t->ds->schedule ? t->ds->schedule : "", err ? err : "missing");
		t->ds = NULL;
	}
}

int sched_next_fire(struct sched *s, const struct target *t, int64_t after, int64_t *next)
{
	if (t->kind != TK_DATASET || !s->tz)
		return -ERANGE;
	return cron_next(&t->cron, s->tz, after, next);
}

void target_set_next_fire(struct sched *s, struct target *t, int64_t after)
{
	int64_t next;

	t->next_fire = sched_next_fire(s, t, after, &next) == 0 ? next : 0;
}

void sched_exec_date(struct sched *s, int64_t t, char out[11])
{
	tz_date(s->tz, t, out);
}

void sched_today(struct sched *s, char out[11])
{
	sched_exec_date(s, clock_now_ms() / 1000, out);
}

const struct tz *sched_tz(const struct sched *s)
{
	return s->tz;
}

struct s3_client *sched_storage(struct sched *s)
{
	return s->s3;
}

unsigned sched_limit(struct sched *s, enum task_class c)
{
	const struct cfg_limits *l = &s->d->cfg->limits;
	unsigned v = c == TC_FETCH ? l->fetches : c == TC_CHECK ? l->checks : l->jobs;
	return v ? v : 1;
}

const struct cfg_retry *target_retry(const struct target *t)
{
	static const struct cfg_retry none = { 0, 60000, 3600000 };

	if (t->kind == TK_DATASET && t->ds)
		return &t->ds->retry;
	if (t->kind == TK_JOB && t->job)
		return &t->job->retry;
	return &none;
}
