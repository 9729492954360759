/*
 * config.c - the configuration file: YAML text -> struct config.
 *
 * Two stages.  libyaml's event parser builds a small tree of nodes that
 * remember their line and column; aliases are refused there (they would let
 * a small file expand without bound, and nothing in this format needs them).
 * Then table-driven walkers turn the tree into a struct config, checking
 * every key, type, unit and cross-reference.  Each problem is recorded and
 * the walk carries on, so one `denverd --check` lists them all; the messages
 * are sorted by position before they are handed out.
 *
 * This is the only file that includes yaml.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <yaml.h>

#include "config/config.h"
#include "domain/cron.h"
#include "base/log.h"
#include "domain/template.h"
#include "version.h"

#define MAX_DEPTH     32            /* nesting of mappings and lists */
#define ARENA_CHUNK   (256 * 1024)  /* bytes mapped at a time for the tree */
#define MAX_NODES     (1024 * 1024) /* values in one file */
#define MAX_ERRORS    100           /* messages kept; the rest are counted */
#define MAX_STRING    4096          /* bytes of one value */
#define MAX_TABLE_KEYS 256          /* keys in one settings mapping (duplicate
                                       checks are pairwise) */
#define MAX_FILE_NAME 255
#define MAX_SOCKET    107           /* sun_path minus the NUL */

#define MS_S  1000ull
#define MS_M  (60 * MS_S)
#define MS_H  (60 * MS_M)
#define MS_D  (24 * MS_H)
#define KIB   1024ull
#define MIB   (1024 * KIB)
#define GIB   (1024 * MIB)

#include "base/macro.h"

/* ---- the node tree ---------------------------------------------------- */

enum node_kind {
	NODE_SCALAR,
	NODE_LIST,
	NODE_MAP,
	NODE_BAD,        /* an alias or a value already reported: skip quietly */
};

struct node {
	enum node_kind kind;
	int line, col;            /* 1-based */
	bool plain;               /* a scalar written without quotes */
	char *text;               /* scalar: its value, NUL-terminated */
	size_t len;
	struct node **kids;       /* list: items; map: key, value, key, value */
	size_t n;
};

static size_t map_pairs(const struct node *map)
{
	return map->n / 2;
}

/* The value of KEY in MAP (first occurrence), or NULL. */
static const struct node *map_get(const struct node *map, const char *key)
{
	if (!map || map->kind != NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map_pairs(map); i++) {
		const struct node *k = map->kids[2 * i];
		if (k->kind == NODE_SCALAR && strcmp(k->text, key) == 0)
			return map->kids[2 * i + 1];
	}
	return NULL;
}

static bool is_null(const struct node *n)
{
	if (n->kind != NODE_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static const char *kind_word(const struct node *n)
{
	switch (n->kind) {
	case NODE_LIST: return "a list";
	case NODE_MAP: return "a mapping";
	default: return is_null(n) ? "an empty value" : "a string";
	}
}

/* ---- messages --------------------------------------------------------- */

struct msg {
	int line, col;            /* 0 = about the whole file */
	size_t seq;
	char *text;
};

/*
 * The tree lives in an arena of anonymous mappings, unmapped in one go when
 * parsing ends: a reload's transient tree (tens of MB for thousands of
 * datasets) goes back to the system instead of staying in the heap.
 */
struct chunk {
	struct chunk *next;
	size_t used, size;        /* bytes of data[] */
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

/* N bytes, 16-byte aligned, zeroed; NULL when out of memory. */
static void *arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c = a->head;
	void *m;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK - sizeof(*c) ? n : ARENA_CHUNK - sizeof(*c);
		c = mmap(NULL, sizeof(*c) + size, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->size = size;
		a->head = c;
	}
	m = (char *)c->data + c->used;
	c->used += n;
	return m;                 /* fresh anonymous pages are zero */
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct chunk *c = a->head;
		a->head = c->next;
		munmap(c, sizeof(*c) + c->size);
	}
}

struct parser {
	const char *name;         /* path used in messages */
	const char *src;
	size_t src_len;
	struct msg *msgs;
	size_t n_msgs, cap_msgs, dropped;
	size_t n_nodes;
	bool oom;
	struct arena arena;       /* the tree */
	struct config *cfg;
};

__attribute__((format(printf, 4, 0)))
static void vreport(struct parser *p, int line, int col, const char *fmt, va_list ap)
{
	char *text;

	if (p->n_msgs >= MAX_ERRORS) {
		p->dropped++;
		return;
	}
	if (p->n_msgs == p->cap_msgs) {
		size_t cap = p->cap_msgs ? 2 * p->cap_msgs : 16;
		struct msg *m = realloc(p->msgs, cap * sizeof(*m));
		if (!m) {
			p->oom = true;
			return;
		}
		p->msgs = m;
		p->cap_msgs = cap;
	}
	if (vasprintf(&text, fmt, ap) < 0) {
		p->oom = true;
		return;
	}
	p->msgs[p->n_msgs] = (struct msg){ line, col, p->n_msgs, text };
	p->n_msgs++;
}

__attribute__((format(printf, 3, 4)))
static void report(struct parser *p, const struct node *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(p, at ? at->line : 0, at ? at->col : 0, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void report_pos(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(p, line, col, fmt, ap);
	va_end(ap);
}

static int msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* All messages, sorted by position, one "name:line:col: text\n" each. */
static char *join_msgs(struct parser *p)
{
	size_t size = 1, off = 0;
	char *out;

	qsort(p->msgs, p->n_msgs, sizeof(*p->msgs), msg_cmp);
	for (size_t i = 0; i < p->n_msgs; i++)
		size += strlen(p->name) + strlen(p->msgs[i].text) + 32;
	size += strlen(p->name) + 96;
	out = malloc(size);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < p->n_msgs; i++) {
		const struct msg *m = &p->msgs[i];
		if (m->line > 0)
			off += (size_t)snprintf(out + off, size - off, "%s:%d:%d: %s\n",
			                        p->name, m->line, m->col, m->text);
		else
			off += (size_t)snprintf(out + off, size - off, "%s: %s\n", p->name, m->text);
	}
	if (p->dropped)
		snprintf(out + off, size - off, "%s: %zu more errors not shown\n",
		         p->name, p->dropped);
	return out;
}

/*
 * VALUE as quoted in a message: at most 40 bytes (cut on a character
 * boundary), control characters shown as '?'.  BUF must hold 48 bytes.
 */
static const char *show(const char *value, char *buf)
{
	size_t n = 0;
	for (const unsigned char *s = (const unsigned char *)value; *s && n < 40; s++)
		buf[n++] = (*s < 0x20 || *s == 0x7f) ? '?' : (char)*s;
	if (value[n]) {
		while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf + n, "...", 4);
	} else {
		buf[n] = '\0';
	}
	return buf;
}
#define SHOW(v) show((v), (char[48]){ 0 })

static const char *fmt_duration(uint64_t ms, char *buf, size_t size)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "d", MS_D }, { "h", MS_H }, { "m", MS_M }, { "s", MS_S },
	};
	if (ms == 0) {
		snprintf(buf, size, "0");
		return buf;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (ms % units[i].ms == 0) {
			snprintf(buf, size, "%llu%s", (unsigned long long)(ms / units[i].ms),
			         units[i].unit);
			return buf;
		}
	snprintf(buf, size, "%llums", (unsigned long long)ms);
	return buf;
}

static const char *fmt_size(uint64_t bytes, char *buf, size_t size)
{
	static const struct { const char *unit; uint64_t n; } units[] = {
		{ "TiB", 1024 * GIB }, { "GiB", GIB }, { "MiB", MIB }, { "KiB", KIB },
	};
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (bytes >= units[i].n && bytes % units[i].n == 0) {
			snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / units[i].n),
			         units[i].unit);
			return buf;
		}
	snprintf(buf, size, "%llu", (unsigned long long)bytes);
	return buf;
}

/* ---- memory helpers that remember failure ------------------------------ */

static char *xstrdup(struct parser *p, const char *s)
{
	char *d = strdup(s);
	if (!d)
		p->oom = true;
	return d;
}

static void *xcalloc(struct parser *p, size_t n, size_t size)
{
	void *m = calloc(n ? n : 1, size);
	if (!m)
		p->oom = true;
	return m;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* ---- YAML -> tree ------------------------------------------------------ */

/* Line and column (1-based, in characters) of byte OFFSET of the source. */
static void offset_pos(const struct parser *p, size_t offset, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && i < p->src_len; i++) {
		unsigned char c = (unsigned char)p->src[i];
		if (c == '\n') {
			++*line;
			*col = 1;
		} else if ((c & 0xc0) != 0x80) {
			++*col;
		}
	}
}

static int yaml_failure(struct parser *p, const yaml_parser_t *yp)
{
	const char *problem = yp->problem ? yp->problem : "syntax error";
	int line, col;

	if (yp->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (yp->error == YAML_READER_ERROR) {
		offset_pos(p, yp->problem_offset, &line, &col);
		if (yp->problem_value >= 0)
			report_pos(p, line, col, "not valid YAML: %s (byte 0x%02x)", problem,
			           (unsigned)yp->problem_value & 0xff);
		else
			report_pos(p, line, col, "not valid YAML: %s", problem);
		return -EINVAL;
	}
	line = (int)yp->problem_mark.line + 1;
	col = (int)yp->problem_mark.column + 1;
	if (yp->context)
		report_pos(p, line, col, "not valid YAML: %s (%s at line %d)", problem,
		           yp->context, (int)yp->context_mark.line + 1);
	else
		report_pos(p, line, col, "not valid YAML: %s", problem);
	return -EINVAL;
}

static struct node *node_new(struct parser *p, enum node_kind kind, const yaml_mark_t *m)
{
	struct node *n;

	if (p->n_nodes >= MAX_NODES) {
		report_pos(p, (int)m->line + 1, (int)m->column + 1,
		           "the file holds more than %d values", MAX_NODES);
		return NULL;
	}
	if (!(n = arena_alloc(&p->arena, sizeof(*n)))) {
		p->oom = true;
		return NULL;
	}
	p->n_nodes++;
	n->kind = kind;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	return n;
}

/* The children of one open container, collected until it ends. */
struct kids {
	struct node **v;
	size_t n, cap;
};

static int kids_add(struct kids *k, struct node *n)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 16;
		struct node **v = realloc(k->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = n;
	return 0;
}

/* Build the tree of the first document in p->arena.  0 (with *root NULL
 * for an empty stream), or -EINVAL after reporting why, or -ENOMEM. */
static int load_tree(struct parser *p, struct node **root)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	struct node *open[MAX_DEPTH];     /* the containers being read */
	struct kids kids[MAX_DEPTH] = { { NULL, 0, 0 } };  /* reused per depth */
	size_t depth = 0;
	int docs = 0, rc = 0;
	bool done = false;

	*root = NULL;
	if (!yaml_parser_initialize(&yp))
		return -ENOMEM;
	yaml_parser_set_input_string(&yp, (const unsigned char *)p->src, p->src_len);
	while (!done) {
		struct node *n = NULL;
		bool makes_node = false, container = false;

		if (!yaml_parser_parse(&yp, &ev)) {
			rc = yaml_failure(p, &yp);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				report_pos(p, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				           "only one YAML document is allowed; a second one starts here");
				done = true;
			}
			break;
		case YAML_SCALAR_EVENT:
			makes_node = true;
			if (!(n = node_new(p, NODE_SCALAR, &ev.start_mark)))
				break;
			n->len = ev.data.scalar.length;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			if (!(n->text = arena_alloc(&p->arena, n->len + 1))) {
				p->oom = true;
				break;
			}
			memcpy(n->text, ev.data.scalar.value, n->len);
			if (strlen(n->text) != n->len) {
				report(p, n, "NUL characters are not allowed in values");
				n->kind = NODE_BAD;
			}
			break;
		case YAML_ALIAS_EVENT:
			makes_node = true;
			if ((n = node_new(p, NODE_BAD, &ev.start_mark)))
				report(p, n, "aliases (*%s) are not supported; write the value out",
				       SHOW((const char *)ev.data.alias.anchor));
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			makes_node = container = true;
			n = node_new(p, ev.type == YAML_MAPPING_START_EVENT ? NODE_MAP : NODE_LIST,
			             &ev.start_mark);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth == 0)
				break;
			depth--;
			/* the collected children move into the arena */
			struct kids *k = &kids[depth];
			if (k->n && !(open[depth]->kids = arena_alloc(&p->arena,
			                                              k->n * sizeof(*k->v)))) {
				p->oom = true;
				break;
			}
			if (k->n)
				memcpy(open[depth]->kids, k->v, k->n * sizeof(*k->v));
			open[depth]->n = k->n;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (p->oom) {
			rc = -ENOMEM;
			break;
		}
		if (!makes_node)
			continue;
		if (!n) {                  /* too many nodes: reported */
			rc = -EINVAL;
			break;
		}
		if (depth == 0)
			*root = n;
		else if (kids_add(&kids[depth - 1], n) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (container) {
			if (depth == MAX_DEPTH) {
				report(p, n, "values are nested more than %d levels deep", MAX_DEPTH);
				rc = -EINVAL;
				break;
			}
			kids[depth].n = 0;
			open[depth++] = n;
		}
	}
	yaml_parser_delete(&yp);
	for (size_t i = 0; i < MAX_DEPTH; i++)
		free(kids[i].v);
	if (rc < 0)
		*root = NULL;
	return rc;
}

