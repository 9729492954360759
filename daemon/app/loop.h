/*
 * loop.h - the uv loop's process-level handles: signals (TERM/INT stop, HUP
 * reload), the systemd notification protocol and the watchdog.
 */
#ifndef DENVERD_LOOP_H
#define DENVERD_LOOP_H

struct denverd;

/* Install signal handlers and the watchdog timer (when systemd asked for
 * one).  Returns 0 or a negative errno. */
int loop_init(struct denverd *d);
void loop_fini(struct denverd *d);

/* sd_notify wrappers; harmless without NOTIFY_SOCKET. */
void loop_notify_ready(void);
void loop_notify_stopping(void);
void loop_notify_reloading(void);
void loop_set_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Close every handle still open and run the loop until it is empty, so
 * every close callback (which frees its owner) has run. */
void loop_drain(struct denverd *d);

#endif
