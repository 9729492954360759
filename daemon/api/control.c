/*
 * control.c - the control socket server.
 *
 * Framing: one JSON object per '\n'-terminated line.  A client's input is
 * held in a buffer capped at limits.request_size; a line longer than that is
 * answered with ETOOBIG and the connection is closed (we cannot find the
 * next request boundary without buffering what we refused to buffer).  A
 * line that is not a JSON object gets EPARSE and the connection stays.
 *
 * Permissions: the peer's uid is read once at accept (SO_PEERCRED); commands
 * flagged `mutating` are allowed only to our own uid (the socket owner) and
 * root.  Everyone who can open the socket (mode socket_mode) may read.
 *
 * A deferred reply (control_defer) stops reading the client: its next
 * requests wait in the socket and in its buffer until control_answer, so
 * replies keep request order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "base/clock.h"
#include "domain/config_types.h"
#include "api/control.h"
#include "api/control_int.h"
#include "base/denverd.h"
#include "base/list.h"
#include "denverd/protocol.h"
#include "api/jsonw.h"
#include "base/log.h"
#include "version.h"

#define MAX_TABLES        16
#define MAX_STATUS_FNS    16
#define WATCH_OUTPUT_CAP  (1024 * 1024)   /* queued bytes before a watcher is dropped */
#define REPLY_OUTPUT_CAP  (1024 * 1024)   /* queued reply bytes before reading pauses */
#define REPLY_MAX         (PROTOCOL_MAX_REPLY - 1)   /* one reply, before its newline */

struct control_client {
	uv_pipe_t pipe;
	struct control *ctl;
	LIST_FIELDS(struct control_client, clients);   /* in ctl->clients */
	char *buf;                  /* pending input, capped at ctl->request_cap */
	size_t len;
	uid_t uid;
	pid_t pid;
	bool watching;
	bool want_watch;            /* becomes a watcher after the current reply */
	bool closing;
	bool throttled;             /* reading paused until its replies drain */
	json_t *cur_id;             /* id of the request being handled (borrowed) */
	struct control_pending *pending;   /* a deferred reply; reading paused */
};

struct control_pending {
	struct control_client *c;   /* NULL once the client has gone */
	json_t *id;                 /* the request's id (a reference) */
};

struct control {
	struct denverd *d;
	uv_pipe_t server;
	bool listening;
	bool owns_path;             /* we created the socket file (unlink at fini) */
	char *path;
	struct control_client *clients;
	unsigned n_clients;
	size_t request_cap;
	unsigned client_cap;
	const struct control_cmd *tables[MAX_TABLES];
	size_t table_len[MAX_TABLES];
	size_t n_tables;
	const struct control_status_ops *status_ops[MAX_STATUS_FNS];
	size_t n_status_ops;
};

struct write_req {
	uv_write_t req;
	char *data;
};

int control_error(struct control_error *err, int rc, const char *code,
                  const char *fmt, ...)
{
	va_list ap;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return rc < 0 ? rc : -EINVAL;
}

/* ---- output ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = container_of(req, struct write_req, req);
	uv_stream_t *s = req->handle;
	struct control_client *c = container_of((uv_pipe_t *)s, struct control_client, pipe);
	(void)status;   /* a failed write shows up as EOF/error on read */
	free(w->data);
	free(w);
	/* Called with UV_ECANCELED before the close callback frees C. */
	if (c->throttled && !c->closing && !c->pending &&
	    uv_stream_get_write_queue_size(s) <= REPLY_OUTPUT_CAP / 2) {
		c->throttled = false;
		uv_read_start(s, on_alloc, on_read);
	}
}

static void client_close(struct control_client *c);

/* Queue TEXT, a NUL-terminated line of LEN bytes, ownership and all: its
 * NUL, inside the allocation (buf.h), becomes the newline, and TEXT is
 * freed once written.  Returns 0 or -errno (TEXT freed). */
static int client_queue(struct control_client *c, char *text, size_t len)
{
	struct write_req *w;
	uv_buf_t b;
	int rc;

	if (c->closing || !(w = malloc(sizeof *w))) {
		free(text);
		return c->closing ? -EPIPE : -ENOMEM;
	}
	/* JSON text never holds a raw newline: strings escape it. */
	text[len] = '\n';
	w->data = text;
	b = uv_buf_init(text, (unsigned)(len + 1));
	rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written);
	if (rc < 0) {
		free(text);
		free(w);
	}
	return rc;
}