/* ---- unit parsers (exported) ------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits only: no sign, no spaces.  0, or -EINVAL (also on overflow). */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;

	if (!is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	if (end)
		*end = s;
	else if (*s)
		return -EINVAL;
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", MS_S }, { "m", MS_M }, { "h", MS_H },
		{ "d", MS_D }, { "w", 7 * MS_D },
	};
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*s) {               /* one or more <number><unit>: 1h30m */
		const char *u;
		uint64_t v, mult = 0;
		size_t ulen;

		if (parse_u64(s, &u, &v) < 0)
			return -EINVAL;
		for (s = u; *s >= 'a' && *s <= 'z'; s++)
			;
		ulen = (size_t)(s - u);
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (strlen(units[i].unit) == ulen && memcmp(units[i].unit, u, ulen) == 0)
				mult = units[i].ms;
		if (!mult || v > (UINT64_MAX - total) / mult)
			return -EINVAL;
		total += v * mult;
	}
	*ms = total;
	return 0;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	static const struct { const char *unit; uint64_t n; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "KiB", KIB }, { "MiB", MIB }, { "GiB", GIB }, { "TiB", 1024 * GIB },
		{ "kB", 1000 }, { "KB", 1000 }, { "MB", 1000 * 1000 },
		{ "GB", 1000 * 1000 * 1000 }, { "TB", 1000ull * 1000 * 1000 * 1000 },
	};
	const char *u;
	uint64_t v;

	if (!s || parse_u64(s, &u, &v) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(u, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].n)
				return -EINVAL;
			*bytes = v * units[i].n;
			return 0;
		}
	return -EINVAL;
}

int config_parse_percent(const char *s, double *frac)
{
	double v = 0, scale = 1;
	size_t digits = 0;

	if (!s || !is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++, digits++)
		v = v * 10 + (*s - '0');
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return -EINVAL;
		for (; is_digit(*s); s++, digits++)
			v += (*s - '0') * (scale /= 10);
	}
	if (s[0] != '%' || s[1] != '\0' || digits > 15)
		return -EINVAL;
	*frac = v / 100;
	return 0;
}

/* A decimal number, optionally signed, with an optional exponent
 * ("3.0e6", "-104.6"); no hex, inf or nan. */
static int parse_number(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s || strspn(s, "0123456789+-.eE") != strlen(s) || !strpbrk(s, "0123456789"))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- did you mean ------------------------------------------------------ */

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance, case-insensitive; SIZE_MAX when a
 * word is too long to be a key worth suggesting. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][CONFIG_MAX_NAME + 1];   /* rows i-2, i-1, i (rotating) */

	if (la > CONFIG_MAX_NAME || lb > CONFIG_MAX_NAME)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = rows[i % 3], *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = up[j - 1] + (lower(a[i - 1]) != lower(b[j - 1]));
			if (up[j] + 1 < best)
				best = up[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && up2[j - 2] + 1 < best)
				best = up2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return rows[la % 3][lb];
}

/* The candidate closest to WORD, when it is close enough to be a typo. */
static const char *nearest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word), limit = (len + 2) / 4, best = SIZE_MAX;
	const char *pick = NULL;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < n; i++) {
		size_t dist = edit_distance(word, cands[i]);
		if (dist <= limit && dist < best) {
			best = dist;
			pick = cands[i];
		}
	}
	return pick;
}

/* ", did you mean 'x'?" or "" - for appending to a message. */
static const char *hint(const char *word, const char *const *cands, size_t n, char *buf,
                        size_t size)
{
	const char *pick = nearest(word, cands, n);
	if (pick)
		snprintf(buf, size, ", did you mean '%s'?", pick);
	else
		buf[0] = '\0';
	return buf;
}
#define HINT(w, c, n) hint((w), (c), (n), (char[96]){ 0 }, 96)

/* ---- scalar values ----------------------------------------------------- */

#define EXP_DURATION "a duration like 30s, 5m, 2h, 1d"
#define EXP_SIZE     "a size like 512, 64KiB, 1MiB, 1GiB"
#define EXP_PERCENT  "a percentage like 2%, 0.5%"

/* The text of scalar V, or NULL after reporting that KEY wanted EXPECTED. */
static const char *want_scalar(struct parser *p, const char *key, const struct node *v,
                               const char *expected)
{
	if (v->kind == NODE_BAD)
		return NULL;
	if (v->kind != NODE_SCALAR || is_null(v)) {
		report(p, v, "%s: expected %s, not %s", key, expected, kind_word(v));
		return NULL;
	}
	return v->text;
}

/* True when V is a mapping, or an empty value (meaning "all defaults"). */
static bool want_map(struct parser *p, const char *key, const struct node *v)
{
	if (v->kind == NODE_MAP || is_null(v))
		return true;
	if (v->kind != NODE_BAD)
		report(p, v, "%s: expected a mapping (key: value lines), not %s", key, kind_word(v));
	return false;
}

static bool want_list(struct parser *p, const char *key, const struct node *v)
{
	if (v->kind == NODE_LIST || is_null(v))
		return true;
	if (v->kind != NODE_BAD)
		report(p, v, "%s: expected a list like [a, b], not %s", key, kind_word(v));
	return false;
}

/* A string value of at most MAX_STRING bytes; empty allowed only if ALLOW_EMPTY. */
static const char *want_string(struct parser *p, const char *key, const struct node *v)
{
	const char *s = want_scalar(p, key, v, "a string");
	if (!s)
		return NULL;
	if (v->len > MAX_STRING) {
		report(p, v, "%s: the value is longer than %d bytes", key, MAX_STRING);
		return NULL;
	}
	if (v->len == 0) {
		report(p, v, "%s: must not be empty", key);
		return NULL;
	}
	return s;
}

static int want_bool(struct parser *p, const char *key, const struct node *v, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	const char *s = want_scalar(p, key, v, "true or false");

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	report(p, v, "%s: expected true or false, not '%s'", key, SHOW(s));
	return -EINVAL;
}

