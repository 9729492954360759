/* test_csv.c - the streaming CSV scanner: a table of small inputs, one per
 * quirk of data/FORMATS.md and per edge case, each with its exact rows,
 * counts and deviations, run at every read size from 1 byte up (so every
 * chunk boundary is crossed) and with every SIMD variant. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "quality/csv.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define S(x) x, sizeof(x) - 1

/* Rows rendered as fields joined by '|', rows joined by '/'; a cut field
 * ends with '~'. */
struct render {
	char *s;
	size_t len, cap;
	uint64_t rows;
	uint64_t lines[64];          /* line of each row (first 64) */
	int stop_after;              /* > 0: stop the scan after that many rows */
};

static void put(struct render *r, const char *p, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		r->cap = (r->len + n + 1) * 2;
		r->s = realloc(r->s, r->cap);
		assert_non_null(r->s);
	}
	memcpy(r->s + r->len, p, n);
	r->len += n;
	r->s[r->len] = 0;
}

static int on_row(void *ud, const struct csv_row *row)
{
	struct render *r = ud;
	if (r->rows < N(r->lines))
		r->lines[r->rows] = row->line;
	if (r->rows)
		put(r, "/", 1);
	for (uint32_t i = 0; i < row->n_fields; i++) {
		if (i)
			put(r, "|", 1);
		put(r, row->fields[i].p, row->fields[i].len);
		if (row->fields[i].flags & CSV_F_TRUNCATED)
			put(r, "~", 1);
	}
	if (row->plain) {
		/* A plain row's raw bytes are its fields joined by ','. */
		char *joined = NULL;
		size_t jl = 0;
		for (uint32_t i = 0; i < row->n_fields; i++) {
			joined = realloc(joined, jl + row->fields[i].len + 2);
			if (i)
				joined[jl++] = ',';
			memcpy(joined + jl, row->fields[i].p, row->fields[i].len);
			jl += row->fields[i].len;
		}
		assert_int_equal(row->raw_len, jl);
		assert_memory_equal(row->raw, jl ? joined : "", jl);
		free(joined);
	}
	assert_int_equal(row->index, r->rows);
	r->rows++;
	return r->stop_after && (int)r->rows == r->stop_after ? 7 : 0;
}

struct want_issue {
	enum csv_issue k;
	uint64_t count, line, offset;   /* line/offset of the first location */
};

struct csv_case {
	const char *name;
	const char *in;
	size_t len;
	const char *rows;
	uint64_t n_rows, lines;
	uint32_t header_fields;
	uint64_t crlf, lf, cr;
	enum csv_encoding enc;
	struct want_issue issues[7];
};

