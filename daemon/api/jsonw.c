/*
 * jsonw.c - JSON text straight into a growing buffer (see jsonw.h).
 */
#include <errno.h>
#include <string.h>

#include "api/jsonw.h"
#include "base/utf8.h"

void jsonw_init(struct jsonw *w, size_t hint, size_t max)
{
	memset(w, 0, sizeof *w);
	buf_init(&w->buf, hint, max);
}

void jsonw_free(struct jsonw *w)
{
	buf_free(&w->buf);
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
	return buf_take(&w->buf, len);
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	buf_put(&w->buf, s, n);
}

static void putc_(struct jsonw *w, char c)
{
	put(w, &c, 1);
}

/* The comma before a value, unless it follows its key or opens the text. */
static void before_value(struct jsonw *w)
{
	uint64_t bit = 1ull << w->depth;

	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->has_member & bit)
		putc_(w, ',');
	w->has_member |= bit;
}

static void open_(struct jsonw *w, char c, bool array)
{
	uint64_t bit;

	before_value(w);
	if (w->buf.err)
		return;
	if (w->depth + 1 >= JSONW_MAX_DEPTH) {
		w->buf.err = -EINVAL;
		return;
	}
	w->depth++;
	bit = 1ull << w->depth;
	w->has_member &= ~bit;
	if (array)
		w->is_array |= bit;
	else
		w->is_array &= ~bit;
	putc_(w, c);
}

void jsonw_object(struct jsonw *w) { open_(w, '{', false); }
void jsonw_array(struct jsonw *w)  { open_(w, '[', true); }

void jsonw_end(struct jsonw *w)
{
	if (w->buf.err)
		return;
	if (w->depth == 0) {
		w->buf.err = -EINVAL;
		return;
	}
	putc_(w, w->is_array & (1ull << w->depth) ? ']' : '}');
	w->depth--;
}

/* One code point as \uXXXX, or as a surrogate pair above U+FFFF. */
static void put_u(struct jsonw *w, uint32_t cp)
{
	static const char hex[] = "0123456789ABCDEF";   /* as jansson writes them */
	char b[12];
	size_t n = 0;

	if (cp > 0xFFFF) {
		cp -= 0x10000;
		put_u(w, 0xD800 | (cp >> 10));
		cp = 0xDC00 | (cp & 0x3FF);
	}
	b[n++] = '\\';
	b[n++] = 'u';
	for (int shift = 12; shift >= 0; shift -= 4)
		b[n++] = hex[(cp >> shift) & 0xF];
	put(w, b, n);
}

static void put_string(struct jsonw *w, const char *str)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0, start;

	putc_(w, '"');
	while (s[i]) {
		/* The common case: a run of printable ASCII copied at once. */
		start = i;
		while (s[i] >= 0x20 && s[i] < 0x7F && s[i] != '"' && s[i] != '\\')
			i++;
		put(w, (const char *)s + start, i - start);
		if (!s[i])
			break;
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(w, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
			              : NULL;
			if (e)
				put(w, e, 2);
			else
				put_u(w, c);
			i++;
		} else {
			size_t left = 1, n;
			uint32_t cp;
			while (left < 4 && s[i + left])
				left++;
			n = utf8_seq_len(s + i, left);
			if (n == 0) {
				put_u(w, 0xFFFD);
				i++;
				continue;
			}
			cp = n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
			for (size_t k = 1; k < n; k++)
				cp = cp << 6 | (s[i + k] & 0x3Fu);
			put_u(w, cp);
			i += n;
		}
	}
	putc_(w, '"');
}

void jsonw_key(struct jsonw *w, const char *key)
{
	uint64_t bit = 1ull << w->depth;

	if (w->buf.err)
		return;
	if (w->depth == 0 || (w->is_array & bit) || w->after_key) {
		w->buf.err = -EINVAL;       /* a key outside an object, or two in a row */
		return;
	}
	if (w->has_member & bit)
		putc_(w, ',');
	w->has_member |= bit;
	put_string(w, key);
	putc_(w, ':');
	w->after_key = true;
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (!s) {
		jsonw_null(w);
		return;
	}
	before_value(w);
	put_string(w, s);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
	char b[24];
	size_t n = sizeof b;
	/* Negated as unsigned, so INT64_MIN does not overflow. */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		b[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		b[--n] = '-';
	before_value(w);
	put(w, b + n, sizeof b - n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
	before_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void jsonw_null(struct jsonw *w)
{
	before_value(w);
	put(w, "null", 4);
}

static int dump_cb(const char *buf, size_t n, void *data)
{
	struct jsonw *w = data;
	put(w, buf, n);
	return w->buf.err ? -1 : 0;
}

void jsonw_json(struct jsonw *w, const json_t *v)
{
	if (!v) {
		jsonw_null(w);
		return;
	}
	before_value(w);
	if (w->buf.err)
		return;
	if (json_dump_callback(v, dump_cb, w,
	                       JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) < 0 &&
	    !w->buf.err)
		w->buf.err = -ENOMEM;
}

void jsonw_kstr(struct jsonw *w, const char *key, const char *s)
{
	jsonw_key(w, key);
	jsonw_str(w, s);
}

void jsonw_kint(struct jsonw *w, const char *key, int64_t v)
{
	jsonw_key(w, key);
	jsonw_int(w, v);
}

void jsonw_kbool(struct jsonw *w, const char *key, bool v)
{
	jsonw_key(w, key);
	jsonw_bool(w, v);
}
