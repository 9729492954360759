/*
 * config_tree.c - YAML text -> a tree of nodes, the first stage of
 * config_parse().
 *
 * libyaml's event parser builds a small tree of nodes that remember their
 * line and column; aliases are refused here (they would let a small file
 * expand without bound, and nothing in this format needs them).  The tree
 * is bounded (MAX_NODES values, MAX_DEPTH levels) and lives in an arena of
 * anonymous mappings that conf_arena_free() gives back in one go.
 *
 * This is the only file that includes yaml.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <yaml.h>

#include "config/config_int.h"

#define MAX_DEPTH     32            /* nesting of mappings and lists */
#define ARENA_CHUNK   (256 * 1024)  /* bytes mapped at a time for the tree */
#define MAX_NODES     (1024 * 1024) /* values in one file */

/* ---- the node tree ---------------------------------------------------- */

size_t conf_map_pairs(const struct node *map)
{
	return map->n / 2;
}

const struct node *conf_map_get(const struct node *map, const char *key)
{
	if (!map || map->kind != NODE_MAP)
		return NULL;
	for (size_t i = 0; i < conf_map_pairs(map); i++) {
		const struct node *k = map->kids[2 * i];
		if (k->kind == NODE_SCALAR && strcmp(k->text, key) == 0)
			return map->kids[2 * i + 1];
	}
	return NULL;
}

bool conf_list_repeats(const struct node *list, size_t i)
{
	const struct node *item = list->kids[i];

	for (size_t j = 0; j < i; j++) {
		const struct node *prev = list->kids[j];
		if (prev->kind == NODE_SCALAR && strcmp(prev->text, item->text) == 0)
			return true;
	}
	return false;
}

bool conf_is_null(const struct node *n)
{
	if (n->kind != NODE_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

const char *conf_kind_word(const struct node *n)
{
	switch (n->kind) {
	case NODE_LIST: return "a list";
	case NODE_MAP: return "a mapping";
	default: return conf_is_null(n) ? "an empty value" : "a string";
	}
}


struct chunk {
	struct chunk *next;
	size_t used, size;        /* bytes of data[] */
	max_align_t data[];
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

void conf_arena_free(struct arena *a)
{
	while (a->head) {
		struct chunk *c = a->head;
		a->head = c->next;
		munmap(c, sizeof(*c) + c->size);
	}
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
			conf_report_pos(p, line, col, "not valid YAML: %s (byte 0x%02x)", problem,
			                (unsigned)yp->problem_value & 0xff);
		else
			conf_report_pos(p, line, col, "not valid YAML: %s", problem);
		return -EINVAL;
	}
	line = (int)yp->problem_mark.line + 1;
	col = (int)yp->problem_mark.column + 1;
	if (yp->context)
		conf_report_pos(p, line, col, "not valid YAML: %s (%s at line %d)", problem,
		                yp->context, (int)yp->context_mark.line + 1);
	else
		conf_report_pos(p, line, col, "not valid YAML: %s", problem);
	return -EINVAL;
}

static struct node *node_new(struct parser *p, enum node_kind kind, const yaml_mark_t *m)
{
	struct node *n;

	if (p->n_nodes >= MAX_NODES) {
		conf_report_pos(p, (int)m->line + 1, (int)m->column + 1,
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

/* One conf_load_tree(): the containers being read and, per depth, the
 * children collected until the container ends (the arrays are reused). */
struct loader {
	struct parser *p;
	struct node *open[MAX_DEPTH];
	struct kids kids[MAX_DEPTH];
	size_t depth;
	int docs;
	bool done;                /* the stream (or the first document) ended */
	struct node **root;
};

/* N goes to the container being read (or becomes the root); a container
 * is then the one being read.  0, -EINVAL (reported), or -ENOMEM. */
static int add_node(struct loader *l, struct node *n, bool container)
{
	if (!n)                   /* too many nodes (reported), or out of memory */
		return l->p->oom ? -ENOMEM : -EINVAL;
	if (l->depth == 0)
		*l->root = n;
	else if (kids_add(&l->kids[l->depth - 1], n) < 0)
		return -ENOMEM;
	if (!container)
		return 0;
	if (l->depth == MAX_DEPTH) {
		conf_report(l->p, n, "values are nested more than %d levels deep", MAX_DEPTH);
		return -EINVAL;
	}
	l->kids[l->depth].n = 0;
	l->open[l->depth++] = n;
	return 0;
}

/* The container being read ends: its collected children move into the
 * arena. */
static int close_container(struct loader *l)
{
	struct node *c;
	struct kids *k;

	if (l->depth == 0)
		return 0;
	c = l->open[--l->depth];
	k = &l->kids[l->depth];
	if (k->n && !(c->kids = arena_alloc(&l->p->arena, k->n * sizeof(*k->v)))) {
		l->p->oom = true;
		return -ENOMEM;
	}
	if (k->n)
		memcpy(c->kids, k->v, k->n * sizeof(*k->v));
	c->n = k->n;
	return 0;
}

static struct node *scalar_node(struct parser *p, const yaml_event_t *ev)
{
	struct node *n = node_new(p, NODE_SCALAR, &ev->start_mark);

	if (!n)
		return NULL;
	n->len = ev->data.scalar.length;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (!(n->text = arena_alloc(&p->arena, n->len + 1))) {
		p->oom = true;
		return NULL;
	}
	memcpy(n->text, ev->data.scalar.value, n->len);
	if (strlen(n->text) != n->len) {
		conf_report(p, n, "NUL characters are not allowed in values");
		n->kind = NODE_BAD;
	}
	return n;
}

static struct node *alias_node(struct parser *p, const yaml_event_t *ev)
{
	struct node *n = node_new(p, NODE_BAD, &ev->start_mark);

	if (n)
		conf_report(p, n, "aliases (*%s) are not supported; write the value out",
		            SHOW((const char *)ev->data.alias.anchor));
	return n;
}

/* One event of the stream into the tree.  0, or a negative errno. */
static int on_event(struct loader *l, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;

	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		l->done = true;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++l->docs > 1) {
			conf_report_pos(l->p, (int)m->line + 1, (int)m->column + 1, "only one YAML "
			                "document is allowed; a second one starts here");
			l->done = true;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		return add_node(l, scalar_node(l->p, ev), false);
	case YAML_ALIAS_EVENT:
		return add_node(l, alias_node(l->p, ev), false);
	case YAML_SEQUENCE_START_EVENT:
		return add_node(l, node_new(l->p, NODE_LIST, m), true);
	case YAML_MAPPING_START_EVENT:
		return add_node(l, node_new(l->p, NODE_MAP, m), true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return close_container(l);
	default:
		return 0;
	}
}

int conf_load_tree(struct parser *p, struct node **root)
{
	struct loader l = { .p = p, .root = root };
	yaml_parser_t yp;
	yaml_event_t ev;
	int rc = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&yp))
		return -ENOMEM;
	yaml_parser_set_input_string(&yp, (const unsigned char *)p->src, p->src_len);
	while (!l.done && rc == 0) {
		if (!yaml_parser_parse(&yp, &ev)) {
			rc = yaml_failure(p, &yp);
			break;
		}
		rc = on_event(&l, &ev);
		yaml_event_delete(&ev);
		if (p->oom)
			rc = -ENOMEM;
	}
	yaml_parser_delete(&yp);
	for (size_t i = 0; i < MAX_DEPTH; i++)
		free(l.kids[i].v);
	if (rc < 0)
		*root = NULL;
	return rc;
}
