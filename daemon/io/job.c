/*
 * job.c - one external process on the uv loop: spawn, output, timeout,
 * kill, and a single report when everything about it is over.
 *
 * A job is over when its process is reaped AND both output pipes are at
 * EOF.  A process it left behind can keep a pipe open after it exited; the
 * group then gets SIGTERM, and after the kill grace SIGKILL and the pipes
 * are closed from our side, so a job never hangs on a stray descendant.
 *
 * Every job leads its own session (UV_PROCESS_DETACHED makes the child call
 * setsid()), hence its own process group with pgid = pid:
 *  - the whole tree (spark-submit's JVM, a Python worker) is signalled at
 *    once with kill(-pid), and nothing else is;
 *  - it has no controlling terminal: when denverd runs in a terminal, ^C
 *    reaches only the daemon, which then cancels its jobs itself and
 *    records that, instead of the jobs dying under it unrecorded.
 * libuv offers no plain setpgid() in the child, and a new session has no
 * drawback for batch jobs.  libuv reaps the child (SIGCHLD); nothing here
 * calls waitpid.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "base/utf8.h"
#include "common/fmt.h"
#include "io/job.h"

#define READ_BUF (32 * 1024)

extern char **environ;

struct job_stream {
	uv_pipe_t pipe;
	struct job *job;
	bool open;                    /* still reading: no EOF, not closed */
	size_t len;                   /* bytes in line */
	char line[JOB_LINE_MAX + 1];
	char buf[READ_BUF];           /* one read at a time, consumed at once */
};

struct job {
	uv_loop_t *loop;
	uv_process_t proc;
	struct job_stream out, err;
	uv_timer_t timeout;           /* the job's timeout; 0 ms after a failed spawn */
	uv_timer_t grace;             /* SIGTERM -> SIGKILL, and pipe draining */
	job_done_cb done;
	void *arg;

	char *argv0, *path;           /* for the words of the result */
	char *dataset, *exec_date, *task;
	struct log_ctx ctx;
	uint64_t timeout_ms, grace_ms;
	bool log_all;

	int pid;
	int spawn_err;                /* libuv error of uv_spawn, 0 when it ran */
	bool reaped, term_sent, finished, forced_close;
	int64_t exit_status;
	int term_signal;
	bool timed_out, cancelled;

	char *ring;                   /* the last tail_cap bytes of output */
	size_t ring_cap, ring_head;
	uint64_t total;               /* output bytes seen */
	uint64_t logged, unlogged;    /* bytes of lines logged / past JOB_LOG_MAX */

	int open_handles;             /* freed when the last one is closed */
};

/* Environment variables that speak to denverd about its own sockets and
 * journal stream; a job must not inherit them.  Nor any AWS_* variable:
 * the daemon may hold its S3 keys there, and a child gets the ones it
 * needs in job_spec.env (the convert job and the Spark server in storage:
 * s3 mode), never by inheritance. */
static const char *const private_env[] = {
	"NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_FDS",
	"LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM",
};

/* ---- output ------------------------------------------------------------------ */

static void ring_put(struct job *j, const char *p, size_t n)
{
	j->total += n;
	if (j->ring_cap == 0)
		return;
	if (n > j->ring_cap) {
		p += n - j->ring_cap;
		n = j->ring_cap;
	}
	size_t first = j->ring_cap - j->ring_head;
	if (first > n)
		first = n;
	memcpy(j->ring + j->ring_head, p, first);
	memcpy(j->ring, p + first, n - first);
	j->ring_head = (j->ring_head + n) % j->ring_cap;
}

/* The ring in order, from a line start when it wrapped, as valid UTF-8. */
static char *ring_text(const struct job *j)
{
	size_t n = j->total < j->ring_cap ? (size_t)j->total : j->ring_cap;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	size_t start = j->total < j->ring_cap ? 0 : j->ring_head;
	size_t first = j->ring_cap - start < n ? j->ring_cap - start : n;
	memcpy(s, j->ring + start, first);
	memcpy(s + first, j->ring, n - first);
	s[n] = '\0';
	if (j->total > j->ring_cap) {
		char *nl = memchr(s, '\n', n / 2);
		if (nl) {
			n -= (size_t)(nl + 1 - s);
			memmove(s, nl + 1, n + 1);
		}
	}
	utf8_sanitize(s, n);
	return s;
}

static void log_line(struct job *j, const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	if (n == 0)
		return;
	if (!j->log_all && j->logged + n > JOB_LOG_MAX) {
		if (j->unlogged == 0)
			log_warn(&j->ctx, "%s: output exceeds %d MiB; further lines are kept "
			         "in the tail only", j->argv0, JOB_LOG_MAX >> 20);
		j->unlogged += n;
		return;
	}
	j->logged += n;
	log_info(&j->ctx, "%.*s", (int)n, p);
}

