/*
 * utf8.c - UTF-8 validation by the table of RFC 3629, section 4.
 */
#include <stdint.h>

#include "base/utf8.h"

size_t utf8_seq_len(const uint8_t *s, size_t left)
{
	uint8_t c = s[0];
	size_t n;
	uint8_t lo = 0x80, hi = 0xBF;        /* range of the second byte */

	if (c >= 0x01 && c <= 0x7F)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;               /* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F;               /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;               /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

size_t utf8_sanitize(char *s, size_t len)
{
	uint8_t *p = (uint8_t *)s;
	size_t i = 0, bad = 0;

	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0) {
			p[i++] = '?';
			bad++;
		} else {
			i += n;
		}
	}
	return bad;
}
