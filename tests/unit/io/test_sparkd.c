/* test_sparkd.c - the Spark Connect supervisor with real child processes
 * and real TCP on a real uv loop.  The "server" is a small Python program
 * that listens on its port after a delay (the supervisor only cares about
 * the process group and the port; the real Connect server is in
 * tests/integration/test_spark_connect.py): readiness, a killed server
 * restarted on the backoff, a port someone else holds, a server that never
 * listens, stop and free, an external endpoint going up and down. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "io/procgroup.h"
#include "io/sparkd.h"

/* Sleeps DELAY seconds, then listens on PORT until killed. */
static const char server_py[] =
	"import socket, sys, time\n"
	"time.sleep(float(sys.argv[2]))\n"
	"s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	"s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(16)\n"
	"print('listening', flush=True)\n"
	"while True: time.sleep(1)\n";

struct seen {
	int states[32];
	size_t n_states;
	int spawned, exited;
	int last_pid;
};

static void on_event(struct sparkd *sd, enum sparkd_event ev, void *arg)
{
	struct seen *s = arg;
	struct sparkd_status st;

	sparkd_status(sd, &st);
	if (ev == SPARKD_EV_STATE && s->n_states < 32)
		s->states[s->n_states++] = st.state;
	if (ev == SPARKD_EV_SPAWNED) {
		s->spawned++;
		s->last_pid = st.pid;
	}
	if (ev == SPARKD_EV_EXITED)
		s->exited++;
}

/* A port nothing listens on (bound, then closed). */
static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A listening socket on PORT (0: any); its port in *PORT. */
static int listen_on(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                         .sin_port = htons((uint16_t)*port) };
	socklen_t len = sizeof a;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Run LOOP until SD's state is WANT, at most MS; true when it got there. */
