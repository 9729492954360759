/*
 * buf.c - a growing text buffer with a size cap and a sticky error (buf.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

void buf_init(struct buf *b, size_t hint, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
	if (hint > max)
		hint = max;
	if (hint && (b->p = malloc(hint + 1))) {
		b->cap = hint + 1;
		b->p[0] = '\0';
	}
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *buf_take(struct buf *b, size_t *len)
{
	char *p;

	if (!b->p && buf_reserve(b, 0))     /* nothing written: an empty text */
		b->p[0] = '\0';
	if (b->err) {
		buf_free(b);
		return NULL;
	}
	p = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_set_cut(struct buf *b, const char *mark)
{
	b->mark = mark;
}

/* Capacity for N more bytes and the NUL, whatever the cap. */
static bool grow(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if (!(p = realloc(b->p, cap))) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

/* A cutting buffer's write that does not fit: the text is at the cap, its
 * room filled by the caller; end it with the mark. */
static void cut(struct buf *b)
{
	size_t m = strlen(b->mark);

	b->len = b->max;
	if (m > b->len)
		m = b->len;
	memcpy(b->p + b->len - m, b->mark, m);
	b->p[b->len] = '\0';
	b->cut = true;
}

/* A write of N bytes past the cap of a cutting buffer: true when the
 * caller may fill the room that is left (b->max - b->len bytes). */
static bool cut_room(struct buf *b, size_t n)
{
	return b->mark && !b->err && !b->cut && n > b->max - b->len && grow(b, b->max - b->len);
}

bool buf_reserve(struct buf *b, size_t n)
{
	if (b->err || b->cut)
		return false;
	if (n > b->max - b->len) {
		b->err = -E2BIG;
		return false;
	}
	return grow(b, n);
}

void buf_put(struct buf *b, const char *s, size_t n)
{
	if (cut_room(b, n)) {
		memcpy(b->p + b->len, s, b->max - b->len);
		cut(b);
		return;
	}
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err || b->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -EINVAL;
		return;
	}
	if (cut_room(b, (size_t)n)) {
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->max - b->len + 1, fmt, ap);
		va_end(ap);
		cut(b);
		return;
	}
	if (!buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
