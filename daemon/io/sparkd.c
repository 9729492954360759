/*
 * sparkd.c - the Spark Connect endpoint's supervisor (sparkd.h): the
 * managed server's child through job.c, restarts with backoff, and the TCP
 * probes that say whether the endpoint accepts connections.
 *
 * Objects and who frees them:
 *  - struct sparkd: the caller's (sparkd_free); its timer is closed and the
 *    struct freed in the close callback.
 *  - struct child: the job's callback argument, one per spawned server; it
 *    outlives a freed sparkd (owner NULL) until the job reports, then frees
 *    itself.
 *  - struct probe: one TCP connect attempt (resolve, connect, its own
 *    timeout); frees itself when its handles are closed, whether or not its
 *    owner still exists.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/macro.h"
#include "domain/backoff.h"
#include "io/job.h"
#include "io/sparkd.h"

#define ERROR_MAX 512
#define TAIL_CAP 2048

static const char *const state_names[SPARKD_STATE_COUNT] = {
	[SPARKD_STARTING] = "starting", [SPARKD_READY] = "ready",
	[SPARKD_RESTARTING] = "restarting", [SPARKD_DOWN] = "down",
	[SPARKD_UNREACHABLE] = "unreachable",
};

const char *sparkd_state_name(enum sparkd_state s)
{
	return (unsigned)s < SPARKD_STATE_COUNT ? state_names[s] : "?";
}

struct child;
struct probe;

struct sparkd {
	uv_loop_t *loop;
	uv_timer_t timer;              /* restart backoff, probe period, external checks */
	sparkd_fn fn;
	void *arg;
	bool managed, stopped;
	char **argv, **env;
	char *host;
	unsigned port;
	uint64_t ready_timeout_ms, check_interval_ms, kill_grace_ms;
	struct cfg_retry restart;
	struct log_ctx ctx;

	enum sparkd_state state;
	struct child *child;           /* the running server, or NULL */
	struct probe *probe;           /* the probe in flight, or NULL */
	bool precheck;                 /* the probe asks "is the port free?" */
	int pid;
	int64_t started_ms, ready_ms, spawned_mono;
	unsigned restarts, failures;
	bool spawned_once;
	char last_error[ERROR_MAX];
};

struct child {
	struct sparkd *owner;          /* NULL once the sparkd is freed */
	struct job *job;
	bool cancel_sent;
};

struct probe {
	struct sparkd *owner;          /* NULL once the sparkd is freed or moved on */
	uv_getaddrinfo_t gai;
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_timer_t timeout;
	bool tcp_open, done;
	int open_handles;
};

static void schedule(struct sparkd *sd, uint64_t ms, uv_timer_cb cb);
static void try_start(struct sparkd *sd);

static void set_state(struct sparkd *sd, enum sparkd_state st)
{
	if (sd->state == st)
		return;
	sd->state = st;
	sd->fn(sd, SPARKD_EV_STATE, sd->arg);
}

static void set_error(struct sparkd *sd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct sparkd *sd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sd->last_error, sizeof sd->last_error, fmt, ap);
	va_end(ap);
}

/* ---- probes ---- */

/* One of the probe's handles (or its resolve request) is over. */
static void probe_unref(struct probe *p)
{
	if (--p->open_handles == 0)
		free(p);
}

static void probe_closed(uv_handle_t *h)
{
	probe_unref(h->data);
}

static void probe_close(struct probe *p)
{
	uv_timer_stop(&p->timeout);
	if (p->tcp_open) {
		p->tcp_open = false;
		uv_close((uv_handle_t *)&p->tcp, probe_closed);
	}
	if (!uv_is_closing((uv_handle_t *)&p->timeout))
		uv_close((uv_handle_t *)&p->timeout, probe_closed);
}

static void probe_result(struct sparkd *sd, int status);

/* The probe's answer, once: STATUS 0 = it accepted. */
static void probe_finish(struct probe *p, int status)
{
	struct sparkd *sd = p->owner;

	if (p->done)
		return;
	p->done = true;
	probe_close(p);
	if (sd) {
		sd->probe = NULL;
		probe_result(sd, status);
	}
}

static void on_probe_connect(uv_connect_t *req, int status)
{
	probe_finish(req->data, status);
}

