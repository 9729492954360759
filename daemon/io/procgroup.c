/*
 * procgroup.c - find and kill a previous denverd's orphaned job groups.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/procgroup.h"

/* /proc/<pid>/environ is bounded by the kernel's ARG_MAX-like limits; read
 * at most this much of it. */
#define ENVIRON_MAX (256 * 1024)

int procgroup_stat(pid_t pid, struct procgroup_stat *out)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return n == 0 ? -ENOENT : -EIO;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': fields follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	/* Fields 3 (state) .. 22 (starttime). */
	unsigned long long start;
	int pgrp;
	char state;
	if (sscanf(p, "%c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
	              "%*d %*d %*d %*d %llu", &state, &pgrp, &start) != 3)
		return -EIO;
	out->state = state;
	out->pgrp = pgrp;
	out->start_ticks = start;
	return 0;
}

int procgroup_has_env(pid_t pid, const char *marker)
{
	char path[64];
	size_t mlen = strlen(marker), len = 0;
	char *buf = NULL;
	bool found = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	buf = malloc(ENVIRON_MAX + 1);
	if (!buf)
		goto out;
	while (len < ENVIRON_MAX && (n = read(fd, buf + len, ENVIRON_MAX - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
		if (strlen(buf + i) == mlen && memcmp(buf + i, marker, mlen) == 0) {
			found = true;
			break;
		}
	}
out:
	free(buf);
	close(fd);
	return found;
}

/* True when MATCH accepts some process of /proc that is in group PGID. */
typedef bool (*member_fn)(pid_t pid, const struct procgroup_stat *ps, const void *ctx);

static bool group_any(pid_t pgid, member_fn match, const void *ctx)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	bool found = false;

	if (!dir)
		return false;
	while (!found && (e = readdir(dir))) {
		struct procgroup_stat ps;
		char *end;
		long pid;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (procgroup_stat((pid_t)pid, &ps) == 0 && ps.pgrp == pgid)
			found = match((pid_t)pid, &ps, ctx);
	}
	closedir(dir);
	return found;
}

struct marked {
	uint64_t start_ticks;
	const char *marker;
};

/* Started no earlier than the leader and carrying the marker. */
static bool is_marked(pid_t pid, const struct procgroup_stat *ps, const void *ctx)
{
	const struct marked *m = ctx;
	return ps->start_ticks >= m->start_ticks && procgroup_has_env(pid, m->marker);
}

static bool is_alive(pid_t pid, const struct procgroup_stat *ps, const void *ctx)
{
	return ps->state != 'Z' && ps->state != 'X';
}

int procgroup_wait_gone(pid_t pgid, int timeout_ms)
{
	for (int waited = 0; ; waited += 10) {
		if (!group_any(pgid, is_alive, NULL))
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int procgroup_marker(const char *state_dir, int64_t attempt_id, char *out, size_t len)
{
	int n = snprintf(out, len, "DENVERD_ATTEMPT=%s#%lld", state_dir, (long long)attempt_id);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int procgroup_kill_orphan(pid_t pgid, uint64_t start_ticks, const char *marker, int sig)
{
	struct procgroup_stat ps;
	int rc;

	if (pgid <= 1)
		return 0;
	rc = procgroup_stat(pgid, &ps);
	if (rc == 0) {
		/* The number is in use by a live process: it is our leader only
		 * with the same group and start time; otherwise our whole group
		 * is gone (the number would not have been reused). */
		if (ps.pgrp != pgid || ps.start_ticks != start_ticks)
			return 0;
	} else if (rc == -ENOENT) {
		if (kill(-pgid, 0) < 0)
			return 0;
		struct marked m = { start_ticks, marker };
		if (!marker || !group_any(pgid, is_marked, &m))
			return 0;
	} else {
		return 0;
	}
	if (kill(-pgid, sig) < 0)
		return errno == ESRCH ? 0 : -errno;
	return 1;
}
