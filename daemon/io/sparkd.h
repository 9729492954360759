/*
 * sparkd.h - the Spark Connect endpoint's supervisor: a managed server
 * (one long-lived child in its own process group, through job.c: output to
 * the journal, SIGTERM then SIGKILL to the group) or an external one, and
 * in both cases whether it accepts TCP connections now.
 *
 * Managed: before each start the port must refuse connections (a listener
 * there is someone else's, and jobs must not be sent to it); then the child
 * is spawned and the port probed every SPARKD_PROBE_MS until it accepts
 * (ready) or ready_timeout passes (the group is killed).  When the child
 * dies it is started again after the restart backoff (domain/backoff.h,
 * full jitter, the n-th consecutive failure), the count of failures reset
 * once a server became ready.  External: a probe every check_interval.
 *
 * Loop thread only.  Nothing here logs the spec's environment (it may hold
 * the token).  Callbacks are never made from inside the call that caused
 * them, except SPARKD_STATE from sparkd_stop().
 */
#ifndef DENVERD_SPARKD_H
#define DENVERD_SPARKD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/log.h"
#include "domain/config_types.h"

#define SPARKD_PROBE_MS 250            /* probe period while a server starts */
#define SPARKD_PROBE_TIMEOUT_MS 3000   /* one TCP connect attempt at most */

enum sparkd_state {
	SPARKD_STARTING,     /* managed: spawned, not listening yet; external:
	                        no answer yet */
	SPARKD_READY,        /* accepts connections */
	SPARKD_RESTARTING,   /* managed: died or failed to start; waiting for
	                        the backoff */
	SPARKD_DOWN,         /* managed: stopped (sparkd_stop) */
	SPARKD_UNREACHABLE,  /* external: the last probe failed */
};
#define SPARKD_STATE_COUNT (SPARKD_UNREACHABLE + 1)
const char *sparkd_state_name(enum sparkd_state s);   /* static, never NULL */

struct sparkd_spec {
	bool managed;
	char *const *argv;             /* managed: the server's command (copied) */
	char *const *env;              /* managed: NAME=VALUE added to the daemon's
	                                  environment, NULL-terminated (copied; may
	                                  hold the token, never logged) */
	const char *host;              /* what is probed (copied) */
	unsigned port;
	uint64_t ready_timeout_ms;     /* managed */
	uint64_t check_interval_ms;    /* external */
	uint64_t kill_grace_ms;        /* managed: SIGTERM -> SIGKILL */
	struct cfg_retry restart;      /* managed: backoff of restarts */
	struct log_ctx ctx;            /* fields of the server's journal lines */
};

/* What happened; read the rest through sparkd_status(). */
enum sparkd_event {
	SPARKD_EV_STATE,     /* the state changed */
	SPARKD_EV_SPAWNED,   /* a server process started: status.pid */
	SPARKD_EV_EXITED,    /* it was reaped (status.pid is its pid until the
	                        next spawn) */
};

struct sparkd;
typedef void (*sparkd_fn)(struct sparkd *sd, enum sparkd_event ev, void *arg);

struct sparkd_status {
	enum sparkd_state state;
	int pid;                       /* the server's pid (= its group); 0 = none */
	int64_t started_ms;            /* wall clock of the spawn, or of the first
	                                  good probe (external); 0 = none */
	int64_t ready_ms;              /* wall clock it became ready; 0 = not ready */
	unsigned restarts;             /* managed: servers started after the first */
	const char *last_error;        /* words, or NULL; valid until the next
	                                  loop iteration */
};

/* Start supervising (the first start or probe happens on the loop).  FN is
 * called for every event.  0, -ENOMEM or -EINVAL (no argv for managed). */
int sparkd_start(uv_loop_t *loop, const struct sparkd_spec *spec, sparkd_fn fn, void *arg,
                 struct sparkd **out);

/* Stop: no more restarts or probes; a running server gets SIGTERM to its
 * group and SIGKILL after the grace.  State DOWN now; SPARKD_EV_EXITED
 * follows when a server was running. */
void sparkd_stop(struct sparkd *sd);

/* True while a server process of SD is alive (not reaped yet). */
bool sparkd_running(const struct sparkd *sd);

void sparkd_status(const struct sparkd *sd, struct sparkd_status *out);

/* Free SD after sparkd_stop (a running server is SIGKILLed first, without
 * waiting).  No callback follows.  Accepts NULL. */
void sparkd_free(struct sparkd *sd);

#endif
