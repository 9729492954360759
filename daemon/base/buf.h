/*
 * buf.h - a growing text buffer with a size cap and a sticky error, for
 * output assembled piece by piece (metrics text, JSON replies).
 *
 * The text is always NUL-terminated once anything was reserved, so
 * cap > len: a caller may overwrite the NUL (control.c puts its newline
 * there).  The first failure (-ENOMEM, or -E2BIG past the cap) stays in
 * b->err and later writes are dropped, so a writer checks once, at the end.
 *
 * A buffer may instead cut at its cap (buf_set_cut): for text meant for
 * humans, where the beginning is worth more than an error.
 */
#ifndef DENVERD_BUF_H
#define DENVERD_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *p;              /* the text; owned by the buffer until buf_take() */
	size_t len, cap;
	size_t max;           /* cap on len */
	int err;              /* 0, or the first failure */
	const char *mark;     /* NULL; or, set by buf_set_cut, what ends a cut text */
	bool cut;             /* the text reached the cap and was cut */
};

/* An empty buffer whose text may grow to MAX bytes; HINT bytes are
 * allocated up front (0: on first write). */
void buf_init(struct buf *b, size_t hint, size_t max);
/* Free the text (accepts a buffer whose text was taken). */
void buf_free(struct buf *b);
/* Hand over the text (caller frees; "" when nothing was written) and its
 * length; NULL, with the text freed, when b->err. */
char *buf_take(struct buf *b, size_t *len);

/* Past the cap, buf_put and buf_printf cut instead of failing: the write
 * that does not fit is kept as far as it fits, the text's last
 * strlen(MARK) bytes become MARK (static, shorter than the cap; "..."),
 * b->cut is set, b->err stays 0 and later writes are dropped.  So a cut
 * text is exactly the cap long, and buf_take hands it over. */
void buf_set_cut(struct buf *b, const char *mark);

/* Room for N more bytes and the NUL; false (and b->err) when there is none,
 * also in a cutting buffer (buf_reserve never cuts); false once cut. */
bool buf_reserve(struct buf *b, size_t n);
void buf_put(struct buf *b, const char *s, size_t n);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
