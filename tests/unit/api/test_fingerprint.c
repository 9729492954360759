/* test_fingerprint.c - the datastore fingerprint and commit records in C
 * (api/fingerprint.h) on a fixture directory: which files count (data in
 * year=*\/month=*, not hidden ones), the footer rule, path order, and the
 * digest jobs/datastore.py computes for the same files (the constants
 * below are its output; tests/integration/test_report.py compares the
 * two on real Parquet files). */
#include <errno.h>
#include <limits.h>
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
#include <jansson.h>

#include "api/fingerprint.h"
#include "base/fsutil.h"

/* The fixture: what a dataset directory may hold.  A Parquet-like file
 * (footer "FOOTERBYTES", length 11), a file that is not Parquet (hashed
 * whole), a month name that sorts differently by component than by path
 * ("month=1-x" before "month=1/"), a footer length past the start of its
 * file (hashed whole), and what must not count: Hadoop's .crc, _SUCCESS,
 * a directory that is not a month, a nested datastore, the provenance. */
struct fixture_file {
	const char *path;
	const char *data;
	size_t len;
};
#define F(p, lit) { p, lit, sizeof lit - 1 }
static const struct fixture_file files[] = {
	F("year=2026/month=1/part-00000-a.zstd.parquet", "PAR1rowdata-abcFOOTERBYTES\x0b\0\0\0PAR1"),
	F("year=2026/month=10/part-00000-b.zstd.parquet", "not parquet at all\n"),
	F("year=2026/month=1-x/part-c.parquet", "PAR1FFF\x03\0\0\0PAR1"),
	F("year=2026/month=1/.part-00000-a.zstd.parquet.crc", "crc"),
	F("year=2026/month=1/_SUCCESS", ""),
	F("year=2026/notamonth/x.parquet", "ignored"),
	F("other/year=2025/month=1/x.parquet", "ignored"),
	F("year=2025/month=12/bad-footer.parquet", "xx\xe8\x03\0\0PAR1"),
	F("_denverd/commits/00000001.json", "{\"seq\": 1, \"run_id\": 3}\n"),
	F("_denverd/commits/00000002.json", "{\"seq\": 2, \"run_id\": 5}\n"),
	F("_denverd/commits/00000003.json.tmp", "{\"seq\": 3}"),
};
/* jobs/datastore.py's fingerprint() of the fixture, and of no files */
#define FIXTURE_DIGEST "sha256:0c5a95fe35b82d1fcf5e57c5cde5e8d52660ac12979519ed93c22a547c96a093"
#define EMPTY_DIGEST   "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char dir[] = "/tmp/test_fingerprint.XXXXXX";

static void put(const char *rel, const char *data, size_t len)
{
	char path[PATH_MAX], parent[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, rel);
	assert_int_equal(path_parent(path, parent, sizeof parent), 0);
	assert_int_equal(mkdir_p(parent, 0755), 0);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		put(files[i].path, files[i].data, files[i].len);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_fixture_digest(void **state)
{
	struct fingerprint fp;

	assert_int_equal(datastore_fingerprint(dir, &fp), 0);
	assert_string_equal(fp.digest, FIXTURE_DIGEST);
	assert_int_equal(fp.files, 4);
	assert_int_equal(fp.bytes, 34 + 19 + 15 + 10);
}

static void test_missing_dir_is_empty(void **state)
{
	char path[PATH_MAX];
	struct fingerprint fp;

	snprintf(path, sizeof path, "%s/no-such-dataset", dir);
	assert_int_equal(datastore_fingerprint(path, &fp), 0);
	assert_string_equal(fp.digest, EMPTY_DIGEST);
	assert_int_equal(fp.files, 0);
}

/* A changed footer, a renamed file or a new file each change the digest;
 * a new hidden file does not. */
static void test_changes(void **state)
{
	struct fingerprint fp;

	put("year=2026/month=1/.another.crc", "x", 1);
	assert_int_equal(datastore_fingerprint(dir, &fp), 0);
	assert_string_equal(fp.digest, FIXTURE_DIGEST);
	put("year=2026/month=1/part-00000-a.zstd.parquet",
	    "PAR1rowdata-abcFOOTERBYTEZ\x0b\0\0\0PAR1", 34);
	assert_int_equal(datastore_fingerprint(dir, &fp), 0);
	assert_string_not_equal(fp.digest, FIXTURE_DIGEST);
	put("year=2026/month=1/part-00000-a.zstd.parquet", files[0].data, files[0].len);
	assert_int_equal(datastore_fingerprint(dir, &fp), 0);
	assert_string_equal(fp.digest, FIXTURE_DIGEST);         /* back as it was */
	/* the rows before the footer are not read: the footer describes them */
	put("year=2026/month=1/part-00000-a.zstd.parquet",
	    "PAR1rowdata-XYZFOOTERBYTES\x0b\0\0\0PAR1", 34);
	assert_int_equal(datastore_fingerprint(dir, &fp), 0);
	assert_string_equal(fp.digest, FIXTURE_DIGEST);
	put("year=2026/month=2/new.parquet", "n", 1);
	assert_int_equal(datastore_fingerprint(dir, &fp), 0);
	assert_string_not_equal(fp.digest, FIXTURE_DIGEST);
	assert_int_equal(fp.files, 5);
}

static void test_commits(void **state)
{
	json_t *newer = json_array();
	int64_t last = -1;

	assert_int_equal(datastore_commits(dir, 0, 20, &last, NULL), 0);
	assert_int_equal(last, 2);                       /* the .tmp is no record */
	assert_int_equal(datastore_commits(dir, 1, 20, &last, newer), 0);
	assert_int_equal(json_array_size(newer), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(newer, 0), "run_id")), 5);
	json_array_clear(newer);
	assert_int_equal(datastore_commits(dir, 0, 1, &last, newer), 0);   /* the newest MAX */
	assert_int_equal(json_array_size(newer), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(newer, 0), "seq")), 2);
	json_array_clear(newer);
	assert_int_equal(datastore_commits(dir, 2, 20, &last, newer), 0);
	assert_int_equal(json_array_size(newer), 0);
	put("_denverd/commits/00000004.json", "{not json", 9);
	assert_int_equal(datastore_commits(dir, 2, 20, &last, newer), -EBADMSG);
	assert_int_equal(last, 4);
	json_decref(newer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_digest),
		cmocka_unit_test(test_missing_dir_is_empty),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_commits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
