/* test_keyidx.c - the key index on its own (keyidx.h): duplicates in file
 * order, the diff against a previous index written to disk (removed keys
 * sorting before, between and after this index's), the file's layout and
 * its checkpoints read back, the refusal of another key definition, and
 * removed keys split into aged out and withdrawn by the previous index's
 * event times (also: no split without times, a version 1 file). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quality/dq.h"
#include "quality/keyidx.h"

static char tmpdir[64];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/denverd-keyidx-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

struct ent {
	uint64_t key;
	uint32_t hash;
};

/* An index of ENTS (row i = ents[i], event time TIMES[i] when TIMES),
 * finished against PREV into OUT with window start WSTART. */
static int build_t(const struct ent *ents, const int64_t *times, size_t n, uint64_t key_def,
                   const char *prev, const char *out, int64_t wstart,
                   struct keyidx_result *res)
{
	struct keyidx *k;
	char *err = NULL;
	int rc;

	assert_int_equal(keyidx_new(&k), 0);
	for (size_t i = 0; i < n; i++) {
		if (i % DQ_CHECKPOINT_ROWS == 0)
			assert_int_equal(keyidx_mark(k, i, 100 + i * 10, 2 + i), 0);
		assert_int_equal(keyidx_add(k, ents[i].key, ents[i].hash, i), 0);
		if (times)
			assert_int_equal(keyidx_time(k, i, times[i]), 0);
	}
	rc = keyidx_finish(k, key_def, n, "snap.csv", prev, out, wstart, res, &err);
	if (rc < 0)
		fail_msg("keyidx_finish: %d %s", rc, err ? err : "");
	assert_null(err);
	keyidx_free(k);
	return rc;
}

static int build(const struct ent *ents, size_t n, uint64_t key_def, const char *prev,
                 const char *out, struct keyidx_result *res)
{
	return build_t(ents, NULL, n, key_def, prev, out, KEYIDX_NO_TIME, res);
}

static bool has(const uint32_t *rows, size_t n, uint32_t row)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i] == row)
			return true;
	return false;
}

static void test_duplicates_in_file_order(void **state)
{
	static const struct ent ents[] = {
		{ 50, 1 }, { 7, 1 }, { 50, 2 }, { 9, 1 }, { 7, 3 }, { 50, 4 },
	};
	struct keyidx_result res;

	build(ents, 6, 1, NULL, NULL, &res);
	assert_int_equal(res.entries, 6);
	assert_int_equal(res.duplicates, 3);
	assert_false(res.diffed);
	assert_null(res.diff_error);
	/* rows 2, 4, 5 repeat the keys first seen on rows 0, 1, 0 */
	assert_int_equal(res.n_dup, 3);
	assert_int_equal(res.dup_row[0], 2);
	assert_int_equal(res.dup_first[0], 0);
	assert_int_equal(res.dup_row[1], 4);
	assert_int_equal(res.dup_first[1], 1);
	assert_int_equal(res.dup_row[2], 5);
	assert_int_equal(res.dup_first[2], 0);
	keyidx_result_fini(&res);
}

