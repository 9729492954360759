/*
 * template.h - "{name}" placeholder expansion, shared by URL templates, job
 * argv and alert commands.  Pure; never logs.
 */
#ifndef DENVERD_TEMPLATE_H
#define DENVERD_TEMPLATE_H

#include <stddef.h>

#define TEMPLATE_MAX_OUT (64 * 1024)   /* cap on one expanded string */

struct template_var {
	const char *name;     /* without braces */
	const char *value;    /* NULL expands to "" */
};

/*
 * Expand every {name} of TMPL from VARS[0..n).  "{{" and "}}" are literal
 * braces.  On success returns 0 and *out is a new string (caller frees).
 * Returns -EINVAL for an unknown or unterminated placeholder (with *bad,
 * when not NULL, set to the offset in TMPL where it starts), -E2BIG when the
 * result would exceed TEMPLATE_MAX_OUT, -ENOMEM.  *out is NULL on failure.
 */
int template_expand(const char *tmpl, const struct template_var *vars, size_t n,
                    char **out, size_t *bad);

/* Only check that every placeholder of TMPL is one of NAMES[0..n):
 * 0, or -EINVAL with *bad set as above (config validation uses this). */
int template_check(const char *tmpl, const char *const *names, size_t n, size_t *bad);

#endif
