/*
 * output.c - small text helpers of denverctl's printers (cmd_*.c): the
 * name messages start with, a reply's string or "-", a timestamp in the
 * reader's time zone, and an ArcGIS fetch's paging progress.
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

/* N with a comma between groups of three digits: 290,000. */
static void fmt_thousands(char *buf, size_t n, json_int_t v)
{
	char digits[32];
	int len = snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, v < 0 ? 0 : v);
	size_t o = 0;

	for (int i = 0; i < len && o + 1 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0 && o + 2 < n)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

bool ctl_fmt_hub(json_t *p, char *buf, size_t n)
{
	const char *st = json_string_value(json_object_get(p, "hub_status"));
	json_t *pc = json_object_get(p, "hub_percent");

	if (!st)
		return false;
	if (json_is_integer(pc))
		snprintf(buf, n, "Hub: %s %" JSON_INTEGER_FORMAT "%%", *st ? st : "asked",
		         json_integer_value(pc));
	else
		snprintf(buf, n, "Hub: %s", *st ? st : "asked");
	return true;
}

void ctl_fmt_paging(json_t *p, char *buf, size_t n)
{
	char rows[32], total[32];
	json_t *tot = json_object_get(p, "rows_total");

	fmt_thousands(rows, sizeof rows, json_integer_value(json_object_get(p, "rows_done")));
	if (json_is_integer(tot)) {
		fmt_thousands(total, sizeof total, json_integer_value(tot));
		snprintf(buf, n, "page %" JSON_INTEGER_FORMAT ", %s of %s rows",
		         json_integer_value(json_object_get(p, "pages")), rows, total);
	} else {
		snprintf(buf, n, "page %" JSON_INTEGER_FORMAT ", %s rows",
		         json_integer_value(json_object_get(p, "pages")), rows);
	}
}