static void test_diff_against_written_index(void **state)
{
	/* previous: keys 1 3 5 7 9 (row = position); current: 3 same, 5
	 * changed, 6 and 8 new; 1 (before all), 7 (between) and 9 (after all)
	 * are gone. */
	static const struct ent prev[] = { { 1, 1 }, { 3, 3 }, { 5, 5 }, { 7, 7 }, { 9, 9 } };
	static const struct ent cur[] = { { 8, 8 }, { 3, 3 }, { 6, 6 }, { 5, 50 } };
	struct keyidx_result res;
	char *prev_keys, *cur_keys;
	struct stat sb;

	assert_true(asprintf(&prev_keys, "%s/prev.keys", tmpdir) > 0);
	assert_true(asprintf(&cur_keys, "%s/cur.keys", tmpdir) > 0);
	build(prev, 5, 42, NULL, prev_keys, &res);
	keyidx_result_fini(&res);
	/* header, "snap.csv" (8 bytes), 5 entries, 1 checkpoint */
	assert_int_equal(stat(prev_keys, &sb), 0);
	assert_int_equal(sb.st_size, sizeof(struct keyidx_header) + 8 + 5 * 16 + 16);

	build(cur, 4, 42, prev_keys, cur_keys, &res);
	assert_true(res.diffed);
	assert_null(res.diff_error);
	assert_int_equal(res.prev_entries, 5);
	assert_int_equal(res.added, 2);
	assert_int_equal(res.removed, 3);
	assert_int_equal(res.changed, 1);
	assert_int_equal(res.unchanged, 1);
	assert_int_equal(res.n_added, 2);
	assert_true(has(res.ex_added, 2, 0) && has(res.ex_added, 2, 2));
	assert_int_equal(res.n_changed, 1);
	assert_int_equal(res.ex_changed[0], 3);
	assert_int_equal(res.n_removed, 3);
	assert_true(has(res.ex_removed, 3, 0) && has(res.ex_removed, 3, 3) &&
	            has(res.ex_removed, 3, 4));
	/* the previous snapshot resolved next to its index, its checkpoint */
	assert_non_null(strstr(res.prev.file, "/snap.csv"));
	assert_int_equal(strncmp(res.prev.file, tmpdir, strlen(tmpdir)), 0);
	assert_int_equal(res.prev.n, 1);
	assert_int_equal(res.prev.every, DQ_CHECKPOINT_ROWS);
	assert_int_equal(res.prev.cp[0].offset, 100);
	assert_int_equal(res.prev.cp[0].line, 2);
	assert_int_equal(access(cur_keys, F_OK), 0);
	keyidx_result_fini(&res);

	/* Another key definition: no diff, a reason, not an error. */
	build(cur, 4, 43, prev_keys, NULL, &res);
	assert_false(res.diffed);
	assert_non_null(strstr(res.diff_error, "the key's definition has changed"));
	keyidx_result_fini(&res);

	/* Nothing in this index: every previous key is removed. */
	build(NULL, 0, 42, prev_keys, NULL, &res);
	assert_true(res.diffed);
	assert_int_equal(res.removed, 5);
	assert_int_equal(res.added + res.changed + res.unchanged, 0);
	keyidx_result_fini(&res);
	free(prev_keys);
	free(cur_keys);
}