/* A reply line, begun: {"v":..,"id":ID,"ok":OK and the caller adds its
 * "result" or "error" member.  HINT: the expected size, preallocated. */
static void reply_begin(struct jsonw *w, json_t *id, bool ok, size_t hint)
{
	jsonw_init(w, hint, REPLY_MAX);
	jsonw_object(w);
	jsonw_kint(w, "v", PROTOCOL_VERSION);
	jsonw_key(w, "id");
	jsonw_json(w, id);
	jsonw_kbool(w, "ok", ok);
}

/* End the line begun by reply_begin() and queue it; frees the writer's
 * text in any case.  Returns 0 or -errno (w->buf.err when the text failed). */
static int reply_queue(struct control_client *c, struct jsonw *w)
{
	char *text;
	size_t n;

	jsonw_end(w);
	if (!(text = jsonw_take(w, &n)))
		return w->buf.err;
	return client_queue(c, text, n);
}

static void send_error(struct control_client *c, json_t *id, const char *code,
                       const char *message);

/* reply_queue() for a result: one that could not be written becomes an
 * error reply, so the client is never left waiting.  Returns whether the
 * result itself was queued. */
static bool reply_finish(struct control_client *c, struct jsonw *w, json_t *id)
{
	int rc = reply_queue(c, w);
	if (rc == -ENOMEM || rc == -E2BIG || rc == -EINVAL)
		send_error(c, id, PROTO_EINTERNAL, rc == -E2BIG ? "reply too large"
		           : rc == -EINVAL ? "reply badly formed" : "out of memory");
	return rc == 0;
}

static void send_error(struct control_client *c, json_t *id, const char *code,
                       const char *message)
{
	struct jsonw w;

	reply_begin(&w, id, false, 256);
	jsonw_key(&w, "error");
	jsonw_object(&w);
	jsonw_kstr(&w, "code", code);
	jsonw_kstr(&w, "message", message);
	jsonw_end(&w);
	reply_queue(c, &w);
}

/* RESULT (borrowed; NULL means {}) as the reply to request ID; false
 * when it could not be sent (the client got an error reply instead). */
static bool send_reply(struct control_client *c, json_t *id, json_t *result)
{
	struct jsonw w;

	reply_begin(&w, id, true, 4096);
	jsonw_key(&w, "result");
	if (result)
		jsonw_json(&w, result);
	else {
		jsonw_object(&w);
		jsonw_end(&w);
	}
	return reply_finish(c, &w, id);
}

void control_broadcast(struct control *ctl, json_t *event)
{
	struct jsonw w;
	char *line;
	size_t n;

	if (!ctl || !ctl->clients)
		return;
	jsonw_init(&w, 512, REPLY_MAX);
	jsonw_object(&w);
	jsonw_kint(&w, "v", PROTOCOL_VERSION);
	jsonw_key(&w, "event");
	jsonw_json(&w, event);
	jsonw_end(&w);
	if (!(line = jsonw_take(&w, &n)))
		return;
	struct control_client *c, *next;
	LIST_FOREACH_SAFE(clients, c, next, ctl->clients) {
		char *copy;
		if (!c->watching || c->closing)
			continue;
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > WATCH_OUTPUT_CAP) {
			log_warn(NULL, "control: watcher pid %d is not reading; disconnecting it",
			         (int)c->pid);
			client_close(c);
			continue;
		}
		if ((copy = malloc(n + 1))) {
			memcpy(copy, line, n + 1);
			client_queue(c, copy, n);
		}
	}
	free(line);
}

void control_client_watch(struct control_client *c)
{
	c->want_watch = true;
}

/* ---- registration ---- */

static const struct control_cmd *find_cmd(struct control *ctl, const char *name)
{
	for (size_t t = 0; t < ctl->n_tables; t++)
		for (size_t i = 0; i < ctl->table_len[t]; i++)
			if (strcmp(ctl->tables[t][i].name, name) == 0)
				return &ctl->tables[t][i];
	return NULL;
}

int control_register(struct control *ctl, const struct control_cmd *cmds, size_t n)
{
	if (ctl->n_tables == MAX_TABLES)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++)
		if (find_cmd(ctl, cmds[i].name))
			return -EEXIST;
	ctl->tables[ctl->n_tables] = cmds;
	ctl->table_len[ctl->n_tables] = n;
	ctl->n_tables++;
	return 0;
}

int control_add_status(struct control *ctl, const struct control_status_ops *ops)
{
	if (ctl->n_status_ops == MAX_STATUS_FNS)
		return -ENOSPC;
	ctl->status_ops[ctl->n_status_ops++] = ops;
	return 0;
}