static const struct csv_case cases[] = {
	{ "empty file", S(""), "", 0, 0, 0, 0, 0, 0, CSV_ENC_UTF8, { { 0 } } },
	{ "header only, no newline", S("a,b,c"), "a|b|c", 1, 1, 3, 0, 0, 0, CSV_ENC_UTF8,
	  { { CSV_I_NO_FINAL_EOL, 1, 1, 0 } } },
	{ "header only, CRLF", S("a,b,c\r\n"), "a|b|c", 1, 1, 3, 1, 0, 0, CSV_ENC_UTF8, { { 0 } } },
	{ "no final newline (as the 2014 sample)", S("id,x\r\n1,2\r\n3,4"), "id|x/1|2/3|4",
	  3, 3, 2, 2, 0, 0, CSV_ENC_UTF8, { { CSV_I_NO_FINAL_EOL, 1, 3, 11 } } },
	{ "LF", S("a,b\n1,2\n"), "a|b/1|2", 2, 2, 2, 0, 2, 0, CSV_ENC_UTF8, { { 0 } } },
	{ "CRLF", S("a,b\r\n1,2\r\n"), "a|b/1|2", 2, 2, 2, 2, 0, 0, CSV_ENC_UTF8, { { 0 } } },
	{ "bare CR", S("a,b\r1,2\r"), "a|b/1|2", 2, 2, 2, 0, 0, 2, CSV_ENC_UTF8, { { 0 } } },
	{ "mixed: CRLF file with LF and CR rows", S("a\r\n1\n2\r3\r\n"), "a/1/2/3", 4, 4, 1,
	  2, 1, 1, CSV_ENC_UTF8, { { CSV_I_MIXED_EOL, 2, 2, 3 } } },
	{ "UTF-8 BOM (311 2019-2023)", S("\xEF\xBB\xBF" "Case Summary,Agency\r\nPothole,PW\r\n"),
	  "Case Summary|Agency/Pothole|PW", 2, 2, 2, 2, 0, 0, CSV_ENC_UTF8_BOM, { { 0 } } },
	{ "BOM alone", S("\xEF\xBB\xBF"), "", 0, 0, 0, 0, 0, 0, CSV_ENC_UTF8_BOM, { { 0 } } },
	{ "UTF-8 text", S("n\nCaf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x97\n"),
	  "n/Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x97", 2, 2, 1, 0, 2, 0, CSV_ENC_UTF8, { { 0 } } },
	{ "Windows-1252 bytes 0xA0 and 0x92 (311 2024-2025)",
	  S("\"Case Summary\"\r\n\"Caf\xE9 \x92quoted\x92\xA0\"\r\n"),
	  "Case Summary/Caf\xE9 \x92quoted\x92\xA0", 2, 2, 1, 2, 0, 0, CSV_ENC_CP1252,
	  { { CSV_I_INVALID_UTF8, 4, 2, 20 } } },
	{ "truncated multi-byte character at EOF", S("a\n\xC3"), "a/\xC3", 2, 2, 1, 0, 1,
	  0, CSV_ENC_UTF8, { { CSV_I_TRUNCATED_UTF8, 1, 2, 2 }, { CSV_I_NO_FINAL_EOL, 1, 2, 2 } } },
	{ "overlong and surrogate forms are not UTF-8", S("a\n\xC0\xAF,\xED\xA0\x80\n"),
	  "a/\xC0\xAF|\xED\xA0\x80", 2, 2, 1, 0, 2, 0, CSV_ENC_CP1252,
	  { { CSV_I_INVALID_UTF8, 5, 2, 2 }, { CSV_I_LONG_ROW, 1, 2, 2 } } },
	{ "every field quoted (311 2024)", S("\"a\",\"b\"\r\n\"1\",\"\"\r\n"), "a|b/1|", 2, 2,
	  2, 2, 0, 0, CSV_ENC_UTF8, { { 0 } } },
	{ "escaped quotes", S("a\n\"say \"\"hi\"\"\"\n"), "a/say \"hi\"", 2, 2, 1, 0, 2, 0,
	  CSV_ENC_UTF8, { { 0 } } },
	{ "LF inside a quoted field of a CRLF file", S("s,t\r\n\"line1\nline2\",x\r\ny,z\r\n"),
	  "s|t/line1\nline2|x/y|z", 3, 4, 2, 3, 0, 0, CSV_ENC_UTF8,
	  { { CSV_I_NEWLINE_IN_QUOTES, 1, 2, 5 } } },
	{ "CRLF and two LFs inside quotes", S("s\r\n\"a\r\nb\nc\"\r\n"), "s/a\r\nb\nc", 2, 4, 1,
	  2, 0, 0, CSV_ENC_UTF8, { { CSV_I_NEWLINE_IN_QUOTES, 2, 2, 3 } } },
	{ "unescaped inner quotes (311 2013-2014)",
	  S("s,n\n\"Wood burning on \"Red Days\"\",1\n\"How did \"911\"\"\n"),
	  "s|n/Wood burning on \"Red Days\"|1/How did \"911\"", 3, 3, 2, 0, 3, 0, CSV_ENC_UTF8,
	  { { CSV_I_INNER_QUOTE, 2, 2, 4 }, { CSV_I_SHORT_ROW, 1, 3, 35 } } },
	{ "inner quotes in the middle", S("s,n\n\"He said \"hi\" to me\",2\n"),
	  "s|n/He said \"hi\" to me|2", 2, 2, 2, 0, 2, 0, CSV_ENC_UTF8,
	  { { CSV_I_INNER_QUOTE, 2, 2, 4 } } },
	{ "inner quotes around a comma", S("s,n\n\"say \"hello, world\" now\",3\n"),
	  "s|n/say \"hello, world\" now|3", 2, 2, 2, 0, 2, 0, CSV_ENC_UTF8,
	  { { CSV_I_INNER_QUOTE, 2, 2, 4 } } },
	{ "text after a closing quote, none later on the line", S("s,n\n\"abc\"def,ghi\n"),
	  "s|n/abcdef|ghi", 2, 2, 2, 0, 2, 0, CSV_ENC_UTF8, { { CSV_I_INNER_QUOTE, 1, 2, 4 } } },
	{ "quote inside an unquoted field", S("s,n\nab\"c,d\n"), "s|n/ab\"c|d", 2, 2, 2, 0, 2,
	  0, CSV_ENC_UTF8, { { CSV_I_BARE_QUOTE, 1, 2, 4 } } },
	{ "unclosed quote at EOF", S("s\n\"abc,def\n"), "s/abc,def\n", 2, 2, 1, 0, 1, 0,
	  CSV_ENC_UTF8, { { CSV_I_UNCLOSED_QUOTE, 1, 2, 2 }, { CSV_I_NEWLINE_IN_QUOTES, 1, 2, 2 },
	                  { CSV_I_NO_FINAL_EOL, 1, 2, 2 } } },
	{ "closing quote at EOF", S("s\n\"abc\""), "s/abc", 2, 2, 1, 0, 1, 0, CSV_ENC_UTF8,
	  { { CSV_I_NO_FINAL_EOL, 1, 2, 2 } } },
	{ "padded values (traffic 2019, 2025)",
	  S("o,d,r\nTRAF - ACCIDENT    ,2     , \n"), "o|d|r/TRAF - ACCIDENT    |2     | ", 2, 2,
	  3, 0, 2, 0, CSV_ENC_UTF8, { { CSV_I_PADDED, 3, 2, 6 } } },
	{ "ragged rows", S("a,b,c\n1,2\n1,2,3,4\n1,2,3\n"), "a|b|c/1|2/1|2|3|4/1|2|3", 4, 4, 3,
	  0, 4, 0, CSV_ENC_UTF8, { { CSV_I_SHORT_ROW, 1, 2, 6 }, { CSV_I_LONG_ROW, 1, 3, 10 } } },
	{ "blank lines are skipped", S("a\n\n1\r\n\r\n2\n"), "a/1/2", 3, 5, 1, 2, 3, 0,
	  CSV_ENC_UTF8, { { CSV_I_BLANK_LINE, 2, 2, 2 }, { CSV_I_MIXED_EOL, 2, 3, 3 } } },
	{ "an empty quoted field is not a blank line", S("a\n\"\"\n"), "a/", 2, 2, 1, 0, 2, 0,
	  CSV_ENC_UTF8, { { 0 } } },
	{ "trailing separator", S("a,b,\n1,2,\n"), "a|b|/1|2|", 2, 2, 3, 0, 2, 0, CSV_ENC_UTF8,
	  { { 0 } } },
	{ "trailing separator at EOF", S("a,b\n1,"), "a|b/1|", 2, 2, 2, 0, 1, 0, CSV_ENC_UTF8,
	  { { CSV_I_NO_FINAL_EOL, 1, 2, 4 } } },
	{ "NUL bytes", S("a,b\n1\0,2\n"), "a|b/1\0|2", 2, 2, 2, 0, 2, 0, CSV_ENC_UTF8,
	  { { CSV_I_NUL, 1, 2, 5 } } },
	{ "a quote after leading blanks is text", S("a\n \"x\"\n"), "a/ \"x\"", 2, 2, 1, 0, 2, 0,
	  CSV_ENC_UTF8, { { CSV_I_BARE_QUOTE, 2, 2, 2 }, { CSV_I_PADDED, 1, 2, 2 } } },
	/* Bytes 0x00..0xFF in order: LF ends row 1 (which ends in a TAB), CR
	 * row 2, a quote sits inside row 3's first field, a comma splits it, and
	 * each of the 128 high bytes is invalid UTF-8. */
	{ "binary garbage 0x00-0xFF", NULL, 256,
	  NULL, 3, 3, 1, 0, 1, 1, CSV_ENC_CP1252,
	  { { CSV_I_NUL, 1, 1, 0 }, { CSV_I_PADDED, 1, 1, 0 }, { CSV_I_MIXED_EOL, 1, 2, 11 },
	    { CSV_I_BARE_QUOTE, 1, 3, 14 }, { CSV_I_LONG_ROW, 1, 3, 14 },
	    { CSV_I_INVALID_UTF8, 128, 3, 128 }, { CSV_I_NO_FINAL_EOL, 1, 3, 14 } } },
};

