/* ctlcall.h - one request/reply over a real control socket served by
 * control.c on a uv loop the test owns, from the same thread: the request
 * is written before the loop runs, the loop is turned until the reply line
 * has arrived (header only: each test is its own program). */
#ifndef DENVERD_TEST_CTLCALL_H
#define DENVERD_TEST_CTLCALL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

/* Send REQUEST (one line, '\n' added) to the socket at PATH and return the
 * reply line (without '\n') as a new string, or NULL after about 5 s. */
static inline char *ctlcall(uv_loop_t *loop, const char *path, const char *request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof sa.sun_path)
		goto fail;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    write(fd, request, strlen(request)) < 0 || write(fd, "\n", 1) < 0)
		goto fail;
	for (int spins = 0; spins < 5000; spins++) {
		uv_run(loop, UV_RUN_NOWAIT);
		ssize_t n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			char *nl = strchr(buf, '\n');
			if (nl) {
				*nl = '\0';
				close(fd);
				return buf;
			}
			if (len + 1 == cap) {
				char *nb = realloc(buf, cap *= 2);
				if (!nb)
					goto fail;
				buf = nb;
			}
		} else if (n == 0 || errno != EAGAIN) {
			goto fail;
		} else {
			usleep(1000);
		}
	}
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

#endif