static int want_u64(struct parser *p, const char *key, const struct node *v, uint64_t lo,
                    uint64_t hi, uint64_t *out)
{
	const char *s = want_scalar(p, key, v, "a whole number");
	uint64_t n;

	if (!s)
		return -EINVAL;
	if (parse_u64(s, NULL, &n) < 0 || n < lo || n > hi) {
		report(p, v, "%s: expected a whole number from %llu to %llu, not '%s'", key,
		       (unsigned long long)lo, (unsigned long long)hi, SHOW(s));
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static int want_number(struct parser *p, const char *key, const struct node *v, double *out)
{
	const char *s = want_scalar(p, key, v, "a number");
	if (!s)
		return -EINVAL;
	if (parse_number(s, out) < 0) {
		report(p, v, "%s: expected a number like 42 or -104.6, not '%s'", key, SHOW(s));
		return -EINVAL;
	}
	return 0;
}

/* A value with a unit: how it is parsed, shown, and described. */
struct unit {
	const char *expected;
	int (*parse)(const char *s, uint64_t *out);
	const char *(*fmt)(uint64_t v, char *buf, size_t size);
};

static const struct unit duration_unit = { EXP_DURATION, config_parse_duration, fmt_duration };
static const struct unit size_unit = { EXP_SIZE, config_parse_size, fmt_size };

static int want_unit(struct parser *p, const char *key, const struct node *v,
                     const struct unit *u, uint64_t lo, uint64_t hi, uint64_t *out)
{
	const char *s = want_scalar(p, key, v, u->expected);
	char a[32], b[32];
	uint64_t n;

	if (!s)
		return -EINVAL;
	if (u->parse(s, &n) < 0) {
		report(p, v, "%s: expected %s, not '%s'", key, u->expected, SHOW(s));
		return -EINVAL;
	}
	if (n < lo || n > hi) {
		if (lo == 0)
			report(p, v, "%s: must be at most %s, not '%s'", key, u->fmt(hi, a, sizeof a),
			       SHOW(s));
		else
			report(p, v, "%s: must be between %s and %s, not '%s'", key,
			       u->fmt(lo, a, sizeof a), u->fmt(hi, b, sizeof b), SHOW(s));
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/* HI is in whole percent (100 for a share, more for a change). */
static int want_percent(struct parser *p, const char *key, const struct node *v, uint64_t hi,
                        double *out)
{
	const char *s = want_scalar(p, key, v, EXP_PERCENT);
	double f;

	if (!s)
		return -EINVAL;
	if (config_parse_percent(s, &f) < 0) {
		report(p, v, "%s: expected %s, not '%s'", key, EXP_PERCENT, SHOW(s));
		return -EINVAL;
	}
	if (f * 100 > (double)hi) {
		report(p, v, "%s: must be between 0%% and %llu%%, not '%s'", key,
		       (unsigned long long)hi, SHOW(s));
		return -EINVAL;
	}
	*out = f;
	return 0;
}

/* One of NAMES (index in *out), or a message listing them with a hint. */
static int want_enum(struct parser *p, const char *key, const struct node *v,
                     const char *const *names, size_t n, int *out)
{
	char list[256];
	size_t off = 0;
	const char *s;

	list[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
		                        i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	if (!(s = want_scalar(p, key, v, list)))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return *out = (int)i, 0;
	report(p, v, "%s: expected %s, not '%s'%s", key, list, SHOW(s), HINT(s, names, n));
	return -EINVAL;
}

static void set_string(struct parser *p, char **field, const char *value)
{
	char *d = xstrdup(p, value);
	if (d) {
		free(*field);
		*field = d;
	}
}

/* A list of strings into *L (replacing it); bad items are reported and left
 * out.  An empty value is an empty list. */
static void set_list(struct parser *p, const char *key, const struct node *v, struct strlist *l)
{
	if (!want_list(p, key, v))
		return;
	if (v->n > CONFIG_MAX_LIST) {
		report(p, v, "%s: too many items (%zu); the limit is %d", key, v->n, CONFIG_MAX_LIST);
		return;
	}
	strlist_free(l);
	if (!(l->items = xcalloc(p, v->n + 1, sizeof(char *))))
		return;
	for (size_t i = 0; i < v->n; i++) {
		const char *s = want_string(p, key, v->kids[i]);
		if (s && (l->items[l->n] = xstrdup(p, s)))
			l->n++;
	}
}

/* ---- key tables -------------------------------------------------------- */

enum key_kind {
	K_STRING,        /* char *, non-empty */
	K_OPT_STRING,    /* char *, an empty value sets NULL */
	K_PATH,          /* char *, absolute */
	K_BOOL,          /* bool */
	K_UINT,          /* unsigned, in [lo, hi] */
	K_COUNT,         /* uint64_t, in [lo, hi] */
	K_NUMBER,        /* double */
	K_DURATION,      /* uint64_t ms, in [lo, hi] */
	K_SIZE,          /* uint64_t bytes, in [lo, hi] */
	K_PERCENT,       /* double fraction, at most hi percent */
	K_LIST,          /* struct strlist */
	K_FN,            /* fn() does it all */
};

struct keydef;
typedef void key_fn(struct parser *p, const struct node *key, const struct node *val,
                    void *obj);

struct keydef {
	const char *name;
	enum key_kind kind;
	size_t off;              /* of the field in the walked struct */
	uint64_t lo, hi;
	key_fn *fn;
	unsigned flags;
	unsigned only;           /* check types (bits) the key applies to; 0 = any */
};

#define KEY_REQUIRED 0x1u
#define KEY_PHASE1   0x2u    /* after the other keys of the same mapping */
#define KEY_PHASE2   0x4u    /* after those */

static unsigned key_phase(const struct keydef *k)
{
	return (k->flags & KEY_PHASE2) ? 2 : (k->flags & KEY_PHASE1) ? 1 : 0;
}

/* How one mapping is walked: what it is called in "missing key" messages,
 * where those are reported, and which check type it is (for `only`). */
struct mapctx {
	const char *what;
	const struct node *owner;
	unsigned type_bit;
	const char *type_name;
};

static bool key_applies(const struct keydef *k, const struct mapctx *mc)
{
	return !k->only || (k->only & mc->type_bit);
}

static const struct keydef *find_key(const struct keydef *defs, size_t n, const char *name,
                                     const struct mapctx *mc, bool *applies)
{
	const struct keydef *any = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(defs[i].name, name) == 0) {
			if (key_applies(&defs[i], mc)) {
				*applies = true;
				return &defs[i];
			}
			any = &defs[i];
		}
	*applies = false;
	return any;
}

/* The distinct key names that apply here, for hints and lists. */
static size_t key_names(const struct keydef *defs, size_t n, const struct mapctx *mc,
                        const char **names)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		if (!key_applies(&defs[i], mc))
			continue;
		for (size_t j = 0; j < k; j++)
			dup |= strcmp(names[j], defs[i].name) == 0;
		if (!dup)
			names[k++] = defs[i].name;
	}
	return k;
}

static const char *join_names(const char *const *names, size_t n, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "", names[i]);
	return buf;
}

/* KEY is unknown (D NULL), or known but not for this check type (D). */
static void report_misplaced_key(struct parser *p, const struct node *key,
                                 const struct keydef *d, const struct keydef *defs, size_t n,
                                 const struct mapctx *mc)
{
	const char *names[64];
	char list[1024];
	size_t k = key_names(defs, n, mc, names);
	const char *pick = nearest(key->text, names, k);

	if (d)
		report(p, key, "'%s' does not apply to a %s check; it takes: %s", d->name,
		       mc->type_name, join_names(names, k, list, sizeof list));
	else if (pick)
		report(p, key, "unknown key '%s', did you mean '%s'?", SHOW(key->text), pick);
	else
		report(p, key, "unknown key '%s'; expected one of: %s", SHOW(key->text),
		       join_names(names, k, list, sizeof list));
}

struct keyref {
	const char *text;
	size_t pair;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->text, y->text);
	return c ? c : x->pair < y->pair ? -1 : 1;
}

/*
 * For each pair of MAP, the index of the first pair with the same key, or
 * SIZE_MAX when it is the first (one sort: mappings of thousands of
 * datasets stay fast).  Caller frees; NULL when out of memory (p->oom set).
 */
static size_t *first_keys(struct parser *p, const struct node *map)
{
	size_t pairs = map->kind == NODE_MAP ? map_pairs(map) : 0, k = 0;
	struct keyref *refs = xcalloc(p, pairs, sizeof(*refs));
	size_t *first = xcalloc(p, pairs, sizeof(*first));

	if (!refs || !first) {
		free(refs);
		free(first);
		return NULL;
	}
	for (size_t i = 0; i < pairs; i++) {
		const struct node *key = map->kids[2 * i];
		first[i] = SIZE_MAX;
		if (key->kind == NODE_SCALAR)
			refs[k++] = (struct keyref){ key->text, i };
	}
	qsort(refs, k, sizeof(*refs), keyref_cmp);
	for (size_t j = 1, head = 0; j < k; j++) {
		if (strcmp(refs[j].text, refs[head].text) != 0)
			head = j;
		else
			first[refs[j].pair] = refs[head].pair;
	}
	free(refs);
	return first;
}

/* Report a key that is not a string, or repeats an earlier one (FIRST from
 * first_keys()); true when pair I of MAP can be used. */
static bool usable_key(struct parser *p, const struct node *map, size_t i, const size_t *first,
                       bool quiet)
{
	const struct node *k = map->kids[2 * i];

	if (k->kind != NODE_SCALAR) {
		if (!quiet && k->kind != NODE_BAD)
			report(p, k, "keys must be strings, not %s", kind_word(k));
		return false;
	}
	if (first[i] != SIZE_MAX) {
		if (!quiet)
			report(p, k, "duplicate key '%s', first set at line %d", SHOW(k->text),
			       map->kids[2 * first[i]]->line);
		return false;
	}
	return true;
}

static void apply_key(struct parser *p, const struct keydef *d, const struct node *key,
                      const struct node *val, void *obj)
{
	void *field = (char *)obj + d->off;
	const char *s;
	uint64_t u;

	switch (d->kind) {
	case K_OPT_STRING:
		if (is_null(val)) {
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		}
		/* fall through */
	case K_STRING:
	case K_PATH:
		if (!(s = want_string(p, d->name, val)))
			break;
		if (d->kind == K_PATH && s[0] != '/') {
			report(p, val, "%s: expected an absolute path, not '%s'", d->name, SHOW(s));
			break;
		}
		set_string(p, field, s);
		break;
	case K_BOOL:
		want_bool(p, d->name, val, field);
		break;
	case K_UINT:
		if (want_u64(p, d->name, val, d->lo, d->hi, &u) == 0)
			*(unsigned *)field = (unsigned)u;
		break;
	case K_COUNT:
		want_u64(p, d->name, val, d->lo, d->hi, field);
		break;
	case K_NUMBER:
		want_number(p, d->name, val, field);
		break;
	case K_DURATION:
		want_unit(p, d->name, val, &duration_unit, d->lo, d->hi, field);
		break;
	case K_SIZE:
		want_unit(p, d->name, val, &size_unit, d->lo, d->hi, field);
		break;
	case K_PERCENT:
		want_percent(p, d->name, val, d->hi, field);
		break;
	case K_LIST:
		set_list(p, d->name, val, field);
		break;
	case K_FN:
		d->fn(p, key, val, obj);
		break;
	}
}

/*
 * Walk mapping MAP with the key table DEFS into OBJ: unknown, duplicate,
 * misplaced and missing keys are reported; each known key is applied in its
 * phase (so a key can rely on others of the same mapping being done).  MAP
 * may be an empty value: then only the missing required keys are reported.
 */
static void walk_map(struct parser *p, const struct node *map, const struct keydef *defs,
                     size_t n_defs, void *obj, const struct mapctx *mc)
{
	size_t pairs = map->kind == NODE_MAP ? map_pairs(map) : 0, *first;
	uint64_t seen = 0;

	if (pairs > MAX_TABLE_KEYS) {
		report(p, map, "too many keys (%zu) in %s; the limit is %d", pairs, mc->what,
		       MAX_TABLE_KEYS);
		return;
	}
	if (!(first = first_keys(p, map)))
		return;
	for (unsigned phase = 0; phase < 3; phase++)
		for (size_t i = 0; i < pairs; i++) {
			const struct node *key = map->kids[2 * i], *val = map->kids[2 * i + 1];
			const struct keydef *d;
			bool applies;

			if (!usable_key(p, map, i, first, phase > 0))
				continue;
			d = find_key(defs, n_defs, key->text, mc, &applies);
			if (!d || !applies) {
				if (phase == 0)
					report_misplaced_key(p, key, d, defs, n_defs, mc);
				continue;
			}
			seen |= 1ull << (d - defs);
			if (key_phase(d) == phase)
				apply_key(p, d, key, val, obj);
		}
	free(first);
	for (size_t i = 0; i < n_defs; i++)
		if ((defs[i].flags & KEY_REQUIRED) && key_applies(&defs[i], mc) &&
		    !(seen & (1ull << i)))
			report(p, mc->owner ? mc->owner : map, "missing key '%s' in %s",
			       defs[i].name, mc->what);
}

/* The settings of entry KEY must be a mapping; LIKE hints at its keys. */
static bool want_entry(struct parser *p, const struct node *key, const struct node *val,
                       const char *like)
{
	if (val->kind == NODE_MAP)
		return true;
	if (val->kind != NODE_BAD)
		report(p, val, "%s: expected a mapping %s, not %s", SHOW(key->text), like,
		       kind_word(val));
	return false;
}

typedef void entry_fn(struct parser *p, const struct node *key, const struct node *val,
                      void *arg);

/*
 * Walk a mapping from names to entries (datasets, jobs, checks): names must
 * be [a-z0-9_]+ and unique.  Calls FN for each usable entry; ALLOC is called
 * first with the number of entries so arrays can be sized once.
 */
