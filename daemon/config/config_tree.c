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

int conf_load_tree(struct parser *p, struct node **root)
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
				int line = (int)ev.start_mark.line + 1;
				int col = (int)ev.start_mark.column + 1;
				conf_report_pos(p, line, col, "only one YAML document is allowed; "
				                "a second one starts here");
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
				conf_report(p, n, "NUL characters are not allowed in values");
				n->kind = NODE_BAD;
			}
			break;
		case YAML_ALIAS_EVENT:
			makes_node = true;
			if ((n = node_new(p, NODE_BAD, &ev.start_mark)))
				conf_report(p, n,
				            "aliases (*%s) are not supported; write the value out",
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
				conf_report(p, n, "values are nested more than %d levels deep",
				            MAX_DEPTH);
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

