/*
 * dq_par.c - the check scan on several threads, with the report of one
 * (dq_int.h).
 *
 * The file is cut into chunks at byte offsets; each chunk's part starts at
 * a row start in it, so that parts can be scanned on any thread (with
 * lines and rows numbered from their own start: dq_part.c renumbers them
 * when it merges) and merged in file order into exactly one scan's
 * report.  Where a part starts is guessed without reading what comes
 * before it (csv_split_start, a few KiB of each chunk): the first row
 * start after the scanner's eight states all meet (certain; quoted files),
 * else the first one after a line end if the chunk begins outside quotes
 * (a guess, wrong only where a line break is inside quotes).  The merge
 * verifies each guess: a part that began where a row begins ends where
 * the next row begins exactly when its scan ends outside a row
 * (ends_clean); one that does not (the next part's guess was wrong) is
 * not merged, and the starts of the rest are then found exactly, from it,
 * with the structure maps of their chunks (csv_split_chunk, in parallel:
 * pass 1 of the old two passes) and scanned again.  A file read once is
 * the rule, a part scanned twice the exception.
 *
 * The parts up to the header are scanned on the calling thread, as one
 * scan would (the header maps the columns every row needs), each ending
 * at an exact row start.  Workers scan the other parts, each with a copy
 * of the run's plan and counters of its own (a "part"), and the calling
 * thread merges the parts in file order as they finish: counts add, first
 * offending lines and scanner locations are the first ones in file order,
 * the distinct bad values those a single scan keeps, the key index gets
 * its entries and checkpoints in row order (so its chunks sort exactly as
 * before).
 *
 * Threads: the calling thread (on the libuv pool, at its own priority)
 * and THREADS - 1 helper pthreads of the run's own, started for each pass
 * (the scan, and the maps only after a wrong guess) and joined before
 * dq_run returns.  The scan's helpers run under SCHED_IDLE
 * (base/sched_hint.h): any other thread that wakes, the loop thread
 * answering `status` or the client asking, runs before them at once.  On
 * a host whose CPUs other work keeps busy they get almost nothing, so
 * nothing may wait for them: the calling thread scans parts too, at its
 * own priority, merging whenever the next part in file order is done,
 * and when that part is still held by a helper after twice the time the
 * calling thread itself takes for a part that size, it steals it: scans
 * it again into a part of its own and merges that, and the helper's scan
 * stops at its next read and is dropped (struct slot).  A check on a busy
 * machine then never waits for a starved helper: it runs at about one
 * thread's speed plus the split's extra CPU (beside two CPU hogs, 2.2 s
 * for 1 GB against 1.6 s on one thread; README, dq_bench).  The chunks are
 * small (32 per thread, 4-64 MiB) and the calling thread may run
 * 4 x THREADS parts ahead of the merge, so a stolen part is a small part
 * scanned twice.  The maps' helpers (rare: after a wrong guess) run under
 * SCHED_BATCH, a full share, as nobody takes a chunk's map over.
 * Memory: per thread a scanner (~2 MiB) and a part (its chunk's entries,
 * 16 bytes per keyed row, and 24 bytes per row of marks, dq_int.h); at
 * most 4 x THREADS parts wait unmerged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/sched_hint.h"
#include "quality/dq_int.h"

#define MAX_THREADS 64
#define HEAD_CHUNK (64u << 10)        /* the first chunk: the header's */
#define CHUNK_MIN (4u << 20)
#define CHUNK_MAX (64u << 20)
/* A part a helper holds is stolen once it has held it for STEAL_FACTOR
 * times the calling thread's own time for that many bytes, plus
 * STEAL_SLACK_NS; before the calling thread has timed a part of its own,
 * at DEFAULT_NS_PER_BYTE. */
#define STEAL_FACTOR 2.0
#define STEAL_SLACK_NS 2000000.0
#define DEFAULT_NS_PER_BYTE 1.0

