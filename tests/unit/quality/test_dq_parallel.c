/* test_dq_parallel.c - the parallel check (dq_par.c) against the
 * single-threaded one on generated files with every quirk the scanner
 * forgives: quoted newlines, unescaped inner and bare quotes, CRLF/LF/CR
 * mixes, a BOM, Windows-1252 and cut UTF-8 bytes, NULs, blank lines,
 * ragged rows, duplicate and null keys, bad values, long inner-quote
 * look-aheads.  Each file is checked at random cut sets (always including
 * byte 1 and cuts inside quoted fields, between CR and LF and inside a
 * multi-byte character) and both reports and .keys files must be
 * identical (dq_report_diff); test_misguessed makes the guessed part
 * starts wrong on purpose, test_starved_helpers starves the helpers so
 * that their parts are stolen.  test_split_fast holds csv_split.c's
 * block-at-a-time fast path to its byte-at-a-time walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "quality/csv.h"
#include "quality/dq.h"

#include "dq_fixture.h"

#define DENVER .min_lat = 39.6, .max_lat = 39.92, .min_lon = -105.11, .max_lon = -104.6
#define ROUNDS 300
#define BIG (10u << 20)                  /* write_big's bytes, at least */
#define STARVED_CUT (128u << 10)         /* test_starved_helpers' parts */
#define STARVED_ROUNDS 10

static const struct fx_dataset fx = {
	.key = LIST("id", "k2"),
	.event_time = "ts",
	.timestamp_formats = LIST("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%m/%d/%Y %I:%M:%S %p"),
	COLUMNS(COLUMN("id", COL_INT),
	        COLUMN("k2", COL_STRING, .required = VAL(false)),
	        COLUMN("ts", COL_TIMESTAMP),
	        COLUMN("lat", COL_FLOAT, .nulls = LIST("0")),
	        COLUMN("lon", COL_FLOAT, .nulls = LIST("0")),
	        COLUMN("n", COL_INT, .required = VAL(false)),
	        COLUMN("cond", COL_STRING)),
	CHECKS(CHECK("header", CHECK_COLUMNS),
	       CHECK("rows", CHECK_ROW_COUNT, .min_rows = 1, .max_change = VAL(PCT(50))),
	       CHECK("uniq", CHECK_UNIQUE),
	       CHECK("idnull", CHECK_NULLS, .columns = LIST("id"), .max_null = PCT(0)),
	       CHECK("allnull", CHECK_NULLS, .max_null = PCT(50), .severity = SEV_WARN),
	       CHECK("ts_ok", CHECK_TIMESTAMPS, .columns = LIST("ts"), .max_unparsed = PCT(20),
	             .future_slack_ms = DAYS(1), .severity = SEV_WARN),
	       CHECK("box", CHECK_COORDINATES, .lat = "lat", .lon = "lon", DENVER,
	             .max_bad = PCT(10), .severity = SEV_WARN),
	       CHECK("nrange", CHECK_RANGE, .columns = LIST("n"), .min = VAL(0), .max = VAL(50),
	             .max_bad = PCT(0), .severity = SEV_WARN),
	       CHECK("fresh", CHECK_FRESHNESS, .max_age_ms = DAYS(2), .severity = SEV_WARN),
	       CHECK("cond", CHECK_ALLOWED, .columns = LIST("cond"),
	             .values = LIST("Dry", "Wet", "Icy"), .max_bad = PCT(10),
	             .severity = SEV_WARN)),
};

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/denverd-dqp-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* xorshift: the same files on every run, the seed in every message. */
static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

struct gen {
	char *p;
	size_t len, cap;
	/* offsets of interesting places, for cuts */
	uint64_t in_quotes[64], cr_lf[64], mid_char[64];
	size_t n_q, n_crlf, n_mid;
};

static void put(struct gen *g, const char *s, size_t n)
{
	if (g->len + n > g->cap) {
		g->cap = (g->len + n) * 2 + 256;
		g->p = realloc(g->p, g->cap);
		assert_non_null(g->p);
	}
	memcpy(g->p + g->len, s, n);
	g->len += n;
}

static void puts_(struct gen *g, const char *s)
{
	put(g, s, strlen(s));
}

static void note(uint64_t *a, size_t *n, uint64_t at)
{
	if (*n < 64)
		a[(*n)++] = at;
}