static const size_t blocks[] = { 1, 2, 3, 5, 7, 13, 64, 65, 4096, 0 };
static const char *const simd[] = { "scalar", "sse2", "avx2" };

static const char *case_input(const struct csv_case *c, char *buf)
{
	if (c->in)
		return c->in;
	for (int i = 0; i < 256; i++)
		buf[i] = (char)i;
	return buf;
}

/* The thread count the table runs at (main): with more than one, each
 * input is cut into that many chunks, split (csv_split_chunk, compose) and
 * its parts scanned one after the other from where each row starts, the
 * stats merged: what dq_par.c does, which must equal one scan.  Every
 * split and scan there reads into one scratch buffer, as a thread of
 * dq_par.c does, left full of the input before (and of 0xA5 at first). */
static unsigned threads = 1;

static ssize_t read_part(void *src, char *buf, size_t n)
{
	struct { int fd; uint64_t off, end; } *p = src;
	ssize_t got;
	if (n > p->end - p->off)
		n = (size_t)(p->end - p->off);
	got = n ? pread(p->fd, buf, n, (off_t)p->off) : 0;
	if (got > 0)
		p->off += (uint64_t)got;
	return got;
}

static int split_scan(const char *in, size_t len, const struct csv_opts *base, unsigned parts,
                      csv_row_fn fn, void *ud, struct csv_stats *st)
{
	FILE *f = tmpfile();
	uint64_t begin[16], b0 = len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	struct csv_chunk_map maps[16];
	struct csv_cut cut[17];
	size_t n = 0;
	int rc = 0;

	assert_non_null(f);
	assert_int_equal(fwrite(in, 1, len, f), len);
	fflush(f);
	begin[n++] = b0;
	for (unsigned k = 1; k < parts && n < 16; k++) {
		uint64_t at = (uint64_t)len * k / parts;
		if (at > begin[n - 1] && at < len)
			begin[n++] = at;
	}
	static void *scratch;
	if (!scratch) {
		scratch = aligned_alloc(64, CSV_SCRATCH);
		assert_non_null(scratch);
		memset(scratch, 0xA5, CSV_SCRATCH);
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(csv_split_chunk(fileno(f), len, begin[i],
		                                 i + 1 < n ? begin[i + 1] : len, scratch,
		                                 &maps[i]), 0);
	csv_split_compose(maps, begin, n, len, cut);
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i < n; i++) {
		struct { int fd; uint64_t off, end; } src = { fileno(f), cut[i].offset,
		                                             cut[i + 1].offset };
		struct csv_opts o = *base;
		struct csv_stats ps;
		if (cut[i].offset == cut[i + 1].offset)
			continue;
		o.start_offset = cut[i].offset;
		o.start_line = cut[i].line;
		o.start_index = cut[i].index;
		o.header_fields = st->header_fields;
		o.first_eol = st->first_eol;
		o.scratch = scratch;
		rc = csv_scan(read_part, &src, &o, fn, ud, &ps);
		if (i == 0)
			*st = ps;
		else
			csv_stats_merge(st, &ps);
		if (rc)
			break;
	}
	fclose(f);
	return rc;
}

