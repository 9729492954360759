/*
 * deliver.c - where a recorded alert goes besides the journal and the
 * subscribers (alerts_int.h): alerts.command, run as a child through job.c
 * with the alert in its placeholders and environment, and alerts.webhook,
 * a JSON POST through webhook.c.  Delivery success sets the row's
 * `delivered` time; a failure is logged (with the webhook's secret
 * redacted), never retried beyond the configured retries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/denverd.h"
#include "base/log.h"
#include "domain/config_types.h"
#include "io/job.h"
#include "notify/alerts_int.h"
#include "notify/webhook.h"
#include "store/store.h"
#include "version.h"

#define COMMAND_TIMEOUT_MS  (60 * 1000)
#define COMMAND_GRACE_MS    (5 * 1000)
#define COMMAND_TAIL        4096
#define WEBHOOK_TIMEOUT_MS  (30 * 1000)
#define WEBHOOK_DELAY_MS    2000
#define WEBHOOK_MAX_DELAY_MS (5 * 60 * 1000)

static void mark_delivered(struct alerts *a, int64_t id)
{
	if (a->closing)
		return;
	if (store_alert_delivered(a->d->store, id, clock_now_ms()) < 0)
		log_err(NULL, "alert %" PRId64 ": recording the delivery: %s", id,
		        store_errmsg(a->d->store));
}

static void on_webhook_done(void *arg, int64_t id, const struct webhook_result *r)
{
	struct alerts *a = arg;
	char where[256];

	if (r->delivered) {
		mark_delivered(a, id);
		return;
	}
	webhook_redact(a->d->cfg->alerts.webhook ? a->d->cfg->alerts.webhook : "",
	               where, sizeof where);
	log_warn(NULL, "alert %" PRId64 ": webhook %s not delivered after %u attempt%s: %s",
	         id, where, r->attempts, r->attempts == 1 ? "" : "s", r->error);
}

static void on_command_done(struct job *j, const struct job_result *r, void *arg)
{
	struct command *c = arg;
	struct alerts *a = c->a;

	LIST_REMOVE(commands, a->commands, c);
	a->n_commands--;
	if (r->exit_code == 0 && !r->timed_out && !r->cancelled)
		mark_delivered(a, c->alert_id);
	else if (!a->closing)
		log_warn(NULL, "alert %" PRId64 ": alerts.command failed: %s", c->alert_id,
		         r->error ? r->error : "non-zero exit");
	free(c);
	a->maybe_free(a);
}

void deliver_command(struct alerts *a, const struct alert_event *ev)
{
	const struct config *cfg = a->d->cfg;
	int64_t id = ev->alert_id;
	char run[24] = "", env_reason[64], env_state[32];
	char **argv = NULL, **env = NULL;
	struct command *c = NULL;
	struct job_vars v = {
		.dataset = ev->dataset, .exec_date = ev->exec_date ? ev->exec_date : "",
		.state_dir = cfg->state_dir, .run_id = run,
		/* config.c allows {reason} and {message} in alerts.command (its
		 * alert_vars); {state} is ready for when it allows that too. */
		.extra_keys = { "reason", "message", "state" },
		.extra_values = { ev->reason, ev->message, ev->state },
	};
	struct log_ctx ctx = { .dataset = ev->dataset, .run_id = ev->run_id,
	                       .exec_date = ev->exec_date, .task = "alert" };
	int rc;

	if (a->n_commands >= ALERTS_MAX_COMMANDS) {
		log_warn(&ctx, "alert %" PRId64 ": %u alert commands still running; not "
		         "starting another", id, a->n_commands);
		return;
	}
	if (ev->run_id > 0)
		snprintf(run, sizeof run, "%" PRId64, ev->run_id);
	snprintf(env_reason, sizeof env_reason, "DENVERD_ALERT_REASON=%s", ev->reason);
	snprintf(env_state, sizeof env_state, "DENVERD_ALERT_STATE=%s", ev->state);
	char *extra_env[] = { env_reason, env_state, NULL };
	if ((rc = job_expand_argv(cfg->alerts.command.items, &v, &argv)) < 0 ||
	    (rc = job_env(&v, extra_env, &env)) < 0) {
		log_err(&ctx, "alert %" PRId64 ": alerts.command: %s", id, strerror(-rc));
		goto out;
	}
	if (!(c = calloc(1, sizeof *c))) {
		rc = -ENOMEM;
		goto out;
	}
	struct job_spec spec = {
		.argv = argv, .env = env, .cwd = NULL,
		.timeout_ms = COMMAND_TIMEOUT_MS, .kill_grace_ms = COMMAND_GRACE_MS,
		.tail_cap = COMMAND_TAIL, .ctx = ctx,
	};
	c->a = a;
	c->alert_id = id;
	if ((rc = job_start(a->d->loop, &spec, on_command_done, c, &c->job)) < 0) {
		log_err(&ctx, "alert %" PRId64 ": starting alerts.command: %s", id,
		        strerror(-rc));
		free(c);
		goto out;
	}
	LIST_PREPEND(commands, a->commands, c);
	a->n_commands++;
out:
	job_strv_free(argv);
	job_strv_free(env);
}

void deliver_webhook(struct alerts *a, const struct alert_event *ev)
{
	const struct cfg_alerts *ac = &a->d->cfg->alerts;
	int64_t id = ev->alert_id;
	struct webhook_opts o = {
		.retries = ac->retries, .retry_delay_ms = WEBHOOK_DELAY_MS,
		.retry_max_delay_ms = WEBHOOK_MAX_DELAY_MS, .timeout_ms = WEBHOOK_TIMEOUT_MS,
	};
	char host[256] = "", text[MESSAGE_MAX + 256], where[256];
	json_t *body;
	char *json;
	int rc;

	gethostname(host, sizeof host - 1);
	snprintf(text, sizeof text, "denverd on %s: %s %s %s: %s", host, ev->dataset,
	         ev->reason, ev->state, ev->message);
	/* "text" makes Slack- and Mattermost-style endpoints show it as is. */
	body = json_pack("{s:i, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	                 "version", 1, "id", (json_int_t)id, "ts", (json_int_t)ev->ts,
	                 "host", host, "dataset", ev->dataset, "reason", ev->reason,
	                 "state", ev->state, "message", ev->message,
	                 "denverd", DENVERD_VERSION, "text", text);
	if (body && ev->run_id > 0)
		json_object_set_new(body, "run_id", json_integer(ev->run_id));
	if (body && ev->exec_date)
		json_object_set_new(body, "exec_date", json_string(ev->exec_date));
	json = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!json) {
		log_err(NULL, "alert %" PRId64 ": out of memory building the webhook body", id);
		return;
	}
	rc = webhook_post(a->webhook, ac->webhook, json, &o, on_webhook_done, a, id);
	free(json);
	if (rc < 0) {
		webhook_redact(ac->webhook, where, sizeof where);
		log_warn(NULL, "alert %" PRId64 ": webhook %s: %s", id, where, strerror(-rc));
	}
}