/* Emit a full line buffer, cut before a UTF-8 sequence it would split. */
static void emit_full(struct job_stream *s)
{
	size_t cut = s->len;
	for (size_t back = 0; back < 3 && cut > 1; back++) {
		unsigned char c = (unsigned char)s->line[cut - 1 - back];
		if ((c & 0xC0) == 0xC0) {         /* lead byte: is its sequence complete? */
			size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
			if (back + 1 < need)
				cut -= back + 1;
			break;
		}
		if ((c & 0xC0) != 0x80)
			break;
	}
	log_line(s->job, s->line, cut);
	memmove(s->line, s->line + cut, s->len - cut);
	s->len -= cut;
}

static void feed(struct job_stream *s, const char *p, size_t n)
{
	ring_put(s->job, p, n);
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		size_t room = JOB_LINE_MAX - s->len;
		if (take > room)
			take = room;
		memcpy(s->line + s->len, p, take);
		s->len += take;
		p += take;
		n -= take;
		if (s->line[s->len - 1] == '\n') {
			log_line(s->job, s->line, s->len);
			s->len = 0;
		} else if (s->len == JOB_LINE_MAX) {
			emit_full(s);
		}
	}
}

static void stream_end(struct job_stream *s)
{
	if (!s->open)
		return;
	s->open = false;
	uv_read_stop((uv_stream_t *)&s->pipe);
	log_line(s->job, s->line, s->len);
	s->len = 0;
}

/* ---- the end --------------------------------------------------------------- */

/* How the process ended, in words, or "" for a plain success. */
static void death_words(const struct job *j, char *buf, size_t size)
{
	const char *abbrev;

	if (j->spawn_err == UV_ENOENT && strchr(j->argv0, '/'))
		snprintf(buf, size, "command not found: %s", j->argv0);
	else if (j->spawn_err == UV_ENOENT)
		snprintf(buf, size, "command not found: %s (not in PATH=%.200s)", j->argv0,
		         j->path ? j->path : "");
	else if (j->spawn_err == UV_EACCES || j->spawn_err == UV_EPERM)
		snprintf(buf, size, "cannot execute %s: permission denied", j->argv0);
	else if (j->spawn_err)
		snprintf(buf, size, "cannot start %s: %s", j->argv0, uv_strerror(j->spawn_err));
	else if (j->term_signal && (abbrev = sigabbrev_np(j->term_signal)))
		snprintf(buf, size, "killed by signal %d (SIG%s)", j->term_signal, abbrev);
	else if (j->term_signal)
		snprintf(buf, size, "killed by signal %d", j->term_signal);
	else if (j->exit_status == 127)
		snprintf(buf, size, "command not found: %s (exit code 127)", j->argv0);
	else if (j->exit_status == 126)
		snprintf(buf, size, "cannot execute: %s (exit code 126)", j->argv0);
	else if (j->exit_status != 0 || j->timed_out || j->cancelled)
		snprintf(buf, size, "exit code %lld", (long long)j->exit_status);
	else
		buf[0] = '\0';
}

static void job_free(struct job *j)
{
	free(j->ring);
	free(j->argv0);
	free(j->path);
	free(j->dataset);
	free(j->exec_date);
	free(j->task);
	free(j);
}

static void on_closed(struct job *j)
{
	if (--j->open_handles == 0)
		job_free(j);
}

static void on_closed_proc(uv_handle_t *h)
{
	on_closed(container_of((uv_process_t *)h, struct job, proc));
}

static void on_closed_stream(uv_handle_t *h)
{
	on_closed(container_of((uv_pipe_t *)h, struct job_stream, pipe)->job);
}

static void on_closed_timeout(uv_handle_t *h)
{
	on_closed(container_of((uv_timer_t *)h, struct job, timeout));
}

static void on_closed_grace(uv_handle_t *h)
{
	on_closed(container_of((uv_timer_t *)h, struct job, grace));
}

static void close_all(struct job *j)
{
	j->open_handles = 5;
	uv_close((uv_handle_t *)&j->proc, on_closed_proc);
	uv_close((uv_handle_t *)&j->out.pipe, on_closed_stream);
	uv_close((uv_handle_t *)&j->err.pipe, on_closed_stream);
	uv_close((uv_handle_t *)&j->timeout, on_closed_timeout);
	uv_close((uv_handle_t *)&j->grace, on_closed_grace);
}

