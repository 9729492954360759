/* test_config_man.c - the key tables against denverd.yaml(5): every key
 * of the parser is documented and every documented key exists, with the
 * same type, range, default, required and restart-only status.
 *
 * The man page is read as it is written: an entry is a paragraph that
 * starts with its bold keys ("*fetches:* _integer_ (1-64)"), in the
 * section of its table (# LIMITS); entries indented by a tab belong to the
 * entry above them (fetch, columns), or in # CHECKS to the check type
 * named above them (*row\_count*).  "(A-B)", "(at most X)", "(up to X%)"
 * and "(required)" on the first line give the range; "Default: X" in the
 * paragraph the default; "a reload that changes it is refused" marks a key
 * that needs a restart. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/macro.h"
#include "config/config.h"

#define MAX_ENTRIES 200
#define MAX_KEYS    4                  /* keys sharing one entry: *min:*, *max:* */
#define RESTART_MARK "a reload that changes it is refused"

struct entry {
	int line;
	char table[128];                   /* as struct config_key's */
	char check_type[64];               /* # CHECKS: the type it is under; "" = all */
	char keys[MAX_KEYS][64];
	size_t n_keys;
	char type[160];                    /* what follows the keys: "_integer_" */
	char range[160];                   /* inside the first (...), before " - " */
	char text[2048];                   /* the paragraph, on one line */
	bool used[MAX_KEYS];               /* a row was found for keys[i] */
};

struct page {
	struct entry e[MAX_ENTRIES];
	size_t n;
	char errors[16384];                /* one line per disagreement */
	size_t off;
};

__attribute__((format(printf, 2, 3)))
static void disagree(struct page *pg, const char *fmt, ...)
{
	size_t room;
	va_list ap;
	int n;

	if (pg->off + 2 > sizeof pg->errors)
		return;                        /* full: the first lines say enough */
	room = sizeof pg->errors - 1 - pg->off;   /* one byte kept for the '\n' */
	va_start(ap, fmt);
	n = vsnprintf(pg->errors + pg->off, room, fmt, ap);
	va_end(ap);
	pg->off += n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
	pg->errors[pg->off++] = '\n';
	pg->errors[pg->off] = '\0';
}

/* SRC without scdoc's escapes (\_ \*) into DST (SIZE bytes). */
static void unescape(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		if (src[i] == '\\' && i + 1 < len)
			i++;
		dst[n++] = src[i];
	}
	dst[n] = '\0';
}

/* A bold token at S ("*name*"): its length with the stars, its text into
 * OUT; 0 when S does not start one. */
static size_t bold(const char *s, char *out, size_t size)
{
	const char *end;

	if (s[0] != '*')
		return 0;
	for (end = s + 1; *end && *end != '*' && *end != '\n'; end++)
		if (*end == '\\' && end[1])
			end++;
	if (*end != '*' || end == s + 1)
		return 0;
	unescape(out, size, s + 1, (size_t)(end - s - 1));
	return (size_t)(end - s + 1);
}

/* The keys an entry line starts with ("*min:*, *max:* ..."): into E, and
 * the rest of the line is returned; NULL when LINE starts no entry. */
static const char *entry_keys(const char *line, struct entry *e)
{
	char tok[64];
	size_t n;

	e->n_keys = 0;
	while ((n = bold(line, tok, sizeof tok)) && tok[strlen(tok) - 1] == ':' &&
	       e->n_keys < MAX_KEYS) {
		tok[strlen(tok) - 1] = '\0';
		snprintf(e->keys[e->n_keys++], sizeof e->keys[0], "%s", tok);
		line += n;
		if (strncmp(line, ", *", 3) != 0)
			break;
		line += 2;
	}
	return e->n_keys ? line : NULL;
}

/* Type and range from the rest of the first line: "_duration_ (1s-1h)
 * - the whole transfer" has type "_duration_" and range "1s-1h". */