/* A part's scheduling, apart from struct part (which dq_part_init zeroes).
 * TAKEN_NS and DONE under the job's mutex; STOLEN is also read without
 * it, by the holder's reads (read_range), and only ever set. */
struct slot {
	uint64_t taken_ns;             /* CLOCK_MONOTONIC, when a helper took it */
	bool by_helper;
	bool done;                     /* its holder is finished with it */
	atomic_bool stolen;            /* the calling thread scans it itself;
	                                  the holder stops and clears its part */
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
	struct slot *slots;            /* n */
	uint32_t header_fields;        /* after the header */
	enum csv_eol first_eol;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next;                   /* the next chunk or part to take */
	size_t merged;                 /* parts merged so far */
	size_t ahead;                  /* parts taken before merged, at most */
	bool stop;                     /* an error: take nothing more */
	int rc1;                       /* pass 1's first error */
	size_t fail;                   /* merge_all: the part misguessed */
	double own_ns, own_bytes;      /* the calling thread's parts, timed */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- reading a part ---- */

struct range {
	int fd;
	uint64_t off, end;
	const atomic_bool *stolen;     /* NULL, or: stop reading once set */
};

static ssize_t read_range(void *src, char *buf, size_t n)
{
	struct range *r = src;
	if (r->stolen && atomic_load_explicit(r->stolen, memory_order_relaxed))
		return -ECANCELED;
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
 * SCRATCH (NULL, or the thread's CSV_SCRATCH bytes) until STOLEN (NULL, or
 * the part's flag) is set.  A part's copy counts its lines and rows from 1
 * (its own; dq_part_merge moves them). */
static int scan_part(const struct job *J, size_t i, struct run *X, struct csv_stats *st,
                     uint32_t header_fields, enum csv_eol first_eol, void *scratch,
                     const atomic_bool *stolen)
{
	struct range r = { J->fd, J->cut[i].offset, J->cut[i + 1].offset, stolen };
	bool own = X != J->R;
	struct csv_opts o = {
		.start_offset = J->cut[i].offset,
		.start_line = own ? 1 : J->cut[i].line,
		.start_index = own ? 1 : J->cut[i].index,
		.header_fields = header_fields,
		.first_eol = first_eol,
		.scratch = scratch,
	};
	return csv_scan(read_range, &r, &o, dq_on_row, X, st);
}

/* ---- the workers ---- */

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

/* Part I's rows into P (P->rc: 0 or -errno), reading into SCRATCH, until
 * STOLEN (NULL, or the part's flag) is set: then -ECANCELED. */
static void scan_into(const struct job *J, size_t i, struct part *P, void *scratch,
                      const atomic_bool *stolen)
{
	if ((P->rc = dq_part_init(P, J->R, 0)) == 0)
		P->rc = scan_part(J, i, &P->R, &P->st, J->header_fields, J->first_eol,
		                  scratch, stolen);
	if (P->rc > 0)
		P->rc = P->R.rc < 0 ? P->R.rc : -EIO;
}

/* Part I, taken (J->next) by this thread, whose SCRATCH it reads into.  A
 * part stolen meanwhile is cleared here: the calling thread merged its
 * own scan of it and will not look at this one again. */
static void scan_one(struct job *J, size_t i, void *scratch)
{
	struct part *P = &J->parts[i];
	struct slot *s = &J->slots[i];
	bool lost;

	if (J->cut[i].offset < J->cut[i + 1].offset)
		scan_into(J, i, P, scratch, &s->stolen);
	pthread_mutex_lock(&J->mu);
	s->done = true;
	lost = atomic_load(&s->stolen);
	pthread_cond_broadcast(&J->cv);
	pthread_mutex_unlock(&J->mu);
	if (lost)
		dq_part_clear(P, J->R->ds->n_checks);
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
		J->slots[i].taken_ns = now_ns();
		J->slots[i].by_helper = true;
		pthread_mutex_unlock(&J->mu);
		scan_one(J, i, scratch);
	}
}

struct helper {
	struct job *J;
	void (*hint)(void);            /* sched_hint.h, first thing */
	void *(*fn)(void *);
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	h->hint();
	return h->fn(h->J);
}

/* Start N - 1 helpers running H (the calling thread, at its own priority,
 * is the Nth); how many started. */
static unsigned start_helpers(struct helper *h, pthread_t *t, unsigned n)
{
	unsigned k = 0;
	while (k + 1 < n && pthread_create(&t[k], NULL, helper_main, h) == 0)
		k++;
	return k;
}

/* Run FN on the calling thread and THREADS - 1 helpers under SCHED_BATCH;
 * wait for them. */
static void run_threads(struct job *J, unsigned threads, void *(*fn)(void *))
{
	pthread_t t[MAX_THREADS];
	struct helper h = { J, sched_hint_batch, fn };
	unsigned n = start_helpers(&h, t, threads);

	fn(J);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* Does part I end where a row ends, as its start guessed (or knew) the
 * next one starts?  It began where a row begins, so its scan saw what one
 * scan sees up to its last byte, a CR or LF (a part's end is a row start
 * in one of csv_split's states, never the LF of a CRLF, and no look-ahead
 * reaches past a line end); there one scan ends a row too, unless that
 * byte is inside quotes: then this scan's last row had no terminator.
 * The file's last part ends where the file ends. */
static bool ends_clean(const struct job *J, size_t i, const struct part *P)
{
	return J->cut[i + 1].offset >= J->size || P->st.issue[CSV_I_NO_FINAL_EOL].count == 0;
}

/* Part K, taken by the calling thread, scanned and timed. */
static void scan_own(struct job *J, size_t k, void *scratch)
{
	uint64_t t0 = now_ns();
	scan_one(J, k, scratch);
	J->own_ns += (double)(now_ns() - t0);
	J->own_bytes += (double)(J->cut[k + 1].offset - J->cut[k].offset);
}

/* When part I, held by a helper, is to be stolen (CLOCK_MONOTONIC ns). */
static uint64_t steal_at(const struct job *J, size_t i)
{
	double per_byte = J->own_bytes > 0 ? J->own_ns / J->own_bytes : DEFAULT_NS_PER_BYTE;
	double bytes = (double)(J->cut[i + 1].offset - J->cut[i].offset);
	return J->slots[i].taken_ns + (uint64_t)(STEAL_FACTOR * per_byte * bytes + STEAL_SLACK_NS);
}

static void wait_until(struct job *J, uint64_t at)
{
	struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
	pthread_cond_timedwait(&J->cv, &J->mu, &ts);
}

/* With J->mu held: wait until part I is done, scanning parts the calling
 * thread may take meanwhile; or steal it (*STOLEN, with J->mu released
 * while it scans I into OWN).  Returns with J->mu held. */
static void await_part(struct job *J, size_t i, struct part *own, bool *stolen, void *scratch)
{
	struct slot *s = &J->slots[i];

	*stolen = false;
	while (!s->done) {
		if (can_take(J)) {
			size_t k = J->next++;
			pthread_mutex_unlock(&J->mu);
			scan_own(J, k, scratch);
			pthread_mutex_lock(&J->mu);
		} else if (s->by_helper && now_ns() >= steal_at(J, i)) {
			atomic_store(&s->stolen, true);
			pthread_mutex_unlock(&J->mu);
			scan_into(J, i, own, scratch, NULL);
			*stolen = true;
			J->R->rep->parts_stolen++;
			pthread_mutex_lock(&J->mu);
			return;
		} else if (s->by_helper) {
			wait_until(J, steal_at(J, i));
		} else {
			pthread_cond_wait(&J->cv, &J->mu);
		}
	}
}

/* Pass 2's merging side, on the calling thread, from part FIRST on: it
 * scans parts too while the next to merge is not done.  0, -errno, or
 * MISGUESSED: part J->fail (begun where a row begins, not merged) ended
 * inside a row, so the part after it began at a wrong guess. */
#define MISGUESSED 1
static int merge_all(struct job *J, size_t first)
{
	void *scratch = scratch_new();
	struct part own;
	int rc = 0;

	for (size_t i = first; i < J->n; i++) {
		struct part *P = &J->parts[i];
		bool stolen;
		pthread_mutex_lock(&J->mu);
		await_part(J, i, &own, &stolen, scratch);
		pthread_mutex_unlock(&J->mu);
		if (stolen)
			P = &own;                  /* parts[i] is its holder's to clear */
		if (J->cut[i].offset < J->cut[i + 1].offset) {
			if (!P->rc && !ends_clean(J, i, P)) {
				J->fail = i;
				rc = MISGUESSED;
			} else {
				rc = dq_part_merge(J->R, P);
			}
		}
		pthread_mutex_lock(&J->mu);
		if (rc)
			J->stop = true;
		else
			J->merged = i + 1;
		pthread_cond_broadcast(&J->cv);
		pthread_mutex_unlock(&J->mu);
		if (stolen || !rc)
			dq_part_clear(P, J->R->ds->n_checks);
		if (rc)
			break;
	}
	free(scratch);
	return rc;
}

/* A worker left alone (merge_all stopped) finishes its part; the parts
 * after a failure are freed here (a stolen one its holder cleared). */
static void drain(struct job *J)
{
	for (size_t i = J->merged; i < J->n; i++)
		dq_part_clear(&J->parts[i], J->R->ds->n_checks);
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

/* Where each part starts (J->cut[i].offset, i >= 1): csv_split_start's
 * guess for its chunk, or the next part's start when it found none. */
static int guess_starts(struct job *J)
{
	void *scratch = scratch_new();
	int rc = 0;

	J->cut[J->n].offset = J->size;
	for (size_t i = J->n; i-- > 1 && rc == 0;) {
		uint64_t off;
		bool sure;
		rc = csv_split_start(J->fd, J->size, UINT64_MAX, J->begin[i], J->begin[i + 1],
		                     scratch, &off, &sure);
		J->cut[i].offset = off == UINT64_MAX ? J->cut[i + 1].offset : off;
	}
	free(scratch);
	return rc;
}

/* The parts up to the header, on the calling thread into R itself, each
 * ending exactly where the next row starts (csv_split_start from where it
 * began); the first part not scanned, or -errno. */
static ssize_t scan_header(struct job *J, uint64_t b0)
{
	struct run *R = J->R;
	struct csv_stats *st = &R->rep->csv;
	size_t first = 0, k;
	int rc;

	J->cut[0].offset = 0;
	while (first < J->n && !R->header_seen) {
		uint64_t from = first ? J->cut[first].offset : b0, off = UINT64_MAX, end;
		struct csv_stats ps;
		bool sure;
		for (k = first + 1; k < J->n; k++) {
			if ((rc = csv_split_start(J->fd, J->size, from, J->begin[k], J->begin[k + 1],
			                          NULL, &off, &sure)) < 0)
				return rc;
			if (off != UINT64_MAX)
				break;
		}
		end = off == UINT64_MAX ? J->size : off;
		for (size_t j = first + 1; j <= k && j < J->n; j++)
			J->cut[j].offset = end;     /* chunks without a row start: empty */
		J->cut[first].line = 1 + st->lines;
		J->cut[first].index = st->rows;
		rc = scan_part(J, first, R, &ps, st->header_fields, st->first_eol, NULL, NULL);
		if (first == 0)
			*st = ps;
		else
			csv_stats_merge(st, &ps);
		if (rc)
			return rc > 0 ? (R->rc < 0 ? R->rc : -EIO) : rc;
		if (end < J->size && ps.issue[CSV_I_NO_FINAL_EOL].count)
			return -EIO;               /* csv_split and csv.c disagree: a bug */
		first = k;
	}
	return (ssize_t)first;
}

/* Pass 2 from part FIRST on: the helpers and the merging calling thread;
 * merge_all's result. */
static int pass2(struct job *J, unsigned threads, size_t first)
{
	pthread_t t[MAX_THREADS];
	struct helper h = { J, sched_hint_idle, scan_worker };
	unsigned n;
	int rc;

	J->next = J->merged = first;
	J->stop = false;
	for (size_t i = first; i < J->n; i++) {
		J->slots[i].taken_ns = 0;
		J->slots[i].by_helper = J->slots[i].done = false;
		atomic_store(&J->slots[i].stolen, false);
	}
	n = start_helpers(&h, t, threads);
	rc = merge_all(J, first);
	if (rc) {
		pthread_mutex_lock(&J->mu);
		J->stop = true;
		pthread_cond_broadcast(&J->cv);
		pthread_mutex_unlock(&J->mu);
	}
	for (unsigned i = 0; i < n; i++) {
		(void)sched_hint_unidle(t[i]);   /* to exit sooner; may be refused */
		pthread_join(t[i], NULL);
	}
	drain(J);
	return rc;
}

/* After a wrong guess at part F's end: the exact starts of parts F..,
 * from F's (a row start) through the maps of their chunks (pass 1). */
static int exact_starts(struct job *J, unsigned threads, size_t f)
{
	J->begin[f] = J->cut[f].offset;
	J->next = f;
	J->rc1 = 0;
	run_threads(J, threads, map_worker);
	if (J->rc1 < 0)
		return J->rc1;
	csv_split_compose(J->maps + f, J->begin + f, J->n - f, J->size, J->cut + f);
	J->cut[f].offset = J->begin[f];
	return 0;
}

int dq_scan_parallel(struct run *R, int fd, uint64_t size, unsigned threads)
{
	struct job J = { .R = R, .fd = fd, .size = size };
	struct csv_stats *st = &R->rep->csv;
	unsigned char bom[3] = { 0 };
	uint64_t b0 = 0;
	ssize_t first;
	bool exact = false;
	int rc = 0;

	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads < 1)
		threads = 1;
	memset(st, 0, sizeof *st);
	if (size >= 3 && pread(fd, bom, 3, 0) == 3 && memcmp(bom, "\xEF\xBB\xBF", 3) == 0)
		b0 = 3;
	pthread_condattr_t ca;
	pthread_mutex_init(&J.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* wait_until */
	pthread_cond_init(&J.cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = plan_chunks(&J, b0, threads)) < 0)
		goto out;
	/* begin[n] = size ends the last chunk */
	uint64_t *b = realloc(J.begin, (J.n + 1) * sizeof *b);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	J.begin = b;
	J.begin[J.n] = size;
	J.maps = calloc(J.n, sizeof *J.maps);
	J.cut = calloc(J.n + 1, sizeof *J.cut);
	J.parts = calloc(J.n, sizeof *J.parts);
	J.slots = calloc(J.n, sizeof *J.slots);
	if (!J.maps || !J.cut || !J.parts || !J.slots) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = guess_starts(&J)) < 0 || (first = scan_header(&J, b0)) < 0) {
		rc = rc < 0 ? rc : (int)first;
		goto out;
	}
	J.header_fields = st->header_fields;
	J.first_eol = st->first_eol;
	J.ahead = 4 * (size_t)threads;
	while ((rc = pass2(&J, threads, (size_t)first)) == MISGUESSED) {
		if (exact) {
			rc = -EIO;     /* csv_split and csv.c disagree: a bug */
			break;
		}
		exact = true;
		first = (ssize_t)J.fail;
		if ((rc = exact_starts(&J, threads, J.fail)) < 0)
			break;
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
	free(J.slots);
	return rc;
}
