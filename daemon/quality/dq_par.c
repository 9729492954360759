/*
 * dq_par.c - the check scan on several threads, with the report of one
 * (dq_int.h).
 *
 * Pass 1: the file is cut into chunks at byte offsets and each chunk's
 * structure map is made in parallel (csv_split_chunk); composing the maps
 * in order gives every chunk's first row start, line and row index
 * (csv_split_compose), so the file falls into parts that each begin where
 * a row begins.  The parts up to the header are scanned on the calling
 * thread, as one scan would (the header maps the columns every row needs).
 *
 * Pass 2: workers scan the other parts, each with a copy of the run's plan
 * and counters of its own (a "part"), and the calling thread merges the
 * parts in file order as they finish: counts add, first offending lines
 * and scanner locations are the first ones in file order, the distinct bad
 * values those a single scan keeps, the key index gets its entries and
 * checkpoints in row order (so its chunks sort exactly as before).
 *
 * Threads: the calling thread (on the libuv pool, at its own priority)
 * and THREADS - 1 helper pthreads of the run's own, started for each pass
 * and joined before dq_run returns.  The helpers run under SCHED_BATCH
 * (lower_priority) so that the loop thread stays responsive while every
 * core checks, without their losing their share to other processes; the
 * calling thread scans chunks too (merging whenever the next part in file
 * order is done), so that on a machine busy with other work, where the
 * helpers get little time, a check is not slower than on one thread.
 * That is why the chunks are small (32 per thread, 4-64 MiB) and the
 * calling thread may run 4 x THREADS parts ahead of the merge: a helper
 * that gets no CPU holds up at most one small part, which the calling
 * thread waits for only once it has scanned every part it may take.
 * Memory: per thread a scanner (~2 MiB) and a part (its chunk's entries,
 * 16 bytes per keyed row); at most 4 x THREADS parts wait unmerged.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "quality/dq_int.h"

#define WORKER_NICE 5
#define MAX_THREADS 64
#define HEAD_CHUNK (64u << 10)        /* the first chunk: the header's */
#define CHUNK_MIN (4u << 20)
#define CHUNK_MAX (64u << 20)

struct part {
	struct run R;                  /* the plan, shared; counters its own */
	struct dq_report rep;          /* null_keys only */
	struct dq_result *res;         /* lines only */
	struct col *cols;
	struct col **used, **key;
	struct chk *chks;
	struct dq_part sink;
	struct csv_stats st;
	int rc;
	bool done;
};

struct job {
	struct run *R;
	int fd;
	uint64_t size;
	size_t n;                      /* chunks, and parts */
	uint64_t *begin;               /* n */
	struct csv_chunk_map *maps;    /* n */
	struct csv_cut *cut;           /* n + 1 */
	struct part *parts;            /* n */
	uint32_t header_fields;        /* after the header */
	enum csv_eol first_eol;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next;                   /* the next chunk or part to take */
	size_t merged;                 /* parts merged so far */
	size_t ahead;                  /* parts taken before merged, at most */
	bool stop;                     /* an error: take nothing more */
	int rc1;                       /* pass 1's first error */
};

/* ---- reading a part ---- */

struct range {
	int fd;
	uint64_t off, end;
};

static ssize_t read_range(void *src, char *buf, size_t n)
{
	struct range *r = src;
	if (n > r->end - r->off)
		n = (size_t)(r->end - r->off);
	for (;;) {
		ssize_t got = n ? pread(r->fd, buf, n, (off_t)r->off) : 0;
		if (got >= 0) {
			r->off += (uint64_t)got;
			return got;
		}
		if (errno != EINTR)
			return -errno;
	}
}

/* Scan part I with X (the run, or a part's copy) into ST, reading into
 * SCRATCH (NULL, or the thread's CSV_SCRATCH bytes). */
