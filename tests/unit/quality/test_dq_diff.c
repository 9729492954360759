/* test_dq_diff.c - the check engine's key index: the diff between two
 * snapshots through their .keys files, rows that left split by the removal
 * rule, exact uniqueness on a large file and on a composite key.  Every
 * test at 1, 2, 3 and 7 threads (dq_harness.h); datasets from
 * dq_fixture.h. */
#include "dq_harness.h"

/* Is S one of L's items? */
static bool has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i] && strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static void test_diff(void **state)
{
	struct cfg_dataset *ds = fixture(&diff_fixture);
	static const char prev_csv[] = "id,val\n1,a\n2,b\n3,c\n4,d\n";
	/* row 1 quoted: unchanged; id 4 as an integral float: the same key,
	 * changed text */
	static const char cur_csv[] = "\"id\",\"val\"\r\n\"1\",\"a\"\r\n2,B\r\n4.0,d\r\n5,e\r\n6,f\r\n";
	char *prev = put_file("staging/d/exec_date=2026-03-09/d.csv", prev_csv, sizeof prev_csv - 1);
	char *cur = put_file("staging/d/exec_date=2026-03-10/d.csv", cur_csv, sizeof cur_csv - 1);
	char *prev_keys, *cur_keys;
	struct dq_report *r;
	struct stat sb;

	assert_true(asprintf(&prev_keys, "%s/staging/d/exec_date=2026-03-09/.keys", tmpdir) > 0);
	assert_true(asprintf(&cur_keys, "%s/staging/d/exec_date=2026-03-10/.keys", tmpdir) > 0);
	r = check(ds, prev, "2026-03-09", -1, NULL, prev_keys);
	assert_false(r->diff.done);
	assert_null(r->diff.error);
	dq_report_free(r);
	/* 64-byte header, name padded to 8, 4 entries, 1 checkpoint */
	assert_int_equal(stat(prev_keys, &sb), 0);
	assert_int_equal(sb.st_size, 64 + 8 + 4 * 16 + 16);

	r = check(ds, cur, "2026-03-10", 4, prev_keys, cur_keys);
	assert_true(r->diff.done);
	assert_null(r->diff.error);
	assert_int_equal(r->diff.prev_rows, 4);
	assert_int_equal(r->diff.added, 2);
	assert_int_equal(r->diff.removed, 1);
	assert_int_equal(r->diff.changed, 2);
	assert_int_equal(r->diff.unchanged, 1);
	assert_int_equal(r->diff.ex_added.n, 2);
	assert_true(has(&r->diff.ex_added, "5") && has(&r->diff.ex_added, "6"));
	assert_int_equal(r->diff.ex_removed.n, 1);
	assert_string_equal(r->diff.ex_removed.items[0], "3");
	assert_int_equal(r->diff.ex_changed.n, 2);
	assert_true(has(&r->diff.ex_changed, "2") && has(&r->diff.ex_changed, "4.0"));
	expect(r, "u", DQ_PASS, 0, NO_LINES);
	{
		json_t *j = dq_report_json(r), *d = json_object_get(j, "diff");
		assert_non_null(j);
		assert_int_equal(json_integer_value(json_object_get(d, "changed")), 2);
		assert_string_equal(json_string_value(json_array_get(json_object_get(
		        json_object_get(d, "examples"), "removed"), 0)), "3");
		assert_string_equal(json_string_value(json_object_get(j, "line_ending")), "crlf");
		json_decref(j);
	}
	dq_report_free(r);

	/* The previous snapshot file is gone: counts stay, removed examples
	 * cannot be read back. */
	assert_int_equal(unlink(prev), 0);
	r = check(ds, cur, "2026-03-10", 4, prev_keys, NULL);
	assert_true(r->diff.done);
	assert_int_equal(r->diff.removed, 1);
	assert_int_equal(r->diff.ex_removed.n, 1);
	assert_null(r->diff.ex_removed.items[0]);
	dq_report_free(r);

	/* A truncated index is refused with a reason, and is not an error. */
	assert_int_equal(truncate(prev_keys, 100), 0);
	r = check(ds, cur, "2026-03-10", 4, prev_keys, NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "truncated or corrupt"));
	dq_report_free(r);
	r = check(ds, cur, "2026-03-10", 4, "/nonexistent/.keys", NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "No such file"));
	dq_report_free(r);
	fixture_free(ds);

	/* A key of another type is another key: no diff across it. */
	ds = fixture(&(struct fx_dataset){
		.key = LIST("id"),
		COLUMNS(COLUMN("id", COL_STRING), COLUMN("val", COL_STRING)),
		CHECKS(CHECK("u", CHECK_UNIQUE)),
	});
	r = check(ds, cur, "2026-03-10", 4, cur_keys, NULL);
	assert_false(r->diff.done);
	assert_non_null(strstr(r->diff.error, "the key's definition has changed"));
	dq_report_free(r);
	fixture_free(ds);
	free(prev);
	free(cur);
	free(prev_keys);
	free(cur_keys);
}

