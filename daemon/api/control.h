/*
 * control.h - the control socket: newline-delimited JSON over a Unix stream
 * socket (see include/denverd/protocol.h and denverd(8)).
 *
 * Modules add commands by registering a table; control.c owns framing,
 * limits, peer credentials and dispatch.  A handler runs on the loop thread
 * and must not block.
 */
#ifndef DENVERD_CONTROL_H
#define DENVERD_CONTROL_H

#include <stdbool.h>
#include <jansson.h>

struct denverd;
struct control;
struct control_client;
struct cfg_dataset;
struct jsonw;

/* Outcome of a handler: on success set *result (a new reference, control
 * takes it; NULL means {}) and return 0.  On failure return a negative errno
 * and set err->code (a PROTO_E* constant) and err->message (formatted by
 * control_error(), owned by control). */
struct control_error {
	const char *code;
	char message[512];
};

typedef int (*control_handler)(struct denverd *d, struct control_client *c,
                               json_t *args, json_t **result,
                               struct control_error *err);
/* The same for replies too large to build as a tree: write exactly one
 * value, the result, into W (see jsonw.h); control frames it.  On failure
 * what was written is dropped. */
typedef int (*control_text_handler)(struct denverd *d, struct control_client *c,
                                    json_t *args, struct jsonw *w,
                                    struct control_error *err);

/*
 * A handler that cannot answer on the spot (work on the thread pool, S3
 * requests on the loop) calls control_defer(C), returns CONTROL_DEFERRED
 * with *result unset, and later answers exactly once with
 * control_answer().  Until then the client's further requests wait
 * unread, so replies stay in request order.  The pending reply outlives
 * its client: when the client has gone (or control_fini ran), the answer
 * is dropped.  NULL from control_defer: out of memory (answer now).
 */
#define CONTROL_DEFERRED 1
struct control_pending;
struct control_pending *control_defer(struct control_client *c);
/* Answer P with RESULT (borrowed; NULL means {}) when ERR is NULL, else
 * with ERR's code and message; frees P. */
void control_answer(struct control_pending *p, json_t *result,
                    const struct control_error *err);
/* Take back a control_defer() of the handler still running, which then
 * returns its error as usual; frees P. */
void control_undefer(struct control_pending *p);

struct control_cmd {
	const char *name;
	control_handler fn;     /* one of fn and text */
	bool mutating;          /* only the socket owner's uid and root may call */
	control_text_handler text;
};

/* Bind the socket from cfg (or adopt the one systemd passed, sd_listen_fds)
 * and start accepting.  Returns 0 or a negative errno (start-up fatal). */
int control_init(struct denverd *d);
void control_fini(struct denverd *d);

/* Tables must outlive the control module (static const arrays). */
int control_register(struct control *ctl, const struct control_cmd *cmds, size_t n);

/* Status contributors (a static struct; either function may be NULL):
 * `dataset` writes members into the `status` entry of dataset DS, `top`
 * writes members into the `status` object itself; both with jsonw_key()
 * and a value each. */
struct control_status_ops {
	void (*dataset)(struct denverd *d, const struct cfg_dataset *ds, struct jsonw *w);
	void (*top)(struct denverd *d, struct jsonw *w);
};
int control_add_status(struct control *ctl, const struct control_status_ops *ops);

/* Send EVENT (borrowed) to every client in `watch` mode; slow watchers whose
 * output buffer is over the cap are disconnected rather than buffered. */
void control_broadcast(struct control *ctl, json_t *event);

/* Turn this client into a watcher after the reply is sent (for `watch`). */
void control_client_watch(struct control_client *c);

/* Format err->message; returns -EINVAL-like RC for `return control_error(...)`. */
int control_error(struct control_error *err, int rc, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