static void eol(struct gen *g)
{
	switch (rnd(6)) {
	case 0:
	case 1:
		puts_(g, "\n");
		break;
	case 2:
	case 3:
		note(g->cr_lf, &g->n_crlf, g->len + 1);
		puts_(g, "\r\n");
		break;
	case 4:
		puts_(g, "\r");
		break;
	default:
		puts_(g, rnd(2) ? "\n\n" : "\r\n\r\n");     /* a blank line */
		break;
	}
}

/* A text value with a quirk or not. */
static void text(struct gen *g)
{
	static const char *const plain[] = { "Dry", "wet", " Icy ", "Snow", "", "x y", "0" };
	switch (rnd(14)) {
	case 0:
		puts_(g, "\"a,b\nc\"");                      /* quoted newline */
		note(g->in_quotes, &g->n_q, g->len - 3);
		break;
	case 1:
		puts_(g, "\"Wood on \"Red Days\"\"");        /* inner quotes */
		note(g->in_quotes, &g->n_q, g->len - 8);
		break;
	case 2:
		puts_(g, "\"say \"\"hi\"\"\"");              /* escapes */
		break;
	case 3:
		puts_(g, "ab\"c");                           /* bare quote */
		break;
	case 4:
		puts_(g, "caf\xe9");                         /* Windows-1252 */
		break;
	case 5:
		note(g->mid_char, &g->n_mid, g->len + 4);
		puts_(g, "caf\xc3\xa9");                     /* UTF-8 */
		break;
	case 6:
		puts_(g, "\"x \"y\nz\"");                    /* inner quote, then a newline */
		break;
	case 7: {
		char big[300];
		memset(big, 'w', sizeof big);
		puts_(g, "\"long \"");
		put(g, big, sizeof big);
		puts_(g, "\" end\"");                        /* a long look-ahead */
		break;
	}
	case 8:
		put(g, "n\0l", 3);
		break;
	case 9:
		puts_(g, "\"unclosed");
		break;
	default:
		puts_(g, plain[rnd(7)]);
	}
}

static void row(struct gen *g, uint32_t i)
{
	char b[128];
	uint32_t id = rnd(8) == 0 ? rnd(i + 1) : i;            /* duplicates */
	int fields = 7 + (rnd(10) == 0) - (rnd(10) == 0);       /* ragged */
	if (rnd(20) == 0)
		b[0] = 0;                                            /* a null key part */
	else
		snprintf(b, sizeof b, rnd(4) ? "%u" : "\"%u\"", id);
	puts_(g, b);
	for (int f = 1; f < fields; f++) {
		puts_(g, ",");
		switch (f) {
		case 2:
			snprintf(b, sizeof b, rnd(5) ? "2026-03-%02u %02u:00:00" : "3/%u/2026 4:%02u:00 PM",
			         1 + rnd(12), rnd(24));
			puts_(g, rnd(15) ? b : "not a date");
			break;
		case 3:
		case 4:
			snprintf(b, sizeof b, "%s%u.%u", f == 4 ? "-10" : "39.", rnd(10), rnd(1000));
			puts_(g, rnd(12) ? b : "0");
			break;
		case 5:
			snprintf(b, sizeof b, "%u", rnd(60));
			puts_(g, rnd(8) ? b : "");
			break;
		default:
			text(g);
		}
	}
	eol(g);
}