/* Many rows across several index chunks and checkpoints: every duplicate
 * found, example keys read back from deep in the file. */
/* Removed keys split by the previous snapshot's event times against the
 * new window: from the earliest event of the new snapshot, or from
 * `window:`; the withdrawn check on the share. */
static void test_removal_split(void **state)
{
	struct fx_dataset fx = {
		.key = LIST("id"), .event_time = "ts",
		COLUMNS(COLUMN("id", COL_INT), COLUMN("ts", COL_TIMESTAMP)),
		CHECKS(CHECK("wd", CHECK_WITHDRAWN, .max_withdrawn = PCT(30), .severity = SEV_WARN)),
	};
	static const char prev_csv[] = "id,ts\n1,2026-03-01 08:00:00\n2,2026-03-02 08:00:00\n"
	        "3,2026-03-03 08:00:00\n4,2026-03-05 08:00:00\n5,2026-03-06 08:00:00\n6,never\n";
	static const char cur_csv[] = "id,ts\n3,2026-03-03 08:00:00\n5,2026-03-06 08:00:00\n"
	        "7,2026-03-09 08:00:00\n";
	static const char blind_csv[] = "id,ts\n3,x\n5,y\n";
	char *prev = put_file("staging/w/exec_date=2026-03-09/w.csv", prev_csv, sizeof prev_csv - 1);
	char *cur = put_file("staging/w/exec_date=2026-03-10/w.csv", cur_csv, sizeof cur_csv - 1);
	char *blind = put_file("staging/w/exec_date=2026-03-11/w.csv", blind_csv,
	                       sizeof blind_csv - 1);
	struct cfg_dataset *ds = fixture(&fx);
	char *prev_keys;
	struct dq_report *r;
	struct stat sb;
	json_t *j, *d;

	assert_true(asprintf(&prev_keys, "%s/staging/w/exec_date=2026-03-09/.keys", tmpdir) > 0);
	r = check(ds, prev, "2026-03-09", -1, NULL, prev_keys);
	expect(r, "wd", DQ_PASS, NAN, NO_LINES);
	assert_non_null(strstr(r->results[0].detail, "not split: no previous snapshot"));
	dq_report_free(r);
	/* 6 entries, 1 checkpoint, 6 event times */
	assert_int_equal(stat(prev_keys, &sb), 0);
	assert_int_equal(sb.st_size, 64 + 8 + 6 * 16 + 16 + 6 * 4);

	/* The window from the earliest event (03-03 08:00): 1 and 2 aged out,
	 * 4 and 6 (no event time) withdrawn, 2 of the 4 keys inside. */
	r = check(ds, cur, "2026-03-10", 6, prev_keys, NULL);
	assert_true(r->diff.split);
	assert_int_equal(r->diff.removed, 4);
	assert_int_equal(r->diff.aged_out, 2);
	assert_int_equal(r->diff.withdrawn, 2);
	assert_true(has(&r->diff.ex_aged_out, "1") && has(&r->diff.ex_aged_out, "2"));
	assert_true(has(&r->diff.ex_withdrawn, "4") && has(&r->diff.ex_withdrawn, "6"));
	expect(r, "wd", DQ_WARN, 0.5, NO_LINES);
	assert_string_equal(r->results[0].threshold, "withdrawn <= 30% of the window");
	assert_non_null(strstr(r->results[0].detail, "2 of 4 previous keys inside the window"));
	j = dq_report_json(r);
	d = json_object_get(j, "diff");
	assert_int_equal(json_integer_value(json_object_get(d, "aged_out")), 2);
	assert_string_equal(json_string_value(json_object_get(d, "window_start")),
	                    "2026-03-03T08:00:00");
	assert_string_equal(json_string_value(json_object_get(d, "window_from")), "earliest_event");
	json_decref(j);
	dq_report_free(r);
	fixture_free(ds);

	/* window: 8d, from 2026-03-02 00:00: only 1 aged out; 3 of 5 withdrawn. */
	fx.window_ms = DAYS(8);
	ds = fixture(&fx);
	r = check(ds, cur, "2026-03-10", 6, prev_keys, NULL);
	assert_int_equal(r->diff.aged_out, 1);
	assert_int_equal(r->diff.withdrawn, 3);
	expect(r, "wd", DQ_WARN, 0.6, NO_LINES);
	assert_non_null(strstr(r->results[0].detail, "window from 2026-03-02 00:00:00 (window:)"));
	dq_report_free(r);
	fixture_free(ds);

	/* No window: nothing parses in the new snapshot; diffed, not split. */
	fx.window_ms = 0;
	ds = fixture(&fx);
	r = check(ds, blind, "2026-03-11", 6, prev_keys, NULL);
	assert_true(r->diff.done);
	assert_false(r->diff.split);
	assert_int_equal(r->diff.removed, 4);
	expect(r, "wd", DQ_PASS, NAN, NO_LINES);
	assert_non_null(strstr(r->results[0].detail, "the window is unknown"));
	j = dq_report_json(r);
	assert_true(json_is_null(json_object_get(json_object_get(j, "diff"), "withdrawn")));
	json_decref(j);
	dq_report_free(r);
	fixture_free(ds);
	free(prev);
	free(cur);
	free(blind);
	free(prev_keys);
}

