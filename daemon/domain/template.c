/*
 * template.c - placeholder expansion with a capped output buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "domain/template.h"

struct outbuf {
	char *p;
	size_t len, cap;
};

static int put(struct outbuf *o, const char *s, size_t n)
{
	if (o->len + n + 1 > TEMPLATE_MAX_OUT)
		return -E2BIG;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		while (cap < o->len + n + 1)
			cap *= 2;
		if (cap > TEMPLATE_MAX_OUT)
			cap = TEMPLATE_MAX_OUT;
		char *np = realloc(o->p, cap);
		if (!np)
			return -ENOMEM;
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

/*
 * Walk TMPL; for each placeholder call LOOKUP with its name.  The walker is
 * shared by expand and check so both agree on the syntax.
 */
typedef int (*lookup_fn)(const char *name, size_t len, const void *ctx,
                         const char **value);

static int walk(const char *tmpl, lookup_fn lookup, const void *ctx,
                struct outbuf *o, size_t *bad)
{
	const char *s = tmpl;
	int rc;

	while (*s) {
		const char *brace = strpbrk(s, "{}");
		if (!brace)
			return o ? put(o, s, strlen(s)) : 0;
		if (o && (rc = put(o, s, (size_t)(brace - s))) < 0)
			return rc;
		if (brace[0] == brace[1]) {            /* "{{" or "}}" */
			if (o && (rc = put(o, brace, 1)) < 0)
				return rc;
			s = brace + 2;
			continue;
		}
		if (*brace == '}') {
			if (bad)
				*bad = (size_t)(brace - tmpl);
			return -EINVAL;
		}
		const char *end = strchr(brace + 1, '}');
		const char *value = NULL;
		if (!end || lookup(brace + 1, (size_t)(end - brace - 1), ctx, &value) < 0) {
			if (bad)
				*bad = (size_t)(brace - tmpl);
			return -EINVAL;
		}
		if (o && value && (rc = put(o, value, strlen(value))) < 0)
			return rc;
		s = end + 1;
	}
	return 0;
}

struct vars_ctx {
	const struct template_var *vars;
	size_t n;
};

static int lookup_vars(const char *name, size_t len, const void *ctx, const char **value)
{
	const struct vars_ctx *c = ctx;
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->vars[i].name) == len && memcmp(c->vars[i].name, name, len) == 0) {
			*value = c->vars[i].value;
			return 0;
		}
	return -EINVAL;
}

int template_expand(const char *tmpl, const struct template_var *vars, size_t n,
                    char **out, size_t *bad)
{
	struct outbuf o = { 0 };
	struct vars_ctx c = { vars, n };
	int rc = put(&o, "", 0);

	*out = NULL;
	if (rc == 0)
		rc = walk(tmpl, lookup_vars, &c, &o, bad);
	if (rc < 0) {
		free(o.p);
		return rc;
	}
	*out = o.p;
	return 0;
}

struct names_ctx {
	const char *const *names;
	size_t n;
};

static int lookup_names(const char *name, size_t len, const void *ctx, const char **value)
{
	const struct names_ctx *c = ctx;
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->names[i]) == len && memcmp(c->names[i], name, len) == 0) {
			*value = NULL;
			return 0;
		}
	return -EINVAL;
}

int template_check(const char *tmpl, const char *const *names, size_t n, size_t *bad)
{
	struct names_ctx c = { names, n };
	return walk(tmpl, lookup_names, &c, NULL, bad);
}
