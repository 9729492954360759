/*
 * config_values.c - one scalar value of the file, checked: strings, paths,
 * booleans, numbers in range, values with units, enums, string lists.
 * Each conf_want_*() returns the value or reports why not (config_int.h);
 * conf_set_*() store it in the struct being filled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "common/fmt.h"
#include "config/config_int.h"

/* ---- scalar values ----------------------------------------------------- */

#define EXP_DURATION "a duration like 30s, 5m, 2h, 1d"
#define EXP_SIZE     "a size like 512, 64KiB, 1MiB, 1GiB"
#define EXP_PERCENT  "a percentage like 2%, 0.5%"
#define EXP_MODE     "an octal mode like \"0660\""

const char *conf_want_scalar(struct parser *p, const char *key, const struct node *v,
                             const char *expected)
{
	if (v->kind == NODE_BAD)
		return NULL;
	if (v->kind != NODE_SCALAR || conf_is_null(v)) {
		conf_report(p, v, "%s: expected %s, not %s", key, expected, conf_kind_word(v));
		return NULL;
	}
	return v->text;
}

bool conf_want_map(struct parser *p, const char *key, const struct node *v)
{
	if (v->kind == NODE_MAP || conf_is_null(v))
		return true;
	if (v->kind != NODE_BAD)
		conf_report(p, v, "%s: expected a mapping (key: value lines), not %s", key,
		            conf_kind_word(v));
	return false;
}

bool conf_want_list(struct parser *p, const char *key, const struct node *v)
{
	if (v->kind == NODE_LIST || conf_is_null(v))
		return true;
	if (v->kind != NODE_BAD)
		conf_report(p, v, "%s: expected a list like [a, b], not %s", key,
		            conf_kind_word(v));
	return false;
}

const char *conf_want_string(struct parser *p, const char *key, const struct node *v)
{
	const char *s = conf_want_scalar(p, key, v, "a string");
	if (!s)
		return NULL;
	if (v->len > MAX_STRING) {
		conf_report(p, v, "%s: the value is longer than %d bytes", key, MAX_STRING);
		return NULL;
	}
	if (v->len == 0) {
		conf_report(p, v, "%s: must not be empty", key);
		return NULL;
	}
	return s;
}

int conf_want_bool(struct parser *p, const char *key, const struct node *v, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	const char *s = conf_want_scalar(p, key, v, "true or false");

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	conf_report(p, v, "%s: expected true or false, not '%s'", key, SHOW(s));
	return -EINVAL;
}

int conf_want_u64(struct parser *p, const char *key, const struct node *v, uint64_t lo,
                  uint64_t hi, uint64_t *out)
{
	const char *s = conf_want_scalar(p, key, v, "a whole number");
	uint64_t n;

	if (!s)
		return -EINVAL;
	if (conf_parse_u64(s, NULL, &n) < 0 || n < lo || n > hi) {
		conf_report(p, v, "%s: expected a whole number from %llu to %llu, not '%s'", key,
		            (unsigned long long)lo, (unsigned long long)hi, SHOW(s));
		return -EINVAL;
	}
	*out = n;
	return 0;
}

int conf_want_number(struct parser *p, const char *key, const struct node *v, double *out)
{
	const char *s = conf_want_scalar(p, key, v, "a number");
	if (!s)
		return -EINVAL;
	if (conf_parse_number(s, out) < 0) {
		conf_report(p, v, "%s: expected a number like 42 or -104.6, not '%s'", key,
		            SHOW(s));
		return -EINVAL;
	}
	return 0;
}

/* A value with a unit: how it is parsed, shown, and described. */
struct unit {
	const char *expected;
	int (*parse)(const char *s, uint64_t *out);
	char *(*fmt)(char *buf, size_t n, uint64_t v);    /* common/fmt.h */
};

static const struct unit duration_unit = { EXP_DURATION, config_parse_duration, fmt_duration };
static const struct unit size_unit = { EXP_SIZE, config_parse_size, fmt_size };
STATIC_ASSERT(FMT_SIZE_MAX <= FMT_DURATION_MAX, "want_unit's buffers hold either");

