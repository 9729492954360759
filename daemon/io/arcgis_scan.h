/*
 * arcgis_scan.h - the JSON scanner of arcgis_scan.c, for arcgis_page.c and
 * its tests only.  Every function takes S at the first byte of what it
 * scans (after white space), returns false for text json_loadb would
 * reject (at any depth below s->depth), and leaves s->p past the value.
 */
#ifndef DENVERD_ARCGIS_SCAN_H
#define DENVERD_ARCGIS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AG_MAX_DEPTH 2048           /* jansson's JSON_PARSER_MAX_DEPTH */

enum vkind { V_NONE, V_NULL, V_TRUE, V_FALSE, V_INT, V_REAL, V_STR, V_NEST };

/* A value of the page: where its text is and what it is. */
struct ag_span {
	const char *p;           /* V_STR: between the quotes; else the token */
	uint32_t n;
	uint8_t kind;
	uint8_t esc;             /* V_STR: holds an escape */
	uint8_t comma;           /* V_STR: holds a raw ',' (must be quoted) */
};

struct ag_sc {
	const unsigned char *p, *e;
	unsigned depth;          /* containers open around the current value */
};

static inline void ag_ws(struct ag_sc *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* A string at s->p ('"'): V gets the text between the quotes. */
bool ag_scan_str(struct ag_sc *s, struct ag_span *v);
/* An object or array at s->p, checked, not looked into. */
bool ag_skip_nest(struct ag_sc *s, struct ag_span *v);
/* Any value (white space first). */
bool ag_scan_value(struct ag_sc *s, struct ag_span *v);
/* The decoded text of a string V into O (room for v->n bytes: nothing
 * decodes longer than its escape); its length. */
size_t ag_decode(const struct ag_span *v, char *o);

#endif