static bool run_until(uv_loop_t *loop, struct sparkd *sd, enum sparkd_state want, int64_t ms)
{
	uv_timer_t tick;
	int64_t end = clock_mono_ms() + ms;
	struct sparkd_status st;
	bool ok = false;

	uv_timer_init(loop, &tick);
	while (clock_mono_ms() < end) {
		sparkd_status(sd, &st);
		if ((ok = st.state == want))
			break;
		uv_timer_start(&tick, on_tick, 20, 0);
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

static void run_for(uv_loop_t *loop, int64_t ms)
{
	uv_timer_t tick;
	int64_t end = clock_mono_ms() + ms;

	uv_timer_init(loop, &tick);
	while (clock_mono_ms() < end) {
		uv_timer_start(&tick, on_tick, 20, 0);
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void print_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	fprintf(stderr, "open handle: %s%s\n", uv_handle_type_name(h->type),
	        uv_is_closing(h) ? " (closing)" : "");
}

/* Free SD; every handle it had must close soon after (the job's when its
 * SIGKILLed child is reaped). */
static void finish(uv_loop_t *loop, struct sparkd *sd)
{
	sparkd_free(sd);
	for (int i = 0; i < 100 && uv_loop_alive(loop); i++)
		run_for(loop, 20);
	uv_walk(loop, print_handle, NULL);
	assert_int_equal(uv_loop_close(loop), 0);
}

struct managed {
	uv_loop_t loop;
	char port_s[8], delay_s[16];
	char *argv[6];
	struct sparkd_spec spec;
	struct seen seen;
	struct sparkd *sd;
};

static void managed_start(struct managed *m, unsigned port, const char *delay,
                          uint64_t ready_timeout_ms)
{
	static char *const env[] = { "DENVERD_SPARK=/test", NULL };

	memset(m, 0, sizeof *m);
	assert_int_equal(uv_loop_init(&m->loop), 0);
	snprintf(m->port_s, sizeof m->port_s, "%u", port);
	snprintf(m->delay_s, sizeof m->delay_s, "%s", delay);
	m->argv[0] = "python3";
	m->argv[1] = "-c";
	m->argv[2] = (char *)server_py;
	m->argv[3] = m->port_s;
	m->argv[4] = m->delay_s;
	m->spec = (struct sparkd_spec){
		.managed = true, .argv = m->argv, .env = env, .host = "127.0.0.1", .port = port,
		.ready_timeout_ms = ready_timeout_ms, .kill_grace_ms = 2000,
		.restart = { .delay_ms = 200, .max_delay_ms = 400 },
	};
	assert_int_equal(sparkd_start(&m->loop, &m->spec, on_event, &m->seen, &m->sd), 0);
}

/* Ready once the port listens; kill -9 -> restarted on the backoff and
 * counted; stop -> down, the group gone. */
static void test_managed_ready_restart_stop(void **state)
{
	struct managed m;
	struct sparkd_status st;
	int pid1, pid2;

	managed_start(&m, free_port(), "0.3", 20000);
	assert_true(run_until(&m.loop, m.sd, SPARKD_READY, 20000));
	sparkd_status(m.sd, &st);
	pid1 = st.pid;
	assert_true(pid1 > 0);
	assert_int_equal(getpgid(pid1), pid1);
	assert_int_equal(m.seen.spawned, 1);
	assert_int_equal(st.restarts, 0);
	assert_true(st.ready_ms > 0 && st.started_ms > 0);
	assert_null(st.last_error);
	assert_true(procgroup_has_env(pid1, "DENVERD_SPARK=/test"));

	assert_int_equal(kill(pid1, SIGKILL), 0);
	assert_true(run_until(&m.loop, m.sd, SPARKD_RESTARTING, 5000));
	sparkd_status(m.sd, &st);
	assert_int_equal(m.seen.exited, 1);
	assert_non_null(st.last_error);
	assert_non_null(strstr(st.last_error, "SIGKILL"));
	assert_true(run_until(&m.loop, m.sd, SPARKD_READY, 20000));
	sparkd_status(m.sd, &st);
	pid2 = st.pid;
	assert_true(pid2 > 0 && pid2 != pid1);
	assert_int_equal(st.restarts, 1);
	assert_int_equal(m.seen.spawned, 2);

	sparkd_stop(m.sd);
	sparkd_status(m.sd, &st);
	assert_int_equal(st.state, SPARKD_DOWN);
	for (int i = 0; i < 200 && sparkd_running(m.sd); i++)
		run_for(&m.loop, 20);
	assert_false(sparkd_running(m.sd));
	assert_int_equal(m.seen.exited, 2);
	assert_int_equal(procgroup_wait_gone(pid2, 1000), 0);
	sparkd_status(m.sd, &st);
	assert_int_equal(st.state, SPARKD_DOWN);   /* no restart after a stop */
	finish(&m.loop, m.sd);
}

/* Someone else listens on the port: nothing is spawned. */
static void test_managed_port_in_use(void **state)
{
	unsigned port = 0;
	int fd = listen_on(&port);
	struct managed m;
	struct sparkd_status st;

	managed_start(&m, port, "0", 20000);
	assert_true(run_until(&m.loop, m.sd, SPARKD_RESTARTING, 5000));
	sparkd_status(m.sd, &st);
	assert_non_null(strstr(st.last_error, "already accepts connections"));
	assert_int_equal(m.seen.spawned, 0);
	assert_int_equal(st.pid, 0);
	close(fd);
	/* Once the port is free, the next attempt starts the server. */
	assert_true(run_until(&m.loop, m.sd, SPARKD_READY, 20000));
	assert_int_equal(m.seen.spawned, 1);
	finish(&m.loop, m.sd);
}

/* A server that never listens is killed after ready_timeout and tried
 * again. */
static void test_managed_ready_timeout(void **state)
{
	struct managed m;
	struct sparkd_status st;
	int pid;

	managed_start(&m, free_port(), "100", 600);
	for (int i = 0; i < 500 && m.seen.spawned == 0; i++)
		run_for(&m.loop, 20);
	pid = m.seen.last_pid;
	assert_true(pid > 0);
	assert_true(run_until(&m.loop, m.sd, SPARKD_RESTARTING, 10000));
	sparkd_status(m.sd, &st);
	assert_non_null(strstr(st.last_error, "not listening on port"));
	assert_int_equal(procgroup_wait_gone(pid, 3000), 0);
	/* sparkd_free while the next server may run kills its group. */
	for (int i = 0; i < 500 && m.seen.spawned < 2; i++)
		run_for(&m.loop, 20);
	pid = m.seen.last_pid;
	finish(&m.loop, m.sd);
	assert_int_equal(procgroup_wait_gone(pid, 3000), 0);
}

/* External: unreachable while nothing listens, ready when something does. */
static void test_external_up_and_down(void **state)
{
	uv_loop_t loop;
	struct seen seen = { 0 };
	struct sparkd *sd;
	struct sparkd_status st;
	unsigned port = free_port();
	struct sparkd_spec spec = {
		.managed = false, .host = "localhost", .port = port, .check_interval_ms = 100,
	};
	int fd;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sparkd_start(&loop, &spec, on_event, &seen, &sd), 0);
	assert_true(run_until(&loop, sd, SPARKD_UNREACHABLE, 5000));
	sparkd_status(sd, &st);
	assert_non_null(strstr(st.last_error, "connect to localhost:"));
	assert_int_equal(st.pid, 0);
	fd = listen_on(&port);
	assert_true(run_until(&loop, sd, SPARKD_READY, 5000));
	sparkd_status(sd, &st);
	assert_null(st.last_error);
	assert_true(st.ready_ms > 0);
	close(fd);
	assert_true(run_until(&loop, sd, SPARKD_UNREACHABLE, 5000));
	assert_int_equal(seen.spawned, 0);
	sparkd_stop(sd);
	finish(&loop, sd);
}

static void test_bad_specs(void **state)
{
	uv_loop_t loop;
	struct sparkd *sd = (struct sparkd *)1;
	struct sparkd_spec spec = { .managed = true, .host = "127.0.0.1", .port = 1 };

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(sparkd_start(&loop, &spec, on_event, NULL, &sd), -EINVAL);
	assert_null(sd);
	spec.managed = false;
	spec.port = 0;
	assert_int_equal(sparkd_start(&loop, &spec, on_event, NULL, &sd), -EINVAL);
	assert_string_equal(sparkd_state_name(SPARKD_UNREACHABLE), "unreachable");
	assert_string_equal(sparkd_state_name((enum sparkd_state)99), "?");
	sparkd_free(NULL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_managed_ready_restart_stop),
		cmocka_unit_test(test_managed_port_in_use),
		cmocka_unit_test(test_managed_ready_timeout),
		cmocka_unit_test(test_external_up_and_down),
		cmocka_unit_test(test_bad_specs),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