static void generate(struct gen *g)
{
	uint32_t rows = rnd(60);
	memset(g, 0, sizeof *g);
	if (rnd(4) == 0)
		puts_(g, "\xEF\xBB\xBF");
	if (rnd(8) == 0)
		eol(g);                                              /* blank lines first */
	puts_(g, rnd(3) ? "id,k2,ts,lat,lon,n,cond" : "\"id\",K2,ts,Lat,lon,extra,cond");
	eol(g);
	for (uint32_t i = 0; i < rows; i++)
		row(g, i);
	if (rnd(3) == 0 && g->len && (g->p[g->len - 1] == '\n' || g->p[g->len - 1] == '\r'))
		g->len--;                                            /* no final EOL */
	if (rnd(10) == 0)
		put(g, "\xc3", 1);                                   /* cut UTF-8 */
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static struct dq_report *run(const struct cfg_dataset *ds, const char *file, const char *keys,
                             unsigned threads, const uint64_t *cuts, size_t n)
{
	struct dq_input in = { .path = file, .dataset = ds, .exec_date = "2026-03-10",
	                       .prev_rows = 10, .keys_out = keys, .threads = threads,
	                       .cuts = cuts, .n_cuts = n };
	struct dq_report *r = NULL;
	char *err = NULL;
	int rc = dq_run(&in, &r, &err);
	if (rc)
		fail_msg("dq_run %d: %s", rc, err ? err : "");
	return r;
}

/* G's bytes into TMPDIR/NAME; FILE, K1 and K2 (the serial and parallel
 * runs' .keys) get their paths. */
static void write_gen(const struct gen *g, const char *name, char file[128], char k1[160],
                      char k2[160])
{
	FILE *f;
	snprintf(file, 128, "%s/%s", tmpdir, name);
	snprintf(k1, 160, "%s.serial.keys", file);
	snprintf(k2, 160, "%s.par.keys", file);
	f = fopen(file, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(g->p, 1, g->len, f), g->len);
	fclose(f);
}

static void one_file(const struct cfg_dataset *ds, uint64_t seed)
{
	char file[128], k1[160], k2[160];
	struct dq_report *serial;
	struct gen g;

	rng = seed * 2654435761ULL + 1;
	generate(&g);
	write_gen(&g, "f.csv", file, k1, k2);
	serial = run(ds, file, k1, 1, NULL, 0);
	for (int round = 0; round < 4; round++) {
		uint64_t cuts[24];
		size_t n = 0, la = 0, lb = 0;
		const char *why;
		char *a, *b;
		cuts[n++] = 0;
		cuts[n++] = 1;
		if (g.n_q)
			cuts[n++] = g.in_quotes[rnd((uint32_t)g.n_q)];
		if (g.n_crlf)
			cuts[n++] = g.cr_lf[rnd((uint32_t)g.n_crlf)];
		if (g.n_mid)
			cuts[n++] = g.mid_char[rnd((uint32_t)g.n_mid)];
		for (uint32_t k = rnd(12); k > 0; k--)
			cuts[n++] = rnd((uint32_t)g.len + 1);
		struct dq_report *par = run(ds, file, k2, 1 + rnd(7), cuts, n);
		if ((why = dq_report_diff(serial, par)))
			fail_msg("seed %llu round %d: reports differ in %s",
			         (unsigned long long)seed, round, why);
		a = slurp(k1, &la);
		b = slurp(k2, &lb);
		assert_true((a == NULL) == (b == NULL));
		if (a && (la != lb || memcmp(a, b, la) != 0))
			fail_msg("seed %llu round %d: .keys differ", (unsigned long long)seed, round);
		free(a);
		free(b);
		dq_report_free(par);
	}
	dq_report_free(serial);
	free(g.p);
}

static void test_generated(void **state)
{
	struct cfg_dataset *ds = fixture(&fx);
	(void)state;
	for (uint64_t seed = 1; seed <= ROUNDS; seed++)
		one_file(ds, seed);
	fixture_free(ds);
}

/* A file of 10 MiB of rows (large enough to split by itself) into
 * TMPDIR/big.csv, FILE its path. */
static void write_big(char file[128])
{
	struct gen g = { 0 };
	FILE *f;
	rng = 42;
	puts_(&g, "id,k2,ts,lat,lon,n,cond\n");
	for (uint32_t i = 0; g.len < BIG; i++)
		row(&g, i);
	snprintf(file, 128, "%s/big.csv", tmpdir);
	f = fopen(file, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(g.p, 1, g.len, f), g.len);
	fclose(f);
	free(g.p);
}

/* A file large enough to split by itself (no cuts), at 2 and 3 threads. */
static void test_large_uncut(void **state)
{
	struct cfg_dataset *ds = fixture(&fx);
	char file[128];
	(void)state;
	write_big(file);
	struct dq_report *one = run(ds, file, NULL, 1, NULL, 0);
	for (unsigned t = 2; t <= 3; t++) {
		struct dq_report *par = run(ds, file, NULL, t, NULL, 0);
		const char *why = dq_report_diff(one, par);
		if (why)
			fail_msg("%u threads: reports differ in %s", t, why);
		dq_report_free(par);
	}
	dq_report_free(one);
	fixture_free(ds);
}

static atomic_bool hog_stop;

static void *hog(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&hog_stop, memory_order_relaxed))
		;
	return NULL;
}