static void same_stats(const char *name, const struct csv_stats *a, const struct csv_stats *b)
{
	if (a->bytes != b->bytes || a->rows != b->rows || a->lines != b->lines ||
	    a->header_fields != b->header_fields || a->max_fields != b->max_fields ||
	    a->eol_crlf != b->eol_crlf || a->eol_lf != b->eol_lf || a->eol_cr != b->eol_cr ||
	    a->non_ascii != b->non_ascii || a->bom != b->bom || a->encoding != b->encoding ||
	    a->first_eol != b->first_eol)
		fail_msg("%s at %u threads: counts differ (rows %llu/%llu lines %llu/%llu)", name,
		         threads, (unsigned long long)a->rows, (unsigned long long)b->rows,
		         (unsigned long long)a->lines, (unsigned long long)b->lines);
	for (int k = 0; k < CSV_I_N; k++) {
		if (a->issue[k].count != b->issue[k].count || a->issue[k].n_at != b->issue[k].n_at)
			fail_msg("%s at %u threads: %s x%llu/%llu", name, threads, csv_issue_name(k),
			         (unsigned long long)a->issue[k].count,
			         (unsigned long long)b->issue[k].count);
		assert_memory_equal(a->issue[k].at, b->issue[k].at,
		                    a->issue[k].n_at * sizeof a->issue[k].at[0]);
	}
}