static void test_removed_split_by_event_time(void **state)
{
	/* previous: keys 1..6 with event times (B + seconds); the current
	 * keeps key 5 only.  Window start B + 250: rows 0 (B + 100) and 1 (B +
	 * 200) aged out; 2 (no time), 3 (B + 300) and 5 (B + 500) withdrawn;
	 * B + 250 itself would be inside. */
	enum { B = KEYIDX_TIME_BASE };
	static const struct ent prev[] = { { 1, 1 }, { 2, 2 }, { 3, 3 }, { 4, 4 }, { 5, 5 },
	                                   { 6, 6 } };
	static const int64_t times[] = { B + 100, B + 200, KEYIDX_NO_TIME, B + 300, B + 400,
	                                 B + 500 };
	/* stored clamped: 1900 stays before a 2020 window, 2100 after it */
	static const int64_t far[] = { -2208988800, 4102444800, 0, 0, 0, 0 };
	static const struct ent cur[] = { { 5, 5 } };
	static const int64_t cur_times[] = { B + 400 };
	struct keyidx_result res;
	char *prev_keys, *plain_keys, *err = NULL;
	struct keyidx_header h;
	struct keyidx *k;
	struct stat sb;
	FILE *f;

	assert_true(asprintf(&prev_keys, "%s/timed.keys", tmpdir) > 0);
	assert_true(asprintf(&plain_keys, "%s/plain.keys", tmpdir) > 0);
	build_t(prev, times, 6, 42, NULL, prev_keys, KEYIDX_NO_TIME, &res);
	keyidx_result_fini(&res);
	/* header, name, 6 entries, 1 checkpoint, 6 times */
	assert_int_equal(stat(prev_keys, &sb), 0);
	assert_int_equal(sb.st_size, sizeof(struct keyidx_header) + 8 + 6 * 16 + 16 + 6 * 4);

	build_t(cur, cur_times, 1, 42, prev_keys, NULL, B + 250, &res);
	assert_true(res.diffed && res.split);
	assert_int_equal(res.removed, 5);
	assert_int_equal(res.aged_out, 2);
	assert_int_equal(res.withdrawn, 3);
	assert_int_equal(res.n_aged, 2);
	assert_true(has(res.ex_aged, 2, 0) && has(res.ex_aged, 2, 1));
	assert_int_equal(res.n_withdrawn, 3);
	assert_true(has(res.ex_withdrawn, 3, 2) && has(res.ex_withdrawn, 3, 3) &&
	            has(res.ex_withdrawn, 3, 5));
	assert_int_equal(res.n_removed, 5);
	keyidx_result_fini(&res);

	/* The boundary belongs to the window: 200 is not before 200. */
	build_t(cur, cur_times, 1, 42, prev_keys, NULL, B + 200, &res);
	assert_int_equal(res.aged_out, 1);
	assert_int_equal(res.withdrawn, 4);
	keyidx_result_fini(&res);

	/* Out of the stored range (1931-2068): clamped, same side of 2020. */
	build_t(prev, far, 6, 42, NULL, plain_keys, KEYIDX_NO_TIME, &res);
	keyidx_result_fini(&res);
	build_t(cur, cur_times, 1, 42, plain_keys, NULL, 1577836800, &res);
	assert_true(res.split);
	assert_true(has(res.ex_aged, res.n_aged, 0));
	assert_true(has(res.ex_withdrawn, res.n_withdrawn, 1));
	keyidx_result_fini(&res);

	/* No window start: diffed, not split. */
	build_t(cur, cur_times, 1, 42, prev_keys, NULL, KEYIDX_NO_TIME, &res);
	assert_true(res.diffed);
	assert_false(res.split);
	assert_int_equal(res.aged_out + res.withdrawn, 0);
	keyidx_result_fini(&res);

	/* A previous index without times, and the same as a version 1 file
	 * (whose reserved words were zero): diffed, not split. */
	build(prev, 6, 42, NULL, plain_keys, &res);
	keyidx_result_fini(&res);
	build_t(cur, cur_times, 1, 42, plain_keys, NULL, B + 250, &res);
	assert_true(res.diffed);
	assert_false(res.split);
	assert_int_equal(res.removed, 5);
	keyidx_result_fini(&res);
	assert_non_null(f = fopen(plain_keys, "r+b"));
	assert_int_equal(fread(&h, sizeof h, 1, f), 1);
	h.version = 1;
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	assert_int_equal(fwrite(&h, sizeof h, 1, f), 1);
	assert_int_equal(fclose(f), 0);
	build_t(cur, cur_times, 1, 42, plain_keys, NULL, B + 250, &res);
	assert_true(res.diffed);
	assert_false(res.split);
	keyidx_result_fini(&res);

	/* Times must number the rows. */
	assert_int_equal(keyidx_new(&k), 0);
	assert_int_equal(keyidx_add(k, 1, 1, 0), 0);
	assert_int_equal(keyidx_time(k, 1, 5), -EINVAL);
	assert_int_equal(keyidx_time(k, 0, 5), 0);
	assert_int_equal(keyidx_finish(k, 42, 2, "snap.csv", NULL, NULL, 0, &res, &err), -EINVAL);
	assert_non_null(strstr(err, "1 event times for 2 rows"));
	free(err);
	keyidx_free(k);
	free(prev_keys);
	free(plain_keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duplicates_in_file_order),
		cmocka_unit_test(test_diff_against_written_index),
		cmocka_unit_test(test_removed_split_by_event_time),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