static int scan_part(const struct job *J, size_t i, struct run *X, struct csv_stats *st,
                     uint32_t header_fields, enum csv_eol first_eol, void *scratch)
{
	struct range r = { J->fd, J->cut[i].offset, J->cut[i + 1].offset };
	struct csv_opts o = {
		.start_offset = J->cut[i].offset,
		.start_line = J->cut[i].line,
		.start_index = J->cut[i].index,
		.header_fields = header_fields,
		.first_eol = first_eol,
		.scratch = scratch,
	};
	return csv_scan(read_range, &r, &o, dq_on_row, X, st);
}

/* ---- a part: the run's plan with counters of its own ---- */

static struct col *remap(const struct run *R, struct col *cols, const struct col *c)
{
	return c ? cols + (c - R->cols) : NULL;
}

static void part_clear(struct part *P, size_t n_checks)
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
static int part_init(struct part *P, const struct run *R, uint64_t data_rows)
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

static int merge_check(struct chk *d, const struct chk *s)
{
	for (size_t k = 0; k < s->res->n_lines; k++)
		offend(d->res, s->res->lines[k]);
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

/* Part P (scanned) into the run, after every part before it. */
static int merge_part(struct run *R, struct part *P)
{
	int rc;

	csv_stats_merge(&R->rep->csv, &P->st);
	if (P->rc) {
		if (P->R.err && !R->err) {
			R->err = P->R.err;
			P->R.err = NULL;
		}
		return P->rc < 0 ? P->rc : -EIO;
	}
	R->rows = P->R.rows;
	R->rep->null_keys += P->rep.null_keys;
	if (P->R.have_earliest && (!R->have_earliest || P->R.earliest < R->earliest)) {
		R->earliest = P->R.earliest;
		R->have_earliest = true;
	}
	for (size_t i = 0; i < R->ds->n_checks; i++)
		if (merge_check(&R->chks[i], &P->chks[i]) < 0)
			return -ENOMEM;
	if (!R->ki)
		return 0;
	for (size_t k = 0; k < P->sink.n_cp; k++)
		if ((rc = keyidx_mark(R->ki, P->sink.cp_row[k], P->sink.cp[k].offset,
		                      P->sink.cp[k].line)) < 0)
			return rc;
	for (size_t k = 0; k < P->sink.n_e; k++)
		if ((rc = keyidx_add(R->ki, P->sink.e[k].key, P->sink.e[k].hash,
		                     P->sink.e[k].row)) < 0)
			return rc;
	for (size_t k = 0, row = P->R.rows - P->sink.n_times; k < P->sink.n_times; k++)
		if ((rc = keyidx_time(R->ki, row + k, P->sink.times[k])) < 0)
			return rc;
	return 0;
}

/* ---- the workers ---- */

/* The helper's scheduling: SCHED_BATCH at the calling thread's nice
 * level, so that it gets a full share of a busy machine's CPU (as any
 * other process's threads do; at nice +5 it got a third of one) while a
 * thread that wakes, such as the loop thread answering the socket, still
 * preempts it (a batch thread is never favoured at wake-up).  Where the
 * policy is refused, nice +WORKER_NICE as before. */
static void lower_priority(void)
{
	struct sched_param sp = { .sched_priority = 0 };
	if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp) == 0)
		return;
	id_t tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	int now = getpriority(PRIO_PROCESS, tid);
	if (now != -1 || errno == 0)
		(void)setpriority(PRIO_PROCESS, tid, now + WORKER_NICE);
}

/* A thread's buffer for all the chunks and parts it reads (csv.h,
 * CSV_SCRATCH); NULL (each read allocates its own) when memory is short. */
static void *scratch_new(void)
{
	return aligned_alloc(64, CSV_SCRATCH);
}

static void *map_worker(void *arg)
{
	struct job *J = arg;
	void *scratch = scratch_new();

	for (;;) {
		size_t i;
		int rc;
		pthread_mutex_lock(&J->mu);
		i = J->next++;
		pthread_mutex_unlock(&J->mu);
		if (i >= J->n) {
			free(scratch);
			return NULL;
		}
		rc = csv_split_chunk(J->fd, J->size, J->begin[i],
		                     i + 1 < J->n ? J->begin[i + 1] : J->size, scratch, &J->maps[i]);
		if (rc < 0) {
			pthread_mutex_lock(&J->mu);
			if (!J->rc1)
				J->rc1 = rc;
			pthread_mutex_unlock(&J->mu);
		}
	}
}

