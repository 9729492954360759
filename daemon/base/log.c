/*
 * log.c - journald or stderr, chosen once at start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "base/log.h"

#define LOG_LINE_MAX 4096

static struct {
	const char *ident;
	bool journal;
	int level;
} L = { "denverd", false, LOG_INFO };

/* systemd sets JOURNAL_STREAM=<dev>:<ino> of the stream it connected to our
 * stderr; only when it still is our stderr are we really talking to journald
 * (a child whose stderr was redirected inherits the variable). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident)
{
	const char *force = getenv("DENVERD_LOG");

	L.ident = ident ? ident : "denverd";
	L.journal = stderr_is_journal();
	if (force && strcmp(force, "stderr") == 0)
		L.journal = false;
}

void log_fini(void)
{
	fflush(stderr);
}

void log_set_level(int priority)
{
	if (priority >= LOG_EMERG && priority <= LOG_DEBUG)
		L.level = priority;
}

int log_level_parse(const char *name)
{
	static const struct { const char *name; int prio; } levels[] = {
		{ "error", LOG_ERR }, { "err", LOG_ERR }, { "warning", LOG_WARNING },
		{ "warn", LOG_WARNING }, { "notice", LOG_NOTICE },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (name && strcasecmp(name, levels[i].name) == 0)
			return levels[i].prio;
	return -1;
}

static const char *prio_word(int prio)
{
	switch (prio) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

void log_msg(int prio, const struct log_ctx *ctx, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	int saved = errno;

	if (prio > L.level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	if (L.journal) {
		/* Only the fields that apply are sent, via sendv. */
		char f[7][LOG_LINE_MAX + 16];
		struct iovec iov[7];
		int n = 0;
		snprintf(f[n++], sizeof f[0], "MESSAGE=%s", msg);
		snprintf(f[n++], sizeof f[0], "PRIORITY=%d", prio);
		snprintf(f[n++], sizeof f[0], "SYSLOG_IDENTIFIER=%s", L.ident);
		if (ctx && ctx->dataset)
			snprintf(f[n++], sizeof f[0], "DATASET=%s", ctx->dataset);
		if (ctx && ctx->run_id > 0)
			snprintf(f[n++], sizeof f[0], "RUN_ID=%" PRId64, ctx->run_id);
		if (ctx && ctx->exec_date)
			snprintf(f[n++], sizeof f[0], "EXEC_DATE=%s", ctx->exec_date);
		if (ctx && ctx->task)
			snprintf(f[n++], sizeof f[0], "TASK=%s", ctx->task);
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = f[i];
			iov[i].iov_len = strlen(f[i]);
		}
		sd_journal_sendv(iov, n);
	} else {
		char pre[256] = "";
		size_t n = 0;
		if (ctx && ctx->dataset)
			n += (size_t)snprintf(pre + n, sizeof pre - n, "%s ", ctx->dataset);
		if (ctx && ctx->exec_date && n < sizeof pre)
			n += (size_t)snprintf(pre + n, sizeof pre - n, "%s ", ctx->exec_date);
		if (ctx && ctx->run_id > 0 && n < sizeof pre)
			n += (size_t)snprintf(pre + n, sizeof pre - n, "run=%" PRId64 " ", ctx->run_id);
		if (ctx && ctx->task && n < sizeof pre)
			n += (size_t)snprintf(pre + n, sizeof pre - n, "%s ", ctx->task);
		if (n > 0 && n < sizeof pre) {
			pre[n - 1] = ']';
			fprintf(stderr, "%s: %s: [%s %s\n", L.ident, prio_word(prio), pre, msg);
		} else {
			fprintf(stderr, "%s: %s: %s\n", L.ident, prio_word(prio), msg);
		}
	}
	errno = saved;
}
