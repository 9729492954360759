/*
 * loop.c - signals, sd_notify and the watchdog around the uv loop.
 *
 * The watchdog is a uv_timer at half of WATCHDOG_USEC: it can only fire when
 * the loop turns, so a loop stuck in a handler stops the pings and systemd
 * restarts us, which is the point.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "base/denverd.h"
#include "base/log.h"
#include "app/loop.h"

struct loop_state {
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t watchdog;
	bool watchdog_on;
	struct denverd *d;
};

static struct loop_state *LS;

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct loop_state *ls = h->data;
	if (ls->d->stopping) {
		log_info(NULL, "%s again while stopping; still waiting for children",
		         strsignal(signum));
		return;
	}
	log_info(NULL, "%s received, stopping", strsignal(signum));
	ls->d->stop(ls->d);
}

static void on_hup(uv_signal_t *h, int signum)
{
	struct loop_state *ls = h->data;
	char *errors = NULL;
	(void)signum;

	if (ls->d->stopping) {
		log_info(NULL, "SIGHUP while stopping; not reloading");
		return;
	}
	loop_notify_reloading();
	if (ls->d->reload(ls->d, &errors) < 0) {
		/* One line per message, so each lands in the journal whole. */
		char *save = NULL;
		for (char *l = strtok_r(errors, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			log_err(NULL, "reload: %s", l);
		log_err(NULL, "reload failed; keeping the running configuration");
		free(errors);
	}
	sd_notify(0, "READY=1");
}

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	sd_notify(0, "WATCHDOG=1");
}

int loop_init(struct denverd *d)
{
	struct loop_state *ls = calloc(1, sizeof *ls);
	uint64_t usec = 0;
	int rc;

	if (!ls)
		return -ENOMEM;
	ls->d = d;
	uv_signal_init(d->loop, &ls->sigterm);
	uv_signal_init(d->loop, &ls->sigint);
	uv_signal_init(d->loop, &ls->sighup);
	ls->sigterm.data = ls->sigint.data = ls->sighup.data = ls;
	if ((rc = uv_signal_start(&ls->sigterm, on_stop_signal, SIGTERM)) < 0 ||
	    (rc = uv_signal_start(&ls->sigint, on_stop_signal, SIGINT)) < 0 ||
	    (rc = uv_signal_start(&ls->sighup, on_hup, SIGHUP)) < 0)
		return rc;
	/* A child writing to a closed pipe must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);

	uv_timer_init(d->loop, &ls->watchdog);
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		uint64_t ms = usec / 2000;
		uv_timer_start(&ls->watchdog, on_watchdog, ms ? ms : 1, ms ? ms : 1);
		ls->watchdog_on = true;
		log_debug(NULL, "watchdog every %llu ms", (unsigned long long)ms);
	}
	/* Neither the watchdog nor the signals keep the loop alive alone. */
	uv_unref((uv_handle_t *)&ls->watchdog);
	uv_unref((uv_handle_t *)&ls->sigterm);
	uv_unref((uv_handle_t *)&ls->sigint);
	uv_unref((uv_handle_t *)&ls->sighup);
	LS = ls;
	return 0;
}

static void free_state(uv_handle_t *h)
{
	(void)h;
}

void loop_fini(struct denverd *d)
{
	struct loop_state *ls = LS;
	(void)d;
	if (!ls)
		return;
	uv_close((uv_handle_t *)&ls->sigterm, free_state);
	uv_close((uv_handle_t *)&ls->sigint, free_state);
	uv_close((uv_handle_t *)&ls->sighup, free_state);
	uv_close((uv_handle_t *)&ls->watchdog, free_state);
	/* The handles are embedded: run the loop until their close callbacks
	 * have run before freeing the struct that holds them. */
	uv_run(d->loop, UV_RUN_NOWAIT);
	loop_drain(d);
	free(ls);
	LS = NULL;
}

void loop_notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void loop_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void loop_notify_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void loop_set_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", buf);
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void loop_drain(struct denverd *d)
{
	/* Handles still open here belong to modules that already finished
	 * (fini) and own no memory through them: close them.  Then run until
	 * nothing is left, which also waits for work requests still on the
	 * thread pool (a metrics rendering, a scan being cancelled): the loop
	 * struct must outlive them, or a worker finishing later would touch it
	 * after main() returned. */
	uv_walk(d->loop, close_any, NULL);
	while (uv_run(d->loop, UV_RUN_DEFAULT) != 0)
		uv_walk(d->loop, close_any, NULL);
}
