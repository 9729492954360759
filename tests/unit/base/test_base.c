/* test_base.c - list.h, strtable.h and fsutil.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/list.h"
#include "base/macro.h"
#include "base/strtable.h"

/* ---- list.h ---- */

struct item {
	int v;
	LIST_FIELDS(struct item, by);
};

/* The values of the list at HEAD, forwards and checked backwards. */
static void expect(struct item *head, struct item *tail, const int *want, size_t n)
{
	struct item *i, *last = NULL;
	size_t k = 0;
	LIST_FOREACH(by, i, head) {
		assert_true(k < n);
		assert_int_equal(i->v, want[k++]);
		assert_ptr_equal(i->by_prev, last);
		last = i;
	}
	assert_int_equal(k, n);
	if (tail)
		assert_ptr_equal(tail, last);
}

static void test_list_prepend_remove(void **state)
{
	struct item it[4] = { { .v = 0 }, { .v = 1 }, { .v = 2 }, { .v = 3 } };
	struct item *head = NULL;
	for (int k = 0; k < 4; k++)
		LIST_PREPEND(by, head, &it[k]);
	expect(head, NULL, (int[]){ 3, 2, 1, 0 }, 4);
	LIST_REMOVE(by, head, &it[3]);            /* the head */
	LIST_REMOVE(by, head, &it[1]);            /* the middle */
	assert_null(it[1].by_next);
	assert_null(it[1].by_prev);
	expect(head, NULL, (int[]){ 2, 0 }, 2);
	LIST_REMOVE(by, head, &it[0]);            /* the last */
	LIST_REMOVE(by, head, &it[2]);
	assert_null(head);
}

static void test_list_tail(void **state)
{
	struct item it[5] = { { .v = 0 }, { .v = 1 }, { .v = 2 }, { .v = 3 }, { .v = 4 } };
	struct item *head = NULL, *tail = NULL;
	LIST_APPEND_TAIL(by, head, tail, &it[1]);
	LIST_APPEND_TAIL(by, head, tail, &it[3]);
	LIST_PREPEND_TAIL(by, head, tail, &it[0]);
	LIST_INSERT_AFTER_TAIL(by, head, tail, &it[1], &it[2]);
	LIST_INSERT_AFTER_TAIL(by, head, tail, &it[3], &it[4]);
	expect(head, tail, (int[]){ 0, 1, 2, 3, 4 }, 5);
	LIST_REMOVE_TAIL(by, head, tail, &it[4]);
	LIST_REMOVE_TAIL(by, head, tail, &it[0]);
	expect(head, tail, (int[]){ 1, 2, 3 }, 3);
	struct item *i, *n;
	LIST_FOREACH_SAFE(by, i, n, head)
		LIST_REMOVE_TAIL(by, head, tail, i);
	assert_null(head);
	assert_null(tail);
	LIST_INSERT_AFTER_TAIL(by, head, tail, (struct item *)NULL, &it[2]);
	expect(head, tail, (int[]){ 2 }, 1);
}

/* ---- strtable.h ---- */

enum colour { RED, GREEN, BLUE, UNNAMED };
static const char *const colour_table[] = { [RED] = "red", [GREEN] = "green", [BLUE] = "blue",
                                            [UNNAMED] = NULL };
STRING_TABLE_STATIC(colour, enum colour)

static void test_strtable(void **state)
{
	assert_string_equal(colour_to_string(GREEN), "green");
	assert_null(colour_to_string(UNNAMED));
	assert_null(colour_to_string((enum colour)17));
	assert_int_equal(colour_from_string("blue"), BLUE);
	assert_int_equal(colour_from_string("Blue"), -1);
	assert_int_equal(colour_from_string(NULL), -1);
	assert_int_equal(ARRAY_SIZE(colour_table), 4);
}

/* ---- fsutil.h ---- */

static char tmpdir[] = "/tmp/test_base.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_mkdir_p(void **state)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof p, "%s/a//b/c", tmpdir);
	assert_int_equal(mkdir_p(p, 0750), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mkdir_p(p, 0750), 0);            /* again: fine */
	assert_int_equal(make_dir(p, 0750), 0);
	snprintf(p, sizeof p, "%s/file", tmpdir);
	assert_int_equal(write_atomic(p, "x", 1, 0640), 0);
	snprintf(p, sizeof p, "%s/file/below", tmpdir);
	assert_int_equal(mkdir_p(p, 0750), -ENOTDIR);
	assert_int_equal(mkdir_p("", 0750), -ENAMETOOLONG);
}

static void test_mkdir_below(void **state)
{
	char base[PATH_MAX], p[PATH_MAX + 16];
	struct stat st;
	snprintf(base, sizeof base, "%s/state", tmpdir);
	assert_int_equal(mkdir_below(base, "quarantine/ds", 0750), -ENOENT);   /* no BASE */
	assert_int_equal(access(base, F_OK), -1);                             /* not made */
	assert_int_equal(make_dir(base, 0750), 0);
	assert_int_equal(mkdir_below(base, "quarantine/ds", 0750), 0);
	snprintf(p, sizeof p, "%s/quarantine/ds", base);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mkdir_below(base, "quarantine/ds", 0750), 0);        /* again: fine */
	assert_int_equal(mkdir_below(base, "", 0750), -ENAMETOOLONG);
}

static void test_path_parent(void **state)
{
	char out[8];
	assert_int_equal(path_parent("a/b/c", out, sizeof out), 0);
	assert_string_equal(out, "a/b");
	assert_int_equal(path_parent("/x", out, sizeof out), -EINVAL);
	assert_int_equal(path_parent("plain", out, sizeof out), -EINVAL);
	assert_int_equal(path_parent("abcdefghij/k", out, sizeof out), -ENAMETOOLONG);
}

static void test_write_atomic_and_all(void **state)
{
	char p[PATH_MAX], tmp[PATH_MAX + 8], got[16] = { 0 };
	struct stat st;
	snprintf(p, sizeof p, "%s/atomic", tmpdir);
	assert_int_equal(write_atomic(p, "first", 5, 0600), 0);
	assert_int_equal(write_atomic(p, "second", 6, 0600), 0);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof got), 6);
	assert_string_equal(got, "second");
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	assert_int_equal(access(tmp, F_OK), -1);          /* no temp file left */
	assert_int_equal(write_all(fd, "XY", 2, 1), 0);   /* pwrite at 1 */
	assert_int_equal(write_all(fd, "!", 1, FSUTIL_APPEND), 0);
	close(fd);
	fd = open(p, O_RDONLY);
	memset(got, 0, sizeof got);
	assert_int_equal(read(fd, got, sizeof got), 7);
	assert_string_equal(got, "sXYond!");
	close(fd);
	assert_int_equal(fsync_dir(tmpdir), 0);
	assert_int_equal(fsync_dir(p), -ENOTDIR);
	snprintf(p, sizeof p, "%s/missing/dir/file", tmpdir);
	assert_int_equal(write_atomic(p, "x", 1, 0600), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_prepend_remove),
		cmocka_unit_test(test_list_tail),
		cmocka_unit_test(test_strtable),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_mkdir_below),
		cmocka_unit_test(test_path_parent),
		cmocka_unit_test(test_write_atomic_and_all),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