static void check_case(const struct csv_case *c, size_t block, struct csv_stats *st,
                       struct render *r)
{
	struct csv_opts o = { .block = block };
	char garbage[256];
	int rc = csv_scan_mem(case_input(c, garbage), c->len, &o, on_row, r, st);

	if (rc == 0 && threads > 1) {
		struct csv_stats ps;
		struct render pr = { 0 };
		rc = split_scan(case_input(c, garbage), c->len, &o, threads, on_row, &pr, &ps);
		same_stats(c->name, st, &ps);
		assert_string_equal(pr.s ? pr.s : "", r->s ? r->s : "");
		assert_memory_equal(pr.lines, r->lines, sizeof pr.lines);
		free(pr.s);
	}

	if (rc != 0)
		fail_msg("%s (block %zu): rc %d", c->name, block, rc);
	if (c->rows && strcmp(r->s ? r->s : "", c->rows) != 0)
		fail_msg("%s (block %zu): rows\n  got  '%s'\n  want '%s'", c->name, block,
		         r->s ? r->s : "", c->rows);
	if (st->rows != c->n_rows || r->rows != c->n_rows || st->lines != c->lines ||
	    st->header_fields != c->header_fields || st->eol_crlf != c->crlf ||
	    st->eol_lf != c->lf || st->eol_cr != c->cr || st->encoding != c->enc ||
	    st->bytes != c->len)
		fail_msg("%s (block %zu): rows %llu lines %llu hdr %u crlf %llu lf %llu cr %llu "
		         "enc %d bytes %llu", c->name, block, (unsigned long long)st->rows,
		         (unsigned long long)st->lines, st->header_fields,
		         (unsigned long long)st->eol_crlf, (unsigned long long)st->eol_lf,
		         (unsigned long long)st->eol_cr, st->encoding, (unsigned long long)st->bytes);
	for (int k = 0; k < CSV_I_N; k++) {
		const struct want_issue *w = NULL;
		for (size_t i = 0; i < N(c->issues); i++)
			if (c->issues[i].count && c->issues[i].k == (enum csv_issue)k)
				w = &c->issues[i];
		if (!w) {
			if (st->issue[k].count)
				fail_msg("%s (block %zu): unexpected %s x%llu at %llu/%llu", c->name,
				         block, csv_issue_name(k), (unsigned long long)st->issue[k].count,
				         (unsigned long long)st->issue[k].at[0].line,
				         (unsigned long long)st->issue[k].at[0].offset);
			continue;
		}
		if (st->issue[k].count != w->count || !st->issue[k].n_at ||
		    st->issue[k].at[0].line != w->line || st->issue[k].at[0].offset != w->offset)
			fail_msg("%s (block %zu): %s x%llu at %llu/%llu, want x%llu at %llu/%llu",
			         c->name, block, csv_issue_name(k),
			         (unsigned long long)st->issue[k].count,
			         (unsigned long long)(st->issue[k].n_at ? st->issue[k].at[0].line : 0),
			         (unsigned long long)(st->issue[k].n_at ? st->issue[k].at[0].offset : 0),
			         (unsigned long long)w->count, (unsigned long long)w->line,
			         (unsigned long long)w->offset);
	}
}

static void test_cases(void **state)
{
	for (size_t v = 0; v < N(simd); v++) {
		setenv("DENVERD_CSV_SIMD", simd[v], 1);
		for (size_t i = 0; i < N(cases); i++) {
			struct csv_stats first;
			struct render r0 = { 0 };
			check_case(&cases[i], 1, &first, &r0);
			for (size_t b = 1; b < N(blocks); b++) {
				struct csv_stats st;
				struct render r = { 0 };
				check_case(&cases[i], blocks[b], &st, &r);
				/* Every location, not only the first, is independent of reads. */
				assert_memory_equal(st.issue, first.issue, sizeof st.issue);
				assert_string_equal(r.s ? r.s : "", r0.s ? r0.s : "");
				assert_memory_equal(r.lines, r0.lines, sizeof r.lines);
				free(r.s);
			}
			free(r0.s);
		}
	}
	unsetenv("DENVERD_CSV_SIMD");
}

