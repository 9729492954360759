/*
 * jsonw.h - JSON text written straight into a growing buffer.
 *
 * For replies too large to build as a jansson tree and then dump: `status`
 * with 1,000 datasets spent 1.7 ms building the tree and 2.5 ms dumping it
 * (tests/bench/bench_sched.py).  The text is compact and ASCII only, like
 * jansson's JSON_COMPACT | JSON_ENSURE_ASCII; bytes that are not valid
 * UTF-8 become U+FFFD rather than failing the reply.
 *
 * Errors are sticky: the first failure (-ENOMEM, -E2BIG past the size cap,
 * -EINVAL for nesting deeper than JSONW_MAX_DEPTH) stays in w->buf.err and later
 * calls write nothing, so a writer checks once, at the end.  Commas are the
 * writer's business; keeping the structure right (a key before each member
 * of an object, every container ended) is the caller's.
 */
#ifndef DENVERD_JSONW_H
#define DENVERD_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"

#define JSONW_MAX_DEPTH 64

struct jsonw {
	struct buf buf;       /* the text; buf.err is the writer's first failure */
	unsigned depth;
	uint64_t has_member;  /* bit d: the container at depth d is not empty */
	uint64_t is_array;    /* bit d: the container at depth d is an array */
	bool after_key;       /* the next value is a member's, after its key */
};

/* An empty writer whose text may grow to MAX bytes; HINT bytes are
 * allocated up front (0: on first write). */
void jsonw_init(struct jsonw *w, size_t hint, size_t max);
/* Free the text (accepts a writer whose text was taken). */
void jsonw_free(struct jsonw *w);
/* Hand over the text (caller frees) and its length; NULL when w->buf.err. */
char *jsonw_take(struct jsonw *w, size_t *len);

void jsonw_object(struct jsonw *w);       /* { */
void jsonw_array(struct jsonw *w);        /* [ */
void jsonw_end(struct jsonw *w);          /* } or ], whichever is open */
void jsonw_key(struct jsonw *w, const char *key);

void jsonw_str(struct jsonw *w, const char *s);      /* NULL writes null */
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* A jansson value (borrowed), dumped in place; NULL writes null. */
void jsonw_json(struct jsonw *w, const json_t *v);

/* Key and value in one call, for the common members. */
void jsonw_kstr(struct jsonw *w, const char *key, const char *s);
void jsonw_kint(struct jsonw *w, const char *key, int64_t v);
void jsonw_kbool(struct jsonw *w, const char *key, bool v);

#endif