static void test_unique_large(void **state)
{
	struct cfg_dataset *ds = fixture(&diff_fixture);
	size_t n = 300000, cap = n * 16 + 64, len = 0;
	char *csv = malloc(cap), *file, *keys;
	struct dq_report *r;

	if (!csv)
		abort();
	len += (size_t)sprintf(csv, "id,val\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(csv + len, "%zu,v%zu\n", i % 299990, i);   /* 10 repeats */
	file = put_file("large.csv", csv, len);
	assert_true(asprintf(&keys, "%s/large.keys", tmpdir) > 0);
	r = check(ds, file, "2026-03-10", -1, NULL, keys);
	assert_int_equal(r->rows, n);
	expect(r, "u", DQ_FAIL, 10, LINES(299992, 299993, 299994, 299995, 299996, 299997,
	                                  299998, 299999, 300000, 300001));
	assert_non_null(strstr(result(r, "u")->detail, "key 0 on lines 2 and 299992"));
	dq_report_free(r);

	/* Against itself: nothing added, removed or changed. */
	r = check(ds, file, "2026-03-10", (int64_t)n, keys, NULL);
	assert_true(r->diff.done);
	assert_int_equal(r->diff.unchanged, n);
	assert_int_equal(r->diff.added + r->diff.removed + r->diff.changed, 0);
	dq_report_free(r);
	free(csv);
	free(file);
	free(keys);
	fixture_free(ds);
}

/* A composite key: a null part is a value (311 rows mostly lack an
 * address); only a key null in every part leaves the row unkeyed. */
static void test_composite_key(void **state)
{
	struct cfg_dataset *ds = fixture(&(struct fx_dataset){
		.key = LIST("t", "addr"),
		COLUMNS(COLUMN("t", COL_STRING), COLUMN("addr", COL_STRING)),
		CHECKS(CHECK("u", CHECK_UNIQUE)),
	});
	static const char csv[] = "t,addr\n1,x\n1,\n1, \n,\n2,\n,x\n";
	char *file = put_file("composite.csv", csv, sizeof csv - 1);
	struct dq_report *r = check(ds, file, "2026-03-10", -1, NULL, NULL);

	expect(r, "u", DQ_FAIL, 1, LINES(4));
	assert_int_equal(r->null_keys, 1);
	assert_non_null(strstr(result(r, "u")->detail, "key 1| on lines 3 and 4"));
	dq_report_free(r);
	free(file);
	fixture_free(ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_removal_split),
		cmocka_unit_test(test_unique_large),
		cmocka_unit_test(test_composite_key),
	};

	return run_at_thread_counts(tests, N(tests));
}