static void walk_named(struct parser *p, const char *key, const struct node *map, size_t cap,
                       const char *kind, bool (*alloc)(struct parser *, size_t, void *),
                       entry_fn *fn, void *arg)
{
	size_t pairs, *first;

	if (!want_map(p, key, map))
		return;
	pairs = map->kind == NODE_MAP ? map_pairs(map) : 0;
	if (pairs > cap) {
		report(p, map, "%s: too many %ss (%zu); the limit is %zu", key, kind, pairs, cap);
		return;
	}
	if (!alloc(p, pairs, arg) || !(first = first_keys(p, map)))
		return;
	for (size_t i = 0; i < pairs; i++) {
		const struct node *k = map->kids[2 * i];
		if (!usable_key(p, map, i, first, false))
			continue;
		if (k->len > CONFIG_MAX_NAME)
			report(p, k, "%s name '%s' is longer than %d bytes", kind, SHOW(k->text),
			       CONFIG_MAX_NAME);
		else if (!config_name_valid(k->text))
			report(p, k, "%s name '%s' must match [a-z0-9_]+ (it becomes a path)", kind,
			       SHOW(k->text));
		fn(p, k, map->kids[2 * i + 1], arg);
	}
	free(first);
}

/* ---- templates, URLs, file names ---------------------------------------- */

static const char *const url_vars[] = { "year", "month", "day", "exec_date" };
static const char *const job_vars[] = {
	"dataset", "exec_date", "year", "month", "day", "run_id", "state_dir", "job",
	"input", "output",
};
static const char *const alert_vars[] = {
	"dataset", "exec_date", "year", "month", "day", "run_id", "state_dir", "reason",
	"message",
};

/* Check the placeholders of TEXT against VARS; report the first bad one. */
static bool check_template(struct parser *p, const char *key, const struct node *at,
                           const char *text, const char *const *vars, size_t n)
{
	char allowed[256];
	size_t bad = 0, off = 0, len;
	const char *b;

	if (template_check(text, vars, n, &bad) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(allowed + off, sizeof allowed - off, "%s{%s}",
		                        i ? " " : "", vars[i]);
	b = text + bad;
	if (*b == '}') {
		report(p, at, "%s: stray '}' (write '}}' for a literal brace)", key);
	} else if (!strchr(b, '}')) {
		report(p, at, "%s: unterminated placeholder '%s' (write '{{' for a literal brace)",
		       key, SHOW(b));
	} else {
		len = (size_t)(strchr(b, '}') - b) + 1;
		char name[48];
		if (len >= sizeof name)
			len = sizeof name - 1;
		memcpy(name, b, len);
		name[len] = '\0';
		report(p, at, "%s: unknown placeholder '%s'; allowed: %s", key, SHOW(name), allowed);
	}
	return false;
}

/* Scheme of URL in lower case into BUF; the rest after "://" in *rest. */
static bool url_scheme(const char *url, char *buf, size_t size, const char **rest)
{
	const char *sep = strstr(url, "://");
	size_t n;

	if (!sep || sep == url || (size_t)(sep - url) >= size)
		return false;
	for (n = 0; url + n < sep; n++) {
		char c = lower(url[n]);
		if (!((c >= 'a' && c <= 'z') || (n > 0 && (is_digit(c) || c == '+' || c == '-' ||
		                                           c == '.'))))
			return false;
		buf[n] = c;
	}
	buf[n] = '\0';
	*rest = sep + 3;
	return true;
}

/* http(s) always, file:// only when ALLOW_FILE; no spaces or control bytes. */
static bool check_url(struct parser *p, const char *key, const struct node *at, const char *url,
                      bool allow_file)
{
	char scheme[16];
	const char *rest;

	for (const unsigned char *s = (const unsigned char *)url; *s; s++)
		if (*s <= 0x20 || *s == 0x7f) {
			report(p, at, "%s: URLs cannot contain spaces or control characters "
			       "(encode a space as %%20)", key);
			return false;
		}
	if (!url_scheme(url, scheme, sizeof scheme, &rest)) {
		report(p, at, "%s: expected an absolute URL like https://host/path, not '%s'", key,
		       SHOW(url));
		return false;
	}
	if (strcmp(scheme, "file") == 0) {
		if (!allow_file) {
			report(p, at, "%s: file:// URLs need allow_file_urls: true "
			       "(meant for the bundled demo)", key);
			return false;
		}
		if (rest[0] != '/') {
			report(p, at, "%s: a file:// URL needs an absolute path, like file:///srv/x.csv",
			       key);
			return false;
		}
		return true;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		report(p, at, "%s: scheme '%s' is not supported; use https or http%s", key,
		       SHOW(scheme), allow_file ? " (or file)" : "");
		return false;
	}
	if (rest[0] == '\0' || rest[0] == '/' || rest[0] == '?' || rest[0] == '#') {
		report(p, at, "%s: the URL has no host", key);
		return false;
	}
	return true;
}

/* A plain file name: it is joined to a directory under state_dir. */
static bool check_file_name(struct parser *p, const char *key, const struct node *at,
                            const char *name)
{
	if (strlen(name) > MAX_FILE_NAME) {
		report(p, at, "%s: a file name is at most %d bytes", key, MAX_FILE_NAME);
		return false;
	}
	if (strchr(name, '/') || name[0] == '.' || name[0] == '\0') {
		report(p, at, "%s: '%s' is not a plain file name (no '/', not starting with '.')",
		       key, SHOW(name));
		return false;
	}
	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		if (*s < 0x20 || *s == 0x7f) {
			report(p, at, "%s: the file name contains control characters", key);
			return false;
		}
	return check_template(p, key, at, name, url_vars, ARRAY_SIZE(url_vars));
}

/* The last path segment of URL (without query or fragment), or NULL. */
static char *url_file_name(struct parser *p, const char *url)
{
	char scheme[16];
	const char *rest, *path, *end, *last;

	if (!url_scheme(url, scheme, sizeof scheme, &rest))
		return NULL;
	end = rest + strcspn(rest, "?#");
	path = strchr(rest, '/');
	if (!path || path >= end)
		return NULL;
	for (last = end; last > path && last[-1] != '/'; last--)
		;
	if (last == end)
		return NULL;
	char *name = strndup(last, (size_t)(end - last));
	if (!name)
		p->oom = true;
	return name;
}

/* ---- timestamp formats ------------------------------------------------- */

#define FORMAT_CONVERSIONS "%Y %m %d %H %I %M %S %p %f"

static bool check_format(struct parser *p, const char *key, const struct node *at,
                         const char *f)
{
	bool seen[128] = { false };

	for (const char *s = f; *s; s++) {
		unsigned char c;
		if (*s != '%')
			continue;
		c = (unsigned char)*++s;
		if (c == '%')
			continue;
		if (c == '\0') {
			report(p, at, "%s: '%s' ends with a lone '%%'", key, SHOW(f));
			return false;
		}
		if (c >= 128 || !strchr("YmdHIMSpf", c)) {
			report(p, at, "%s: '%s' uses %%%c; supported: %s", key, SHOW(f),
			       c >= 128 ? '?' : c, FORMAT_CONVERSIONS);
			return false;
		}
		seen[c] = true;
	}
	if (!seen['Y'] || !seen['m'] || !seen['d']) {
		report(p, at, "%s: '%s' needs %%Y, %%m and %%d", key, SHOW(f));
		return false;
	}
	if (seen['I'] != seen['p']) {
		report(p, at, "%s: '%s': %%I (12-hour clock) and %%p (AM/PM) go together", key,
		       SHOW(f));
		return false;
	}
	if (seen['H'] && seen['I']) {
		report(p, at, "%s: '%s' uses both %%H and %%I", key, SHOW(f));
		return false;
	}
	return true;
}

static void set_formats(struct parser *p, const char *key, const struct node *v,
                        struct strlist *l)
{
	set_list(p, key, v, l);
	if (v->kind != NODE_LIST)
		return;
	for (size_t i = 0; i < v->n; i++)
		if (v->kids[i]->kind == NODE_SCALAR && !is_null(v->kids[i]))
			check_format(p, key, v->kids[i], v->kids[i]->text);
}

/* ---- defaults ---------------------------------------------------------- */

static const char *const default_timestamp_formats[] = {
	"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d",
};

static void dataset_defaults(struct cfg_dataset *d)
{
	d->missed = MISSED_LATEST;
	d->max_catchup = 3;
	d->keep_snapshots = 14;
	d->max_age_ms = 36 * MS_H;
	d->convert = true;
	d->convert_timeout_ms = 2 * MS_H;
	d->retry = (struct cfg_retry){ .retries = 3, .delay_ms = MS_M, .max_delay_ms = MS_H };
	d->fetch = (struct cfg_fetch){
		.connect_timeout_ms = 30 * MS_S, .low_speed_limit = KIB,
		.low_speed_time_ms = 60 * MS_S, .timeout_ms = 6 * MS_H, .max_redirects = 5,
	};
}

static void job_defaults(struct cfg_job *j)
{
	j->timeout_ms = MS_H;
	j->kill_grace_ms = 10 * MS_S;
	j->retry = (struct cfg_retry){ .retries = 3, .delay_ms = MS_M, .max_delay_ms = MS_H };
}

static void check_defaults(struct cfg_check *c)
{
	c->severity = SEV_FAIL;
	c->max_change = -1;
	c->min = -INFINITY;
	c->max = INFINITY;
	c->zero_is_null = true;
}

static int config_defaults(struct config *c)
{
	c->socket_mode = 0660;
	c->log_level = LOG_INFO;
	c->limits = (struct cfg_limits){
		.fetches = 2, .jobs = 1, .checks = 2, .clients = 64,
		.request_size = 64 * KIB, .output_tail = 16 * KIB,
	};
	c->spark.driver_memory = 2 * GIB;
	c->alerts.min_interval_ms = MS_H;
	c->alerts.retries = 5;
	c->alerts.on_warn = true;
	if (!(c->timezone = strdup("America/Denver")) ||
	    !(c->state_dir = strdup("/var/lib/denverd")) ||
	    !(c->socket = strdup("/run/denverd/denverd.sock")) ||
	    !(c->spark.submit = strdup("spark-submit")) ||
	    !(c->spark.master = strdup("local[2]")) ||
	    !(c->spark.jobs_dir = strdup(DENVERD_DATADIR "/jobs")))
		return -ENOMEM;
	return 0;
}

/* ---- the schema -------------------------------------------------------- */

static bool is_time_type(enum col_type t)
{
	return t == COL_TIMESTAMP || t == COL_DATE;
}

static void key_column_name(struct parser *p, const struct node *k, const struct node *v,
                            void *obj)
{
	struct cfg_column *c = obj;
	const char *s = want_string(p, "name", v);

	if (!s)
		return;
	if (!config_name_valid(s)) {
		report(p, v, "name: column name '%s' must match [a-z0-9_]+ and be at most %d bytes "
		       "(it becomes a Parquet column)", SHOW(s), CONFIG_MAX_NAME);
		return;
	}
	set_string(p, &c->name, s);
}

static void key_column_type(struct parser *p, const struct node *k, const struct node *v,
                            void *obj)
{
	struct cfg_column *c = obj;
	int t;
	if (want_enum(p, "type", v, col_type_table, ARRAY_SIZE(col_type_table), &t) == 0)
		c->type = (enum col_type)t;
}

static void key_column_formats(struct parser *p, const struct node *k, const struct node *v,
                               void *obj)
{
	struct cfg_column *c = obj;
	set_formats(p, "formats", v, &c->formats);
	if (!is_time_type(c->type) && v->kind == NODE_LIST && v->n > 0)
		report(p, k, "formats: only timestamp and date columns take formats, not %s columns",
		       col_type_table[c->type]);
}

static const struct keydef column_keys[] = {
	{ .name = "name", .kind = K_FN, .fn = key_column_name, .flags = KEY_REQUIRED },
	{ .name = "type", .kind = K_FN, .fn = key_column_type },
	{ .name = "aliases", .kind = K_LIST, .off = offsetof(struct cfg_column, aliases) },
	{ .name = "formats", .kind = K_FN, .fn = key_column_formats, .flags = KEY_PHASE1 },
	{ .name = "required", .kind = K_BOOL, .off = offsetof(struct cfg_column, required) },
	{ .name = "nulls", .kind = K_LIST, .off = offsetof(struct cfg_column, nulls) },
};

/* Header names match ignoring case, with ' ' and '_' alike. */
static int header_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a == ' ' ? '_' : lower(*a), y = *b == ' ' ? '_' : lower(*b);
		if (x != y || !x)
			return (unsigned char)x - (unsigned char)y;
	}
}

