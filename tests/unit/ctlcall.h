/* ctlcall.h - one request/reply over a real control socket served by
 * control.c on a uv loop the test owns, from the same thread: the request
 * is written before the loop runs, the loop is turned until the reply line
 * has arrived (header only: each test is its own program). */
#ifndef DENVERD_TEST_CTLCALL_H
#define DENVERD_TEST_CTLCALL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <jansson.h>
#include <uv.h>

/* A client socket connected to PATH, REQUEST (one line, '\n' added) sent;
 * -1 on failure. */
static inline int ctlcall_connect(const char *path, const char *request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    write(fd, request, strlen(request)) >= 0 && write(fd, "\n", 1) == 1)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The next line from FD (without '\n') as a new string, turning LOOP while
 * it comes; NULL after about 5 s or at EOF.  What follows the line in the
 * same read is dropped: one line at a time. */
static inline char *ctlcall_read_line(uv_loop_t *loop, int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);

	for (int spins = 0; buf && spins < 5000; spins++) {
		uv_run(loop, UV_RUN_NOWAIT);
		ssize_t n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			char *nl = strchr(buf, '\n');
			if (nl) {
				*nl = '\0';
				return buf;
			}
			if (len + 1 == cap) {
				char *nb = realloc(buf, cap *= 2);
				if (!nb)
					break;
				buf = nb;
			}
		} else if (n == 0 || errno != EAGAIN) {
			break;
		} else {
			usleep(1000);
		}
	}
	free(buf);
	return NULL;
}

/* Send REQUEST to the socket at PATH and return the reply line (without
 * '\n') as a new string, or NULL after about 5 s. */
static inline char *ctlcall(uv_loop_t *loop, const char *path, const char *request)
{
	int fd = ctlcall_connect(path, request);
	char *reply = fd >= 0 ? ctlcall_read_line(loop, fd) : NULL;

	if (fd >= 0)
		close(fd);
	return reply;
}

/* ctlcall() with the reply parsed: its "result" when it is ok, its "error"
 * when not, as a new reference.  NULL (the reply printed to stderr) when no
 * reply came, or its "ok" is not WANT_OK. */
static inline json_t *ctlcall_json(uv_loop_t *loop, const char *path, const char *request,
                                   bool want_ok)
{
	char *reply = ctlcall(loop, path, request);
	json_t *r = reply ? json_loads(reply, 0, NULL) : NULL, *out = NULL;

	if (r && json_is_true(json_object_get(r, "ok")) == want_ok)
		out = json_incref(json_object_get(r, want_ok ? "result" : "error"));
	else
		fprintf(stderr, "%s -> %s\n", request, reply ? reply : "(no reply)");
	json_decref(r);
	free(reply);
	return out;
}

static inline void ctlcall_close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The end of the test's LOOP once its modules are finished: every handle
 * left closed, the loop run until they are gone, then closed.  The result
 * of uv_loop_close. */
static inline int ctlcall_loop_close(uv_loop_t *loop)
{
	uv_walk(loop, ctlcall_close_walk, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	return uv_loop_close(loop);
}

#endif
