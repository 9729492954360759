/* test_snapshots.c - store functions of the fetch section and retention,
 * on a real SQLite file and real partition directories. */
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
#include <sqlite3.h>
#include <uv.h>

#include "engine/tasks/retain.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	char *db_path;
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	char *err = NULL;
	sqlite3 *db;

	snprintf(fx->dir, sizeof fx->dir, "/tmp/denverd-snap-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_true(asprintf(&fx->db_path, "%s/state.db", fx->dir) > 0);
	assert_int_equal(store_open(fx->db_path, &fx->st, &err), 0);
	/* Snapshots reference runs(id); the scheduler owns run creation, so the
	 * test makes its runs directly. */
	assert_int_equal(sqlite3_open(fx->db_path, &db), SQLITE_OK);
	for (int i = 1; i <= 9; i++) {
		char sql[256];
		snprintf(sql, sizeof sql, "INSERT INTO runs(id, target, kind, exec_date, trigger,"
		         " state, created) VALUES (%d, 'ds', 'dataset', '2026-11-0%d',"
		         " 'manual', 'running', 0)", i, i);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(db);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];
	store_close(fx->st);
	snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx->db_path);
	free(fx);
	return 0;
}

/* Publish a fake snapshot of exec date 2026-11-0<DAY> on disk and in the
 * store; returns its id. */
static int64_t publish(struct fixture *fx, int day, const char *etag)
{
	char date[16], dir[256], path[300], keys[300], hash[40];
	struct store_snapshot s = { 0 };
	FILE *f;

	snprintf(date, sizeof date, "2026-11-0%d", day);
	snprintf(dir, sizeof dir, "%s/staging/ds/exec_date=%s", fx->dir, date);
	snprintf(path, sizeof path, "%s/data.csv", dir);
	snprintf(keys, sizeof keys, "%s/.keys", dir);
	snprintf(hash, sizeof hash, "%032d", day);
	char staging[200], ds[220];
	snprintf(staging, sizeof staging, "%s/staging", fx->dir);
	snprintf(ds, sizeof ds, "%s/staging/ds", fx->dir);
	mkdir(staging, 0755);
	mkdir(ds, 0755);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_non_null(f = fopen(path, "w"));
	fputs("a,b\n", f);
	fclose(f);
	assert_non_null(f = fopen(keys, "w"));
	fclose(f);
	s.run_id = day;
	s.dataset = "ds";
	s.exec_date = date;
	s.path = path;
	s.bytes = 4;
	s.hash = hash;
	s.url = "http://x/data.csv";
	s.etag = (char *)etag;
	s.last_modified = "Tue, 24 Nov 2026 06:00:00 GMT";
	s.rows = -1;
	s.published = 1000 + day;
	int64_t id = store_snapshot_add(fx->st, &s);
	assert_true(id > 0);
	return id;
}

static void test_last_snapshot_and_validators(void **state)
{
	struct fixture *fx = *state;
	struct store_snapshot s;

	assert_int_equal(store_snapshot_last(fx->st, "ds", &s), -ENOENT);
	publish(fx, 1, "\"e1\"");
	int64_t id2 = publish(fx, 2, "\"e2\"");
	assert_int_equal(store_snapshot_last(fx->st, "ds", &s), 0);
	assert_int_equal(s.id, id2);
	assert_int_equal(s.run_id, 2);
	assert_string_equal(s.exec_date, "2026-11-02");
	assert_string_equal(s.hash, "00000000000000000000000000000002");
	assert_string_equal(s.etag, "\"e2\"");
	assert_string_equal(s.state, "published");
	assert_int_equal(s.rows, -1);
	assert_int_equal(s.bytes, 4);
	assert_int_equal(s.published, 1002);
	store_snapshot_clear(&s);

	/* An unchanged fetch brought new validators: they win. */
	assert_int_equal(store_validators_set(fx->st, "ds", "\"e3\"", NULL, 5), 0);
	assert_int_equal(store_snapshot_last(fx->st, "ds", &s), 0);
	assert_string_equal(s.etag, "\"e3\"");
	assert_null(s.last_modified);
	assert_int_equal(s.id, id2);
	store_snapshot_clear(&s);

	/* Other datasets are apart; the datasets row is upserted. */
	assert_int_equal(store_snapshot_last(fx->st, "other", &s), -ENOENT);
	assert_int_equal(store_validators_set(fx->st, "other", "\"o\"", "lm", 5), 0);
	assert_int_equal(store_snapshot_last(fx->st, "other", &s), -ENOENT);
	assert_int_equal(store_snapshot_set_state(fx->st, 999, "removed"), -ENOENT);
}

