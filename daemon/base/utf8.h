/*
 * utf8.h - making arbitrary bytes (a child's output, a remote file's text)
 * safe to store as TEXT and to send as JSON.  Pure.
 */
#ifndef DENVERD_UTF8_H
#define DENVERD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the valid UTF-8 sequence at S, of which LEFT (> 0) bytes
 * are readable, or 0 when it is not one (NUL included). */
size_t utf8_seq_len(const uint8_t *s, size_t left);

/* Replace, in place, every byte of S[0..len) that is not part of a valid
 * UTF-8 sequence (overlong forms, surrogates, > U+10FFFF, a sequence cut
 * short) and every NUL by '?'.  The length never changes.  Returns the
 * number of bytes replaced. */
size_t utf8_sanitize(char *s, size_t len);

#endif