static void entry_type(struct entry *e, const char *rest, size_t len)
{
	char first[512], *type, *dash, *paren;
	size_t n;

	unescape(first, sizeof first, rest, len);
	type = first + strspn(first, " ");
	if ((dash = strstr(type, " - ")) || ((dash = strstr(type, " -")) && !dash[2]))
		*dash = '\0';                 /* the description follows */
	if ((paren = strchr(type, '('))) {
		n = strcspn(paren + 1, ")");
		snprintf(e->range, sizeof e->range, "%.*s", (int)n, paren + 1);
		*paren = '\0';
	}
	for (n = strlen(type); n && type[n - 1] == ' '; n--)
		type[n - 1] = '\0';
	snprintf(e->type, sizeof e->type, "%s", type);
}

static const struct {
	const char *heading;
	const char *table;
} sections[] = {
	{ "TOP LEVEL", "" }, { "LIMITS", "limits" }, { "SPARK", "spark" },
	{ "SPARK CONNECT", "spark.connect" },
	{ "ALERTS", "alerts" }, { "LINEAGE", "lineage" }, { "STORAGE", "storage" }, { "DATASETS", "datasets.*" },
	{ "SCHEMA", "datasets.*.schema" },
	{ "CHECKS", "datasets.*.checks.*" }, { "JOBS", "jobs.*" },
};

/* Where the reading is: the section's table, the last unindented entry
 * (for indented ones), the check type heading (# CHECKS). */
struct cursor {
	const char *table;                 /* NULL: not a section of keys */
	char parent[64];
	char check_type[64];
	bool blank;                        /* the previous line was empty */
};

static void heading(struct cursor *c, const char *line)
{
	c->table = NULL;
	c->parent[0] = c->check_type[0] = '\0';
	if (line[1] != ' ')                /* ## a subsection of prose */
		return;
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if (strcmp(line + 2, sections[i].heading) == 0)
			c->table = sections[i].table;
}

/* LINE (of LEN bytes) starts an entry: record it in PG. */
static struct entry *start_entry(struct page *pg, struct cursor *c, const char *line,
                                 size_t len, int lineno)
{
	struct entry *e = &pg->e[pg->n];
	bool nested = line[0] == '\t';
	const char *rest = entry_keys(line + nested, e);

	if (!rest || pg->n == MAX_ENTRIES)
		return NULL;
	pg->n++;
	e->line = lineno;
	if (nested && strcmp(c->table, "datasets.*.checks.*") != 0)
		snprintf(e->table, sizeof e->table, "%s.%s", c->table, c->parent);
	else
		snprintf(e->table, sizeof e->table, "%s", c->table);
	snprintf(e->check_type, sizeof e->check_type, "%s", nested ? c->check_type : "");
	if (!nested)
		snprintf(c->parent, sizeof c->parent, "%s", e->keys[0]);
	entry_type(e, rest, len - (size_t)(rest - line));
	return e;
}

static void append_text(struct entry *e, const char *line, size_t len)
{
	size_t off = strlen(e->text), skip = strspn(line, "\t");
	char buf[512];

	unescape(buf, sizeof buf, line + skip, len - skip);
	snprintf(e->text + off, sizeof e->text - off, "%s%s", off ? " " : "", buf);
}

/* One line of the page. */
static void read_line(struct page *pg, struct cursor *c, struct entry **cur, const char *line,
                      size_t len, int lineno)
{
	char tok[64];
	size_t n;

	if (len == 0) {
		*cur = NULL;
		c->blank = true;
		return;
	}
	if (line[0] == '#') {
		heading(c, line);
		*cur = NULL;
	} else if (c->table && (n = bold(line, tok, sizeof tok)) == len && !strchr(tok, ':')) {
		snprintf(c->check_type, sizeof c->check_type, "%s", tok);   /* *row\_count* */
		*cur = NULL;
	} else if (c->table && (c->blank || !*cur) && (line[0] == '*' || line[0] == '\t') &&
	           (*cur = start_entry(pg, c, line, len, lineno))) {
		append_text(*cur, line, len);
	} else if (*cur) {
		append_text(*cur, line, len);
	}
	c->blank = false;
}

static void read_page(struct page *pg)
{
	static char text[64 * 1024];
	FILE *f = fopen(SOURCE_ROOT "/man/denverd.yaml.5.scd", "r");
	struct cursor c = { .blank = true };
	struct entry *cur = NULL;
	int lineno = 1;
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	assert_true(n < sizeof text - 1);
	text[n] = '\0';
	for (char *s = text, *nl; *s; s = nl + 1, lineno++) {
		bool last = !(nl = strchr(s, '\n'));
		if (last)
			nl = s + strlen(s);
		*nl = '\0';
		read_line(pg, &c, &cur, s, (size_t)(nl - s), lineno);
		if (last)
			break;
	}
}

