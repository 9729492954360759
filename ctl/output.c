/*
 * output.c - small text helpers of denverctl's printers (cmd_*.c): the
 * name messages start with, a reply's string or "-", and a timestamp in
 * the reader's time zone.
 * Durations, sizes and spans are common/fmt.h's, the daemon's style.
 */
#include <time.h>

#include "ctl/ctl.h"

const char *ctl_prog = "denverctl";

const char *ctl_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

void ctl_fmt_time(json_t *v, char *buf, size_t n)
{
	if (!json_is_integer(v)) {
		snprintf(buf, n, "-");
		return;
	}
	time_t t = (time_t)(json_integer_value(v) / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S %Z", &tm);
}
