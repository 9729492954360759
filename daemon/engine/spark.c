/*
 * spark.c - the Spark endpoint as the engine sees it (spark.mode managed or
 * external; nothing in submit mode): when the supervisor (io/sparkd.h)
 * starts and stops, the gate that keeps convert and job tasks queued while
 * the endpoint is not ready, what jobs are told (SPARK_REMOTE and the
 * token's variable), the server's process group in state.db (so a crashed
 * daemon's orphan server is killed at the next start), and reload.
 *
 * The gate: tasks of class TC_PROC (convert and configured jobs) start only
 * while s->spark.ready (sched_dispatch reads it); every state change kicks
 * the dispatcher.  A job already running when the server dies fails its
 * attempt as its client loses the connection, and the normal retry policy
 * takes it from there.
 *
 * Reload: when the settings the server runs with change (its command, its
 * environment, the endpoint, the token), the gate closes at once and the
 * server is restarted as soon as no convert or job task runs (checked every
 * SPARK_POLL_MS): running attempts finish on the old server, new ones wait
 * for the new one.  Switching to submit mode stops the server the same way.
 *
 * storage: s3: the managed server is started with the s3a settings of
 * domain/s3a.h and the AWS_* keys in its environment (a change of them,
 * spark.s3a_classpath on reload, restarts it like any other); an external
 * server must have them itself (status says so).
 *
 * The token is read from its file when the endpoint is set up (start and
 * reload); it lives in memory only, is handed to the server and to jobs in
 * their environment (SPARK_CONNECT_AUTHENTICATE_TOKEN), never on a command
 * line, and never reaches a log line or status.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/macro.h"
#include "domain/s3a.h"
#include "engine/engine_int.h"
#include "io/procgroup.h"
#include "io/sparkd.h"
#include "store/store.h"

#define SPARK_POLL_MS 1000
#define TOKEN_MAX 4096
#define ORPHAN_WAIT_MS 5000
#define CONNECT_CLASS "org.apache.spark.sql.connect.service.SparkConnectServer"

static const struct log_ctx spark_log = { .task = "spark-connect" };

/* ---- the token ---- */

/* The token named by C into *OUT (caller wipes and frees; NULL when none
 * is configured).  0, or -errno with words in ERR (never the token). */
static int token_read(const struct cfg_connect *c, char **out, char *err, size_t errlen)
{
	char path[PATH_MAX], *buf = NULL;
	const char *dir;
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, rc = 0;

	*out = NULL;
	if (c->token_file) {
		snprintf(path, sizeof path, "%s", c->token_file);
	} else if (c->token_credential) {
		if (!(dir = getenv("CREDENTIALS_DIRECTORY")) || !*dir) {
			snprintf(err, errlen, "spark.connect.token_credential %s: $CREDENTIALS_DIRECTORY "
			         "is not set (give the unit LoadCredential=%s:/path/of/the/token)",
			         c->token_credential, c->token_credential);
			return -ENOENT;
		}
		snprintf(path, sizeof path, "%s/%s", dir, c->token_credential);
	} else {
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "spark.connect token %.300s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "spark.connect token %.300s: not a regular file", path);
		rc = -EINVAL;
	} else if (st.st_mode & S_IROTH) {
		snprintf(err, errlen, "spark.connect token %.300s: readable by everyone (mode %04o); "
		         "chmod o-r it", path, (unsigned)(st.st_mode & 07777));
		rc = -EPERM;
	} else if (!(buf = calloc(1, TOKEN_MAX + 2))) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
	} else if ((n = read(fd, buf, TOKEN_MAX + 1)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "spark.connect token %.300s: %s", path, strerror(errno));
	} else {
		len = (size_t)n;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		bool printable = len > 0 && len <= TOKEN_MAX;
		for (size_t i = 0; printable && i < len; i++)
			printable = buf[i] > ' ' && buf[i] < 0x7f;
		if (!printable) {
			snprintf(err, errlen, "spark.connect token %.300s: expected one line of 1-%d "
			         "printable characters without spaces", path, TOKEN_MAX);
			rc = -EINVAL;
		}
	}
	close(fd);
	if (rc < 0 && buf) {
		explicit_bzero(buf, TOKEN_MAX + 2);
		free(buf);
		buf = NULL;
	}
	*out = buf;
	return rc;
}

static void str_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* ---- the endpoint's settings ---- */

