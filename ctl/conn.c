/*
 * conn.c - denverctl's connection to the daemon: connect to the control
 * socket, send one request line, read one reply (or event) line.  The
 * framing is include/denverd/protocol.h's: one JSON object per line.
 * Everything here blocks; denverctl has nothing else to do meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "denverd/protocol.h"

int ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(c->socket) >= sizeof sa.sun_path) {
		fprintf(stderr, "%s: socket path too long: %s\n", ctl_prog, c->socket);
		return EXIT_CONNECT;
	}
	strcpy(sa.sun_path, c->socket);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		fprintf(stderr, "%s: cannot connect to %s: %s%s\n", ctl_prog, c->socket,
		        strerror(e), e == ENOENT || e == ECONNREFUSED
		        ? " (is denverd running? set -s or $" PROTOCOL_SOCKET_ENV ")" : "");
		return EXIT_CONNECT;
	}
	c->in = fdopen(dup(c->fd), "r");
	return c->in ? 0 : EXIT_CONNECT;
}

void ctl_close(struct ctl *c)
{
	if (c->in)
		fclose(c->in);
	if (c->fd >= 0)
		close(c->fd);
	c->in = NULL;
	c->fd = -1;
}

int ctl_send(struct ctl *c, const char *cmd, json_t *args)
{
	json_t *req = json_pack("{s:i, s:I, s:s, s:O}", "v", PROTOCOL_VERSION,
	                        "id", ++c->next_id, "cmd", cmd, "args", args);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc = 0;
	json_decref(req);
	if (!text)
		return EXIT_PROTOCOL;
	size_t n = strlen(text), off = 0;
	text[n++] = '\n';       /* json_dumps left room: replace the NUL */
	while (off < n) {
		ssize_t w = write(c->fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "%s: write to %s: %s\n", ctl_prog, c->socket, strerror(errno));
			rc = EXIT_CONNECT;
			break;
		}
		off += (size_t)w;
	}
	free(text);
	return rc;
}

int ctl_read_line(struct ctl *c, char **line)
{
	size_t cap = 0;
	ssize_t n;

	*line = NULL;
	errno = 0;
	n = getline(line, &cap, c->in);
	if (n <= 0) {
		fprintf(stderr, "%s: %s closed the connection%s%s\n", ctl_prog, c->socket,
		        errno ? ": " : "", errno ? strerror(errno) : "");
		free(*line);
		*line = NULL;
		return EXIT_CONNECT;
	}
	if ((size_t)n > PROTOCOL_MAX_REPLY) {
		fprintf(stderr, "%s: reply longer than %u bytes\n", ctl_prog, PROTOCOL_MAX_REPLY);
		free(*line);
		*line = NULL;
		return EXIT_PROTOCOL;
	}
	return 0;
}

int ctl_call(struct ctl *c, const char *cmd, json_t *args, json_t **result)
{
	char *line;
	json_error_t jerr;
	json_t *reply;
	int rc;

	*result = NULL;
	if ((rc = ctl_send(c, cmd, args)) || (rc = ctl_read_line(c, &line)))
		return rc;
	reply = json_loads(line, 0, &jerr);
	if (!json_is_object(reply)) {
		fprintf(stderr, "%s: unreadable reply: %s\n", ctl_prog, jerr.text);
		free(line);
		json_decref(reply);
		return EXIT_PROTOCOL;
	}
	if (c->json)
		fputs(line, stdout);
	free(line);
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		if (!c->json)
			fprintf(stderr, "%s: %s: %s\n", ctl_prog,
			        json_string_value(json_object_get(e, "code")) ?: "?",
			        json_string_value(json_object_get(e, "message")) ?: "error");
		json_decref(reply);
		return EXIT_REMOTE;
	}
	*result = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return 0;
}