static int want_unit(struct parser *p, const char *key, const struct node *v,
                     const struct unit *u, uint64_t lo, uint64_t hi, uint64_t *out)
{
	const char *s = conf_want_scalar(p, key, v, u->expected);
	char a[FMT_DURATION_MAX], b[FMT_DURATION_MAX];
	uint64_t n;

	if (!s)
		return -EINVAL;
	if (u->parse(s, &n) < 0) {
		conf_report(p, v, "%s: expected %s, not '%s'", key, u->expected, SHOW(s));
		return -EINVAL;
	}
	if (n < lo || n > hi) {
		if (lo == 0)
			conf_report(p, v, "%s: must be at most %s, not '%s'", key,
			            u->fmt(a, sizeof a, hi), SHOW(s));
		else
			conf_report(p, v, "%s: must be between %s and %s, not '%s'", key,
			            u->fmt(a, sizeof a, lo), u->fmt(b, sizeof b, hi), SHOW(s));
		return -EINVAL;
	}
	*out = n;
	return 0;
}

int conf_want_duration(struct parser *p, const char *key, const struct node *v, uint64_t lo,
                       uint64_t hi, uint64_t *out)
{
	return want_unit(p, key, v, &duration_unit, lo, hi, out);
}

int conf_want_size(struct parser *p, const char *key, const struct node *v, uint64_t lo,
                   uint64_t hi, uint64_t *out)
{
	return want_unit(p, key, v, &size_unit, lo, hi, out);
}

int conf_want_percent(struct parser *p, const char *key, const struct node *v, uint64_t hi,
                      double *out)
{
	const char *s = conf_want_scalar(p, key, v, EXP_PERCENT);
	double f;

	if (!s)
		return -EINVAL;
	if (config_parse_percent(s, &f) < 0) {
		conf_report(p, v, "%s: expected %s, not '%s'", key, EXP_PERCENT, SHOW(s));
		return -EINVAL;
	}
	if (f * 100 > (double)hi) {
		conf_report(p, v, "%s: must be between 0%% and %llu%%, not '%s'", key,
		            (unsigned long long)hi, SHOW(s));
		return -EINVAL;
	}
	*out = f;
	return 0;
}

int conf_want_enum(struct parser *p, const char *key, const struct node *v,
                   const char *const *names, size_t n, int *out)
{
	char list[256];
	size_t off = 0;
	const char *s;

	list[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
		                        i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	if (!(s = conf_want_scalar(p, key, v, list)))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return *out = (int)i, 0;
	conf_report(p, v, "%s: expected %s, not '%s'%s", key, list, SHOW(s), HINT(s, names, n));
	return -EINVAL;
}

int conf_want_mode(struct parser *p, const char *key, const struct node *v, unsigned *out)
{
	const char *s = conf_want_scalar(p, key, v, EXP_MODE);

	if (!s)
		return -EINVAL;
	if (conf_parse_mode(s, out) < 0) {
		conf_report(p, v, "%s: expected %s, not '%s'", key, EXP_MODE, SHOW(s));
		return -EINVAL;
	}
	return 0;
}

void conf_set_string(struct parser *p, char **field, const char *value)
{
	char *d = conf_xstrdup(p, value);
	if (d) {
		free(*field);
		*field = d;
	}
}

void conf_set_list(struct parser *p, const char *key, const struct node *v, struct strlist *l)
{
	if (!conf_want_list(p, key, v))
		return;
	if (v->n > CONFIG_MAX_LIST) {
		conf_report(p, v, "%s: too many items (%zu); the limit is %d", key, v->n,
		            CONFIG_MAX_LIST);
		return;
	}
	conf_strlist_free(l);
	if (!(l->items = conf_xcalloc(p, v->n + 1, sizeof(char *))))
		return;
	for (size_t i = 0; i < v->n; i++) {
		const char *s = conf_want_string(p, key, v->kids[i]);
		if (s && (l->items[l->n] = conf_xstrdup(p, s)))
			l->n++;
	}
}

