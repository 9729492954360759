/*
 * arcgis_http.c - the form body of the pager's requests: every query goes
 * by POST (ARCGIS.md 2.1: long GETs fail), percent-encoded.  The request
 * itself is io/http_req.h's, with the body capped at AG_BODY_MAX (a page is
 * one page: a few MB).  Any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "io/arcgis_int.h"

char *ag_form(const char *const *names, const char *const *values, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;

	buf_init(&b, 256, AG_BODY_MAX);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_put(&b, "&", 1);
		buf_put(&b, names[i], strlen(names[i]));
		buf_put(&b, "=", 1);
		for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++) {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || strchr("-._~", *p))
				buf_put(&b, (const char *)p, 1);
			else
				buf_put(&b, e, 3);
		}
	}
	if (b.err) {
		buf_free(&b);
		return NULL;
	}
	size_t len;
	return buf_take(&b, &len);
}