static void test_snapshot_add_is_all_or_nothing(void **state)
{
	struct fixture *fx = *state;
	struct store_snapshot s = { .run_id = 999, .dataset = "ds", .exec_date = "2026-11-01",
	                            .path = "/x/exec_date=2026-11-01/f", .bytes = 1,
	                            .hash = "h", .etag = "\"bad\"", .rows = -1, .published = 1 };
	struct store_snapshot last;

	/* No such run: the insert fails, and the validators stay unset. */
	assert_int_equal(store_snapshot_add(fx->st, &s), -EIO);
	assert_int_equal(store_validators_set(fx->st, "probe", NULL, NULL, 1), 0);
	publish(fx, 1, "\"good\"");
	assert_int_equal(store_snapshot_add(fx->st, &s), -EIO);
	assert_int_equal(store_snapshot_last(fx->st, "ds", &last), 0);
	assert_string_equal(last.etag, "\"good\"");
	store_snapshot_clear(&last);

	/* Inside the caller's transaction: its rollback undoes the snapshot. */
	s.run_id = 2;
	assert_int_equal(store_begin(fx->st), 0);
	assert_true(store_snapshot_add(fx->st, &s) > 0);
	store_rollback(fx->st);
	assert_int_equal(store_snapshot_last(fx->st, "ds", &last), 0);
	assert_string_equal(last.exec_date, "2026-11-01");
	assert_string_equal(last.etag, "\"good\"");
	assert_int_equal(last.run_id, 1);
	store_snapshot_clear(&last);
}

static void retained(int removed, const char *error, void *arg)
{
	int *out = arg;
	if (error)
		fail_msg("retention: %s", error);
	*out = removed;
}

static int run_retention(struct fixture *fx, unsigned keep)
{
	uv_loop_t loop;
	int removed = -1;
	uv_loop_init(&loop);
	assert_int_equal(retain_snapshots(&loop, fx->st, NULL, NULL, "ds", keep, retained, &removed), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return removed;
}

static bool partition_exists(struct fixture *fx, int day)
{
	char dir[256];
	struct stat st;
	snprintf(dir, sizeof dir, "%s/staging/ds/exec_date=2026-11-0%d", fx->dir, day);
	return stat(dir, &st) == 0;
}

static void test_retention_keeps_newest(void **state)
{
	struct fixture *fx = *state;
	struct store_snapshot *list;
	size_t n;

	/* Published out of order: retention goes by exec date, not by id. */
	int64_t id3 = publish(fx, 3, NULL);
	publish(fx, 1, NULL);
	publish(fx, 4, NULL);
	publish(fx, 2, NULL);
	assert_int_equal(run_retention(fx, 2), 2);
	assert_false(partition_exists(fx, 1));
	assert_false(partition_exists(fx, 2));
	assert_true(partition_exists(fx, 3));
	assert_true(partition_exists(fx, 4));
	assert_int_equal(store_snapshots_published(fx->st, "ds", &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].exec_date, "2026-11-04");
	assert_string_equal(list[1].exec_date, "2026-11-03");
	assert_int_equal(list[1].id, id3);
	store_snapshots_free(list, n);

	/* Nothing more to do: a second pass removes nothing. */
	assert_int_equal(run_retention(fx, 2), 0);
	/* keep 0 still keeps the newest good snapshot. */
	assert_int_equal(run_retention(fx, 0), 1);
	assert_true(partition_exists(fx, 4));
	assert_false(partition_exists(fx, 3));
	assert_int_equal(store_snapshots_published(fx->st, "ds", &list, &n), 0);
	assert_int_equal(n, 1);
	store_snapshots_free(list, n);
	assert_int_equal(run_retention(fx, 0), 0);
	assert_true(partition_exists(fx, 4));
}

static void test_retention_leaves_foreign_paths(void **state)
{
	struct fixture *fx = *state;
	struct store_snapshot s = { .run_id = 5, .dataset = "ds", .exec_date = "2026-11-05",
	                            .path = "/etc/passwd", .bytes = 1, .hash = "h",
	                            .rows = -1, .published = 1 };
	struct store_snapshot *list;
	size_t n;

	/* A row whose path is not <...>/exec_date=D/<file> never leads to a
	 * directory removal, even when it is old enough to go. */
	assert_true(store_snapshot_add(fx->st, &s) > 0);
	publish(fx, 6, NULL);
	publish(fx, 7, NULL);
	assert_int_equal(run_retention(fx, 1), 1);
	assert_true(partition_exists(fx, 7));
	assert_false(partition_exists(fx, 6));
	assert_int_equal(access("/etc/passwd", F_OK), 0);
	assert_int_equal(store_snapshots_published(fx->st, "ds", &list, &n), 0);
	assert_int_equal(n, 2);     /* the 07 partition, and the foreign row */
	store_snapshots_free(list, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_last_snapshot_and_validators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_add_is_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_keeps_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_leaves_foreign_paths, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