/* Helpers that get no CPU: the check on one CPU beside a busy thread of
 * normal priority, where its SCHED_IDLE helpers run only now and then.
 * The calling thread must steal the parts they hold (parts_stolen, in
 * one of up to STARVED_ROUNDS checks) and still equal the serial report;
 * the check ends, so the helpers' abandoned scans stop. */
static void test_starved_helpers(void **state)
{
	struct cfg_dataset *ds = fixture(&fx);
	uint64_t cuts[BIG / STARVED_CUT + 1];
	size_t n = 0;
	unsigned stolen = 0;
	cpu_set_t was, one;
	pthread_t h;
	char file[128];
	(void)state;
	write_big(file);
	struct dq_report *serial = run(ds, file, NULL, 1, NULL, 0);
	for (uint64_t at = 0; at < BIG; at += STARVED_CUT)
		cuts[n++] = at;
	assert_int_equal(sched_getaffinity(0, sizeof was, &was), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);  /* inherited */
	atomic_store(&hog_stop, false);
	assert_int_equal(pthread_create(&h, NULL, hog, NULL), 0);
	for (int round = 0; round < STARVED_ROUNDS && !stolen; round++) {
		struct dq_report *par = run(ds, file, NULL, 3, cuts, n);
		const char *why = dq_report_diff(serial, par);
		if (why)
			fail_msg("round %d: reports differ in %s", round, why);
		stolen += par->parts_stolen;
		dq_report_free(par);
	}
	atomic_store(&hog_stop, true);
	pthread_join(h, NULL);
	assert_int_equal(sched_setaffinity(0, sizeof was, &was), 0);
	assert_true(stolen > 0);
	dq_report_free(serial);
	fixture_free(ds);
}

/* Parts whose start is guessed wrong: every third row has a quoted note
 * of ~6 KiB of lines without a quote or a comma, longer than the window
 * csv_split_start walks first, so a chunk that begins inside one guesses
 * that its first line end ends a row (asserted: not sure, and not where a
 * row starts); the merge must find out, scan the rest again from exact
 * starts, and still equal the single-threaded report and .keys. */
static void test_misguessed(void **state)
{
	struct cfg_dataset *ds = fixture(&fx);
	char file[128], k1[160], k2[160];
	struct gen g = { 0 };
	uint64_t inside[64];
	size_t n_in = 0;
	FILE *f;
	(void)state;
	rng = 99;
	puts_(&g, "id,k2,ts,lat,lon,n,cond\n");
	for (uint32_t i = 0; i < 90; i++) {
		char head[32];
		snprintf(head, sizeof head, "%u,", i);
		puts_(&g, head);
		if (i % 3 == 1) {
			puts_(&g, "\"");
			if (n_in < 64)
				inside[n_in++] = g.len + 40;
			for (int l = 0; l < 100; l++)
				puts_(&g, "a note line that goes on without quotes or commas\n");
			puts_(&g, "\"");
		} else {
			puts_(&g, "plain");
		}
		puts_(&g, i % 7 ? ",2026-03-01 10:00:00,39.7,-104.9,3,Dry\n"
		                : ",2026-03-01 10:00:00,39.7,-104.9,99,Hot\r\n");
	}
	write_gen(&g, "notes.csv", file, k1, k2);
	f = fopen(file, "rb");
	assert_non_null(f);
	for (size_t i = 0; i < n_in; i++) {
		uint64_t off;
		bool sure;
		assert_int_equal(csv_split_start(fileno(f), g.len, UINT64_MAX, inside[i], g.len,
		                                 NULL, &off, &sure), 0);
		assert_false(sure);
		assert_true(off > inside[i] && off < inside[i] + 5000);   /* inside the note */
		assert_int_not_equal(g.p[off - 1], '"');
	}
	fclose(f);
	struct dq_report *serial = run(ds, file, k1, 1, NULL, 0);
	for (int round = 0; round < 40; round++) {
		uint64_t cuts[16];
		size_t n = 0, la = 0, lb = 0;
		for (uint32_t k = 1 + rnd(6); k > 0; k--)
			cuts[n++] = inside[rnd((uint32_t)n_in)];
		for (uint32_t k = rnd(4); k > 0; k--)
			cuts[n++] = rnd((uint32_t)g.len + 1);
		struct dq_report *par = run(ds, file, k2, 1 + rnd(4), cuts, n);
		const char *why = dq_report_diff(serial, par);
		if (why)
			fail_msg("round %d: reports differ in %s", round, why);
		char *a = slurp(k1, &la), *b = slurp(k2, &lb);
		assert_non_null(a);
		if (la != lb || memcmp(a, b, la) != 0)
			fail_msg("round %d: .keys differ", round);
		free(a);
		free(b);
		dq_report_free(par);
	}
	dq_report_free(serial);
	free(g.p);
	fixture_free(ds);
}