/* Line numbers count row terminators and LFs inside quotes. */
static void test_lines(void **state)
{
	static const char in[] = "h\r\n1\r\n\"a\nb\nc\"\r\n\r\n2\n3";
	struct render r = { 0 };
	struct csv_stats st;
	assert_int_equal(csv_scan_mem(S(in), NULL, on_row, &r, &st), 0);
	assert_int_equal(r.rows, 5);
	assert_int_equal(r.lines[0], 1);
	assert_int_equal(r.lines[1], 2);
	assert_int_equal(r.lines[2], 3);
	assert_int_equal(r.lines[3], 7);      /* after the blank line 6 */
	assert_int_equal(r.lines[4], 8);
	assert_int_equal(st.lines, 8);
	free(r.s);
}

/* A 10 MB field is cut at max_field, in one buffer's worth of memory. */
static void test_10mb_field(void **state)
{
	size_t big = 10u << 20, n;
	char *in = malloc(big + 64);
	struct render r = { 0 };
	struct csv_stats st;
	if (!in)
		abort();
	/* unquoted, then quoted with "" escapes and LFs spread over it */
	n = (size_t)sprintf(in, "a,b\nx,");
	memset(in + n, 'y', big);
	n += big;
	n += (size_t)sprintf(in + n, "\nz,1\n");
	assert_int_equal(csv_scan_mem(in, n, NULL, on_row, &r, &st), 0);
	assert_int_equal(st.rows, 3);
	assert_int_equal(st.issue[CSV_I_FIELD_TRUNCATED].count, 1);
	assert_int_equal(st.issue[CSV_I_FIELD_TRUNCATED].at[0].line, 2);
	assert_int_equal(r.len, strlen("a|b/x|") + CSV_MAX_FIELD_DEFAULT + strlen("~/z|1"));
	assert_memory_equal(r.s + r.len - 5, "~/z|1", 5);
	free(r.s);

	memset(&r, 0, sizeof r);
	n = (size_t)sprintf(in, "a,b\n\"");
	for (size_t i = 0; i < big; i++)
		in[n + i] = i % 1000 == 999 ? '\n' : i % 1000 == 500 || i % 1000 == 501 ? '"' : 'q';
	n += big;
	n += (size_t)sprintf(in + n, "\",2\r\nz,3\r\n");
	struct csv_opts o = { .block = 4096 };
	assert_int_equal(csv_scan_mem(in, n, &o, on_row, &r, &st), 0);
	assert_int_equal(st.rows, 3);
	assert_int_equal(st.issue[CSV_I_FIELD_TRUNCATED].count, 1);
	assert_int_equal(st.issue[CSV_I_NEWLINE_IN_QUOTES].count, big / 1000);
	assert_int_equal(st.lines, 3 + big / 1000);
	assert_int_equal(r.lines[2], 3 + big / 1000);
	/* the kept part: 64 KiB of the unescaped content */
	{
		char *want = malloc(CSV_MAX_FIELD_DEFAULT), *p = want;
		for (size_t i = 0; p < want + CSV_MAX_FIELD_DEFAULT; i++) {
			char c = i % 1000 == 999 ? '\n' : i % 1000 == 500 ? '"' : 'q';
			if (i % 1000 == 501)
				continue;               /* the second quote of the pair */
			*p++ = c;
		}
		assert_memory_equal(r.s + 4, want, CSV_MAX_FIELD_DEFAULT);
		assert_memory_equal(r.s + 4 + CSV_MAX_FIELD_DEFAULT, "~|2/z|3", 7);
		free(want);
	}
	free(r.s);
	free(in);
}

/* Small caps: truncation depends only on the bytes, never on the reads. */
static void test_caps(void **state)
{
	static const char in[] =
		"h1,h2,h3,h4,h5\n"
		"abcdefghij,\"kl\"\"mnopqrs\",tu,vwxyz0123,x\n"
		"1,2,3,4,5,6,7,8,9\n";
	struct csv_stats st;
	char *first = NULL;
	for (size_t b = 0; b < N(blocks); b++) {
		struct csv_opts o = { .block = blocks[b], .max_field = 8, .max_row = 20,
		                      .max_fields = 6 };
		struct render r = { 0 };
		assert_int_equal(csv_scan_mem(S(in), &o, on_row, &r, &st), 0);
		assert_string_equal(r.s, "h1|h2|h3|h4|h5/abcdefgh~|kl\"mnopq~|tu|vw~|~/1|2|3|4|5|6");
		assert_int_equal(st.issue[CSV_I_FIELD_TRUNCATED].count, 4);
		assert_int_equal(st.issue[CSV_I_TOO_MANY_FIELDS].count, 1);
		assert_int_equal(st.issue[CSV_I_TOO_MANY_FIELDS].at[0].line, 3);
		assert_int_equal(st.issue[CSV_I_LONG_ROW].count, 1);
		assert_int_equal(st.max_fields, 9);
		if (!first)
			first = r.s;
		else
			free(r.s);
	}
	free(first);
}