struct colname {
	const struct node *at;     /* the name or alias */
	const struct node *col;    /* the column's name node */
	bool alias;
};

static int colname_cmp(const void *a, const void *b)
{
	const struct colname *x = a, *y = b;
	int c = header_cmp(x->at->text, y->at->text);
	if (c)
		return c;
	if (x->at->line != y->at->line)
		return x->at->line < y->at->line ? -1 : 1;
	return x->at->col < y->at->col ? -1 : x->at->col > y->at->col;
}

/* No two columns may be matched by the same header name. */
static void check_column_names(struct parser *p, const struct node *list)
{
	struct colname *all;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < list->n; i++) {
		const struct node *al = map_get(list->kids[i], "aliases");
		cap += 1 + (al && al->kind == NODE_LIST ? al->n : 0);
	}
	if (!(all = xcalloc(p, cap, sizeof(*all))))
		return;
	for (size_t i = 0; i < list->n; i++) {
		const struct node *name = map_get(list->kids[i], "name");
		const struct node *al = map_get(list->kids[i], "aliases");
		if (!name || name->kind != NODE_SCALAR || is_null(name))
			continue;
		all[n++] = (struct colname){ name, name, false };
		for (size_t j = 0; al && al->kind == NODE_LIST && j < al->n; j++)
			if (al->kids[j]->kind == NODE_SCALAR && !is_null(al->kids[j]))
				all[n++] = (struct colname){ al->kids[j], name, true };
	}
	qsort(all, n, sizeof(*all), colname_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		const struct colname *a = &all[first], *b = &all[i];
		if (header_cmp(a->at->text, b->at->text) != 0) {
			first = i;
			continue;
		}
		if (a->col == b->col)
			continue;      /* an alias repeating its own column: harmless */
		if (!a->alias && !b->alias)
			report(p, b->at, "duplicate column '%s', first at line %d", SHOW(b->at->text),
			       a->at->line);
		else
			report(p, b->at, "'%s' would match both column '%s' (line %d) and column '%s'; "
			       "names and aliases are compared ignoring case, with ' ' and '_' alike",
			       SHOW(b->at->text), SHOW(a->col->text), a->at->line, SHOW(b->col->text));
	}
	free(all);
}

static void key_columns(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_schema *s = obj;

	if (!want_list(p, "columns", v) || v->kind != NODE_LIST)
		return;
	if (v->n > CONFIG_MAX_COLUMNS) {
		report(p, v, "columns: too many columns (%zu); the limit is %d", v->n,
		       CONFIG_MAX_COLUMNS);
		return;
	}
	if (!(s->columns = xcalloc(p, v->n, sizeof(*s->columns))))
		return;
	for (size_t i = 0; i < v->n; i++) {
		const struct node *item = v->kids[i];
		struct cfg_column *c = &s->columns[s->n_columns++];
		struct mapctx mc = { .what = "this column", .owner = item };

		c->type = COL_STRING;
		c->required = true;
		if (item->kind != NODE_MAP) {
			if (item->kind != NODE_BAD)
				report(p, item, "columns: expected a mapping like {name: x, type: int}, "
				       "not %s", kind_word(item));
			continue;
		}
		walk_map(p, item, column_keys, ARRAY_SIZE(column_keys), c, &mc);
	}
	check_column_names(p, v);
}

static const char *const *column_names(const struct cfg_schema *s, const char **buf)
{
	for (size_t i = 0; i < s->n_columns; i++)
		buf[i] = s->columns[i].name ? s->columns[i].name : "";
	return buf;
}

/*
 * Column NAME (from node AT of KEY) must exist in schema S; with TYPES (a
 * bit per col_type, 0 = any), its type must be one of them (WANT says which,
 * in words).  Returns the column or NULL after reporting.
 */
static const struct cfg_column *check_column_ref(struct parser *p, const struct cfg_schema *s,
                                                 const char *key, const struct node *at,
                                                 unsigned types, const char *want)
{
	const struct cfg_column *c = config_column(s, at->text);

	if (!c) {
		const char *names[CONFIG_MAX_COLUMNS];
		column_names(s, names);
		report(p, at, "%s: no column '%s' in the schema%s", key, SHOW(at->text),
		       HINT(at->text, names, s->n_columns));
		return NULL;
	}
	if (types && !(types & (1u << c->type))) {
		report(p, at, "%s: column '%s' is %s %s; %s", key, c->name,
		       c->type == COL_INT ? "an" : "a", col_type_table[c->type], want);
		return NULL;
	}
	return c;
}

#define TIME_TYPES    ((1u << COL_TIMESTAMP) | (1u << COL_DATE))
#define NUMERIC_TYPES ((1u << COL_INT) | (1u << COL_FLOAT))

static void key_schema_key(struct parser *p, const struct node *k, const struct node *v,
                           void *obj)
{
	struct cfg_schema *s = obj;

	set_list(p, "key", v, &s->key);
	if (v->kind != NODE_LIST)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const struct node *item = v->kids[i];
		const struct cfg_column *c;
		if (item->kind != NODE_SCALAR || is_null(item))
			continue;
		for (size_t j = 0; j < i; j++)
			if (v->kids[j]->kind == NODE_SCALAR && strcmp(v->kids[j]->text, item->text) == 0) {
				report(p, item, "key: column '%s' is listed twice", SHOW(item->text));
				goto next;
			}
		c = check_column_ref(p, s, "key", item, 0, NULL);
		if (c && !c->required)
			report(p, item, "key: column '%s' is required: false, but a key column must be "
			       "in every file", c->name);
next:;
	}
}

static void key_event_time(struct parser *p, const struct node *k, const struct node *v,
                           void *obj)
{
	struct cfg_schema *s = obj;
	const char *name = want_string(p, "event_time", v);

	if (!name)
		return;
	if (check_column_ref(p, s, "event_time", v, TIME_TYPES,
	                     "the event time must be a timestamp or date column"))
		set_string(p, &s->event_time, name);
}

static void key_timestamp_formats(struct parser *p, const struct node *k, const struct node *v,
                                  void *obj)
{
	struct cfg_schema *s = obj;
	set_formats(p, "timestamp_formats", v, &s->timestamp_formats);
}

static const struct keydef schema_keys[] = {
	{ .name = "columns", .kind = K_FN, .fn = key_columns },
	{ .name = "timestamp_formats", .kind = K_FN, .fn = key_timestamp_formats },
	{ .name = "key", .kind = K_FN, .fn = key_schema_key, .flags = KEY_PHASE1 },
	{ .name = "event_time", .kind = K_FN, .fn = key_event_time, .flags = KEY_PHASE1 },
};

/* ---- checks ------------------------------------------------------------ */

#define T(x) (1u << (x))
#define MAX_PERIOD (3650 * MS_D)

static void key_noop(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
}

static void key_severity(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_check *c = obj;
	int sev;
	if (want_enum(p, "severity", v, severity_table, ARRAY_SIZE(severity_table), &sev) == 0)
		c->severity = (enum severity)sev;
}

static const struct keydef check_keys[] = {
	{ .name = "type", .kind = K_FN, .fn = key_noop },
	{ .name = "severity", .kind = K_FN, .fn = key_severity },
	{ .name = "columns", .kind = K_LIST, .off = offsetof(struct cfg_check, columns),
	  .flags = KEY_REQUIRED,
	  .only = T(CHECK_NULLS) | T(CHECK_RANGE) | T(CHECK_ALLOWED) },
	{ .name = "columns", .kind = K_LIST, .off = offsetof(struct cfg_check, columns),
	  .only = T(CHECK_TIMESTAMPS) },
	{ .name = "min", .kind = K_COUNT, .off = offsetof(struct cfg_check, min_rows),
	  .lo = 0, .hi = UINT64_MAX, .only = T(CHECK_ROW_COUNT) },
	{ .name = "max", .kind = K_COUNT, .off = offsetof(struct cfg_check, max_rows),
	  .lo = 0, .hi = UINT64_MAX, .only = T(CHECK_ROW_COUNT) },
	{ .name = "max_change", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_change), .lo = 0, .hi = 1000,
	  .only = T(CHECK_ROW_COUNT) },
	{ .name = "min", .kind = K_NUMBER, .off = offsetof(struct cfg_check, min),
	  .only = T(CHECK_RANGE) },
	{ .name = "max", .kind = K_NUMBER, .off = offsetof(struct cfg_check, max),
	  .only = T(CHECK_RANGE) },
	{ .name = "lat", .kind = K_STRING, .off = offsetof(struct cfg_check, lat),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "lon", .kind = K_STRING, .off = offsetof(struct cfg_check, lon),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "min_lat", .kind = K_NUMBER, .off = offsetof(struct cfg_check, min_lat),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "max_lat", .kind = K_NUMBER, .off = offsetof(struct cfg_check, max_lat),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "min_lon", .kind = K_NUMBER, .off = offsetof(struct cfg_check, min_lon),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "max_lon", .kind = K_NUMBER, .off = offsetof(struct cfg_check, max_lon),
	  .flags = KEY_REQUIRED, .only = T(CHECK_COORDINATES) },
	{ .name = "zero_is_null", .kind = K_BOOL,
	  .off = offsetof(struct cfg_check, zero_is_null), .only = T(CHECK_COORDINATES) },
	{ .name = "max_null", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_fraction), .lo = 0, .hi = 100,
	  .only = T(CHECK_NULLS) },
	{ .name = "max_bad", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_fraction), .lo = 0, .hi = 100,
	  .only = T(CHECK_RANGE) | T(CHECK_COORDINATES) | T(CHECK_ALLOWED) },
	{ .name = "max_unparsed", .kind = K_PERCENT,
	  .off = offsetof(struct cfg_check, max_fraction), .lo = 0, .hi = 100,
	  .only = T(CHECK_TIMESTAMPS) },
	{ .name = "future_slack", .kind = K_DURATION,
	  .off = offsetof(struct cfg_check, future_slack_ms), .lo = 0, .hi = 30 * MS_D,
	  .only = T(CHECK_TIMESTAMPS) },
	{ .name = "max_age", .kind = K_DURATION,
	  .off = offsetof(struct cfg_check, max_age_ms), .lo = MS_S, .hi = MAX_PERIOD,
	  .flags = KEY_REQUIRED, .only = T(CHECK_FRESHNESS) },
	{ .name = "values", .kind = K_LIST, .off = offsetof(struct cfg_check, values),
	  .flags = KEY_REQUIRED, .only = T(CHECK_ALLOWED) },
};