/* Bytes for test_split_fast: well-formed quoted CSV (MODE 0), the same
 * with rare damage (1), or random structural bytes (2). */
static void split_bytes(char *p, size_t n, int mode)
{
	static const char any[] = "a,\"\n\r";
	size_t i = 0;
	while (i < n) {
		if (mode == 2) {
			p[i++] = rnd(3) ? any[rnd(5)] : 'b';
			continue;
		}
		if (mode == 1 && rnd(200) == 0) {
			p[i++] = any[rnd(5)];
			continue;
		}
		switch (rnd(9)) {
		case 0: case 1: case 2: {        /* "quoted, with ""inner"" and LF" */
			const char *q[] = { "\"x,y\"", "\"\"", "\"a\"\"b\"", "\"l\nm\"",
			                    "\"\"\"\"", "\"c\r\nd\"" };
			const char *t = q[rnd(6)];
			for (; *t && i < n; t++)
				p[i++] = *t;
			break;
		}
		case 3: p[i++] = '\n'; break;
		case 4: p[i++] = '\r'; if (i < n && rnd(2)) p[i++] = '\n'; break;
		case 5: case 6: p[i++] = ','; break;
		default:
			for (uint32_t k = rnd(40); k-- && i < n;)
				p[i++] = 'v';
		}
	}
}

static void test_split_fast(void **state)
{
	enum { LEN = 6000 };
	static char p[LEN];
	(void)state;
	rng = 7;
	for (int round = 0; round < 600; round++) {
		FILE *f = tmpfile();
		assert_non_null(f);
		split_bytes(p, LEN, round % 3);
		assert_int_equal(fwrite(p, 1, LEN, f), LEN);
		fflush(f);
		for (int k = 0; k < 8; k++) {
			uint64_t b = rnd(LEN), e = b + rnd((uint32_t)(LEN - b)) + 1;
			struct csv_chunk_map fast, slow;
			memset(&fast, 0, sizeof fast);
			memset(&slow, 0, sizeof slow);
			assert_int_equal(csv_split_chunk(fileno(f), LEN, b, e, NULL, &fast), 0);
			setenv("DENVERD_CSV_SIMD", "scalar", 1);
			assert_int_equal(csv_split_chunk(fileno(f), LEN, b, e, NULL, &slow), 0);
			unsetenv("DENVERD_CSV_SIMD");
			for (int l = 0; l < CSV_SPLIT_STATES; l++) {
				const struct csv_lane *x = &fast.lane[l], *y = &slow.lane[l];
				if (x->end != y->end || x->bound != y->bound || x->lines != y->lines ||
				    x->rows != y->rows ||
				    (y->bound && (x->b_off != y->b_off || x->b_lines != y->b_lines ||
				                  x->b_rows != y->b_rows)))
					fail_msg("round %d [%llu, %llu) lane %d: fast %d %d %llu %llu @%llu, "
					         "slow %d %d %llu %llu @%llu", round, (unsigned long long)b,
					         (unsigned long long)e, l, x->end, x->bound,
					         (unsigned long long)x->lines, (unsigned long long)x->rows,
					         (unsigned long long)x->b_off, y->end, y->bound,
					         (unsigned long long)y->lines, (unsigned long long)y->rows,
					         (unsigned long long)y->b_off);
			}
		}
		fclose(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_large_uncut),
		cmocka_unit_test(test_starved_helpers),
		cmocka_unit_test(test_misguessed),
		cmocka_unit_test(test_split_fast),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
