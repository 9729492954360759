/*
 * dq_part.c - a part of a parallel check (dq_par.c): a copy of the run's
 * plan with counters of its own, scanned on any thread, and its merge into
 * the run in file order (dq_int.h).
 *
 * A part's rows and lines are numbered from its own start (the rows before
 * it are not known while it is scanned: dq_par.c guesses where parts
 * begin); the merge numbers them as the file's, so every count, first
 * line and key index entry equals one scan's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/dq_int.h"

static struct col *remap(const struct run *R, struct col *cols, const struct col *c)
{
	return c ? cols + (c - R->cols) : NULL;
}

void dq_part_clear(struct part *P, size_t n_checks)
{
	if (P->chks)
		for (size_t i = 0; i < n_checks; i++) {
			free(P->chks[i].acc);
			for (size_t j = 0; j < P->chks[i].n_bad_values; j++)
				free(P->chks[i].bad_values[j]);
		}
	free(P->chks);
	free(P->cols);
	free(P->used);
	free(P->key);
	free(P->res);
	free(P->R.canon);
	free(P->R.err);
	free(P->sink.e);
	free(P->sink.cp);
	free(P->sink.cp_row);
	free(P->sink.times);
	memset(P, 0, sizeof *P);
}

/* P becomes a copy of R's plan (formats, null markers, value sets and key
 * indexes stay R's, read only) with zeroed counters; its rows start after
 * DATA_ROWS data rows. */
int dq_part_init(struct part *P, const struct run *R, uint64_t data_rows)
{
	size_t nc = R->ds->n_checks;

	memset(P, 0, sizeof *P);
	P->cols = malloc((R->n_cols + 1) * sizeof *P->cols);
	P->used = malloc((R->n_used + 1) * sizeof *P->used);
	P->key = malloc((R->n_key + 1) * sizeof *P->key);
	P->chks = calloc(nc + 1, sizeof *P->chks);
	P->res = calloc(nc + 1, sizeof *P->res);
	if (!P->cols || !P->used || !P->key || !P->chks || !P->res)
		return -ENOMEM;
	memcpy(P->cols, R->cols, R->n_cols * sizeof *P->cols);
	for (size_t i = 0; i < R->n_used; i++)
		P->used[i] = remap(R, P->cols, R->used[i]);
	for (size_t i = 0; i < R->n_key; i++)
		P->key[i] = remap(R, P->cols, R->key[i]);
	for (size_t i = 0; i < nc; i++) {
		const struct chk *s = &R->chks[i];
		struct chk *d = &P->chks[i];
		d->cfg = s->cfg;
		d->res = &P->res[i];
		d->broken = s->broken;
		d->set = s->set;
		d->lat = remap(R, P->cols, s->lat);
		d->lon = remap(R, P->cols, s->lon);
		d->ev = remap(R, P->cols, s->ev);
		if (!(d->acc = calloc(s->n_acc + 1, sizeof *d->acc)))
			return -ENOMEM;
		d->n_acc = s->n_acc;
		for (size_t j = 0; j < s->n_acc; j++)
			d->acc[j].c = remap(R, P->cols, s->acc[j].c);
	}
	P->R = *R;
	P->R.rep = &P->rep;
	P->R.cols = P->cols;
	P->R.used = P->used;
	P->R.key = P->key;
	P->R.chks = P->chks;
	P->R.ki = NULL;
	P->R.ev = remap(R, P->cols, R->ev);
	P->R.have_earliest = false;
	P->R.part = R->ki ? &P->sink : NULL;
	P->R.rows = data_rows;
	P->R.canon = NULL;
	P->R.canon_cap = 0;
	P->R.rc = 0;
	P->R.err = NULL;
	return 0;
}

/* A distinct bad value as a single scan keeps them (dq_rows.c
 * keep_bad_value): a value cut at 64 bytes never equals a kept one. */