/* Where the server is reached from this host: a wildcard bind is reached on
 * loopback.  With a token, "localhost": PySpark sends a token without TLS
 * only to that name. */
static const char *local_host(const struct cfg_connect *c, bool token)
{
	if (token && config_is_loopback(c->bind))
		return "localhost";
	if (strcmp(c->bind, "0.0.0.0") == 0 || strcmp(c->bind, "::") == 0)
		return token ? "localhost" : "127.0.0.1";
	return c->bind;
}

/* host and port of "sc://host:port[/][;params]" into HOST (len) and *PORT. */
static int url_host_port(const char *url, char *host, size_t len, unsigned *port)
{
	const char *h = url + 5, *end = h + strcspn(h, "/;"), *colon = NULL;

	*port = 15002;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			return -EINVAL;
		snprintf(host, len, "%.*s", (int)(rb - h - 1), h + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		snprintf(host, len, "%.*s", (int)((colon ? colon : end) - h), h);
	}
	if (colon) {
		char *e;
		unsigned long p = strtoul(colon + 1, &e, 10);
		if (e != end || p == 0 || p > 65535)
			return -EINVAL;
		*port = (unsigned)p;
	}
	return host[0] ? 0 : -EINVAL;
}

/* What a new endpoint needs, built from CFG (strings owned). */
struct ep_plan {
	struct argv_list { char **v; size_t n; } argv, env;
	char *remote, *token, *key, host[256];
	unsigned port;
	bool failed;
};

