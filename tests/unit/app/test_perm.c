/* test_perm.c - who may change the configuration: real files and modes in a
 * temporary directory under /tmp (sticky, so the walk up to / passes). */
#include <errno.h>
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

#include "app/perm.h"

struct fixture {
	char dir[64];        /* /tmp/perm-XXXXXX, mode 0755 */
	char sub[96];        /* dir/etc */
	char file[128];      /* dir/etc/denverd.yaml */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/perm-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	chmod(f->dir, 0755);
	snprintf(f->sub, sizeof f->sub, "%s/etc", f->dir);
	snprintf(f->file, sizeof f->file, "%s/denverd.yaml", f->sub);
	if (mkdir(f->sub, 0755) < 0)
		return -1;
	FILE *fp = fopen(f->file, "w");
	if (!fp)
		return -1;
	fputs("state_dir: /var/lib/denverd\n", fp);
	fclose(fp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char link[160];
	snprintf(link, sizeof link, "%s/link.yaml", f->dir);
	unlink(link);
	unlink(f->file);
	rmdir(f->sub);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Each case sets the file and directory modes, then expects RC and, on
 * -EPERM, a phrase in the message. */
static const struct {
	mode_t file_mode, dir_mode;
	bool secret;
	int rc;
	const char *phrase;
	bool about_dir;      /* the message names the directory, not the file */
} cases[] = {
	{ 0644, 0755, false, 0, NULL, false },
	{ 0600, 0700, true, 0, NULL, false },
	{ 0640, 0750, true, 0, NULL, false },
	{ 0664, 0755, false, -EPERM, "is writable by group", false },
	{ 0646, 0755, false, -EPERM, "is writable by everyone", false },
	{ 0644, 0775, false, -EPERM, "is writable by group", true },
	{ 0644, 0777, false, -EPERM, "is writable by everyone", true },
	{ 0644, 01777, false, 0, NULL, false },       /* sticky, like /tmp */
	{ 0644, 0755, true, -EPERM, "readable by everyone", false },
	{ 0646, 01777, false, -EPERM, "is writable by everyone", false },
};

static void test_modes(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char why[512] = "untouched";
		assert_int_equal(chmod(f->file, cases[i].file_mode), 0);
		assert_int_equal(chmod(f->sub, cases[i].dir_mode), 0);
		int rc = perm_check_trusted(f->file, geteuid(), cases[i].secret,
		                            why, sizeof why);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, why);
		if (cases[i].phrase) {
			if (!strstr(why, cases[i].phrase))
				fail_msg("case %zu: %s", i, why);
			const char *who = cases[i].about_dir ? f->sub : f->file;
			assert_memory_equal(why, who, strlen(who));
			assert_int_equal(why[strlen(who)], ' ');
		} else {
			assert_string_equal(why, "");
		}
	}
}

static void test_owner(void **state)
{
	struct fixture *f = *state;
	char why[512];
	if (geteuid() != 0)
		skip();
	chmod(f->file, 0644);
	chmod(f->sub, 0755);
	assert_int_equal(chown(f->file, 65534, 65534), 0);
	assert_int_equal(perm_check_trusted(f->file, 0, false, why, sizeof why), -EPERM);
	assert_non_null(strstr(why, "is owned by uid 65534"));
	/* The daemon's own uid may own it. */
	assert_int_equal(perm_check_trusted(f->file, 65534, false, why, sizeof why), 0);
	assert_int_equal(chown(f->file, 0, 0), 0);
}

static void test_symlink_is_judged_by_its_target(void **state)
{
	struct fixture *f = *state;
	char link[160], why[512];
	snprintf(link, sizeof link, "%s/link.yaml", f->dir);
	assert_int_equal(symlink(f->file, link), 0);
	chmod(f->sub, 0755);
	chmod(f->file, 0664);
	assert_int_equal(perm_check_trusted(link, geteuid(), false, why, sizeof why), -EPERM);
	assert_non_null(strstr(why, f->file));
	chmod(f->file, 0644);
	assert_int_equal(perm_check_trusted(link, geteuid(), false, why, sizeof why), 0);
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[160], why[16];
	snprintf(path, sizeof path, "%s/absent.yaml", f->sub);
	/* A short buffer still gets a terminated message. */
	assert_int_equal(perm_check_trusted(path, 0, false, why, sizeof why), -ENOENT);
	assert_int_equal(strlen(why), sizeof why - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_is_judged_by_its_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