/* Part I, taken (J->next) by this thread, whose SCRATCH it reads into. */
static void scan_one(struct job *J, size_t i, void *scratch)
{
	struct part *P = &J->parts[i];
	if (J->cut[i].offset < J->cut[i + 1].offset) {
		if ((P->rc = part_init(P, J->R, J->cut[i].index - 1)) == 0)
			P->rc = scan_part(J, i, &P->R, &P->st, J->header_fields, J->first_eol,
			                  scratch);
		if (P->rc > 0)
			P->rc = P->R.rc < 0 ? P->R.rc : -EIO;
	}
	pthread_mutex_lock(&J->mu);
	P->done = true;
	pthread_cond_broadcast(&J->cv);
	pthread_mutex_unlock(&J->mu);
}

/* With J->mu held: may a part be taken now? */
static bool can_take(const struct job *J)
{
	return !J->stop && J->next < J->n && J->next < J->merged + J->ahead;
}

static void *scan_worker(void *arg)
{
	struct job *J = arg;
	void *scratch = scratch_new();

	for (;;) {
		size_t i;
		pthread_mutex_lock(&J->mu);
		while (!J->stop && J->next < J->n && !can_take(J))
			pthread_cond_wait(&J->cv, &J->mu);
		if (!can_take(J)) {
			pthread_mutex_unlock(&J->mu);
			free(scratch);
			return NULL;
		}
		i = J->next++;
		pthread_mutex_unlock(&J->mu);
		scan_one(J, i, scratch);
	}
}

struct helper {
	struct job *J;
	void *(*fn)(void *);
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	lower_priority();
	return h->fn(h->J);
}

/* Start N - 1 helpers running FN under SCHED_BATCH (the calling thread,
 * at its own priority, is the Nth: a check on a busy machine is never
 * slower than on one thread); how many started. */
static unsigned start_helpers(struct helper *h, pthread_t *t, unsigned n)
{
	unsigned k = 0;
	while (k + 1 < n && pthread_create(&t[k], NULL, helper_main, h) == 0)
		k++;
	return k;
}