/* Report once everything is over, then close the handles. */
static void maybe_finish(struct job *j)
{
	if (j->finished)
		return;
	if (!j->spawn_err && !(j->reaped && !j->out.open && !j->err.open))
		return;
	j->finished = true;
	uv_timer_stop(&j->timeout);
	uv_timer_stop(&j->grace);

	struct job_result r = {
		.exit_code = j->term_signal ? -1 : (int)j->exit_status,
		.term_signal = j->term_signal,
		.timed_out = j->timed_out,
		.cancelled = j->cancelled,
	};
	if (j->spawn_err)
		r.exit_code = j->spawn_err == UV_ENOENT ? 127 :
		              j->spawn_err == UV_EACCES || j->spawn_err == UV_EPERM ? 126 : -1;

	char how[512];
	death_words(j, how, sizeof how);
	int rc = 0;
	if (j->timed_out)
		rc = asprintf(&r.error, "timed out after %s: %s",
		              fmt_duration(FMT_DURATION_BUF, j->timeout_ms), how);
	else if (j->cancelled)
		rc = asprintf(&r.error, "cancelled: %s", how);
	else if (how[0])
		r.error = strdup(how);
	if (rc < 0)
		r.error = NULL;
	if (j->forced_close)
		log_warn(&j->ctx, "%s: a leftover process kept its output open after it "
		         "exited; its process group was killed", j->argv0);
	if (j->unlogged)
		log_warn(&j->ctx, "%s: %llu bytes of output were not logged", j->argv0,
		         (unsigned long long)j->unlogged);
	/* Out of memory here still reports the end; only words are lost. */
	char *tail = ring_text(j);
	r.tail = tail ? tail : (char *)"";

	j->done(j, &r, j->arg);

	free(r.error);
	free(tail);
	close_all(j);
}

/* ---- signals and timers ---------------------------------------------------- */

static void signal_group(struct job *j, int sig)
{
	if (j->pid > 0)
		kill(-j->pid, sig);       /* ESRCH: the group is already gone */
}

static void on_grace(uv_timer_t *t)
{
	struct job *j = container_of(t, struct job, grace);

	signal_group(j, SIGKILL);
	if (j->reaped) {
		j->forced_close = j->out.open || j->err.open;
		stream_end(&j->out);
		stream_end(&j->err);
		maybe_finish(j);
	}
	/* else the exit callback follows (SIGKILL) and drains once more */
}

/* SIGTERM to the group now, SIGKILL after the grace. */
static void begin_kill(struct job *j)
{
	if (j->term_sent)
		return;
	j->term_sent = true;
	signal_group(j, SIGTERM);
	uv_timer_start(&j->grace, on_grace, j->grace_ms, 0);
}

static void on_timeout(uv_timer_t *t)
{
	struct job *j = container_of(t, struct job, timeout);
	j->timed_out = true;
	begin_kill(j);
}

static void on_spawn_failed(uv_timer_t *t)
{
	maybe_finish(container_of(t, struct job, timeout));
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
	struct job *j = container_of(p, struct job, proc);

	j->reaped = true;
	j->exit_status = status;
	j->term_signal = sig;
	uv_timer_stop(&j->timeout);
	if (j->out.open || j->err.open) {
		/* Someone it started still holds the pipes: ask the group to
		 * end, and stop waiting after the grace. */
		if (!j->term_sent) {
			j->term_sent = true;
			signal_group(j, SIGTERM);
		}
		if (!uv_is_active((uv_handle_t *)&j->grace))
			uv_timer_start(&j->grace, on_grace, j->grace_ms, 0);
	}
	maybe_finish(j);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct job_stream *s = container_of((uv_pipe_t *)h, struct job_stream, pipe);
	*buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct job_stream *s = container_of((uv_pipe_t *)st, struct job_stream, pipe);

	if (n > 0) {
		feed(s, buf->base, (size_t)n);
	} else if (n < 0) {            /* UV_EOF, or a read error: the same end */
		stream_end(s);
		maybe_finish(s->job);
	}
}

/* ---- start --------------------------------------------------------------------- */

static bool same_name(const char *a, const char *b)
{
	const char *ea = strchr(a, '='), *eb = strchr(b, '=');
	size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
	return la == lb && memcmp(a, b, la) == 0;
}

static bool overridden(const char *entry, char *const *env, size_t from)
{
	for (size_t i = from; env && env[i]; i++)
		if (same_name(entry, env[i]))
			return true;
	return false;
}

/* The daemon's environment without private_env, with SPEC_ENV on top (a
 * later entry wins).  The strings are borrowed: *out is one array. */
