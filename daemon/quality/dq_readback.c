/*
 * dq_readback.c - rows read back from a snapshot through its key index's
 * checkpoints (dq_int.h): the keys shown as diff examples, and both rows of
 * a duplicate, compared byte for byte so that a hash collision is never
 * reported as a duplicate.
 *
 * Each wanted row costs one seek and a scan of at most DQ_CHECKPOINT_ROWS
 * rows, in READBACK_BLOCK reads; the key columns are found in the header
 * once per file, by name then alias as in the scan.  Blocks on the file;
 * allocates only the key texts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "quality/dq_int.h"
#include "quality/value.h"

#define READBACK_BLOCK (64u << 10)

struct rb {
	const struct run *R;
	int idx[CONFIG_MAX_LIST];      /* key column indexes in that file */
	bool header;                   /* mapping the header */
	uint64_t skip;                 /* rows to pass before the wanted one */
	struct want *w;
};

/* The key columns' field indexes in this file's header. */
static void rb_header(struct rb *b, const struct csv_row *row)
{
	const struct run *R = b->R;
	char canon[256];

	for (size_t i = 0; i < R->n_key; i++) {
		b->idx[i] = -1;
		for (int pass = 0; pass < 2 && b->idx[i] < 0; pass++)
			for (uint32_t j = 0; j < row->n_fields && b->idx[i] < 0; j++) {
				dq_canon_name(row->fields[j].p, row->fields[j].len, canon, sizeof canon);
				if (dq_col_named(R->key[i], canon, pass))
					b->idx[i] = (int)j;
			}
	}
}

/* The wanted row: its key as text and normalized, and its line. */
static void rb_want(struct rb *b, const struct csv_row *row)
{
	const struct run *R = b->R;
	struct buf t;

	text_init(&t);
	for (size_t i = 0; i < R->n_key; i++) {
		const char *p = "";
		size_t len = 0;
		if (b->idx[i] >= 0 && (uint32_t)b->idx[i] < row->n_fields) {
			p = row->fields[b->idx[i]].p;
			len = row->fields[b->idx[i]].len;
			value_trim(&p, &len);
		}
		buf_printf(&t, "%s%.*s", i ? "|" : "", (int)(len > 200 ? 200 : len), p);
	}
	b->w->text = text_take(&t);
	b->w->norm_len = dq_key_norm(R, b->idx, row, b->w->norm, sizeof b->w->norm);
	b->w->line = row->line;
	b->w->found = b->w->text != NULL;
}

/* One scan's callback: the header, or rows up to the wanted one (1 stops
 * the scan). */
static int rb_row(void *ud, const struct csv_row *row)
{
	struct rb *b = ud;

	if (b->header) {
		rb_header(b, row);
		return 1;
	}
	if (row->index < b->skip)
		return 0;
	rb_want(b, row);
	return 1;
}

void dq_read_back(const struct run *R, const char *path, const struct keyidx_points *p,
                  struct want *w, size_t n)
{
	struct csv_opts o = { .block = READBACK_BLOCK };
	struct csv_stats st;
	struct rb b = { .R = R, .header = true };
	int fd;

	if (!n || !path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (csv_scan_fd(fd, &o, rb_row, &b, &st) != 1)
		goto out;
	b.header = false;
	for (size_t i = 0; i < n; i++) {
		size_t cp = w[i].row / p->every;
		if (cp >= p->n || lseek(fd, (off_t)p->cp[cp].offset, SEEK_SET) < 0)
			continue;
		o.no_header = true;
		o.start_offset = p->cp[cp].offset;
		o.start_line = p->cp[cp].line;
		b.skip = w[i].row % p->every;
		b.w = &w[i];
		csv_scan_fd(fd, &o, rb_row, &b, &st);
	}
out:
	close(fd);
}

void dq_free_wants(struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i].text);
}

int dq_examples(const struct run *R, const char *path, const struct keyidx_points *p,
                const uint32_t *rows, size_t n, struct strlist *out)
{
	struct want *w;
	int rc = 0;

	if (n > DQ_MAX_EXAMPLES)
		n = DQ_MAX_EXAMPLES;
	if (!n)
		return 0;
	if (!(w = calloc(n, sizeof *w)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		w[i].row = rows[i];
	dq_read_back(R, path, p, w, n);
	out->items = calloc(n + 1, sizeof *out->items);
	if (!out->items) {
		rc = -ENOMEM;
		goto out;
	}
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		out->items[i] = w[i].text;      /* NULL when not found */
		w[i].text = NULL;
	}
out:
	dq_free_wants(w, n);
	free(w);
	return rc;
}
