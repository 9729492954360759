/*
 * control_int.h - what the files of the control socket share (control.c:
 * clients, framing and dispatch; control_socket.c: the listening socket),
 * and nobody else sees.
 */
#ifndef DENVERD_CONTROL_INT_H
#define DENVERD_CONTROL_INT_H

#include <stdbool.h>
#include <uv.h>

struct config;

/*
 * SERVER (initialised, not yet listening) becomes the socket systemd
 * passed, or is bound to cfg->socket with mode cfg->socket_mode; then
 * *OWNS_PATH is set (control_fini unlinks the file).  A socket file that
 * answers belongs to a running daemon: -EADDRINUSE; a stale one is
 * removed.  May block briefly (connect, chmod).  0 or a negative errno.
 */
int control_listen(uv_pipe_t *server, const struct config *cfg, bool *owns_path);

#endif