/* ---- built-in commands ---- */

/* Written with jsonw rather than built as a jansson tree: with 1,000
 * datasets the reply is 290 KB, and it must take well under 5 ms. */
static int cmd_status(struct denverd *d, struct control_client *c, json_t *args,
                      struct jsonw *w, struct control_error *err)
{
	const struct config *cfg = d->cfg;
	struct control *ctl = d->control;
	int64_t now = clock_now_ms();

	jsonw_object(w);
	jsonw_kstr(w, "version", DENVERD_VERSION);
	jsonw_kint(w, "pid", getpid());
	jsonw_kint(w, "started", d->started_ms);
	jsonw_kint(w, "now", now);
	jsonw_kint(w, "uptime_s", (now - d->started_ms) / 1000);
	jsonw_kstr(w, "config", d->config_path);
	jsonw_kstr(w, "state_dir", cfg->state_dir);
	jsonw_kstr(w, "timezone", cfg->timezone);
	jsonw_kstr(w, "socket", cfg->socket);
	jsonw_kint(w, "clients", ctl->n_clients);
	jsonw_key(w, "datasets");
	jsonw_array(w);
	for (size_t i = 0; i < cfg->n_datasets; i++) {
		const struct cfg_dataset *ds = &cfg->datasets[i];
		jsonw_object(w);
		jsonw_kstr(w, "name", ds->name);
		jsonw_kstr(w, "url", ds->url);
		jsonw_kstr(w, "schedule", ds->schedule);
		for (size_t k = 0; k < ctl->n_status_ops; k++)
			if (ctl->status_ops[k]->dataset)
				ctl->status_ops[k]->dataset(d, ds, w);
		jsonw_end(w);
	}
	jsonw_end(w);
	for (size_t k = 0; k < ctl->n_status_ops; k++)
		if (ctl->status_ops[k]->top)
			ctl->status_ops[k]->top(d, w);
	jsonw_end(w);
	return 0;
}

static int cmd_version(struct denverd *d, struct control_client *c, json_t *args,
                       json_t **result, struct control_error *err)
{
	*result = json_pack("{s:s, s:i}", "version", DENVERD_VERSION,
	                    "protocol", PROTOCOL_VERSION);
	return 0;
}

static int cmd_reload(struct denverd *d, struct control_client *c, json_t *args,
                      json_t **result, struct control_error *err)
{
	char *errors = NULL;
	int rc = d->reload(d, &errors);
	if (rc < 0) {
		control_error(err, rc, PROTO_EINVAL, "%s", errors ? errors : strerror(-rc));
		log_err(NULL, "reload requested over the socket failed; keeping the "
		        "running configuration");
		free(errors);
		return rc;
	}
	*result = json_pack("{s:s}", "config", d->config_path);
	return 0;
}

static int cmd_watch(struct denverd *d, struct control_client *c, json_t *args,
                     json_t **result, struct control_error *err)
{
	control_client_watch(c);
	*result = json_pack("{s:b}", "watching", 1);
	return 0;
}

static const struct control_cmd builtin_cmds[] = {
	{ .name = "status", .text = cmd_status },
	{ .name = "version", .fn = cmd_version },
	{ .name = "watch", .fn = cmd_watch },
	{ .name = "reload", .fn = cmd_reload, .mutating = true },
};

/* ---- dispatch ---- */

/* The command request REQ (id ID) names, checked against the protocol
 * version and C's permission; NULL once an error reply went out. */
static const struct control_cmd *request_cmd(struct control_client *c, json_t *req,
                                             json_t *id)
{
	json_t *jv = json_object_get(req, "v");
	json_int_t v = jv ? json_integer_value(jv) : PROTOCOL_VERSION;
	const char *name = json_string_value(json_object_get(req, "cmd"));
	const struct control_cmd *cmd;
	char msg[200];

	if (jv && !json_is_integer(jv)) {
		send_error(c, id, PROTO_EINVAL, "\"v\" must be an integer");
		return NULL;
	}
	if (v > PROTOCOL_VERSION) {
		snprintf(msg, sizeof msg, "protocol version %lld is newer than this "
		         "daemon's %d", (long long)v, PROTOCOL_VERSION);
		send_error(c, id, PROTO_EVERSION, msg);
		return NULL;
	}
	if (!name) {
		send_error(c, id, PROTO_EINVAL, "missing \"cmd\" string");
		return NULL;
	}
	if (!(cmd = find_cmd(c->ctl, name))) {
		snprintf(msg, sizeof msg, "unknown command '%.100s'", name);
		send_error(c, id, PROTO_EUNKNOWN, msg);
		return NULL;
	}
	if (cmd->mutating && c->uid != 0 && c->uid != getuid()) {
		snprintf(msg, sizeof msg, "'%s' changes state; only uid %d and root may "
		         "do that (you are uid %d)", name, (int)getuid(), (int)c->uid);
		log_warn(NULL, "control: refused '%s' from uid %d pid %d", name,
		         (int)c->uid, (int)c->pid);
		send_error(c, id, PROTO_EPERM, msg);
		return NULL;
	}
	return cmd;
}