static void list_push(struct ep_plan *p, struct argv_list *l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void list_push(struct ep_plan *p, struct argv_list *l, const char *fmt, ...)
{
	char **nv, *s;
	va_list ap;
	int n;

	if (p->failed)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0 || !(nv = realloc(l->v, (l->n + 2) * sizeof *nv))) {
		if (n >= 0)
			free(s);
		p->failed = true;
		return;
	}
	l->v = nv;
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

static void list_free(struct argv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		str_wipe_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void plan_free(struct ep_plan *p)
{
	list_free(&p->argv);
	list_free(&p->env);
	free(p->remote);
	str_wipe_free(p->token);
	str_wipe_free(p->key);
}

/* What the managed server runs with unless spark.conf sets the key: the
 * converts reuse one server-side session per dataset (jobs/session.py), so
 * a session must outlive the time between two runs (Spark's default idle
 * timeout, 60 min, would close it before a daily run), and the cache of
 * generated code must hold every dataset's classes at once (about 60 each;
 * Spark's default keeps 100).  With the code kept, the JIT may as well
 * compile the convert's generated methods over HotSpot's 8000-byte limit
 * too (once per session: 9% less wall time per 100 MB merge), and
 * convert.py, finding the flag in both options, then leaves Spark's
 * whole-stage code whole instead of capping its methods at HotSpot's limit.
 * Kryo instead of Java serialization for the RDD blocks a convert keeps
 * (its typed snapshot, written once and read twice): about 5% less time.
 * jobs/README.md "Round 5" and "Round 6". */
static const char *const server_defaults[][2] = {
	{ "spark.connect.session.manager.defaultSessionTimeout", "48h" },
	{ "spark.sql.codegen.cache.maxEntries", "1000" },
	{ "spark.driver.extraJavaOptions", "-XX:-DontCompileHugeMethods" },
	{ "spark.executor.extraJavaOptions", "-XX:-DontCompileHugeMethods" },
	{ "spark.serializer", "org.apache.spark.serializer.KryoSerializer" },
};

/* The server's command and environment, the URL jobs get, the probe target
 * and the comparison key of CFG's spark section.  With storage: s3 the
 * server gets the s3a settings on its command line (after spark.conf, the
 * ones it does not set: domain/s3a.h) and S3_ENV, the AWS_* keys, in its
 * environment (never argv).  0, or -errno with ERR. */
static int plan_build(const struct config *cfg, char *const *s3_env, struct ep_plan *p,
                      char *err, size_t errlen)
{
	const struct cfg_spark *sp = &cfg->spark;
	const struct cfg_connect *c = &sp->connect;
	struct s3a_conf s3a;
	int rc;

	memset(p, 0, sizeof *p);
	if ((rc = token_read(c, &p->token, err, errlen)) < 0)
		return rc;
	if (sp->mode == SPARK_EXTERNAL) {
		if (url_host_port(c->url, p->host, sizeof p->host, &p->port) < 0) {
			snprintf(err, errlen, "spark.connect.url: cannot read host and port");
			return -EINVAL;
		}
		p->remote = strdup(c->url);
	} else {
		snprintf(p->host, sizeof p->host, "%s", local_host(c, p->token != NULL));
		p->port = c->port;
		if (asprintf(&p->remote, "sc://%s%s%s:%u", strchr(p->host, ':') ? "[" : "", p->host,
		             strchr(p->host, ':') ? "]" : "", p->port) < 0)
			p->remote = NULL;
		list_push(p, &p->argv, "%s", sp->submit);
		list_push(p, &p->argv, "--class");
		list_push(p, &p->argv, CONNECT_CLASS);
		list_push(p, &p->argv, "--name");
		list_push(p, &p->argv, "denverd Spark Connect server");
		list_push(p, &p->argv, "--master");
		list_push(p, &p->argv, "%s", sp->master);
		list_push(p, &p->argv, "--driver-memory");
		list_push(p, &p->argv, "%" PRIu64 "m", c->memory / (1024 * 1024));
		list_push(p, &p->argv, "--conf");
		list_push(p, &p->argv, "spark.connect.grpc.binding.address=%s", c->bind);
		list_push(p, &p->argv, "--conf");
		list_push(p, &p->argv, "spark.connect.grpc.binding.port=%u", c->port);
		for (size_t i = 0; i < sp->n_conf; i++) {
			list_push(p, &p->argv, "--conf");
			list_push(p, &p->argv, "%s=%s", sp->conf_keys[i], sp->conf_values[i]);
		}
		for (size_t i = 0; i < ARRAY_SIZE(server_defaults); i++) {
			if (s3a_operator_sets(sp, server_defaults[i][0]))
				continue;
			list_push(p, &p->argv, "--conf");
			list_push(p, &p->argv, "%s=%s", server_defaults[i][0], server_defaults[i][1]);
		}
		if (s3a_conf_build(&cfg->storage, sp, &s3a) < 0)
			p->failed = true;
		for (size_t i = 0; !p->failed && i < s3a.n; i++) {
			list_push(p, &p->argv, "--conf");
			list_push(p, &p->argv, "%s=%s", s3a.keys[i], s3a.values[i]);
		}
		s3a_conf_free(&s3a);
		for (size_t i = 0; s3_env && s3_env[i]; i++)
			list_push(p, &p->env, "%s", s3_env[i]);
		list_push(p, &p->env, "DENVERD_SPARK=%s", cfg->state_dir);
		list_push(p, &p->env, "SPARK_CONNECT_MODE=0");
		if (sp->python) {
			list_push(p, &p->env, "PYSPARK_PYTHON=%s", sp->python);
			list_push(p, &p->env, "PYSPARK_DRIVER_PYTHON=%s", sp->python);
		}
		if (p->token)
			list_push(p, &p->env, "SPARK_CONNECT_AUTHENTICATE_TOKEN=%s", p->token);
	}
	/* Everything that makes a different endpoint, for reload. */
	size_t klen = strlen(p->remote ? p->remote : "") + 64 +
	              (p->token ? strlen(p->token) : 0);
	for (size_t i = 0; i < p->argv.n; i++)
		klen += strlen(p->argv.v[i]) + 1;
	for (size_t i = 0; i < p->env.n; i++)
		klen += strlen(p->env.v[i]) + 1;
	if (!p->failed && p->remote && (p->key = calloc(1, klen))) {
		char *k = p->key;
		k += sprintf(k, "%d|%s|%s|%" PRIu64 "|%" PRIu64 "|%" PRIu64 "|%" PRIu64, sp->mode,
		             p->remote, p->token ? p->token : "", c->ready_timeout_ms,
		             c->check_interval_ms, c->restart.delay_ms, c->restart.max_delay_ms);
		for (size_t i = 0; i < p->argv.n; i++)
			k += sprintf(k, "\x1f%s", p->argv.v[i]);
		for (size_t i = 0; i < p->env.n; i++)
			k += sprintf(k, "\x1e%s", p->env.v[i]);
	}
	if (p->failed || !p->remote || !p->key) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* ---- the supervisor's events ---- */

static void update_gate(struct sched *s)
{
	struct spark_ep *e = &s->spark;
	struct sparkd_status st;
	bool was = e->ready;

	e->ready = false;
	if (e->sd && !e->pending) {
		sparkd_status(e->sd, &st);
		e->ready = st.state == SPARKD_READY;
	}
	if (e->ready && !was)
		sched_kick(s);
}

static void on_sparkd(struct sparkd *sd, enum sparkd_event ev, void *arg)
{
	struct sched *s = arg;
	struct sparkd_status st;
	struct procgroup_stat ps;

	sparkd_status(sd, &st);
	switch (ev) {
	case SPARKD_EV_SPAWNED:
		if (procgroup_stat(st.pid, &ps) < 0)
			ps.start_ticks = 0;
		if (store_spark_set(s->d->store, st.pid, ps.start_ticks, clock_now_ms()) < 0)
			log_err(&spark_log, "state store: recording the Spark server's group: %s",
			        store_errmsg(s->d->store));
		break;
	case SPARKD_EV_EXITED:
		if (store_spark_clear(s->d->store) < 0)
			log_err(&spark_log, "state store: %s", store_errmsg(s->d->store));
		break;
	case SPARKD_EV_STATE:
		break;
	}
	if (sd == s->spark.sd)
		update_gate(s);
}

/* ---- life ---- */

/* A previous denverd's server, if its group is still alive: killed. */
static void kill_orphan(struct sched *s)
{
	char marker[PATH_MAX + 32];
	uint64_t start;
	int pgid, rc;

	if (store_spark_get(s->d->store, &pgid, &start) < 0)
		return;
	snprintf(marker, sizeof marker, "DENVERD_SPARK=%s", s->d->cfg->state_dir);
	rc = procgroup_kill_orphan(pgid, start, marker, SIGKILL);
	if (rc == 1) {
		log_warn(&spark_log, "killed the Spark Connect server (process group %d) left by "
		         "the previous denverd", pgid);
		if (procgroup_wait_gone(pgid, ORPHAN_WAIT_MS) < 0)
			log_err(&spark_log, "process group %d still alive %d ms after SIGKILL", pgid,
			        ORPHAN_WAIT_MS);
	} else if (rc < 0) {
		log_err(&spark_log, "cannot kill process group %d: %s", pgid, strerror(-rc));
	}
	store_spark_clear(s->d->store);
}

/* Set up the endpoint of the current configuration (no-op in submit mode). */
static void ep_open(struct sched *s)
{
	const struct config *cfg = s->d->cfg;
	const struct cfg_connect *c = &cfg->spark.connect;
	struct spark_ep *e = &s->spark;
	struct ep_plan p;
	char err[600] = "";
	int rc;

	e->mode = cfg->spark.mode;
	e->error[0] = '\0';
	if (e->mode == SPARK_SUBMIT)
		return;
	if ((rc = plan_build(cfg, s->s3_env, &p, err, sizeof err)) < 0) {
		log_err(&spark_log, "Spark Connect endpoint not started: %s", err);
		snprintf(e->error, sizeof e->error, "%s", err);
		plan_free(&p);
		return;
	}
	struct sparkd_spec spec = {
		.managed = e->mode == SPARK_MANAGED, .argv = p.argv.v, .env = p.env.v,
		.host = p.host, .port = p.port, .ready_timeout_ms = c->ready_timeout_ms,
		.check_interval_ms = c->check_interval_ms, .kill_grace_ms = c->kill_grace_ms,
		.restart = c->restart, .ctx = spark_log,
	};
	if ((rc = sparkd_start(s->d->loop, &spec, on_sparkd, s, &e->sd)) < 0) {
		snprintf(e->error, sizeof e->error, "cannot supervise the endpoint: %s",
		         strerror(-rc));
		log_err(&spark_log, "%s", e->error);
		plan_free(&p);
		return;
	}
	e->remote = p.remote;
	e->token = p.token;
	e->key = p.key;
	p.remote = p.token = p.key = NULL;
	plan_free(&p);
}

static void ep_forget(struct spark_ep *e)
{
	free(e->remote);
	str_wipe_free(e->token);
	str_wipe_free(e->key);
	e->remote = e->token = e->key = NULL;
}

/* Pending restart: once no convert or job runs, stop the server; once it is
 * reaped, start the new configuration's. */
static void on_poll(uv_timer_t *t)
{
	struct sched *s = container_of(t, struct sched, spark.poll);
	struct spark_ep *e = &s->spark;

	if (!e->pending || s->stopped)
		return;
	if (e->sd && s->running[TC_PROC] == 0) {
		log_info(&spark_log, "reload: restarting the Spark endpoint with the new settings");
		sparkd_stop(e->sd);
		e->old = e->sd;
		e->sd = NULL;
	}
	if (e->old && !sparkd_running(e->old)) {
		sparkd_free(e->old);
		e->old = NULL;
	}
	if (!e->sd && !e->old) {
		e->pending = false;
		ep_forget(e);
		ep_open(s);
		update_gate(s);
		return;
	}
	uv_timer_start(&e->poll, on_poll, SPARK_POLL_MS, 0);
}

int spark_start(struct sched *s)
{
	int rc;

	if ((rc = uv_timer_init(s->d->loop, &s->spark.poll)) < 0)
		return rc;
	s->spark.poll_init = true;
	kill_orphan(s);
	ep_open(s);
	return 0;
}

void spark_reload(struct sched *s)
{
	struct spark_ep *e = &s->spark;
	struct ep_plan p;
	char err[600] = "";
	bool same;

	if (!e->poll_init)
		return;
	if (s->d->cfg->spark.mode == SPARK_SUBMIT)
		same = e->mode == SPARK_SUBMIT;
	else if (plan_build(s->d->cfg, s->s3_env, &p, err, sizeof err) < 0)
		same = false;
	else
		same = e->key && strcmp(e->key, p.key) == 0;
	if (s->d->cfg->spark.mode != SPARK_SUBMIT)
		plan_free(&p);
	if (same || (e->mode == SPARK_SUBMIT && !e->sd && s->d->cfg->spark.mode == SPARK_SUBMIT))
		return;
	e->pending = true;
	update_gate(s);
	uv_timer_start(&e->poll, on_poll, 0, 0);
}

void spark_stop(struct sched *s)
{
	if (s->spark.poll_init)
		uv_timer_stop(&s->spark.poll);
	sparkd_stop(s->spark.sd);
	sparkd_stop(s->spark.old);
	s->spark.ready = false;
}

static void on_fini_poll(uv_timer_t *t)
{
	(void)t;
}

void spark_fini(struct sched *s)
{
	struct spark_ep *e = &s->spark;
	int64_t end;

	if (!e->poll_init)
		return;
	spark_stop(s);
	end = clock_mono_ms() + (int64_t)s->d->cfg->spark.connect.kill_grace_ms + 2000;
	/* The server's exit is seen on the loop: run it until the server is
	 * reaped (SIGKILL comes after the grace), bounded. */
	while ((sparkd_running(e->sd) || sparkd_running(e->old)) && clock_mono_ms() < end) {
		uv_timer_start(&e->poll, on_fini_poll, 100, 0);
		uv_run(s->d->loop, UV_RUN_ONCE);
	}
	sparkd_free(e->sd);
	sparkd_free(e->old);
	e->sd = e->old = NULL;
	ep_forget(e);
	uv_timer_stop(&e->poll);
	uv_close((uv_handle_t *)&e->poll, NULL);
	e->poll_init = false;
	uv_run(s->d->loop, UV_RUN_NOWAIT);
}

/* ---- status ---- */

void sched_spark_info(struct sched *s, struct sched_spark_info *out)
{
	const struct spark_ep *e = &s->spark;
	struct sparkd_status st;

	*out = (struct sched_spark_info){
		.mode = config_spark_mode_name(e->mode), .url = e->remote,
		.s3a = s->d->cfg->storage.type != STORAGE_S3 ? NULL
		       : e->mode == SPARK_SUBMIT ? "spark-submit --conf (derived from storage)"
		       : e->mode == SPARK_MANAGED ? "on the server's command line (derived from storage)"
		       : "the external server's own: denverd sets none (it needs fs.s3a.* for storage)",
		.state = e->mode == SPARK_SUBMIT ? NULL : "down",
		.last_error = e->error[0] ? e->error : NULL, .restart_pending = e->pending,
	};
	if (!e->sd)
		return;
	sparkd_status(e->sd, &st);
	out->state = sparkd_state_name(st.state);
	out->pid = st.pid;
	out->started_ms = st.started_ms;
	out->ready_ms = st.ready_ms;
	out->restarts = st.restarts;
	out->last_error = st.last_error;
}
