/* dq_harness.h - how test_dq.c and test_dq_diff.c run the check engine:
 * files written into a fresh tmpdir, check() at the thread count of the
 * current round (single-threaded and parallel reports required identical
 * above one), results looked up and compared with their exact observed
 * value and offending lines, and every test run at each thread count. */
#ifndef DENVERD_TEST_DQ_HARNESS_H
#define DENVERD_TEST_DQ_HARNESS_H

#include <errno.h>
#include <math.h>
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

#include "quality/dq.h"
#include "quality/keyidx.h"

#include "dq_fixture.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[64];

static inline int setup(void **state)
{
	strcpy(tmpdir, "/tmp/denverd-dq-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write CONTENT to tmpdir/NAME (directories created); returns a new path. */
static inline char *put_file(const char *name, const char *content, size_t len)
{
	char *path, *slash;
	FILE *f;
	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	for (slash = strchr(path + strlen(tmpdir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
	return path;
}

/* The thread count the tests run at (main).  Above 1, check() runs the
 * single-threaded check too, then the parallel one with the file cut into
 * THREADS even chunks plus one at byte 1, and requires the two reports
 * (dq_report_diff) and .keys files to be identical. */
static unsigned threads = 1;

static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
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

static inline struct dq_report *check_at(const struct cfg_dataset *ds, const char *file,
                                  const char *exec_date, int64_t prev_rows,
                                  const char *prev_keys, const char *keys_out,
                                  unsigned n_threads, const uint64_t *cuts, size_t n_cuts)
{
	struct dq_input in = {
		.path = file, .dataset = ds, .exec_date = exec_date,
		.prev_rows = prev_rows, .prev_keys = prev_keys, .keys_out = keys_out,
		.threads = n_threads, .cuts = cuts, .n_cuts = n_cuts,
	};
	struct dq_report *r = NULL;
	char *err = NULL;
	int rc = dq_run(&in, &r, &err);
	if (rc != 0)
		fail_msg("dq_run: %d %s", rc, err ? err : "");
	return r;
}

static inline struct dq_report *check(const struct cfg_dataset *ds, const char *file,
                               const char *exec_date, int64_t prev_rows,
                               const char *prev_keys, const char *keys_out)
{
	struct dq_report *one, *par;
	uint64_t cuts[9];
	size_t n = 0, la = 0, lb = 0;
	char *serial_keys = NULL, *a, *b;
	struct stat sb;
	const char *why;

	if (threads == 1)
		return check_at(ds, file, exec_date, prev_rows, prev_keys, keys_out, 1, NULL, 0);
	if (keys_out)
		assert_true(asprintf(&serial_keys, "%s.serial", keys_out) > 0);
	one = check_at(ds, file, exec_date, prev_rows, prev_keys, serial_keys, 1, NULL, 0);
	assert_int_equal(stat(file, &sb), 0);
	cuts[n++] = 1;
	for (unsigned k = 1; k < threads; k++)
		cuts[n++] = (uint64_t)sb.st_size * k / threads;
	par = check_at(ds, file, exec_date, prev_rows, prev_keys, keys_out, threads, cuts, n);
	if ((why = dq_report_diff(one, par)))
		fail_msg("%s at %u threads: the reports differ in %s", file, threads, why);
	if (keys_out) {
		a = slurp(serial_keys, &la);
		b = slurp(keys_out, &lb);
		assert_true((a == NULL) == (b == NULL));
		if (a) {
			assert_int_equal(la, lb);
			assert_memory_equal(a, b, la);
		}
		unlink(serial_keys);
		free(a);
		free(b);
		free(serial_keys);
	}
	dq_report_free(one);
	return par;
}

static const struct dq_result *result(const struct dq_report *r, const char *name)
{
	for (size_t i = 0; i < r->n_results; i++)
		if (strcmp(r->results[i].name, name) == 0)
			return &r->results[i];
	fail_msg("no result %s", name);
	return NULL;
}

static inline void expect(const struct dq_report *rep, const char *name, enum dq_outcome outcome,
                   double observed, const uint64_t *lines, size_t n_lines)
{
	const struct dq_result *r = result(rep, name);
	if (r->outcome != outcome)
		fail_msg("%s: outcome %s, want %s (%s)", name, dq_outcome_name(r->outcome),
		         dq_outcome_name(outcome), r->detail);
	if (isnan(observed) ? !isnan(r->observed) : fabs(r->observed - observed) > 1e-9)
		fail_msg("%s: observed %.17g, want %.17g (%s)", name, r->observed, observed, r->detail);
	if (r->n_lines != n_lines)
		fail_msg("%s: %zu lines, want %zu", name, r->n_lines, n_lines);
	for (size_t i = 0; i < n_lines; i++)
		if (r->lines[i] != lines[i])
			fail_msg("%s: line[%zu] %llu, want %llu", name, i,
			         (unsigned long long)r->lines[i], (unsigned long long)lines[i]);
	assert_non_null(r->threshold);
	assert_non_null(r->detail);
}

#define LINES(...) (const uint64_t[]){ __VA_ARGS__ }, N(((const uint64_t[]){ __VA_ARGS__ }))
#define NO_LINES NULL, 0

/* The box around Denver of the coordinates checks. */
#define DENVER .min_lat = 39.6, .max_lat = 39.92, .min_lon = -105.11, .max_lon = -104.6

/* A keyed dataset with one uniqueness check: the diff tests' and the
 * error tests' (test_dq.c). */
static const struct fx_dataset diff_fixture = {
	.key = LIST("id"),
	COLUMNS(COLUMN("id", COL_INT), COLUMN("val", COL_STRING)),
	CHECKS(CHECK("u", CHECK_UNIQUE)),
};

/* Run TESTS (N of them) at every thread count the engine is tested at,
 * each in a fresh tmpdir; returns cmocka's result of all the runs. */
static inline int run_at_thread_counts(const struct CMUnitTest *tests, size_t n)
{
	static const unsigned counts[] = { 1, 2, 3, 7 };
	static const char *const names[] = { "1 thread", "2 threads", "3 threads", "7 threads" };
	int rc = 0;

	for (size_t i = 0; i < N(counts); i++) {
		threads = counts[i];
		rc |= _cmocka_run_group_tests(names[i], tests, n, setup, teardown);
	}
	return rc;
}

#endif