static int merge_bad_value(struct chk *d, const char *v, size_t len)
{
	/* V is the value as kept: cut at 64 bytes or at a NUL, and a value
	 * cut either way never equalled a kept one */
	bool whole = strlen(v) == len;
	for (size_t i = 0; whole && i < d->n_bad_values; i++)
		if (strlen(d->bad_values[i]) == len && memcmp(d->bad_values[i], v, len) == 0)
			return 0;
	if (d->n_bad_values == MAX_BAD_VALUES)
		return 0;
	if (!(d->bad_values[d->n_bad_values] = strdup(v)))
		return -ENOMEM;
	d->bad_len[d->n_bad_values++] = len;
	return 0;
}

/* S, a part's check whose lines are SHIFT lines early, into D. */
static int merge_check(struct chk *d, const struct chk *s, uint64_t shift)
{
	for (size_t k = 0; k < s->res->n_lines; k++)
		offend(d->res, s->res->lines[k] + shift);
	for (size_t j = 0; j < d->n_acc; j++) {
		d->acc[j].total += s->acc[j].total;
		d->acc[j].nulls += s->acc[j].nulls;
		d->acc[j].bad += s->acc[j].bad;
		d->acc[j].future += s->acc[j].future;
	}
	d->total += s->total;
	d->missing += s->missing;
	d->unparsed += s->unparsed;
	d->swapped += s->swapped;
	d->outside += s->outside;
	if (s->have_newest && (!d->have_newest || s->newest > d->newest)) {
		d->newest = s->newest;
		d->have_newest = true;
	}
	for (size_t k = 0; k < s->n_bad_values; k++)
		if (merge_bad_value(d, s->bad_values[k], s->bad_len[k]) < 0)
			return -ENOMEM;
	return 0;
}

/* The part's own line numbers (from 1) become the file's: SHIFT lines
 * came before it.  Line 0 (not known) stays. */
static void shift_stats(struct csv_stats *st, uint64_t shift)
{
	for (int k = 0; k < CSV_I_N; k++)
		for (unsigned j = 0; j < st->issue[k].n_at; j++)
			if (st->issue[k].at[j].line)
				st->issue[k].at[j].line += shift;
}

/* Part P (scanned) into the run, after every part before it: the file's
 * lines and data rows so far (those before the part: it began where a row
 * begins) number its own. */
int dq_part_merge(struct run *R, struct part *P)
{
	uint64_t shift = R->rep->csv.lines, base = R->rows;
	int rc;

	shift_stats(&P->st, shift);
	csv_stats_merge(&R->rep->csv, &P->st);
	if (P->rc) {
		if (P->R.err && !R->err) {
			R->err = P->R.err;
			P->R.err = NULL;
		}
		return P->rc < 0 ? P->rc : -EIO;
	}
	R->rows = base + P->R.rows;
	R->rep->null_keys += P->rep.null_keys;
	if (P->R.have_earliest && (!R->have_earliest || P->R.earliest < R->earliest)) {
		R->earliest = P->R.earliest;
		R->have_earliest = true;
	}
	for (size_t i = 0; i < R->ds->n_checks; i++)
		if (merge_check(&R->chks[i], &P->chks[i], shift) < 0)
			return -ENOMEM;
	if (!R->ki)
		return 0;
	/* every row was marked: the file's checkpoints are among them */
	for (size_t k = 0; k < P->sink.n_cp; k++)
		if ((base + P->sink.cp_row[k]) % DQ_CHECKPOINT_ROWS == 0 &&
		    (rc = keyidx_mark(R->ki, base + P->sink.cp_row[k], P->sink.cp[k].offset,
		                      P->sink.cp[k].line + shift)) < 0)
			return rc;
	for (size_t k = 0; k < P->sink.n_e; k++)
		if ((rc = keyidx_add(R->ki, P->sink.e[k].key, P->sink.e[k].hash,
		                     base + P->sink.e[k].row)) < 0) {
			if (rc == -EOVERFLOW && !R->err &&
			    asprintf(&R->err, "more than 2^32 rows: too many to index") < 0)
				R->err = NULL;
			return rc;
		}
	for (size_t k = 0, row = R->rows - P->sink.n_times; k < P->sink.n_times; k++)
		if ((rc = keyidx_time(R->ki, row + k, P->sink.times[k])) < 0)
			return rc;
	return 0;
}