/* ---- comparing one row with its entry ---------------------------------- */

/* The default after "Default:" in TEXT into OUT: a *bold* or _italic_
 * value without its marks and quotes, or the first word of prose ("none",
 * "off", "the ...") with *PROSE set.  False when there is none. */
static bool man_default(const char *text, char *out, size_t size, bool *prose)
{
	const char *s = strstr(text, "Default: ");
	size_t n;

	if (!s)
		return false;
	s += strlen("Default: ");
	*prose = !(s[0] == '*' || s[0] == '_');
	if (!*prose) {
		const char *end = strchr(s + 1, s[0]);
		n = end ? (size_t)(end - s - 1) : 0;
		s++;
	} else {
		n = strcspn(s, " .,;");
	}
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		s++, n -= 2;
	snprintf(out, size, "%.*s", (int)n, s);
	if (*prose && s[0] >= '0' && s[0] <= '9')
		*prose = false;                /* "Default: 0." */
	return true;
}

/* K's default as the page would write it (a list as ["a", "b"]); NULL = none. */
static const char *row_default(const struct config_key *k, char *buf, size_t size)
{
	size_t off = 0;

	if (!k->dflt_list)
		return k->dflt;
	off += (size_t)snprintf(buf + off, size - off, "[");
	for (size_t i = 0; k->dflt_list[i] && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s\"%s\"", i ? ", " : "",
		                        k->dflt_list[i]);
	if (off < size)
		snprintf(buf + off, size - off, "]");
	return buf;
}

/* A and B, both in the syntax of K's type, are the same value. */
static bool same_value(const struct config_key *k, const char *a, const char *b)
{
	uint64_t x, y;
	double f, g;
	char *end;

	if (!k->type || strcmp(a, b) == 0)
		return strcmp(a, b) == 0;
	if (strcmp(k->type, "duration") == 0)
		return config_parse_duration(a, &x) == 0 && config_parse_duration(b, &y) == 0 &&
		       x == y;
	if (strcmp(k->type, "size") == 0)
		return config_parse_size(a, &x) == 0 && config_parse_size(b, &y) == 0 && x == y;
	if (strcmp(k->type, "integer") == 0)
		return strtoull(a, &end, 10) == strtoull(b, NULL, 10) && !*end;
	if (strcmp(k->type, "percentage") == 0)
		return config_parse_percent(a, &f) == 0 && config_parse_percent(b, &g) == 0 &&
		       fabs(f - g) < 1e-12;
	return false;
}

/* Defaults the page describes in words: the row's must end with SUFFIX. */
static const struct {
	const char *table, *name, *suffix;
} prose_defaults[] = {
	{ "spark", "jobs_dir", "/denverd/jobs" },   /* under the installation's data dir */
};

static void compare_default(struct page *pg, const struct config_key *k, const struct entry *e,
                            const char *where)
{
	char man[256], buf[256];
	const char *row = row_default(k, buf, sizeof buf);
	bool prose = false, has = man_default(e->text, man, sizeof man, &prose);
	bool sentinel = row && (strcmp(row, "-inf") == 0 || strcmp(row, "inf") == 0);

	for (size_t i = 0; i < ARRAY_SIZE(prose_defaults); i++)
		if (strcmp(k->table, prose_defaults[i].table) == 0 &&
		    strcmp(k->name, prose_defaults[i].name) == 0) {
			size_t n = strlen(prose_defaults[i].suffix);
			if (!has || !prose || !row || strlen(row) < n ||
			    strcmp(row + strlen(row) - n, prose_defaults[i].suffix) != 0)
				disagree(pg, "%s: the default is '%s'", where, row ? row : "none");
			return;
		}
	if (!has && row && !sentinel)
		disagree(pg, "%s: the page gives no default; the table has '%s'", where, row);
	else if (has && prose && row && strcmp(row, man) != 0 && !sentinel)
		disagree(pg, "%s: the page says '%s...'; the table has '%s'", where, man, row);
	else if (has && !prose && (!row || !same_value(k, man, row)))
		disagree(pg, "%s: the page says %s; the table has %s", where, man,
		         row ? row : "none");
}