/* Column references of a check, checked against the schema. */
static void check_columns_of(struct parser *p, const struct cfg_dataset *d,
                             const struct node *list, const char *key, unsigned types,
                             const char *want)
{
	if (!list || list->kind != NODE_LIST)
		return;
	for (size_t i = 0; i < list->n; i++)
		if (list->kids[i]->kind == NODE_SCALAR && !is_null(list->kids[i]))
			check_column_ref(p, &d->schema, key, list->kids[i], types, want);
}

static void check_box(struct parser *p, const struct node *map, const char *lo_key,
                      double lo, const char *hi_key, double hi, double limit)
{
	const struct node *at = map_get(map, lo_key);
	if (fabs(lo) > limit || fabs(hi) > limit)
		report(p, fabs(lo) > limit ? at : map_get(map, hi_key),
		       "%s: must be between %g and %g", fabs(lo) > limit ? lo_key : hi_key,
		       -limit, limit);
	else if (lo >= hi)
		report(p, at, "%s (%g) must be less than %s (%g)", lo_key, lo, hi_key, hi);
}

/* Cross-checks of check CK (from mapping MAP named by KEY) against the
 * dataset's schema, once every key has been read. */
static void check_finish(struct parser *p, const struct cfg_dataset *d, struct cfg_check *ck,
                         const struct node *key, const struct node *map)
{
	const struct cfg_schema *s = &d->schema;
	const struct node *cols = map_get(map, "columns");
	bool has_time = false;

	switch (ck->type) {
	case CHECK_COLUMNS:
		if (s->n_columns == 0)
			report(p, key, "check '%s': a columns check needs schema.columns", ck->name);
		break;
	case CHECK_UNIQUE:
		if (s->key.n == 0)
			report(p, key, "check '%s': a unique check needs schema.key", ck->name);
		break;
	case CHECK_ROW_COUNT:
		if (ck->max_rows && ck->min_rows > ck->max_rows)
			report(p, map_get(map, "min"), "min (%llu) is greater than max (%llu)",
			       (unsigned long long)ck->min_rows, (unsigned long long)ck->max_rows);
		if (!ck->min_rows && !ck->max_rows && ck->max_change < 0)
			report(p, key, "check '%s': a row_count check needs min, max or max_change",
			       ck->name);
		break;
	case CHECK_NULLS:
	case CHECK_ALLOWED:
		check_columns_of(p, d, cols, "columns", 0, NULL);
		if (cols && cols->kind == NODE_LIST && cols->n == 0)
			report(p, cols, "columns: must name at least one column");
		if (ck->type == CHECK_ALLOWED && ck->values.items && ck->values.n == 0)
			report(p, map_get(map, "values"), "values: must list at least one value");
		break;
	case CHECK_RANGE:
		check_columns_of(p, d, cols, "columns", NUMERIC_TYPES,
		                 "a range check needs int or float columns");
		if (cols && cols->kind == NODE_LIST && cols->n == 0)
			report(p, cols, "columns: must name at least one column");
		if (isinf(ck->min) && isinf(ck->max))
			report(p, key, "check '%s': a range check needs min or max", ck->name);
		else if (ck->min > ck->max)
			report(p, map_get(map, "min"), "min (%g) is greater than max (%g)", ck->min,
			       ck->max);
		break;
	case CHECK_COORDINATES: {
		const struct node *lat = map_get(map, "lat"), *lon = map_get(map, "lon");
		const char *want = "coordinates need int or float columns";
		if (ck->lat && lat)
			check_column_ref(p, s, "lat", lat, NUMERIC_TYPES, want);
		if (ck->lon && lon)
			check_column_ref(p, s, "lon", lon, NUMERIC_TYPES, want);
		if (map_get(map, "min_lat") && map_get(map, "max_lat"))
			check_box(p, map, "min_lat", ck->min_lat, "max_lat", ck->max_lat, 90);
		if (map_get(map, "min_lon") && map_get(map, "max_lon"))
			check_box(p, map, "min_lon", ck->min_lon, "max_lon", ck->max_lon, 180);
		break;
	}
	case CHECK_TIMESTAMPS:
		if (cols) {
			check_columns_of(p, d, cols, "columns", TIME_TYPES,
			                 "a timestamps check needs timestamp or date columns");
			break;
		}
		for (size_t i = 0; i < s->n_columns; i++)
			has_time |= is_time_type(s->columns[i].type);
		if (!has_time)
			report(p, key, "check '%s': a timestamps check needs a timestamp or date "
			       "column in the schema", ck->name);
		break;
	case CHECK_FRESHNESS:
		if (!s->event_time)
			report(p, key, "check '%s': a freshness check needs schema.event_time", ck->name);
		break;
	}
}

static void parse_check(struct parser *p, const struct node *key, const struct node *val,
                        void *arg)
{
	struct cfg_dataset *d = arg;
	struct cfg_check *ck = &d->checks[d->n_checks++];
	const struct node *type;
	char what[CONFIG_MAX_NAME + 48], tname[32];
	int t;

	check_defaults(ck);
	if (!(ck->name = xstrdup(p, key->text)))
		return;
	if (!want_entry(p, key, val, "like {type: nulls, ...}"))
		return;
	if (!(type = map_get(val, "type"))) {
		char list[256];
		report(p, key, "missing key 'type' in check '%s' (one of: %s)", SHOW(key->text),
		       join_names(check_type_table, ARRAY_SIZE(check_type_table), list, sizeof list));
		return;
	}
	if (want_enum(p, "type", type, check_type_table, ARRAY_SIZE(check_type_table), &t) < 0)
		return;
	ck->type = (enum check_type)t;
	snprintf(what, sizeof what, "check '%s'", key->text);
	snprintf(tname, sizeof tname, "%s", check_type_table[t]);
	struct mapctx mc = { .what = what, .owner = key, .type_bit = T(t), .type_name = tname };
	walk_map(p, val, check_keys, ARRAY_SIZE(check_keys), ck, &mc);
	check_finish(p, d, ck, key, val);
}

static bool alloc_checks(struct parser *p, size_t n, void *arg)
{
	struct cfg_dataset *d = arg;
	return (d->checks = xcalloc(p, n, sizeof(*d->checks))) != NULL;
}

static void key_checks(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	walk_named(p, "checks", v, CONFIG_MAX_CHECKS, "check", alloc_checks, parse_check, obj);
}

/* ---- datasets ---------------------------------------------------------- */

static void key_url(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_dataset *d = obj;
	const char *url = want_string(p, "url", v);

	if (url && check_url(p, "url", v, url, p->cfg->allow_file_urls) &&
	    check_template(p, "url", v, url, url_vars, ARRAY_SIZE(url_vars)))
		set_string(p, &d->url, url);
}

static void key_file_name(struct parser *p, const struct node *k, const struct node *v,
                          void *obj)
{
	struct cfg_dataset *d = obj;
	const char *name;

	if (is_null(v))
		return;
	if ((name = want_string(p, "file_name", v)) && check_file_name(p, "file_name", v, name))
		set_string(p, &d->file_name, name);
}

static void key_schedule(struct parser *p, const struct node *k, const struct node *v,
                         void *obj)
{
	struct cfg_dataset *d = obj;
	const char *s = want_string(p, "schedule", v), *err = NULL;
	struct cron cron;

	if (!s)
		return;
	if (cron_parse(s, &cron, &err) < 0) {
		report(p, v, "schedule: %s (in '%s')", err ? err : "not a cron expression", SHOW(s));
		return;
	}
	set_string(p, &d->schedule, s);
}

static void key_missed(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_dataset *d = obj;
	int m;
	if (want_enum(p, "missed", v, missed_table, ARRAY_SIZE(missed_table), &m) == 0)
		d->missed = (enum missed_policy)m;
}