static void on_probe_timeout(uv_timer_t *t)
{
	probe_finish(t->data, UV_ETIMEDOUT);
}

static void on_probe_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct probe *p = req->data;
	int rc = status;

	if (p->done || !p->owner) {
		uv_freeaddrinfo(ai);
		probe_finish(p, UV_ECANCELED);
		probe_unref(p);
		return;
	}
	if (rc == 0 && (rc = uv_tcp_init(p->owner->loop, &p->tcp)) == 0) {
		p->tcp_open = true;
		p->open_handles++;
		p->tcp.data = p;
		p->conn.data = p;
		rc = uv_tcp_connect(&p->conn, &p->tcp, ai->ai_addr, on_probe_connect);
	}
	uv_freeaddrinfo(ai);
	if (rc < 0)
		probe_finish(p, rc);
	probe_unref(p);          /* the resolve request */
}

/* One TCP connect to host:port; probe_result() follows from the loop. */
static void probe_start(struct sparkd *sd)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char port[8];
	struct probe *p;
	int rc;

	if (sd->probe)
		return;
	if (!(p = calloc(1, sizeof *p))) {
		probe_result(sd, UV_ENOMEM);
		return;
	}
	p->owner = sd;
	p->gai.data = p;
	uv_timer_init(sd->loop, &p->timeout);
	p->timeout.data = p;
	p->open_handles = 1;
	uv_timer_start(&p->timeout, on_probe_timeout, SPARKD_PROBE_TIMEOUT_MS, 0);
	sd->probe = p;
	snprintf(port, sizeof port, "%u", sd->port);
	rc = uv_getaddrinfo(sd->loop, &p->gai, on_probe_resolved, sd->host, port, &hints);
	if (rc < 0) {
		/* Reported from the loop, like every other answer. */
		p->done = true;
		sd->probe = NULL;
		probe_close(p);
		set_error(sd, "cannot resolve %s: %s", sd->host, uv_strerror(rc));
		probe_result(sd, rc);
		return;
	}
	p->open_handles++;       /* the resolve request, until its callback */
}

/* ---- the managed server ---- */

static void on_restart_timer(uv_timer_t *t)
{
	try_start(container_of(t, struct sparkd, timer));
}

/* The server failed (died, or never listened): start again after the
 * backoff, unless stopped. */
static void plan_restart(struct sparkd *sd)
{
	uint64_t wait;

	if (sd->stopped) {
		set_state(sd, SPARKD_DOWN);
		return;
	}
	wait = backoff_wait(&sd->restart, sd->failures, backoff_random(), 0);
	/* Full jitter may draw 0: keep a floor so a server that dies at once
	 * does not spin. */
	if (wait < sd->restart.delay_ms / 2)
		wait = sd->restart.delay_ms / 2;
	sd->failures++;
	log_warn(&sd->ctx, "Spark Connect server: %s; starting again in %llu ms",
	         sd->last_error, (unsigned long long)wait);
	set_state(sd, SPARKD_RESTARTING);
	schedule(sd, wait, on_restart_timer);
}

/* The last line of TAIL into BUF (for the words of a death). */
static void last_line(const char *tail, char *buf, size_t len)
{
	size_t n = strlen(tail);
	const char *start;

	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
		n--;
	start = tail + n;
	while (start > tail && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(tail + n - start), start);
}

static void on_child_done(struct job *j, const struct job_result *r, void *arg)
{
	struct child *c = arg;
	struct sparkd *sd = c->owner;
	bool ours = c->cancel_sent;      /* killed by us: last_error says why */
	char line[300];

	free(c);
	if (!sd)
		return;
	sd->child = NULL;
	sd->ready_ms = 0;
	last_line(r->tail, line, sizeof line);
	if (!ours || !sd->last_error[0])
		set_error(sd, "the server (pid %d) ended: %s%s%s", sd->pid,
		          r->error ? r->error : "exit code 0", line[0] ? "; last output: " : "",
		          line);
	sd->fn(sd, SPARKD_EV_EXITED, sd->arg);
	if (sd->probe) {
		sd->probe->owner = NULL;
		sd->probe = NULL;
	}
	uv_timer_stop(&sd->timer);
	plan_restart(sd);
}