/* One end of a range, in K's unit. */
static int parse_bound(const struct config_key *k, const char *s, uint64_t *v)
{
	char *end;

	if (strcmp(k->type, "duration") == 0)
		return config_parse_duration(s, v);
	if (strcmp(k->type, "size") == 0)
		return config_parse_size(s, v);
	*v = strtoull(s, &end, 10);
	return end == s || *end ? -EINVAL : 0;
}

/* "(A-B)", "(at most X)", "(up to X%)" of E against K's bounds; no range
 * means unbounded (a share: at most 100%). */
static void compare_range(struct page *pg, const struct config_key *k, const struct entry *e,
                          const char *where)
{
	static const char *const at_most[] = { "at most ", "up to " };
	bool pct = strcmp(k->type, "percentage") == 0;
	uint64_t lo = 0, hi = pct ? 100 : UINT64_MAX;
	char lo_s[64] = "", hi_s[64] = "";
	const char *r = e->range, *dash;

	if (!pct && strcmp(k->type, "integer") != 0 && strcmp(k->type, "duration") != 0 &&
	    strcmp(k->type, "size") != 0)
		return;
	if (strncmp(r, "required", 8) == 0)
		r += r[8] == ',' ? 10 : 8;
	for (size_t i = 0; i < ARRAY_SIZE(at_most); i++)
		if (strncmp(r, at_most[i], strlen(at_most[i])) == 0) {
			const char *v = r + strlen(at_most[i]);
			snprintf(hi_s, sizeof hi_s, "%.*s", (int)strcspn(v, ",%"), v);
		}
	if (!*hi_s && (dash = strchr(r, '-')) && dash > r) {
		snprintf(lo_s, sizeof lo_s, "%.*s", (int)(dash - r), r);
		snprintf(hi_s, sizeof hi_s, "%.*s", (int)strcspn(dash + 1, ",%"), dash + 1);
	}
	if ((*lo_s && parse_bound(k, lo_s, &lo) < 0) || (*hi_s && parse_bound(k, hi_s, &hi) < 0))
		disagree(pg, "%s: cannot read the range '%s'", where, e->range);
	else if (lo != k->lo || hi != k->hi)
		disagree(pg, "%s: the page says %llu..%llu ('%s'); the table has %llu..%llu", where,
		         (unsigned long long)lo, (unsigned long long)hi, e->range,
		         (unsigned long long)k->lo, (unsigned long long)k->hi);
}

/* How the page writes K's type, when it has one fixed word; the words of
 * an enum as "*a* | *b*".  NULL: free text (strings, lists, functions). */
static const char *man_type(const struct config_key *k, char *buf, size_t size)
{
	static const char *const words[][2] = {
		{ "integer", "_integer_" }, { "duration", "_duration_" }, { "size", "_size_" },
		{ "bool", "_bool_" }, { "percentage", "_percentage_" }, { "number", "_number_" },
		{ "path", "_path_" }, { "mapping", "_mapping_" }, { "mode", "_octal string_" },
	};
	size_t off = 0;

	if (!k->type)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(k->type, words[i][0]) == 0)
			return words[i][1];
	if (strcmp(k->type, "enum") != 0)
		return NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < k->n_names && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s*%s*", i ? " | " : "",
		                        k->names[i]);
	return buf;
}

static void compare(struct page *pg, const struct config_key *k, const struct entry *e)
{
	char where[160], buf[256];
	const char *type = man_type(k, buf, sizeof buf);
	bool required = strncmp(e->range, "required", 8) == 0;
	bool restart = strstr(e->text, RESTART_MARK) != NULL;

	snprintf(where, sizeof where, "denverd.yaml.5.scd:%d: %s%s%s", e->line, k->table,
	         *k->table ? "." : "", k->name);
	if (type && strcmp(type, e->type) != 0)
		disagree(pg, "%s: the page says '%s'; the table has %s", where, e->type, type);
	if (required != k->required)
		disagree(pg, "%s: the table has it %s", where,
		         k->required ? "required" : "optional");
	if (restart != k->restart)
		disagree(pg, "%s: the table has it %s", where,
		         k->restart ? "restart-only (say '" RESTART_MARK "')" : "reloadable");
	if (k->type)
		compare_range(pg, k, e, where);
	compare_default(pg, k, e, where);
}

