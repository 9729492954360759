/*
 * control_socket.c - the control socket's listening end: adopt the socket
 * systemd passed (socket activation) or bind cfg->socket, clearing a stale
 * socket file a crashed daemon left (control_int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "api/control_int.h"
#include "base/log.h"
#include "domain/config_types.h"

/* A socket file left by a crashed daemon is removed; one that answers
 * belongs to a running daemon and is left alone. */
static int clear_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 ? -errno : 0;
}

int control_listen(uv_pipe_t *server, const struct config *cfg, bool *owns_path)
{
	int n = sd_listen_fds(0), rc;

	if (n > 0) {
		/* Socket activation: adopt the first Unix stream socket. */
		for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
			if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
				if ((rc = uv_pipe_open(server, fd)) < 0)
					return rc;
				log_info(NULL, "control: using the socket passed by systemd (fd %d)", fd);
				return 0;
			}
		}
		log_warn(NULL, "control: systemd passed %d fds but no Unix stream socket; "
		         "binding %s", n, cfg->socket);
	}
	if (strlen(cfg->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	if ((rc = clear_stale_socket(cfg->socket)) < 0)
		return rc;
	/* The socket is created with the umask narrowed so no client can
	 * connect in the moment between bind and chmod. */
	mode_t old = umask(0177);
	rc = uv_pipe_bind(server, cfg->socket);
	umask(old);
	if (rc < 0)
		return rc;
	*owns_path = true;
	if (chmod(cfg->socket, cfg->socket_mode) < 0)
		return -errno;
	return 0;
}

