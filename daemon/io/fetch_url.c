/*
 * fetch_url.c - the URL template of a dataset, expanded for one exec date
 * (fetch.h: {exec_date} {year} {month} {day}).  Pure: no I/O.
 */
#include <errno.h>
#include <string.h>

#include "base/macro.h"
#include "domain/execdate.h"
#include "io/fetch.h"

int fetch_date_vars_init(struct fetch_date_vars *v, const char *d)
{
	int64_t day;

	if (!d || execdate_parse(d, &day) < 0)
		return -EINVAL;
	memcpy(v->exec_date, d, 11);
	memcpy(v->year, d, 4);
	v->year[4] = '\0';
	memcpy(v->month, d + 5, 2);
	v->month[2] = '\0';
	memcpy(v->day, d + 8, 2);
	v->day[2] = '\0';
	v->vars[0] = (struct template_var){ "exec_date", v->exec_date };
	v->vars[1] = (struct template_var){ "year", v->year };
	v->vars[2] = (struct template_var){ "month", v->month };
	v->vars[3] = (struct template_var){ "day", v->day };
	return 0;
}

int fetch_url_expand(const char *tmpl, const char *exec_date, char **out, size_t *bad)
{
	struct fetch_date_vars v;
	*out = NULL;
	if (fetch_date_vars_init(&v, exec_date) < 0)
		return -EINVAL;
	return template_expand(tmpl, v.vars, ARRAY_SIZE(v.vars), out, bad);
}