/* Run FN on the calling thread and THREADS - 1 helpers; wait for them. */
static void run_threads(struct job *J, unsigned threads, void *(*fn)(void *))
{
	pthread_t t[MAX_THREADS];
	struct helper h = { J, fn };
	unsigned n = start_helpers(&h, t, threads);

	fn(J);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* Pass 2's merging side, on the calling thread, from part FIRST on: it
 * scans parts too while the next to merge is not done. */
static int merge_all(struct job *J, size_t first)
{
	void *scratch = scratch_new();
	int rc = 0;

	for (size_t i = first; i < J->n; i++) {
		struct part *P = &J->parts[i];
		pthread_mutex_lock(&J->mu);
		while (!P->done) {
			if (can_take(J)) {
				size_t k = J->next++;
				pthread_mutex_unlock(&J->mu);
				scan_one(J, k, scratch);
				pthread_mutex_lock(&J->mu);
				continue;
			}
			pthread_cond_wait(&J->cv, &J->mu);
		}
		pthread_mutex_unlock(&J->mu);
		if (J->cut[i].offset < J->cut[i + 1].offset)
			rc = merge_part(J->R, P);
		part_clear(P, J->R->ds->n_checks);
		pthread_mutex_lock(&J->mu);
		J->merged = i + 1;
		if (rc < 0)
			J->stop = true;
		pthread_cond_broadcast(&J->cv);
		pthread_mutex_unlock(&J->mu);
		if (rc < 0)
			break;
	}
	free(scratch);
	return rc < 0 ? rc : 0;
}

/* A worker left alone (merge_all stopped) finishes its part; the parts
 * after a failure are freed here. */
static void drain(struct job *J)
{
	for (size_t i = J->merged; i < J->n; i++)
		part_clear(&J->parts[i], J->R->ds->n_checks);
}

/* ---- the chunks ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The chunks' first bytes: B0 (the first after a BOM), then R->in's cuts,
 * or an even split with a small first chunk for the header. */
static int plan_chunks(struct job *J, uint64_t b0, unsigned threads)
{
	const struct dq_input *in = J->R->in;
	uint64_t chunk = J->size / ((uint64_t)threads * 32), *b;
	size_t cap, n = 0;

	if (chunk < CHUNK_MIN)
		chunk = CHUNK_MIN;
	if (chunk > CHUNK_MAX)
		chunk = CHUNK_MAX;
	cap = in->n_cuts ? in->n_cuts + 1 : (size_t)(J->size / chunk) + 3;
	if (!(b = malloc(cap * sizeof *b)))
		return -ENOMEM;
	b[n++] = b0;
	if (in->n_cuts) {
		for (size_t i = 0; i < in->n_cuts; i++)
			if (in->cuts[i] > b0 && in->cuts[i] < J->size)
				b[n++] = in->cuts[i];
		qsort(b, n, sizeof *b, cmp_u64);
		size_t u = 1;
		for (size_t i = 1; i < n; i++)
			if (b[i] != b[u - 1])
				b[u++] = b[i];
		n = u;
	} else {
		for (uint64_t at = b0 + HEAD_CHUNK; at < J->size && n < cap; at += chunk)
			b[n++] = at;
	}
	J->begin = b;
	J->n = n;
	return 0;
}

int dq_scan_parallel(struct run *R, int fd, uint64_t size, unsigned threads)
{
	struct job J = { .R = R, .fd = fd, .size = size };
	struct csv_stats *st = &R->rep->csv;
	unsigned char bom[3] = { 0 };
	uint64_t b0 = 0;
	size_t first = 0;
	int rc = 0;

	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads < 1)
		threads = 1;
	memset(st, 0, sizeof *st);
	if (size >= 3 && pread(fd, bom, 3, 0) == 3 && memcmp(bom, "\xEF\xBB\xBF", 3) == 0)
		b0 = 3;
	pthread_mutex_init(&J.mu, NULL);
	pthread_cond_init(&J.cv, NULL);
	if ((rc = plan_chunks(&J, b0, threads)) < 0)
		goto out;
	J.maps = calloc(J.n, sizeof *J.maps);
	J.cut = calloc(J.n + 1, sizeof *J.cut);
	J.parts = calloc(J.n, sizeof *J.parts);
	if (!J.maps || !J.cut || !J.parts) {
		rc = -ENOMEM;
		goto out;
	}

	/* pass 1: the maps, then where each part starts */
	run_threads(&J, threads, map_worker);
	if ((rc = J.rc1) < 0)
		goto out;
	csv_split_compose(J.maps, J.begin, J.n, size, J.cut);

	/* the parts up to the header, here */
	for (; first < J.n && !R->header_seen; first++) {
		struct csv_stats ps;
		if (J.cut[first].offset == J.cut[first + 1].offset)
			continue;
		rc = scan_part(&J, first, R, &ps, st->header_fields, st->first_eol, NULL);
		if (first == 0)
			*st = ps;
		else
			csv_stats_merge(st, &ps);
		if (rc)
			goto out;
	}
	J.header_fields = st->header_fields;
	J.first_eol = st->first_eol;

	/* pass 2 */
	J.next = J.merged = first;
	J.ahead = 4 * (size_t)threads;
	{
		pthread_t t[MAX_THREADS];
		struct helper h = { &J, scan_worker };
		unsigned n = start_helpers(&h, t, threads);
		rc = merge_all(&J, first);
		if (rc < 0) {
			pthread_mutex_lock(&J.mu);
			J.stop = true;
			pthread_cond_broadcast(&J.cv);
			pthread_mutex_unlock(&J.mu);
		}
		for (unsigned i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		drain(&J);
	}
out:
	if (rc > 0)
		rc = R->rc < 0 ? R->rc : -EIO;
	pthread_mutex_destroy(&J.mu);
	pthread_cond_destroy(&J.cv);
	free(J.begin);
	free(J.maps);
	free(J.cut);
	free(J.parts);
	return rc;
}