static void kill_child(struct sparkd *sd)
{
	if (sd->child && !sd->child->cancel_sent) {
		sd->child->cancel_sent = true;
		job_cancel(sd->child->job);
	}
}

static void spawn(struct sparkd *sd)
{
	struct child *c = calloc(1, sizeof *c);
	struct job_spec spec = {
		.argv = sd->argv, .env = sd->env, .timeout_ms = 0,
		.kill_grace_ms = sd->kill_grace_ms, .tail_cap = TAIL_CAP, .ctx = sd->ctx,
		.log_all = true,
	};
	int rc;

	if (!c) {
		set_error(sd, "out of memory");
		plan_restart(sd);
		return;
	}
	c->owner = sd;
	if ((rc = job_start(sd->loop, &spec, on_child_done, c, &c->job)) < 0) {
		free(c);
		set_error(sd, "cannot start %s: %s", sd->argv[0], strerror(-rc));
		plan_restart(sd);
		return;
	}
	sd->child = c;
	sd->pid = job_pid(c->job);
	sd->started_ms = clock_now_ms();
	sd->spawned_mono = clock_mono_ms();
	if (sd->spawned_once)
		sd->restarts++;
	sd->spawned_once = true;
	if (sd->pid > 0) {
		log_info(&sd->ctx, "Spark Connect server started (pid %d), waiting for port %u",
		         sd->pid, sd->port);
		sd->fn(sd, SPARKD_EV_SPAWNED, sd->arg);
	}
	set_state(sd, SPARKD_STARTING);
	/* A command that cannot run ends through on_child_done. */
	if (sd->pid > 0)
		probe_start(sd);
}

static void on_probe_timer(uv_timer_t *t)
{
	probe_start(container_of(t, struct sparkd, timer));
}

/* A managed start: the port must be free first. */
static void try_start(struct sparkd *sd)
{
	if (sd->stopped)
		return;
	set_state(sd, SPARKD_STARTING);
	sd->precheck = true;
	probe_start(sd);
}

static void managed_result(struct sparkd *sd, int status)
{
	if (sd->precheck) {
		sd->precheck = false;
		if (status == 0) {
			set_error(sd, "port %u on %s already accepts connections: another program "
			          "listens there (not denverd's server)", sd->port, sd->host);
			plan_restart(sd);
		} else {
			spawn(sd);
		}
		return;
	}
	if (!sd->child)
		return;
	if (status == 0) {
		sd->ready_ms = clock_now_ms();
		sd->failures = 0;
		sd->last_error[0] = '\0';
		log_info(&sd->ctx, "Spark Connect server (pid %d) ready on port %u after %lld ms",
		         sd->pid, sd->port, (long long)(clock_mono_ms() - sd->spawned_mono));
		set_state(sd, SPARKD_READY);
		return;
	}
	if ((uint64_t)(clock_mono_ms() - sd->spawned_mono) >= sd->ready_timeout_ms) {
		set_error(sd, "not listening on port %u after %llu ms (spark.connect.ready_timeout)",
		          sd->port, (unsigned long long)sd->ready_timeout_ms);
		kill_child(sd);     /* on_child_done plans the restart */
		return;
	}
	schedule(sd, SPARKD_PROBE_MS, on_probe_timer);
}

/* ---- the external endpoint ---- */

static void external_result(struct sparkd *sd, int status)
{
	if (status == 0) {
		if (sd->state != SPARKD_READY) {
			sd->ready_ms = clock_now_ms();
			if (!sd->started_ms)
				sd->started_ms = sd->ready_ms;
			log_info(&sd->ctx, "Spark Connect endpoint %s:%u reachable", sd->host, sd->port);
		}
		sd->last_error[0] = '\0';
		set_state(sd, SPARKD_READY);
	} else {
		if (sd->state != SPARKD_UNREACHABLE)
			log_warn(&sd->ctx, "Spark Connect endpoint %s:%u unreachable: %s", sd->host,
			         sd->port, uv_strerror(status));
		set_error(sd, "connect to %s:%u: %s", sd->host, sd->port, uv_strerror(status));
		sd->ready_ms = 0;
		set_state(sd, SPARKD_UNREACHABLE);
	}
	schedule(sd, sd->check_interval_ms, on_probe_timer);
}

