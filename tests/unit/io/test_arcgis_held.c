/* test_arcgis_held.c - the held snapshot of S3 mode (io/arcgis.h,
 * arcgis_held.c) on a real temporary directory: its paths and file:// URL
 * (percent-encoded), that only a held file with a stamp beside it counts,
 * the stamp kept and read back, and removal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/fsutil.h"
#include "io/arcgis.h"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_paths_and_url(void **state)
{
	struct arcgis_held h;
	(void)state;
	assert_int_equal(arcgis_held_init(&h, "/var/lib/den verd%", "traffic", "2026-12-01"), 0);
	assert_string_equal(h.path, "/var/lib/den verd%/staging/.partial/traffic.2026-12-01.held");
	assert_string_equal(h.stamp_path,
	                    "/var/lib/den verd%/staging/.partial/traffic.2026-12-01.held.stamp");
	assert_string_equal(h.url,
	                    "file:///var/lib/den%20verd%25/staging/.partial/traffic.2026-12-01.held");
	arcgis_held_clear(&h);
	assert_null(h.path);
	arcgis_held_clear(&h);                     /* twice is harmless */
	assert_int_equal(arcgis_held_init(&h, "relative/dir", "traffic", "2026-12-01"), -EINVAL);
	assert_null(h.url);
}

static void test_found_only_with_its_stamp(void **state)
{
	char dir[] = "/tmp/held-XXXXXX", sub[64];
	struct arcgis_stamp s = { .data_edit_ms = 1764547200000LL, .schema_edit_ms = -1,
	                          .count = 40000, .digest = "00112233445566778899aabbccddeeff" };
	struct arcgis_stamp got;
	struct arcgis_held h;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof sub, "%s/staging/.partial", dir);
	assert_int_equal(mkdir_p(sub, 0755), 0);
	assert_int_equal(arcgis_held_init(&h, dir, "traffic", "2026-12-01"), 0);

	assert_int_equal(arcgis_held_find(&h, &got), -ENOENT);        /* nothing */
	put(h.path, "a,b\r\n1,2\r\n");
	assert_int_equal(arcgis_held_find(&h, &got), -ENOENT);        /* no stamp yet */
	put(h.stamp_path, "an http etag");
	assert_int_equal(arcgis_held_find(&h, &got), -ENOENT);        /* not a stamp */
	assert_int_equal(arcgis_held_keep(&h, &s), 0);
	assert_int_equal(arcgis_held_find(&h, &got), 0);
	assert_int_equal(got.data_edit_ms, s.data_edit_ms);
	assert_int_equal(got.count, 40000);
	assert_string_equal(got.digest, s.digest);

	assert_int_equal(unlink(h.path), 0);                          /* a stamp alone */
	assert_int_equal(arcgis_held_find(&h, &got), -ENOENT);
	put(h.path, "a,b\r\n");
	arcgis_held_remove(NULL, &h);
	assert_int_equal(access(h.path, F_OK), -1);
	assert_int_equal(access(h.stamp_path, F_OK), -1);
	arcgis_held_remove(NULL, &h);                                       /* nothing there */
	arcgis_held_clear(&h);
	assert_int_equal(remove_dir_flat(sub, 16), 0);              /* empty: the
	                                                               temp is gone */
	snprintf(sub, sizeof sub, "%s/staging", dir);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_and_url),
		cmocka_unit_test(test_found_only_with_its_stamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