/* Run CMD on ARGS for C and send its reply, or its error; whether the
 * result itself went out. */
static bool run_cmd(struct control_client *c, const struct control_cmd *cmd, json_t *id,
                    json_t *args)
{
	struct control_error err = { PROTO_EINTERNAL, "" };
	struct denverd *d = c->ctl->d;
	json_t *result = NULL;
	bool sent;

	if (cmd->text) {
		struct jsonw w;
		reply_begin(&w, id, true, 4096);
		jsonw_key(&w, "result");
		if (cmd->text(d, c, args, &w, &err) < 0) {
			jsonw_free(&w);
			goto failed;
		}
		return reply_finish(c, &w, id);
	}
	c->cur_id = id;
	int rc = cmd->fn(d, c, args, &result, &err);
	c->cur_id = NULL;
	if (rc == CONTROL_DEFERRED && c->pending)
		return false;                   /* control_answer() replies */
	if (rc < 0 || rc == CONTROL_DEFERRED) {
		json_decref(result);
		goto failed;
	}
	sent = send_reply(c, id, result);
	json_decref(result);
	return sent;
failed:
	send_error(c, id, err.code ? err.code : PROTO_EINTERNAL,
	           err.message[0] ? err.message : "command failed");
	return false;
}

static void handle_line(struct control_client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *id, *args, *empty = NULL;
	const struct control_cmd *cmd;
	bool sent;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req || !json_is_object(req)) {
		char msg[300];
		snprintf(msg, sizeof msg, "request is not a JSON object: %s",
		         req ? "got another JSON type" : jerr.text);
		send_error(c, NULL, PROTO_EPARSE, msg);
		json_decref(req);
		return;
	}
	id = json_object_get(req, "id");
	if (!(cmd = request_cmd(c, req, id)))
		goto out;
	args = json_object_get(req, "args");
	if (args && !json_is_object(args)) {
		send_error(c, id, PROTO_EINVAL, "\"args\" must be an object");
		goto out;
	}
	if (!args)
		args = empty = json_object();
	sent = run_cmd(c, cmd, id, args);
	/* A watcher only once its `watch` reply went out. */
	c->watching = c->watching || (c->want_watch && sent);
	c->want_watch = false;
out:
	json_decref(empty);
	json_decref(req);
}

/* ---- connections ---- */

static void on_client_closed(uv_handle_t *h)
{
	struct control_client *c = container_of((uv_pipe_t *)h, struct control_client, pipe);
	free(c->buf);
	free(c);
}

static void client_close(struct control_client *c)
{
	struct control *ctl = c->ctl;
	if (c->closing)
		return;
	c->closing = true;
	if (c->pending)
		c->pending->c = NULL;       /* its answer is dropped */
	LIST_REMOVE(clients, ctl->clients, c);
	ctl->n_clients--;
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct control_client *c = container_of((uv_pipe_t *)h, struct control_client, pipe);
	size_t room = c->ctl->request_cap + 1 - c->len;   /* +1: room for the '\n' */
	(void)suggested;
	*b = uv_buf_init(c->buf + c->len, (unsigned)room);
}

/* Handle the complete lines in C's buffer, until one is deferred. */
static void client_lines(struct control_client *c)
{
	char *nl;

	while (!c->closing && !c->pending && (nl = memchr(c->buf, '\n', c->len))) {
		size_t line = (size_t)(nl - c->buf);
		if (line > 0 && !(line == 1 && c->buf[0] == '\r'))
			handle_line(c, c->buf, line);
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
	}
}

/* Serve C's buffered requests, then go on reading unless a reply is
 * deferred, the input is over the cap or replies wait to drain.  RESUME:
 * reading had stopped for a deferred reply. */