static const struct keydef fetch_keys[] = {
	{ .name = "connect_timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_fetch, connect_timeout_ms), .lo = MS_S, .hi = MS_H },
	{ .name = "low_speed_limit", .kind = K_SIZE,
	  .off = offsetof(struct cfg_fetch, low_speed_limit), .lo = 0, .hi = GIB },
	{ .name = "low_speed_time", .kind = K_DURATION,
	  .off = offsetof(struct cfg_fetch, low_speed_time_ms), .lo = MS_S, .hi = MS_H },
	{ .name = "timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_fetch, timeout_ms), .lo = MS_S, .hi = 7 * MS_D },
	{ .name = "max_redirects", .kind = K_UINT,
	  .off = offsetof(struct cfg_fetch, max_redirects), .lo = 0, .hi = 50 },
};

static void key_fetch(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_dataset *d = obj;
	struct mapctx mc = { .what = "fetch", .owner = k };
	if (want_map(p, "fetch", v))
		walk_map(p, v, fetch_keys, ARRAY_SIZE(fetch_keys), &d->fetch, &mc);
}

static void key_schema(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_dataset *d = obj;
	struct mapctx mc = { .what = "schema", .owner = k };
	if (want_map(p, "schema", v))
		walk_map(p, v, schema_keys, ARRAY_SIZE(schema_keys), &d->schema, &mc);
}

#define RETRY_KEYS(type)                                                               \
	{ .name = "retries", .kind = K_UINT, .off = offsetof(type, retry.retries),        \
	  .lo = 0, .hi = 100 },                                                           \
	{ .name = "retry_delay", .kind = K_DURATION, .off = offsetof(type, retry.delay_ms), \
	  .lo = 0, .hi = 7 * MS_D },                                                      \
	{ .name = "retry_max_delay", .kind = K_DURATION,                                  \
	  .off = offsetof(type, retry.max_delay_ms), .lo = 0, .hi = 7 * MS_D }

static const struct keydef dataset_keys[] = {
	{ .name = "url", .kind = K_FN, .fn = key_url, .flags = KEY_REQUIRED },
	{ .name = "file_name", .kind = K_FN, .fn = key_file_name },
	{ .name = "schedule", .kind = K_FN, .fn = key_schedule, .flags = KEY_REQUIRED },
	{ .name = "missed", .kind = K_FN, .fn = key_missed },
	{ .name = "max_catchup", .kind = K_UINT,
	  .off = offsetof(struct cfg_dataset, max_catchup), .lo = 0, .hi = 1000 },
	{ .name = "keep_snapshots", .kind = K_UINT,
	  .off = offsetof(struct cfg_dataset, keep_snapshots), .lo = 1, .hi = 100000 },
	{ .name = "max_age", .kind = K_DURATION,
	  .off = offsetof(struct cfg_dataset, max_age_ms), .lo = 0, .hi = MAX_PERIOD },
	{ .name = "convert", .kind = K_BOOL, .off = offsetof(struct cfg_dataset, convert) },
	{ .name = "convert_timeout", .kind = K_DURATION,
	  .off = offsetof(struct cfg_dataset, convert_timeout_ms), .lo = MS_S,
	  .hi = 7 * MS_D },
	RETRY_KEYS(struct cfg_dataset),
	{ .name = "fetch", .kind = K_FN, .fn = key_fetch },
	{ .name = "schema", .kind = K_FN, .fn = key_schema },
	{ .name = "checks", .kind = K_FN, .fn = key_checks, .flags = KEY_PHASE1 },
};

static void check_retry(struct parser *p, const struct cfg_retry *r, const struct node *map)
{
	char a[32], b[32];
	const struct node *at = map_get(map, "retry_max_delay");

	if (r->max_delay_ms < r->delay_ms)
		report(p, at ? at : map_get(map, "retry_delay"),
		       "retry_max_delay (%s) is shorter than retry_delay (%s)",
		       fmt_duration(r->max_delay_ms, a, sizeof a), fmt_duration(r->delay_ms, b, sizeof b));
}

static bool alloc_datasets(struct parser *p, size_t n, void *arg)
{
	struct config *c = arg;
	return (c->datasets = xcalloc(p, n, sizeof(*c->datasets))) != NULL;
}

static void parse_dataset(struct parser *p, const struct node *key, const struct node *val,
                          void *arg)
{
	struct config *c = arg;
	struct cfg_dataset *d = &c->datasets[c->n_datasets++];
	char what[CONFIG_MAX_NAME + 48];

	dataset_defaults(d);
	d->line = key->line;
	if (!(d->name = xstrdup(p, key->text)))
		return;
	if (!want_entry(p, key, val, "with url, schedule, ..."))
		return;
	snprintf(what, sizeof what, "dataset '%s'", key->text);
	struct mapctx mc = { .what = what, .owner = key };
	walk_map(p, val, dataset_keys, ARRAY_SIZE(dataset_keys), d, &mc);
	check_retry(p, &d->retry, val);
	if (d->url && !d->file_name) {
		const struct node *at = map_get(val, "url");
		if (!(d->file_name = url_file_name(p, d->url)))
			report(p, at, "url: the URL's path does not end in a file name; set file_name");
		else if (!check_file_name(p, "url", at, d->file_name)) {
			free(d->file_name);
			d->file_name = NULL;
		}
	}
	if (!d->schema.timestamp_formats.items) {
		struct strlist *l = &d->schema.timestamp_formats;
		if (!(l->items = xcalloc(p, ARRAY_SIZE(default_timestamp_formats) + 1, sizeof(char *))))
			return;
		for (size_t i = 0; i < ARRAY_SIZE(default_timestamp_formats); i++)
			if ((l->items[l->n] = xstrdup(p, default_timestamp_formats[i])))
				l->n++;
	}
	/* columns[i] was made from item i of the schema's column list */
	const struct node *cols = map_get(map_get(val, "schema"), "columns");
	for (size_t i = 0; cols && i < d->schema.n_columns; i++) {
		const struct cfg_column *col = &d->schema.columns[i];
		if (col->name && is_time_type(col->type) && col->formats.n == 0 &&
		    d->schema.timestamp_formats.n == 0)
			report(p, cols->kids[i], "column '%s' is a %s but has no formats, and "
			       "schema.timestamp_formats is empty", col->name, col_type_table[col->type]);
	}
}

static void key_datasets(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	walk_named(p, "datasets", v, CONFIG_MAX_DATASETS, "dataset", alloc_datasets,
	           parse_dataset, obj);
}

/* ---- jobs -------------------------------------------------------------- */

static const char *const reserved_task_names[] = { "fetch", "check", "convert" };

static void key_after(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_job *j = obj;
	const struct config *c = p->cfg;

	set_list(p, "after", v, &j->after);
	if (v->kind != NODE_LIST || v->n == 0) {
		if (v->kind == NODE_LIST || is_null(v))
			report(p, v, "after: must name at least one dataset");
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct node *item = v->kids[i];
		if (item->kind != NODE_SCALAR || is_null(item))
			continue;
		for (size_t x = 0; x < i; x++)
			if (v->kids[x]->kind == NODE_SCALAR && strcmp(v->kids[x]->text, item->text) == 0) {
				report(p, item, "after: dataset '%s' is listed twice", SHOW(item->text));
				goto next;
			}
		if (!config_dataset(c, item->text)) {
			const char **names = calloc(c->n_datasets ? c->n_datasets : 1, sizeof(char *));
			if (!names) {
				p->oom = true;
				return;
			}
			for (size_t x = 0; x < c->n_datasets; x++)
				names[x] = c->datasets[x].name ? c->datasets[x].name : "";
			report(p, item, "after: no dataset '%s'%s", SHOW(item->text),
			       HINT(item->text, names, c->n_datasets));
			free(names);
		}
next:;
	}
}

static void set_command(struct parser *p, const char *key, const struct node *v,
                        struct strlist *l, const char *const *vars, size_t n_vars,
                        bool required)
{
	set_list(p, key, v, l);
	if (v->kind != NODE_LIST || v->n == 0) {
		if (required && (v->kind == NODE_LIST || is_null(v)))
			report(p, v, "%s: expected a program and its arguments, "
			       "like [\"/usr/bin/prog\", \"{exec_date}\"]", key);
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct node *item = v->kids[i];
		if (item->kind == NODE_SCALAR && !is_null(item))
			check_template(p, key, item, item->text, vars, n_vars);
	}
}

static void key_job_command(struct parser *p, const struct node *k, const struct node *v,
                            void *obj)
{
	struct cfg_job *j = obj;
	set_command(p, "command", v, &j->command, job_vars, ARRAY_SIZE(job_vars), true);
}

static const struct keydef job_keys[] = {
	{ .name = "after", .kind = K_FN, .fn = key_after, .flags = KEY_REQUIRED },
	{ .name = "command", .kind = K_FN, .fn = key_job_command, .flags = KEY_REQUIRED },
	{ .name = "timeout", .kind = K_DURATION, .off = offsetof(struct cfg_job, timeout_ms),
	  .lo = MS_S, .hi = 7 * MS_D },
	{ .name = "kill_grace", .kind = K_DURATION,
	  .off = offsetof(struct cfg_job, kill_grace_ms), .lo = 0, .hi = MS_H },
	RETRY_KEYS(struct cfg_job),
};

static bool alloc_jobs(struct parser *p, size_t n, void *arg)
{
	struct config *c = arg;
	return (c->jobs = xcalloc(p, n, sizeof(*c->jobs))) != NULL;
}

static void parse_job(struct parser *p, const struct node *key, const struct node *val,
                      void *arg)
{
	struct config *c = arg;
	struct cfg_job *j = &c->jobs[c->n_jobs++];
	char what[CONFIG_MAX_NAME + 48];

	job_defaults(j);
	j->line = key->line;
	if (!(j->name = xstrdup(p, key->text)))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(reserved_task_names); i++)
		if (strcmp(key->text, reserved_task_names[i]) == 0)
			report(p, key, "job name '%s' is reserved for a built-in task", key->text);
	if (!want_entry(p, key, val, "with after, command, ..."))
		return;
	snprintf(what, sizeof what, "job '%s'", key->text);
	struct mapctx mc = { .what = what, .owner = key };
	walk_map(p, val, job_keys, ARRAY_SIZE(job_keys), j, &mc);
	check_retry(p, &j->retry, val);
}

static void key_jobs(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	walk_named(p, "jobs", v, CONFIG_MAX_JOBS, "job", alloc_jobs, parse_job, obj);
}

/* ---- spark, alerts, limits --------------------------------------------- */

static void key_spark_conf(struct parser *p, const struct node *k, const struct node *v,
                           void *obj)
{
	struct cfg_spark *s = obj;
	size_t pairs, *first;

	if (!want_map(p, "conf", v) || v->kind != NODE_MAP)
		return;
	pairs = map_pairs(v);
	if (pairs > CONFIG_MAX_LIST) {
		report(p, v, "conf: too many settings (%zu); the limit is %d", pairs, CONFIG_MAX_LIST);
		return;
	}
	if (!(s->conf_keys = xcalloc(p, pairs, sizeof(char *))) ||
	    !(s->conf_values = xcalloc(p, pairs, sizeof(char *))) || !(first = first_keys(p, v)))
		return;
	for (size_t i = 0; i < pairs; i++) {
		const struct node *ck = v->kids[2 * i], *cv = v->kids[2 * i + 1];
		const char *value;
		if (!usable_key(p, v, i, first, false))
			continue;
		if (ck->len == 0 || ck->len > MAX_STRING || strpbrk(ck->text, "= \t\r\n")) {
			report(p, ck, "conf: '%s' is not a Spark setting name (no spaces or '=')",
			       SHOW(ck->text));
			continue;
		}
		if (!(value = want_scalar(p, ck->text, cv, "a string")))
			continue;
		if (strpbrk(value, "\r\n")) {
			report(p, cv, "%s: the value must be on one line", ck->text);
			continue;
		}
		s->conf_keys[s->n_conf] = xstrdup(p, ck->text);
		s->conf_values[s->n_conf] = xstrdup(p, value);
		s->n_conf++;
	}
	free(first);
}

static const struct keydef spark_keys[] = {
	{ .name = "submit", .kind = K_STRING, .off = offsetof(struct cfg_spark, submit) },
	{ .name = "master", .kind = K_STRING, .off = offsetof(struct cfg_spark, master) },
	{ .name = "driver_memory", .kind = K_SIZE,
	  .off = offsetof(struct cfg_spark, driver_memory), .lo = MIB, .hi = 1024 * GIB },
	{ .name = "python", .kind = K_OPT_STRING, .off = offsetof(struct cfg_spark, python) },
	{ .name = "jobs_dir", .kind = K_PATH, .off = offsetof(struct cfg_spark, jobs_dir) },
	{ .name = "conf", .kind = K_FN, .fn = key_spark_conf },
};

static void key_alert_command(struct parser *p, const struct node *k, const struct node *v,
                              void *obj)
{
	struct cfg_alerts *a = obj;
	set_command(p, "command", v, &a->command, alert_vars, ARRAY_SIZE(alert_vars), false);
}

static void key_webhook(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct cfg_alerts *a = obj;
	const char *url;

	if (is_null(v)) {
		free(a->webhook);
		a->webhook = NULL;
		return;
	}
	if ((url = want_string(p, "webhook", v)) && check_url(p, "webhook", v, url, false))
		set_string(p, &a->webhook, url);
}

static const struct keydef alert_keys[] = {
	{ .name = "command", .kind = K_FN, .fn = key_alert_command },
	{ .name = "webhook", .kind = K_FN, .fn = key_webhook },
	{ .name = "min_interval", .kind = K_DURATION,
	  .off = offsetof(struct cfg_alerts, min_interval_ms), .lo = 0, .hi = 30 * MS_D },
	{ .name = "retries", .kind = K_UINT, .off = offsetof(struct cfg_alerts, retries),
	  .lo = 0, .hi = 100 },
	{ .name = "on_warn", .kind = K_BOOL, .off = offsetof(struct cfg_alerts, on_warn) },
};

static const struct keydef limit_keys[] = {
	{ .name = "fetches", .kind = K_UINT, .off = offsetof(struct cfg_limits, fetches),
	  .lo = 1, .hi = 64 },
	{ .name = "jobs", .kind = K_UINT, .off = offsetof(struct cfg_limits, jobs), .lo = 1,
	  .hi = 64 },
	{ .name = "checks", .kind = K_UINT, .off = offsetof(struct cfg_limits, checks),
	  .lo = 1, .hi = 64 },
	{ .name = "clients", .kind = K_UINT, .off = offsetof(struct cfg_limits, clients),
	  .lo = 1, .hi = 4096 },
	{ .name = "request_size", .kind = K_SIZE,
	  .off = offsetof(struct cfg_limits, request_size), .lo = KIB, .hi = 16 * MIB },
	{ .name = "output_tail", .kind = K_SIZE,
	  .off = offsetof(struct cfg_limits, output_tail), .lo = 0, .hi = 16 * MIB },
};

#define SECTION_FN(fname, keyname, table, member)                                          \
	static void fname(struct parser *p, const struct node *k, const struct node *v,        \
	                  void *obj)                                                           \
	{                                                                                      \
		struct config *c = obj;                                                            \
		struct mapctx mc = { .what = keyname, .owner = k };                                \
		if (want_map(p, keyname, v))                                                       \
			walk_map(p, v, table, ARRAY_SIZE(table), &c->member, &mc);                     \
	}
SECTION_FN(key_spark, "spark", spark_keys, spark)
SECTION_FN(key_alerts, "alerts", alert_keys, alerts)
SECTION_FN(key_limits, "limits", limit_keys, limits)

/* ---- the top level ------------------------------------------------------ */

static void key_timezone(struct parser *p, const struct node *k, const struct node *v,
                         void *obj)
{
	struct config *c = obj;
	const char *s = want_string(p, "timezone", v);
	struct tz *tz = NULL;
	int rc;

	if (!s)
		return;
	rc = tz_load(s, &tz);
	tz_free(tz);
	if (rc == -ENOMEM)
		p->oom = true;
	else if (rc == -ENOENT)
		report(p, v, "timezone: unknown time zone '%s' (an IANA name like America/Denver "
		       "or UTC)", SHOW(s));
	else if (rc < 0)
		report(p, v, "timezone: '%s' is not a usable time zone (an IANA name like "
		       "America/Denver or UTC)", SHOW(s));
	else
		set_string(p, &c->timezone, s);
}

static void key_socket(struct parser *p, const struct node *k, const struct node *v, void *obj)
{
	struct config *c = obj;
	const char *s = want_string(p, "socket", v);

	if (!s)
		return;
	if (s[0] != '/')
		report(p, v, "socket: expected an absolute path, not '%s'", SHOW(s));
	else if (v->len > MAX_SOCKET)
		report(p, v, "socket: a socket path is at most %d bytes", MAX_SOCKET);
	else
		set_string(p, &c->socket, s);
}

static void key_socket_mode(struct parser *p, const struct node *k, const struct node *v,
                            void *obj)
{
	struct config *c = obj;
	const char *s = want_scalar(p, "socket_mode", v, "an octal mode like \"0660\"");
	unsigned mode = 0;
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	if (n < 3 || n > 4 || strspn(s, "01234567") != n || (n == 4 && s[0] != '0')) {
		report(p, v, "socket_mode: expected an octal mode like \"0660\", not '%s'", SHOW(s));
		return;
	}
	for (; *s; s++)
		mode = mode * 8 + (unsigned)(*s - '0');
	c->socket_mode = mode;
}

static void key_log_level(struct parser *p, const struct node *k, const struct node *v,
                          void *obj)
{
	static const char *const levels[] = { "error", "warning", "notice", "info", "debug" };
	struct config *c = obj;
	int i;

	if (v->kind == NODE_SCALAR && log_level_parse(v->text) >= 0) {
		c->log_level = log_level_parse(v->text);
		return;
	}
	if (want_enum(p, "log_level", v, levels, ARRAY_SIZE(levels), &i) == 0)
		c->log_level = log_level_parse(levels[i]);
}

static const struct keydef top_keys[] = {
	{ .name = "timezone", .kind = K_FN, .fn = key_timezone },
	{ .name = "state_dir", .kind = K_PATH, .off = offsetof(struct config, state_dir) },
	{ .name = "socket", .kind = K_FN, .fn = key_socket },
	{ .name = "socket_mode", .kind = K_FN, .fn = key_socket_mode },
	{ .name = "log_level", .kind = K_FN, .fn = key_log_level },
	{ .name = "allow_file_urls", .kind = K_BOOL,
	  .off = offsetof(struct config, allow_file_urls) },
	{ .name = "limits", .kind = K_FN, .fn = key_limits },
	{ .name = "spark", .kind = K_FN, .fn = key_spark },
	{ .name = "alerts", .kind = K_FN, .fn = key_alerts },
	{ .name = "datasets", .kind = K_FN, .fn = key_datasets, .flags = KEY_PHASE1 },
	{ .name = "jobs", .kind = K_FN, .fn = key_jobs, .flags = KEY_PHASE2 },
};

/* ---- entry points ------------------------------------------------------ */

int config_parse(const char *name, const char *text, size_t len, struct config **out,
                 char **errors)
{
	struct parser p = { .name = name, .src = text, .src_len = len };
	struct node *root = NULL;
	struct config *cfg;
	int rc;

	*out = NULL;
	if (errors)
		*errors = NULL;
	if (!(cfg = calloc(1, sizeof(*cfg))))
		return -ENOMEM;
	p.cfg = cfg;
	if (config_defaults(cfg) < 0 || !(cfg->path = strdup(name))) {
		rc = -ENOMEM;
		goto out;
	}
	if (len > CONFIG_MAX_FILE_SIZE) {
		report_pos(&p, 0, 0, "the file is larger than %u bytes", CONFIG_MAX_FILE_SIZE);
		rc = -EFBIG;
		goto out;
	}
	rc = load_tree(&p, &root);
	if (rc == 0) {
		if (!root || is_null(root)) {
			report_pos(&p, 1, 1, "the file is empty; expected a mapping of settings "
			           "(timezone, state_dir, datasets, ...)");
		} else if (root->kind != NODE_MAP) {
			if (root->kind != NODE_BAD)
				report(&p, root, "expected a mapping of settings (timezone, state_dir, "
				       "datasets, ...) at the top level, not %s", kind_word(root));
		} else {
			struct mapctx mc = { .what = "the top level" };
			walk_map(&p, root, top_keys, ARRAY_SIZE(top_keys), cfg, &mc);
		}
	}
	if (p.oom)
		rc = -ENOMEM;
	else if (rc == 0 && p.n_msgs > 0)
		rc = -EINVAL;
out:
	if (rc == 0) {
		*out = cfg;
	} else {
		config_free(cfg);
		if (errors && rc != -ENOMEM)
			*errors = join_msgs(&p);
	}
	for (size_t i = 0; i < p.n_msgs; i++)
		free(p.msgs[i].text);
	free(p.msgs);
	arena_free(&p.arena);
	return rc;
}

/* Read all of FD, at most CONFIG_MAX_FILE_SIZE bytes, into *buf (caller
 * frees).  0, -EFBIG, or -errno. */
static int read_capped(int fd, char **buf, size_t *len)
{
	size_t cap = 64 * 1024;
	struct stat st;
	char *b = NULL;
	int rc = 0;

	*len = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size < CONFIG_MAX_FILE_SIZE)
		cap = (size_t)st.st_size + 1;
	for (;;) {
		ssize_t n;
		if (!b || *len == cap) {
			char *nb;
			if (b)
				cap = cap * 2 > CONFIG_MAX_FILE_SIZE + 1 ? CONFIG_MAX_FILE_SIZE + 1 : cap * 2;
			if (!(nb = realloc(b, cap))) {
				rc = -ENOMEM;
				break;
			}
			b = nb;
		}
		n = read(fd, b + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		*len += (size_t)n;
		if (*len > CONFIG_MAX_FILE_SIZE) {
			rc = -EFBIG;
			break;
		}
	}
	if (rc < 0) {
		free(b);
		b = NULL;
	}
	*buf = b;
	return rc;
}

int config_load(const char *path, struct config **out, char **errors)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	if (errors)
		*errors = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = read_capped(fd, &buf, &len);
	close(fd);
	if (rc == 0)
		rc = config_parse(path, buf, len, out, errors);
out:
	if (rc < 0 && errors && !*errors) {
		int n;
		if (rc == -EFBIG)
			n = asprintf(errors, "%s: the file is larger than %u bytes\n", path,
			             CONFIG_MAX_FILE_SIZE);
		else
			n = asprintf(errors, "%s: cannot read: %s\n", path, strerror(-rc));
		if (n < 0)
			*errors = NULL;
	}
	free(buf);
	return rc;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->timezone);
	free(c->state_dir);
	free(c->socket);
	free(c->spark.submit);
	free(c->spark.master);
	free(c->spark.python);
	free(c->spark.jobs_dir);
	for (size_t i = 0; i < c->spark.n_conf; i++) {
		free(c->spark.conf_keys[i]);
		free(c->spark.conf_values[i]);
	}
	free(c->spark.conf_keys);
	free(c->spark.conf_values);
	strlist_free(&c->alerts.command);
	free(c->alerts.webhook);
	for (size_t i = 0; i < c->n_datasets; i++) {
		struct cfg_dataset *d = &c->datasets[i];
		free(d->name);
		free(d->url);
		free(d->file_name);
		free(d->schedule);
		for (size_t j = 0; j < d->schema.n_columns; j++) {
			struct cfg_column *col = &d->schema.columns[j];
			free(col->name);
			strlist_free(&col->aliases);
			strlist_free(&col->formats);
			strlist_free(&col->nulls);
		}
		free(d->schema.columns);
		strlist_free(&d->schema.key);
		free(d->schema.event_time);
		strlist_free(&d->schema.timestamp_formats);
		for (size_t j = 0; j < d->n_checks; j++) {
			struct cfg_check *ck = &d->checks[j];
			free(ck->name);
			strlist_free(&ck->columns);
			free(ck->lat);
			free(ck->lon);
			strlist_free(&ck->values);
		}
		free(d->checks);
	}
	free(c->datasets);
	for (size_t i = 0; i < c->n_jobs; i++) {
		free(c->jobs[i].name);
		strlist_free(&c->jobs[i].after);
		strlist_free(&c->jobs[i].command);
	}
	free(c->jobs);
	free(c);
}

/* ---- lookups and names ------------------------------------------------- */

const struct cfg_dataset *config_dataset(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_datasets; i++)
		if (cfg->datasets[i].name && strcmp(cfg->datasets[i].name, name) == 0)
			return &cfg->datasets[i];
	return NULL;
}

const struct cfg_job *config_job(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_jobs; i++)
		if (cfg->jobs[i].name && strcmp(cfg->jobs[i].name, name) == 0)
			return &cfg->jobs[i];
	return NULL;
}

const struct cfg_column *config_column(const struct cfg_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_columns; i++)
		if (s->columns[i].name && strcmp(s->columns[i].name, name) == 0)
			return &s->columns[i];
	return NULL;
}