/* The callback stops the scan; its value comes back. */
static void test_stop(void **state)
{
	struct render r = { .stop_after = 2 };
	struct csv_stats st;
	assert_int_equal(csv_scan_mem(S("a\n1\n2\n3\n"), NULL, on_row, &r, &st), 7);
	assert_int_equal(r.rows, 2);
	free(r.s);
}

/* A rescan from a checkpoint keeps the file's offsets and lines. */
static void test_start_offset(void **state)
{
	static const char in[] = "a,b\n1,2\n3,\"x\ny\"\n5,6";
	struct csv_opts o = { .no_header = true, .start_offset = 8, .start_line = 3 };
	struct render r = { 0 };
	struct csv_stats st;
	assert_int_equal(csv_scan_mem(in + 8, sizeof in - 1 - 8, &o, on_row, &r, &st), 0);
	assert_string_equal(r.s, "3|x\ny/5|6");
	assert_int_equal(r.lines[0], 3);
	assert_int_equal(r.lines[1], 5);
	assert_int_equal(st.issue[CSV_I_NO_FINAL_EOL].at[0].offset, 16);
	assert_int_equal(st.issue[CSV_I_NO_FINAL_EOL].at[0].line, 5);
	free(r.s);
}

static ssize_t failing_read(void *src, char *buf, size_t n)
{
	int *calls = src;
	if ((*calls)++ == 0) {
		memcpy(buf, "a,b\n1,", 6);
		return 6;
	}
	return -EIO;
}

static void test_read_error(void **state)
{
	int calls = 0;
	struct render r = { 0 };
	struct csv_stats st;
	assert_int_equal(csv_scan(failing_read, &calls, NULL, on_row, &r, &st), -EIO);
	assert_int_equal(r.rows, 1);
	free(r.s);
}

/* The real 2014 sample: ASCII, CRLF, 17 fields, no final CRLF. */
static void test_sample(void **state)
{
	FILE *f = fopen(SOURCE_ROOT "/data/traffic_accidents.2014-05.sample.csv", "rb");
	struct csv_stats st;
	struct render r = { 0 };
	assert_non_null(f);
	assert_int_equal(csv_scan_fd(fileno(f), NULL, on_row, &r, &st), 0);
	fclose(f);
	assert_int_equal(st.bytes, 832967);
	assert_int_equal(st.rows, 4172);
	assert_int_equal(st.header_fields, 17);
	assert_int_equal(st.max_fields, 17);
	assert_int_equal(st.eol_crlf, 4171);
	assert_int_equal(st.eol_lf + st.eol_cr, 0);
	assert_int_equal(st.encoding, CSV_ENC_UTF8);
	assert_int_equal(st.non_ascii, 0);
	assert_string_equal(csv_line_ending(&st), "crlf");
	for (int k = 0; k < CSV_I_N; k++)
		assert_int_equal(st.issue[k].count, k == CSV_I_NO_FINAL_EOL);
	assert_int_equal(st.issue[CSV_I_NO_FINAL_EOL].at[0].line, 4172);
	free(r.s);
}

static void test_names(void **state)
{
	assert_string_equal(csv_encoding_name(CSV_ENC_UTF8), "utf-8");
	assert_string_equal(csv_encoding_name(CSV_ENC_UTF8_BOM), "utf-8-sig");
	assert_string_equal(csv_encoding_name(CSV_ENC_CP1252), "windows-1252");
	for (int k = 0; k < CSV_I_N; k++)
		assert_string_not_equal(csv_issue_name(k), "unknown");
	assert_string_equal(csv_issue_name(CSV_I_N), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_10mb_field),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_start_offset),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_names),
	};
	static const unsigned counts[] = { 1, 2, 3, 7 };
	static const char *const names[] = { "1 thread", "2 threads", "3 threads", "7 threads" };
	int rc = 0;

	for (size_t i = 0; i < N(counts); i++) {
		threads = counts[i];
		rc |= _cmocka_run_group_tests(names[i], tests, N(tests), NULL, NULL);
	}
	return rc;
}