static void client_serve(struct control_client *c, bool resume)
{
	uv_stream_t *s = (uv_stream_t *)&c->pipe;

	client_lines(c);
	if (c->closing)
		return;
	if (c->pending) {
		uv_read_stop(s);
		return;
	}
	if (c->len > c->ctl->request_cap) {
		char msg[128];
		snprintf(msg, sizeof msg, "request longer than %zu bytes; closing",
		         c->ctl->request_cap);
		send_error(c, NULL, PROTO_ETOOBIG, msg);
		log_warn(NULL, "control: request over %zu bytes from pid %d; closed",
		         c->ctl->request_cap, (int)c->pid);
		uv_read_stop(s);
		client_close(c);
		return;
	}
	/* A client that sends requests without reading the replies would
	 * make us queue them without end: stop reading it until they drain. */
	if (!c->watching &&
	    uv_stream_get_write_queue_size(s) > REPLY_OUTPUT_CAP) {
		c->throttled = true;
		uv_read_stop(s);
	} else if (resume) {
		uv_read_start(s, on_alloc, on_read);
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct control_client *c = container_of((uv_pipe_t *)s, struct control_client, pipe);
	(void)b;

	if (n < 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	client_serve(c, false);
}

struct control_pending *control_defer(struct control_client *c)
{
	struct control_pending *p;

	if (c->pending || !(p = calloc(1, sizeof *p)))
		return NULL;
	p->c = c;
	p->id = json_incref(c->cur_id);
	c->pending = p;
	return p;
}

void control_undefer(struct control_pending *p)
{
	if (p->c)
		p->c->pending = NULL;
	json_decref(p->id);
	free(p);
}

void control_answer(struct control_pending *p, json_t *result,
                    const struct control_error *err)
{
	struct control_client *c = p->c;

	if (c) {
		c->pending = NULL;
		if (err)
			send_error(c, p->id, err->code ? err->code : PROTO_EINTERNAL,
			           err->message[0] ? err->message : "command failed");
		else
			send_reply(c, p->id, result);
		client_serve(c, true);
	}
	json_decref(p->id);
	free(p);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = container_of((uv_pipe_t *)server, struct control, server);
	struct control_client *c;
	struct ucred cred;
	socklen_t clen = sizeof cred;
	uv_os_fd_t fd;

	if (status < 0) {
		log_warn(NULL, "control: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c || !(c->buf = malloc(ctl->request_cap + 1))) {
		free(c);
		log_err(NULL, "control: out of memory accepting a client");
		return;
	}
	c->ctl = ctl;
	uv_pipe_init(ctl->d->loop, &c->pipe, 0);
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	LIST_PREPEND(clients, ctl->clients, c);
	ctl->n_clients++;
	c->uid = (uid_t)-1;
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
	if (ctl->n_clients > ctl->client_cap) {
		send_error(c, NULL, PROTO_EBUSY, "too many clients; try again later");
		client_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int control_init(struct denverd *d)
{
	struct control *ctl = calloc(1, sizeof *ctl);
	int rc;

	if (!ctl)
		return -ENOMEM;
	ctl->d = d;
	ctl->request_cap = d->cfg->limits.request_size;
	if (ctl->request_cap == 0 || ctl->request_cap > PROTOCOL_MAX_REQUEST)
		ctl->request_cap = PROTOCOL_MAX_REQUEST;
	ctl->client_cap = d->cfg->limits.clients ? d->cfg->limits.clients : 64;
	ctl->path = strdup(d->cfg->socket);
	d->control = ctl;
	uv_pipe_init(d->loop, &ctl->server, 0);
	if ((rc = control_listen(&ctl->server, d->cfg, &ctl->owns_path)) < 0)
		return rc;
	if ((rc = uv_listen((uv_stream_t *)&ctl->server, 64, on_connection)) < 0)
		return rc;
	ctl->listening = true;
	return control_register(ctl, builtin_cmds,
	                        sizeof builtin_cmds / sizeof builtin_cmds[0]);
}

static void on_server_closed(uv_handle_t *h)
{
	struct control *ctl = container_of((uv_pipe_t *)h, struct control, server);
	free(ctl->path);
	free(ctl);
}

void control_fini(struct denverd *d)
{
	struct control *ctl = d ? d->control : NULL;
	if (!ctl)
		return;
	while (ctl->clients)
		client_close(ctl->clients);
	if (ctl->owns_path)
		unlink(ctl->path);
	d->control = NULL;
	uv_close((uv_handle_t *)&ctl->server, on_server_closed);
}