/* ---- matching rows and entries ----------------------------------------- */

/* Which of E's keys is K (under check type TYPE, or for all types); -1
 * when none. */
static int documents(const struct entry *e, const struct config_key *k, const char *type)
{
	if (strcmp(e->table, k->table) != 0 || strcmp(e->check_type, type) != 0)
		return -1;
	for (size_t i = 0; i < e->n_keys; i++)
		if (strcmp(e->keys[i], k->name) == 0)
			return (int)i;
	return -1;
}

static void find_entry(struct page *pg, const struct config_key *k, const char *type)
{
	for (size_t i = 0; i < pg->n; i++) {
		int j = documents(&pg->e[i], k, type);
		if (j >= 0) {
			pg->e[i].used[j] = true;
			compare(pg, k, &pg->e[i]);
			return;
		}
	}
	disagree(pg, "%s%s%s%s%s: in the tables, not in denverd.yaml(5)", k->table,
	         *k->table ? "." : "", k->name, *type ? " of a check of type " : "", type);
}

/* Each row against its entry: once, or once per check type it is for. */
static int check_row(void *arg, const struct config_key *k)
{
	struct page *pg = arg;

	if (!k->only) {
		find_entry(pg, k, "");
		return 0;
	}
	for (unsigned t = 0; t < CHECK_TYPE_COUNT; t++)
		if (k->only & (1u << t))
			find_entry(pg, k, config_check_type_name((enum check_type)t));
	return 0;
}

/* The keys of E no row was found for. */
static void report_unused(struct page *pg, const struct entry *e)
{
	for (size_t j = 0; j < e->n_keys; j++)
		if (!e->used[j])
			disagree(pg, "denverd.yaml.5.scd:%d: %s%s%s%s%s: documented, not in "
			         "the tables", e->line, e->table, *e->table ? "." : "", e->keys[j],
			         *e->check_type ? " of a check of type " : "", e->check_type);
}

static void test_tables_match_the_man_page(void **state)
{
	static struct page pg;

	read_page(&pg);
	assert_true(pg.n > 80);
	assert_int_equal(config_keys_foreach(check_row, &pg), 0);
	for (size_t i = 0; i < pg.n; i++)
		report_unused(&pg, &pg.e[i]);
	if (pg.off) {
		fprintf(stderr, "%s", pg.errors);
		fail_msg("the key tables and denverd.yaml(5) disagree (above)");
	}
}

static const struct entry *entry_of(const struct page *pg, const char *table,
                                    const char *type, const char *key)
{
	for (size_t i = 0; i < pg->n; i++)
		if (strcmp(pg->e[i].table, table) == 0 && strcmp(pg->e[i].check_type, type) == 0 &&
		    strcmp(pg->e[i].keys[0], key) == 0)
			return &pg->e[i];
	fail_msg("no entry %s %s %s", table, type, key);
	return NULL;
}

/* The reader itself: an entry of each shape is read as it is meant. */
static void test_reading_the_page(void **state)
{
	static struct page pg;
	const struct entry *e;

	read_page(&pg);
	e = entry_of(&pg, "limits", "", "fetches");
	assert_string_equal(e->type, "_integer_");
	assert_string_equal(e->range, "1-64");
	assert_true(strstr(e->text, "Default: *2*.") != NULL);
	e = entry_of(&pg, "datasets.*.fetch", "", "timeout");
	assert_string_equal(e->range, "1s-7d");
	e = entry_of(&pg, "datasets.*.checks.*", "range", "min");
	assert_int_equal(e->n_keys, 2);
	assert_string_equal(e->keys[1], "max");
	assert_string_equal(e->type, "_number_");
	e = entry_of(&pg, "", "", "state_dir");
	assert_true(strstr(e->text, "Default: */var/lib/denverd*.") != NULL);
	e = entry_of(&pg, "datasets.*.schema.columns", "", "type");
	assert_true(strncmp(e->type, "*string* | *int*", 16) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reading_the_page),
		cmocka_unit_test(test_tables_match_the_man_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
