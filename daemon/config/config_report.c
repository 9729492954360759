/*
 * config_report.c - what a parse records besides the struct: its messages
 * (kept, counted past MAX_ERRORS, sorted by position at the end), running
 * out of memory, how a value is quoted, and the "did you mean" hints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

#define MAX_ERRORS    100           /* messages kept; the rest are counted */

/* ---- messages --------------------------------------------------------- */

struct msg {
	int line, col;            /* 0 = about the whole file */
	size_t seq;
	char *text;
};

__attribute__((format(printf, 4, 0)))
static void vreport(struct parser *p, int line, int col, const char *fmt, va_list ap)
{
	char *text;

	if (p->n_msgs >= MAX_ERRORS) {
		p->dropped++;
		return;
	}
	if (p->n_msgs == p->cap_msgs) {
		size_t cap = p->cap_msgs ? 2 * p->cap_msgs : 16;
		struct msg *m = realloc(p->msgs, cap * sizeof(*m));
		if (!m) {
			p->oom = true;
			return;
		}
		p->msgs = m;
		p->cap_msgs = cap;
	}
	if (vasprintf(&text, fmt, ap) < 0) {
		p->oom = true;
		return;
	}
	p->msgs[p->n_msgs] = (struct msg){ line, col, p->n_msgs, text };
	p->n_msgs++;
}

void conf_report(struct parser *p, const struct node *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(p, at ? at->line : 0, at ? at->col : 0, fmt, ap);
	va_end(ap);
}

void conf_report_pos(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(p, line, col, fmt, ap);
	va_end(ap);
}

static int msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

char *conf_join_msgs(struct parser *p)
{
	size_t size = 1, off = 0;
	char *out;

	qsort(p->msgs, p->n_msgs, sizeof(*p->msgs), msg_cmp);
	for (size_t i = 0; i < p->n_msgs; i++)
		size += strlen(p->name) + strlen(p->msgs[i].text) + 32;
	size += strlen(p->name) + 96;
	out = malloc(size);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < p->n_msgs; i++) {
		const struct msg *m = &p->msgs[i];
		if (m->line > 0)
			off += (size_t)snprintf(out + off, size - off, "%s:%d:%d: %s\n",
			                        p->name, m->line, m->col, m->text);
		else
			off += (size_t)snprintf(out + off, size - off, "%s: %s\n", p->name,
			                        m->text);
	}
	if (p->dropped)
		snprintf(out + off, size - off, "%s: %zu more errors not shown\n",
		         p->name, p->dropped);
	return out;
}

void conf_msgs_free(struct parser *p)
{
	for (size_t i = 0; i < p->n_msgs; i++)
		free(p->msgs[i].text);
	free(p->msgs);
	p->msgs = NULL;
	p->n_msgs = p->cap_msgs = 0;
}

const char *conf_show(const char *value, char *buf)
{
	size_t n = 0;
	for (const unsigned char *s = (const unsigned char *)value; *s && n < 40; s++)
		buf[n++] = (*s < 0x20 || *s == 0x7f) ? '?' : (char)*s;
	if (value[n]) {
		while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf + n, "...", 4);
	} else {
		buf[n] = '\0';
	}
	return buf;
}

/* ---- memory helpers that remember failure ------------------------------ */

char *conf_xstrdup(struct parser *p, const char *s)
{
	char *d = strdup(s);
	if (!d)
		p->oom = true;
	return d;
}

void *conf_xcalloc(struct parser *p, size_t n, size_t size)
{
	void *m = calloc(n ? n : 1, size);
	if (!m)
		p->oom = true;
	return m;
}

void conf_strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* ---- did you mean ------------------------------------------------------ */

char conf_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance, case-insensitive; SIZE_MAX when a
 * word is too long to be a key worth suggesting. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][CONFIG_MAX_NAME + 1];   /* rows i-2, i-1, i (rotating) */

	if (la > CONFIG_MAX_NAME || lb > CONFIG_MAX_NAME)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = rows[i % 3], *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = up[j - 1] + (conf_lower(a[i - 1]) != conf_lower(b[j - 1]));
			if (up[j] + 1 < best)
				best = up[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && conf_lower(a[i - 1]) == conf_lower(b[j - 2]) &&
			    conf_lower(a[i - 2]) == conf_lower(b[j - 1]) && up2[j - 2] + 1 < best)
				best = up2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return rows[la % 3][lb];
}

const char *conf_nearest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word), limit = (len + 2) / 4, best = SIZE_MAX;
	const char *pick = NULL;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < n; i++) {
		size_t dist = edit_distance(word, cands[i]);
		if (dist <= limit && dist < best) {
			best = dist;
			pick = cands[i];
		}
	}
	return pick;
}

const char *conf_hint(const char *word, const char *const *cands, size_t n, char *buf,
                      size_t size)
{
	const char *pick = conf_nearest(word, cands, n);
	if (pick)
		snprintf(buf, size, ", did you mean '%s'?", pick);
	else
		buf[0] = '\0';
	return buf;
}