static void probe_result(struct sparkd *sd, int status)
{
	if (sd->stopped)
		return;
	if (sd->managed)
		managed_result(sd, status);
	else
		external_result(sd, status);
}

/* ---- the API ---- */

static void schedule(struct sparkd *sd, uint64_t ms, uv_timer_cb cb)
{
	if (!sd->stopped)
		uv_timer_start(&sd->timer, cb, ms, 0);
}

static void on_first(uv_timer_t *t)
{
	struct sparkd *sd = container_of(t, struct sparkd, timer);

	if (sd->managed)
		try_start(sd);
	else
		probe_start(sd);
}

static char **strv_dup(char *const *v, bool *failed)
{
	size_t n = 0;
	char **out;

	while (v && v[n])
		n++;
	if (!(out = calloc(n + 1, sizeof *out))) {
		*failed = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(out[i] = strdup(v[i])))
			*failed = true;
	return out;
}

static void strv_free_wipe(char **v)
{
	for (size_t i = 0; v && v[i]; i++) {
		explicit_bzero(v[i], strlen(v[i]));   /* the token may be here */
		free(v[i]);
	}
	free(v);
}

int sparkd_start(uv_loop_t *loop, const struct sparkd_spec *spec, sparkd_fn fn, void *arg,
                 struct sparkd **out)
{
	struct sparkd *sd;
	bool failed = false;

	*out = NULL;
	if (!fn || !spec->host || !spec->port || (spec->managed && (!spec->argv || !spec->argv[0])))
		return -EINVAL;
	if (!(sd = calloc(1, sizeof *sd)))
		return -ENOMEM;
	sd->loop = loop;
	sd->fn = fn;
	sd->arg = arg;
	sd->managed = spec->managed;
	sd->port = spec->port;
	sd->ready_timeout_ms = spec->ready_timeout_ms;
	sd->check_interval_ms = spec->check_interval_ms ? spec->check_interval_ms : 10000;
	sd->kill_grace_ms = spec->kill_grace_ms;
	sd->restart = spec->restart;
	sd->ctx = spec->ctx;
	sd->host = strdup(spec->host);
	if (spec->managed) {
		sd->argv = strv_dup(spec->argv, &failed);
		sd->env = strv_dup(spec->env, &failed);
	}
	if (failed || !sd->host) {
		strv_free_wipe(sd->argv);
		strv_free_wipe(sd->env);
		free(sd->host);
		free(sd);
		return -ENOMEM;
	}
	sd->state = SPARKD_STARTING;
	uv_timer_init(loop, &sd->timer);
	uv_timer_start(&sd->timer, on_first, 0, 0);
	*out = sd;
	return 0;
}

void sparkd_stop(struct sparkd *sd)
{
	if (!sd || sd->stopped)
		return;
	sd->stopped = true;
	uv_timer_stop(&sd->timer);
	if (sd->probe) {
		sd->probe->owner = NULL;
		sd->probe = NULL;
	}
	if (sd->child) {
		set_error(sd, "stopped by denverd");
		kill_child(sd);
	}
	sd->ready_ms = 0;
	set_state(sd, SPARKD_DOWN);
}

bool sparkd_running(const struct sparkd *sd)
{
	return sd && sd->child;
}

void sparkd_status(const struct sparkd *sd, struct sparkd_status *out)
{
	*out = (struct sparkd_status){
		.state = sd->state, .pid = sd->child ? sd->pid : 0, .started_ms = sd->started_ms,
		.ready_ms = sd->ready_ms, .restarts = sd->restarts,
		.last_error = sd->last_error[0] ? sd->last_error : NULL,
	};
}

static void on_timer_closed(uv_handle_t *h)
{
	free(container_of((uv_timer_t *)h, struct sparkd, timer));
}

void sparkd_free(struct sparkd *sd)
{
	if (!sd)
		return;
	sparkd_stop(sd);
	if (sd->child) {
		sd->child->owner = NULL;
		if (sd->pid > 0)
			kill(-sd->pid, SIGKILL);
	}
	strv_free_wipe(sd->argv);
	strv_free_wipe(sd->env);
	free(sd->host);
	uv_close((uv_handle_t *)&sd->timer, on_timer_closed);
}