static int build_env(char *const *spec_env, char ***out)
{
	size_t ne = 0, ns = 0, n = 0;

	while (environ && environ[ne])
		ne++;
	while (spec_env && spec_env[ns]) {
		const char *eq = strchr(spec_env[ns], '=');
		if (!eq || eq == spec_env[ns])
			return -EINVAL;
		ns++;
	}
	if (ne + ns > JOB_ENV_MAX)
		return -E2BIG;
	char **env = calloc(ne + ns + 1, sizeof *env);
	if (!env)
		return -ENOMEM;
	for (size_t i = 0; i < ne; i++) {
		bool skip = overridden(environ[i], spec_env, 0);
		for (size_t k = 0; !skip && k < ARRAY_SIZE(private_env); k++)
			skip = same_name(environ[i], private_env[k]);
		skip = skip || strncmp(environ[i], JOB_ENV_DROP_PREFIX,
		                       strlen(JOB_ENV_DROP_PREFIX)) == 0;
		if (!skip)
			env[n++] = environ[i];
	}
	for (size_t i = 0; i < ns; i++)
		if (!overridden(spec_env[i], spec_env, i + 1))
			env[n++] = spec_env[i];
	*out = env;
	return 0;
}

static const char *env_get(char *const *env, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*failed = true;
	return d;
}

int job_start(uv_loop_t *loop, const struct job_spec *spec, job_done_cb done,
              void *arg, struct job **out)
{
	struct job *j = NULL;
	char **env = NULL;
	bool nomem = false;
	int rc;

	if (out)
		*out = NULL;
	if (!spec->argv || !spec->argv[0] || !spec->argv[0][0] || !done)
		return -EINVAL;
	if ((rc = build_env(spec->env, &env)) < 0)
		return rc;
	if (!(j = calloc(1, sizeof *j))) {
		rc = -ENOMEM;
		goto out;
	}
	j->loop = loop;
	j->done = done;
	j->arg = arg;
	j->timeout_ms = spec->timeout_ms;
	j->grace_ms = spec->kill_grace_ms;
	j->log_all = spec->log_all;
	j->ring_cap = spec->tail_cap < JOB_TAIL_MAX ? spec->tail_cap : JOB_TAIL_MAX;
	j->argv0 = dup_or_null(spec->argv[0], &nomem);
	j->path = dup_or_null(env_get(env, "PATH"), &nomem);
	j->dataset = dup_or_null(spec->ctx.dataset, &nomem);
	j->exec_date = dup_or_null(spec->ctx.exec_date, &nomem);
	j->task = dup_or_null(spec->ctx.task, &nomem);
	j->ring = malloc(j->ring_cap ? j->ring_cap : 1);
	if (nomem || !j->ring) {
		rc = -ENOMEM;
		goto out;
	}
	j->ctx = (struct log_ctx){ j->dataset, spec->ctx.run_id, j->exec_date, j->task };
	j->out.job = j->err.job = j;

	/* From here on every handle is initialised, so every path ends in
	 * close_all() and the job frees itself. */
	uv_pipe_init(loop, &j->out.pipe, 0);
	uv_pipe_init(loop, &j->err.pipe, 0);
	uv_timer_init(loop, &j->timeout);
	uv_timer_init(loop, &j->grace);

	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out.pipe },
		{ .flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err.pipe },
	};
	uv_process_options_t opt = {
		.exit_cb = on_child_exit,
		.file = spec->argv[0],
		.args = (char **)spec->argv,
		.env = env,
		.cwd = spec->cwd,
		.flags = UV_PROCESS_DETACHED,
		.stdio_count = 3,
		.stdio = stdio,
	};
	rc = uv_spawn(loop, &j->proc, &opt);
	if (rc < 0) {
		/* Not found, not executable ...: reported through DONE like any
		 * other end, from the loop. */
		j->spawn_err = rc;
		uv_timer_start(&j->timeout, on_spawn_failed, 0, 0);
		rc = 0;
	} else {
		j->pid = j->proc.pid;
		j->out.open = j->err.open = true;
		uv_read_start((uv_stream_t *)&j->out.pipe, on_alloc, on_read);
		uv_read_start((uv_stream_t *)&j->err.pipe, on_alloc, on_read);
		if (j->timeout_ms)
			uv_timer_start(&j->timeout, on_timeout, j->timeout_ms, 0);
	}
	if (out)
		*out = j;
	j = NULL;
out:
	if (j)
		job_free(j);
	free(env);
	return rc;
}

void job_cancel(struct job *j)
{
	if (!j || j->finished || j->spawn_err || j->reaped)
		return;
	j->cancelled = true;
	begin_kill(j);
}

int job_pid(const struct job *j)
{
	return j->pid;
}
