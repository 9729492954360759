/* test_job.c - real child processes on a real uv loop: output, exit codes,
 * missing commands, timeouts, SIGTERM-proof jobs, floods, cancel; and the
 * placeholder and environment helpers. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/denverd.h"
#include "io/job.h"
#include "base/log.h"

/* What one job reported, copied out of the callback. */
struct outcome {
	int calls;
	struct job_result r;
	int64_t ms;                  /* start to DONE */
	int64_t t0;
};

static void on_done(struct job *j, const struct job_result *r, void *arg)
{
	struct outcome *o = arg;
	o->calls++;
	o->ms = clock_mono_ms() - o->t0;
	o->r = *r;
	o->r.error = r->error ? strdup(r->error) : NULL;
	o->r.tail = strdup(r->tail);
	assert_non_null(o->r.tail);
}

static void outcome_free(struct outcome *o)
{
	free(o->r.error);
	free(o->r.tail);
}

struct canceller {
	uv_timer_t timer;
	struct job *job;
};

static void on_cancel_timer(uv_timer_t *t)
{
	job_cancel(container_of(t, struct canceller, timer)->job);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

struct run_opts {
	char *const *env;
	uint64_t timeout_ms, grace_ms, cancel_after_ms;
	size_t tail_cap;
};

/* Run ARGV to its end on a fresh loop; DONE must come exactly once and the
 * job must leave no handle and no file descriptor behind. */
static void run(char *const *argv, const struct run_opts *o, struct outcome *out)
{
	uv_loop_t loop;
	struct job *j = NULL;
	struct canceller c;
	struct job_spec spec = {
		.argv = argv,
		.env = o->env,
		.timeout_ms = o->timeout_ms,
		.kill_grace_ms = o->grace_ms,
		.tail_cap = o->tail_cap ? o->tail_cap : 64 * 1024,
		.ctx = { "traffic_accidents", 7, "2026-11-24", "report" },
	};

	memset(out, 0, sizeof *out);
	int fds = count_fds();
	assert_int_equal(uv_loop_init(&loop), 0);
	out->t0 = clock_mono_ms();
	assert_int_equal(job_start(&loop, &spec, on_done, out, &j), 0);
	assert_non_null(j);
	assert_int_equal(out->calls, 0);          /* never from inside job_start */
	if (o->cancel_after_ms) {
		c.job = j;
		uv_timer_init(&loop, &c.timer);
		uv_timer_start(&c.timer, on_cancel_timer, o->cancel_after_ms, 0);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (o->cancel_after_ms) {
		uv_close((uv_handle_t *)&c.timer, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	assert_int_equal(out->calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(count_fds(), fds);
}

/* ---- stderr capture, for the journal lines (DENVERD_LOG=stderr) ------------- */

static int saved_stderr = -1;
static char capture_path[64];

static void capture_begin(void)
{
	fflush(stderr);
	snprintf(capture_path, sizeof capture_path, "/tmp/test_job.XXXXXX");
	int fd = mkstemp(capture_path);
	assert_true(fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

static char *capture_end(void)
{
	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	FILE *f = fopen(capture_path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(capture_path);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* A process is gone once kill() cannot find it or it is a zombie waiting
 * for init to reap it. */
static bool gone(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		char path[64], stat[256] = "";
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(stat, 1, sizeof stat - 1, f);
			stat[n] = '\0';
			fclose(f);
			char *rp = strrchr(stat, ')');
			if (rp && rp[1] == ' ' && rp[2] == 'Z')
				return true;
		}
		usleep(10000);
	}
	return false;
}

/* ---- jobs ------------------------------------------------------------------------ */

static void test_success_output_and_env(void **state)
{
	static const struct job_vars v = {
		.dataset = "traffic_accidents", .exec_date = "2026-11-24", .run_id = "7",
		.state_dir = "/var/lib/denverd", .job = "report",
	};
	char *const extra[] = { "EXTRA=1", NULL };
	char **env;
	struct outcome o;
	char *const argv[] = {
		"sh", "-c",
		"echo hello; echo \"exec=$DENVERD_EXEC_DATE run=$DENVERD_RUN_ID extra=$EXTRA "
		"notify=${NOTIFY_SOCKET-unset}\"; echo oops >&2; printf '%05000d' 0; "
		"printf '\\r\\n\\n\\nno newline'",
		NULL,
	};

	assert_int_equal(job_env(&v, extra, &env), 0);
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	capture_begin();
	run(argv, &(struct run_opts){ .env = env }, &o);
	char *log = capture_end();
	unsetenv("NOTIFY_SOCKET");
	job_strv_free(env);

	assert_int_equal(o.r.exit_code, 0);
	assert_int_equal(o.r.term_signal, 0);
	assert_null(o.r.error);
	assert_false(o.r.timed_out);
	assert_false(o.r.cancelled);
	/* stdout in order; stderr somewhere in between */
	assert_non_null(strstr(o.r.tail, "hello\n"));
	assert_non_null(strstr(o.r.tail, "exec=2026-11-24 run=7 extra=1 notify=unset\n"));
	assert_non_null(strstr(o.r.tail, "oops\n"));
	assert_true(strlen(o.r.tail) > 5000);
	assert_non_null(strstr(o.r.tail, "\r\n\n\nno newline"));

	/* one journal line per output line, with the run's fields */
	const char *pre = "denverd: info: [traffic_accidents 2026-11-24 run=7 report] ";
	char want[5100];
	snprintf(want, sizeof want, "%shello\n", pre);
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof want, "%soops\n", pre);
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof want, "%sno newline\n", pre);
	assert_non_null(strstr(log, want));
	/* 5000 digits: split into 4000 + 1000, the CR dropped, empty lines skipped */
	snprintf(want, sizeof want, "%s%0*d\n", pre, JOB_LINE_MAX, 0);
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof want, "%s%0*d\n", pre, 5000 - JOB_LINE_MAX, 0);
	assert_non_null(strstr(log, want));
	assert_null(strchr(log, '\r'));
	assert_int_equal(count(log, "] \n"), 0);
	free(log);
	outcome_free(&o);
}

static void test_exit_code(void **state)
{
	struct outcome o;
	char *const argv[] = { "sh", "-c", "echo failing >&2; exit 3", NULL };
	run(argv, &(struct run_opts){ 0 }, &o);
	assert_int_equal(o.r.exit_code, 3);
	assert_int_equal(o.r.term_signal, 0);
	assert_string_equal(o.r.error, "exit code 3");
	assert_string_equal(o.r.tail, "failing\n");
	outcome_free(&o);
}

static void test_missing_commands(void **state)
{
	char *const path_env[] = { "PATH=/usr/bin:/bin", NULL };
	char noexec[] = "/tmp/test_job_noexec.XXXXXX";
	int fd = mkstemp(noexec);
	assert_true(fd >= 0);
	close(fd);
	const struct {
		char *const argv[4];
		int exit_code;
		const char *error;
	} cases[] = {
		{ { "denverd-no-such-command", "--x", NULL }, 127,
		  "command not found: denverd-no-such-command (not in PATH=/usr/bin:/bin)" },
		{ { "/nonexistent/spark-submit", NULL }, 127,
		  "command not found: /nonexistent/spark-submit" },
		{ { "sh", "-c", "exit 127", NULL }, 127, "command not found: sh (exit code 127)" },
		{ { "sh", "-c", "exit 126", NULL }, 126, "cannot execute: sh (exit code 126)" },
		{ { noexec, NULL }, 126, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct outcome o;
		print_message("%s\n", cases[i].argv[0]);
		run(cases[i].argv, &(struct run_opts){ .env = path_env }, &o);
		assert_int_equal(o.r.exit_code, cases[i].exit_code);
		assert_int_equal(o.r.term_signal, 0);
		if (cases[i].error) {
			assert_string_equal(o.r.error, cases[i].error);
		} else {
			char want[128];
			snprintf(want, sizeof want, "cannot execute %s: permission denied", noexec);
			assert_string_equal(o.r.error, want);
		}
		assert_string_equal(o.r.tail, "");
		outcome_free(&o);
	}
	unlink(noexec);
}

static pid_t first_line_pid(const char *tail)
{
	long pid = strtol(tail, NULL, 10);
	assert_true(pid > 1);
	return (pid_t)pid;
}

static void test_timeout_kills_the_group(void **state)
{
	struct outcome o;
	char *const argv[] = { "sh", "-c", "sleep 30 & echo $!; wait", NULL };
	run(argv, &(struct run_opts){ .timeout_ms = 300, .grace_ms = 5000 }, &o);
	assert_true(o.r.timed_out);
	assert_false(o.r.cancelled);
	assert_int_equal(o.r.exit_code, -1);
	assert_int_equal(o.r.term_signal, SIGTERM);
	assert_string_equal(o.r.error, "timed out after 300ms: killed by signal 15 (SIGTERM)");
	assert_true(o.ms >= 300 && o.ms < 4000);      /* SIGTERM was enough */
	assert_true(gone(first_line_pid(o.r.tail)));   /* the grandchild too */
	outcome_free(&o);
}

static void test_sigterm_ignored(void **state)
{
	struct outcome o;
	char *const argv[] = { "sh", "-c", "trap '' TERM; sleep 30 & echo $!; wait; wait", NULL };
	run(argv, &(struct run_opts){ .timeout_ms = 500, .grace_ms = 300 }, &o);
	assert_true(o.r.timed_out);
	assert_int_equal(o.r.term_signal, SIGKILL);
	assert_string_equal(o.r.error, "timed out after 500ms: killed by signal 9 (SIGKILL)");
	assert_true(o.ms >= 800 && o.ms < 5000);
	assert_true(gone(first_line_pid(o.r.tail)));
	outcome_free(&o);
}

/* The timeout reads in the one duration style of common/fmt.h, as the
 * configuration wrote it ("1s250ms", not "1250ms"; a day reads "1d"). */
static void test_timeout_words_use_the_duration_style(void **state)
{
	struct outcome o;
	char *const argv[] = { "sleep", "30", NULL };
	run(argv, &(struct run_opts){ .timeout_ms = 1250, .grace_ms = 5000 }, &o);
	assert_true(o.r.timed_out);
	assert_string_equal(o.r.error, "timed out after 1s250ms: killed by signal 15 (SIGTERM)");
	outcome_free(&o);
}

static void test_cancel(void **state)
{
	struct outcome o;
	char *const argv[] = { "sleep", "30", NULL };
	run(argv, &(struct run_opts){ .grace_ms = 5000, .cancel_after_ms = 100 }, &o);
	assert_true(o.r.cancelled);
	assert_false(o.r.timed_out);
	assert_int_equal(o.r.term_signal, SIGTERM);
	assert_string_equal(o.r.error, "cancelled: killed by signal 15 (SIGTERM)");
	assert_true(o.ms < 4000);
	outcome_free(&o);
}

/* A process outside the job's group keeps the pipes open after the job
 * exited: DONE still comes, after the grace. */
static void test_leftover_holding_output(void **state)
{
	struct outcome o;
	/* wait until the stray really is in its own session (stat field 6) */
	char *const argv[] = {
		"sh", "-c", "setsid sleep 30 & p=$!; "
		"until [ \"$(cut -d' ' -f6 /proc/$p/stat)\" = $p ]; do :; done; echo $p", NULL,
	};
	capture_begin();
	run(argv, &(struct run_opts){ .grace_ms = 300 }, &o);
	char *log = capture_end();
	pid_t stray = first_line_pid(o.r.tail);
	kill(stray, SIGKILL);
	assert_int_equal(o.r.exit_code, 0);
	assert_null(o.r.error);
	assert_true(o.ms >= 300 && o.ms < 4000);
	assert_int_equal(count(log, "a leftover process kept its output open"), 1);
	free(log);
	outcome_free(&o);
}

static long max_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* 20 MB of output: the tail stays at its cap, logging stops at JOB_LOG_MAX
 * with one warning, and our memory does not grow with the output. */
static void test_flood(void **state)
{
	struct outcome o;
	char *const argv[] = {
		"sh", "-c", "yes 0123456789abcdef | head -c 20000000; echo; echo END", NULL,
	};
	long rss0 = max_rss_kib();

	log_set_level(LOG_NOTICE);           /* the lines themselves are info */
	capture_begin();
	run(argv, &(struct run_opts){ .tail_cap = 4096, .timeout_ms = 60000 }, &o);
	char *log = capture_end();
	log_set_level(LOG_INFO);

	assert_int_equal(o.r.exit_code, 0);
	assert_null(o.r.error);
	size_t tl = strlen(o.r.tail);
	assert_true(tl <= 4096 && tl > 4096 - 20);
	assert_string_equal(o.r.tail + tl - 4, "END\n");
	assert_memory_equal(o.r.tail, "0123456789abcdef\n", 17);     /* from a line start */
	assert_int_equal(count(log, "output exceeds 16 MiB"), 1);
	assert_int_equal(count(log, "bytes of output were not logged"), 1);
	assert_true(max_rss_kib() - rss0 < 8 * 1024);
	free(log);
	outcome_free(&o);
}

static void test_bad_specs(void **state)
{
	uv_loop_t loop;
	struct outcome o = { 0 };
	struct job *j = (struct job *)1;
	char *const argv[] = { "true", NULL };
	char *const empty[] = { "", NULL };
	char *const bad_env[] = { "NO_EQUALS_SIGN", NULL };
	char *const bad_env2[] = { "=value", NULL };

	assert_int_equal(uv_loop_init(&loop), 0);
	struct job_spec spec = { .argv = NULL };
	assert_int_equal(job_start(&loop, &spec, on_done, &o, &j), -EINVAL);
	assert_null(j);
	spec.argv = empty;
	assert_int_equal(job_start(&loop, &spec, on_done, &o, &j), -EINVAL);
	spec.argv = argv;
	spec.env = bad_env;
	assert_int_equal(job_start(&loop, &spec, on_done, &o, &j), -EINVAL);
	spec.env = bad_env2;
	assert_int_equal(job_start(&loop, &spec, on_done, &o, &j), -EINVAL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(o.calls, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- placeholders and environment ---------------------------------------------- */

static const struct job_vars vars = {
	.dataset = "traffic_accidents", .exec_date = "2026-03-08", .state_dir = "/var/lib/denverd",
	.run_id = "12", .job = "report", .input = "/in/traffic_accidents.csv",
	.output = "/out/part", .schema = "/work/run-12/convert.json",
	.datastore = "s3a://b/p/datastore", .spec = "/work/run-12/spec.json", .storage = "null",
	.extra_keys = { "reason", "empty" }, .extra_values = { "stale", NULL },
};

static const struct {
	const char *tmpl;
	int rc;
	const char *want;
} expand_cases[] = {
	{ "{dataset}", 0, "traffic_accidents" },
	{ "{exec_date}", 0, "2026-03-08" },
	{ "{year}/{month}/{day}", 0, "2026/03/08" },
	{ "{state_dir}/reports/exec_date={exec_date}", 0,
	  "/var/lib/denverd/reports/exec_date=2026-03-08" },
	{ "run-{run_id}", 0, "run-12" },
	{ "{job}", 0, "report" },
	{ "--in={input} --out={output}", 0, "--in=/in/traffic_accidents.csv --out=/out/part" },
	{ "{schema}", 0, "/work/run-12/convert.json" },
	{ "{reason}", 0, "stale" },
	{ "[{empty}]", 0, "[]" },
	{ "{{literal}}", 0, "{literal}" },
	{ "no placeholders", 0, "no placeholders" },
	{ "{nope}", -EINVAL, NULL },
	{ "{dataset", -EINVAL, NULL },
	{ "{Dataset}", -EINVAL, NULL },
};

static void test_expand_table(void **state)
{
	for (size_t i = 0; i < sizeof expand_cases / sizeof expand_cases[0]; i++) {
		char *out = (char *)1;
		print_message("%s\n", expand_cases[i].tmpl);
		assert_int_equal(job_expand(expand_cases[i].tmpl, &vars, &out), expand_cases[i].rc);
		if (expand_cases[i].want) {
			assert_string_equal(out, expand_cases[i].want);
			free(out);
		} else {
			assert_null(out);
		}
	}

	/* no exec date, or not a date: {year} {month} {day} are empty */
	struct job_vars none = { .dataset = "d" };
	char *out;
	assert_int_equal(job_expand("{dataset}:{exec_date}:{year}{month}{day}", &none, &out), 0);
	assert_string_equal(out, "d::");
	free(out);
	none.exec_date = "2026-3-8";
	assert_int_equal(job_expand("{year}{month}{day}", &none, &out), 0);
	assert_string_equal(out, "");
	free(out);

	/* every name config validation is told about expands */
	for (size_t i = 0; i < job_placeholders_n; i++) {
		char tmpl[32];
		snprintf(tmpl, sizeof tmpl, "{%s}", job_placeholders[i]);
		assert_int_equal(job_expand(tmpl, &vars, &out), 0);
		assert_true(strlen(out) > 0);
		free(out);
	}
}

static void test_expand_argv(void **state)
{
	char *const tmpl[] = { "spark-submit", "jobs/report.py", "--exec-date", "{exec_date}",
	                       "--out", "{state_dir}/reports/exec_date={exec_date}", NULL };
	char *const bad[] = { "ok", "{nope}", NULL };
	char **argv = (char **)1;

	assert_int_equal(job_expand_argv(tmpl, &vars, &argv), 0);
	assert_string_equal(argv[0], "spark-submit");
	assert_string_equal(argv[3], "2026-03-08");
	assert_string_equal(argv[5], "/var/lib/denverd/reports/exec_date=2026-03-08");
	assert_null(argv[6]);
	job_strv_free(argv);
	assert_int_equal(job_expand_argv(bad, &vars, &argv), -EINVAL);
	assert_null(argv);
	job_strv_free(NULL);
}

/* The daemon's AWS_* are never inherited (its S3 keys may be there); a
 * child sees only the ones its spec gives, and a real child is asked. */
static void test_aws_env_not_inherited(void **state)
{
	char *const given[] = { "AWS_ACCESS_KEY_ID=given-key", NULL };
	char *const argv[] = {
		"sh", "-c", "echo \"id=${AWS_ACCESS_KEY_ID-unset} secret=${AWS_SECRET_ACCESS_KEY-unset} "
		"profile=${AWS_PROFILE-unset} keep=${KEEP_ME-unset}\"", NULL,
	};
	struct outcome o;

	setenv("AWS_ACCESS_KEY_ID", "daemon-key", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "daemon-secret", 1);
	setenv("AWS_PROFILE", "prod", 1);
	setenv("KEEP_ME", "1", 1);
	run(argv, &(struct run_opts){ .env = NULL }, &o);
	assert_non_null(strstr(o.r.tail, "id=unset secret=unset profile=unset keep=1\n"));
	outcome_free(&o);
	run(argv, &(struct run_opts){ .env = given }, &o);
	assert_non_null(strstr(o.r.tail, "id=given-key secret=unset profile=unset keep=1\n"));
	outcome_free(&o);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_PROFILE");
	unsetenv("KEEP_ME");
}

static void test_env(void **state)
{
	char *const extra[] = { "PYSPARK_PYTHON=/usr/bin/python3", NULL };
	const char *want[] = {
		"DENVERD_DATASET=traffic_accidents", "DENVERD_EXEC_DATE=2026-03-08",
		"DENVERD_RUN_ID=12", "DENVERD_STATE_DIR=/var/lib/denverd", "DENVERD_JOB=report",
		"DENVERD_INPUT=/in/traffic_accidents.csv", "DENVERD_OUTPUT=/out/part",
		"DENVERD_DATASTORE=s3a://b/p/datastore", "DENVERD_SPEC=/work/run-12/spec.json",
		"PYSPARK_PYTHON=/usr/bin/python3", NULL,
	};
	char **env;

	assert_int_equal(job_env(&vars, extra, &env), 0);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (!want[i])
			assert_null(env[i]);
		else
			assert_string_equal(env[i], want[i]);
	}
	job_strv_free(env);

	struct job_vars few = { .dataset = "d", .exec_date = "2026-01-02" };
	assert_int_equal(job_env(&few, NULL, &env), 0);
	assert_string_equal(env[0], "DENVERD_DATASET=d");
	assert_string_equal(env[1], "DENVERD_EXEC_DATE=2026-01-02");
	assert_null(env[2]);
	job_strv_free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_output_and_env),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_missing_commands),
		cmocka_unit_test(test_timeout_kills_the_group),
		cmocka_unit_test(test_sigterm_ignored),
		cmocka_unit_test(test_timeout_words_use_the_duration_style),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_leftover_holding_output),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_expand_table),
		cmocka_unit_test(test_expand_argv),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_aws_env_not_inherited),
	};
	/* libuv opens its process-wide signal pipe with the first loop; do
	 * that here so the tests can count descriptors per job. */
	uv_loop_t first;
	uv_loop_init(&first);
	uv_loop_close(&first);
	setenv("DENVERD_LOG", "stderr", 1);
	log_init("denverd");
	log_set_level(LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
