/*
 * log.h - structured logging to journald, or to stderr when journald is not
 * the process's stderr (tests, a terminal).
 *
 * Helpers do not log; callers log once, with context.  The context fields
 * become journal fields DATASET=, RUN_ID=, EXEC_DATE=, TASK= (and on stderr a
 * bracketed prefix), so `journalctl DATASET=traffic_accidents` works.
 */
#ifndef DENVERD_LOG_H
#define DENVERD_LOG_H

#include <stdint.h>
#include <syslog.h>

/* Which run a message is about; any field may be NULL/0. */
struct log_ctx {
	const char *dataset;
	int64_t run_id;
	const char *exec_date;
	const char *task;
};

/* Chooses journald when $JOURNAL_STREAM names our stderr (systemd's own
 * rule), stderr otherwise; DENVERD_LOG=stderr forces stderr. */
void log_init(const char *ident);
void log_fini(void);
void log_set_level(int priority);          /* LOG_ERR .. LOG_DEBUG */
int log_level_parse(const char *name);     /* "info" -> LOG_INFO, -1 if bad */

void log_msg(int priority, const struct log_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(ctx, ...)   log_msg(LOG_ERR, (ctx), __VA_ARGS__)
#define log_warn(ctx, ...)  log_msg(LOG_WARNING, (ctx), __VA_ARGS__)
#define log_info(ctx, ...)  log_msg(LOG_INFO, (ctx), __VA_ARGS__)
#define log_debug(ctx, ...) log_msg(LOG_DEBUG, (ctx), __VA_ARGS__)

#endif
