/* test_procgroup.c - recognising our own orphaned process groups (real
 * child processes). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/procgroup.h"

/* A child leading its own group that sleeps until killed; MARKER is put in
 * its environment. */
static pid_t spawn_leader(const char *marker)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		char *const argv[] = { "sleep", "30", NULL };
		char *const envp[] = { (char *)marker, "PATH=/usr/bin:/bin", NULL };
		execve("/bin/sleep", argv, envp);
		_exit(127);
	}
	setpgid(pid, pid);   /* both sides, to win the race */
	return pid;
}

static int reap(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
}

static void wait_exec(pid_t pid, const char *marker)
{
	for (int i = 0; i < 200 && !procgroup_has_env(pid, marker); i++) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	assert_true(procgroup_has_env(pid, marker));
}

static void test_stat_of_self(void **state)
{
	struct procgroup_stat ps;
	assert_int_equal(procgroup_stat(getpid(), &ps), 0);
	assert_int_equal(ps.pgrp, getpgrp());
	assert_true(ps.start_ticks > 0);
	assert_int_equal(procgroup_stat(0x3ffffff, &ps), -ENOENT);
}

static void test_kills_our_group_with_matching_start_time(void **state)
{
	const char *marker = "DENVERD_ATTEMPT=/tmp/x#1";
	pid_t pid = spawn_leader(marker);
	struct procgroup_stat ps;
	wait_exec(pid, marker);
	assert_int_equal(procgroup_stat(pid, &ps), 0);
	assert_int_equal(ps.pgrp, pid);
	assert_int_equal(procgroup_kill_orphan(pid, ps.start_ticks, marker, SIGKILL), 1);
	assert_int_equal(reap(pid), SIGKILL);
}

static void test_spares_a_reused_pid(void **state)
{
	const char *marker = "DENVERD_ATTEMPT=/tmp/x#2";
	pid_t pid = spawn_leader(marker);
	struct procgroup_stat ps;
	wait_exec(pid, marker);
	assert_int_equal(procgroup_stat(pid, &ps), 0);
	/* A different recorded start time means another process has the pid. */
	assert_int_equal(procgroup_kill_orphan(pid, ps.start_ticks - 1, marker, SIGKILL), 0);
	assert_int_equal(procgroup_kill_orphan(pid, ps.start_ticks + 1, NULL, SIGKILL), 0);
	assert_int_equal(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	assert_int_equal(reap(pid), SIGKILL);
	/* Once it is gone there is nothing to kill. */
	assert_int_equal(procgroup_kill_orphan(pid, ps.start_ticks, marker, SIGKILL), 0);
}

static void test_spares_a_process_that_is_not_a_group_leader(void **state)
{
	struct procgroup_stat ps;
	/* This test process is not leading group getpid() under meson. */
	assert_int_equal(procgroup_stat(getpid(), &ps), 0);
	if (ps.pgrp == getpid())
		skip();
	assert_int_equal(procgroup_kill_orphan(getpid(), ps.start_ticks, NULL, 0), 0);
}

/* Leader gone, a member left: killed only when it carries the marker. */
static void test_leaderless_group_needs_the_marker(void **state)
{
	const char *marker = "DENVERD_ATTEMPT=/tmp/x#3";
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t leader = fork();
	assert_true(leader >= 0);
	if (leader == 0) {
		setpgid(0, 0);
		pid_t member = fork();
		if (member == 0) {
			char *const argv[] = { "sleep", "30", NULL };
			char *const envp[] = { (char *)marker, NULL };
			execve("/bin/sleep", argv, envp);
			_exit(127);
		}
		if (write(fds[1], &member, sizeof member) != sizeof member)
			_exit(1);
		_exit(0);      /* the leader exits, the member stays in the group */
	}
	setpgid(leader, leader);
	pid_t member;
	assert_int_equal(read(fds[0], &member, sizeof member), sizeof member);
	close(fds[0]);
	close(fds[1]);
	struct procgroup_stat ps;
	assert_int_equal(procgroup_stat(leader, &ps), 0);
	uint64_t start = ps.start_ticks;
	assert_int_equal(reap(leader), -1);
	wait_exec(member, marker);
	assert_int_equal(procgroup_kill_orphan(leader, start, "DENVERD_ATTEMPT=other", SIGKILL), 0);
	assert_int_equal(procgroup_kill_orphan(leader, start, NULL, SIGKILL), 0);
	assert_int_equal(kill(member, 0), 0);
	assert_int_equal(procgroup_kill_orphan(leader, start, marker, SIGKILL), 1);
	/* The member was reparented (not our child): wait for it to vanish. */
	for (int i = 0; i < 400 && kill(member, 0) == 0; i++) {
		struct procgroup_stat m;
		if (procgroup_stat(member, &m) == 0 && m.state == 'Z')
			break;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	struct procgroup_stat m;
	assert_true(procgroup_stat(member, &m) == -ENOENT || m.state == 'Z');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_of_self),
		cmocka_unit_test(test_kills_our_group_with_matching_start_time),
		cmocka_unit_test(test_spares_a_reused_pid),
		cmocka_unit_test(test_spares_a_process_that_is_not_a_group_leader),
		cmocka_unit_test(test_leaderless_group_needs_the_marker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
