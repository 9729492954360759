/* test_store.c - schema migrations and round trips on a temporary file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

static char *tmp_db(void)
{
	char *dir = strdup("/tmp/denverd-test-XXXXXX");
	char *path;
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&path, "%s/state.db", dir) > 0);
	free(dir);
	return path;
}

static void test_fresh_db_gets_current_schema(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	assert_int_equal(store_open(path, &st, &err), 0);
	assert_null(err);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	store_close(st);
	/* Reopening an up-to-date database applies nothing and keeps the version. */
	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	store_close(st);
	free(path);
}

/* A database left at version 1 is brought forward to the current version,
 * and the v2 index serves the freshness query. */
static void test_forward_migration_from_v1(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(store_open(path, &st, &err), 0);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE diffs DROP COLUMN aged_out; ALTER TABLE diffs DROP COLUMN withdrawn;"
	                              "ALTER TABLE diffs DROP COLUMN window_start;"
	                              "DROP INDEX runs_ok_by_target; DROP TABLE source_changes;"
	                              "DROP TABLE spark_server; DROP TABLE s3_parts; DROP TABLE s3_uploads;"
	                              "PRAGMA user_version = 1", 0, 0, 0), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT max(ended) FROM runs"
	                 " WHERE target = 'x' AND kind = 'dataset'"
	                 " AND state IN ('succeeded', 'unchanged')", -1, &s, 0), SQLITE_OK);
	bool uses_index = false;
	while (sqlite3_step(s) == SQLITE_ROW)
		if (strstr((const char *)sqlite3_column_text(s, 3), "runs_ok_by_target"))
			uses_index = true;
	assert_true(uses_index);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
}

/* A database of version 2 (before source_changes) gets the table and its
 * index, keeps its rows, and takes a change. */
static void test_forward_migration_from_v2(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(store_open(path, &st, &err), 0);
	assert_true(store_event_add(st, 1234, "info", "run.state", "traffic", 0, NULL,
	                            "kept") > 0);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE diffs DROP COLUMN aged_out; ALTER TABLE diffs DROP COLUMN withdrawn;"
	                              "ALTER TABLE diffs DROP COLUMN window_start;"
	                              "DROP TABLE source_changes; DROP TABLE spark_server;"
	                              "DROP TABLE s3_parts; DROP TABLE s3_uploads;"
	                              "PRAGMA user_version = 2", 0, 0, 0), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	struct store_change c = { .dataset = "traffic", .observed_at = 5000,
	                          .kind = "bytes", .value = "h", .run_id = 1 };
	assert_true(store_change_add(st, &c) > 0);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM events),"
	                 " (SELECT count(*) FROM sqlite_master WHERE type = 'index'"
	                 "  AND name = 'source_changes_by_dataset')", -1, &s, 0), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	assert_int_equal(sqlite3_column_int(s, 1), 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
}

/* A database of version 3 gets the managed Spark server's row (migration
 * 4): one row at most, replaced, read back, cleared. */
static void test_forward_migration_from_v3_spark_server(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	sqlite3 *db;
	uint64_t start = 0;
	int pgid = 0;

	assert_int_equal(store_open(path, &st, &err), 0);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE diffs DROP COLUMN aged_out; ALTER TABLE diffs DROP COLUMN withdrawn;"
	                              "ALTER TABLE diffs DROP COLUMN window_start;"
	                              "DROP TABLE spark_server; DROP TABLE s3_parts; DROP TABLE s3_uploads;"
	                              "PRAGMA user_version = 3", 0,
	                              0, 0), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	assert_int_equal(store_spark_get(st, &pgid, &start), -ENOENT);
	assert_int_equal(store_spark_set(st, 4242, 777, 1000), 0);
	assert_int_equal(store_spark_set(st, 4343, 888, 2000), 0);
	assert_int_equal(store_spark_get(st, &pgid, &start), 0);
	assert_int_equal(pgid, 4343);
	assert_int_equal(start, 888);
	assert_int_equal(store_spark_clear(st), 0);
	assert_int_equal(store_spark_get(st, &pgid, &start), -ENOENT);
	store_close(st);
	free(path);
}

static void test_newer_schema_is_refused(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", 0, 0, 0), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, &st, &err), -EPROTO);
	assert_null(st);
	assert_non_null(err);
	assert_non_null(strstr(err, "newer denverd (schema version 999"));
	free(err);
	free(path);
}

static void test_garbage_file_is_refused(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 512; i++)
		fputs("this is not an SQLite database\n", f);
	fclose(f);
	assert_true(store_open(path, &st, &err) < 0);
	assert_null(st);
	assert_non_null(err);
	assert_non_null(strstr(err, path));
	free(err);
	free(path);
}

static void test_wal_and_event_round_trip(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(store_open(path, &st, &err), 0);
	int64_t id = store_event_add(st, 1234, "info", "run.state", "traffic_accidents",
	                             7, "fetch", "fetch started");
	assert_true(id > 0);
	store_close(st);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, 0), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT ts, dataset, run_id, task, message"
	                                    " FROM events WHERE id = ?", -1, &s, 0), SQLITE_OK);
	sqlite3_bind_int64(s, 1, id);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(s, 0), 1234);
	assert_string_equal((const char *)sqlite3_column_text(s, 1), "traffic_accidents");
	assert_int_equal(sqlite3_column_int64(s, 2), 7);
	assert_string_equal((const char *)sqlite3_column_text(s, 3), "fetch");
	assert_string_equal((const char *)sqlite3_column_text(s, 4), "fetch started");
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
}

/* quick_check passes a sound store and quotes SQLite on a damaged one, on
 * one line: a page of events (the last page of the file, where the rows
 * were appended) gets an invalid b-tree page type. */
static void test_quick_check_finds_a_damaged_page(void **state)
{
	char *path = tmp_db(), *err = NULL, msg[200];
	struct store *st;
	long size;
	FILE *f;

	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_quick_check(st, &err), 0);
	assert_null(err);
	memset(msg, 'x', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	for (int i = 0; i < 500; i++)
		assert_true(store_event_add(st, i, "info", "t", NULL, 0, NULL, msg) > 0);
	store_close(st);           /* the last connection: checkpoints the WAL */

	assert_non_null(f = fopen(path, "r+b"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 8 * 4096);
	assert_int_equal(fseek(f, size - 4096, SEEK_SET), 0);
	assert_int_equal(fputc(0x42, f), 0x42);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_quick_check(st, &err), -EIO);
	assert_non_null(err);
	assert_non_null(strstr(err, "btreeInitPage() returns error code 11"));
	assert_null(strchr(err, '\n'));
	assert_null(strstr(err, "*** in database"));
	free(err);
	store_close(st);
	free(path);
}

/* An interrupt that comes before the check starts still stops it. */
static void test_quick_check_interrupted_before_it_starts(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;

	assert_int_equal(store_open(path, &st, &err), 0);
	store_interrupt(st);
	assert_int_equal(store_quick_check(st, &err), -EINTR);
	assert_null(err);
	store_close(st);
	free(path);
}

static int count_rows(void *arg, const struct store_metric_row *row)
{
	*(double *)arg += row->value;
	return 0;
}

/* A reader sees what the writer committed, cannot write, and is refused
 * for a store without a file, with the reason in the writer's errmsg. */
static void test_reader_connection(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st, *r, *mem;
	double runs = 0;
	struct store_run run = { .target = "t", .kind = "dataset", .exec_date = "2026-01-01",
	                         .trigger = "manual", .state = "queued", .created = 1 };
	int64_t id;

	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_reader_open(st, &r), 0);
	assert_int_equal(store_run_add(st, &run, &id), 0);
	assert_int_equal(store_metric_rows(r, STORE_METRIC_RUNS, count_rows, &runs), 0);
	assert_true(runs == 1);
	assert_true(store_event_add(r, 1, "info", "t", NULL, 0, NULL, "m") == -EIO);
	assert_non_null(strstr(store_errmsg(r), "readonly"));
	assert_int_equal(store_quick_check(r, &err), 0);
	store_close(r);

	assert_int_equal(store_open(":memory:", &mem, &err), 0);
	assert_int_equal(store_reader_open(mem, &r), -EINVAL);
	assert_null(r);
	assert_string_equal(store_errmsg(mem), "the store has no file to open a reader on");
	store_close(mem);
	store_close(st);
	free(path);
}

/* The S3 uploads of migration 6: one per dataset and date, parts kept with
 * their opaque hash state, replaced by a new upload, forgotten at the end;
 * a v5 database gets the tables. */
struct got_upload {
	int calls;
	char key[64], id[64], etag[64];
	size_t n;
	unsigned numbers[4];
	unsigned char state[4];
};

static int got_upload_fn(void *arg, const struct store_upload *u,
                         const struct store_upload_part *parts, size_t n)
{
	struct got_upload *g = arg;
	g->calls++;
	snprintf(g->key, sizeof g->key, "%s", u->key);
	snprintf(g->id, sizeof g->id, "%s", u->upload_id);
	snprintf(g->etag, sizeof g->etag, "%s", u->etag ? u->etag : "(null)");
	g->n = n;
	for (size_t i = 0; i < n && i < 4; i++) {
		g->numbers[i] = parts[i].number;
		assert_int_equal(parts[i].hash_state_len, 4);
		memcpy(g->state, parts[i].hash_state, 4);
	}
	return 1;
}

static int count_ids(void *arg, const char *id, const char *key)
{
	(*(int *)arg)++;
	return 0;
}

static void test_uploads(void **state)
{
	char *path = tmp_db(), *err = NULL;
	struct store *st;
	sqlite3 *db;
	struct got_upload g = { 0 };
	int ids = 0;

	assert_int_equal(store_open(path, &st, &err), 0);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE s3_parts; DROP TABLE s3_uploads;"
	                              "PRAGMA user_version = 5", 0, 0, 0), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);

	struct store_upload u = { .dataset = "ds", .exec_date = "2026-11-24", .key = "p/k",
	                          .upload_id = "U1", .url = "http://x/a", .etag = "\"e1\"",
	                          .total = 100 };
	assert_int_equal(store_upload_get(st, "ds", "2026-11-24", got_upload_fn, &g), 0);
	assert_int_equal(g.calls, 0);
	assert_int_equal(store_upload_begin(st, &u), 0);
	struct store_upload_part p = { .number = 2, .etag = "bb", .size = 8, .end = 16,
	                               .hash_state = "\x01\x02\x03\x04", .hash_state_len = 4 };
	assert_int_equal(store_upload_part(st, "U1", &p), 0);
	p.number = 1;
	p.end = 8;
	assert_int_equal(store_upload_part(st, "U1", &p), 0);
	assert_int_equal(store_upload_part(st, "nobody", &p), 0);   /* no row: ignored */
	assert_int_equal(store_upload_get(st, "ds", "2026-11-24", got_upload_fn, &g), 1);
	assert_string_equal(g.key, "p/k");
	assert_string_equal(g.id, "U1");
	assert_int_equal(g.n, 2);
	assert_int_equal(g.numbers[0], 1);
	assert_int_equal(g.numbers[1], 2);
	assert_memory_equal(g.state, "\x01\x02\x03\x04", 4);
	/* A reset keeps the upload with new validators, without parts. */
	u.etag = "\"e2\"";
	assert_int_equal(store_upload_reset(st, &u), 0);
	assert_int_equal(store_upload_get(st, "ds", "2026-11-24", got_upload_fn, &g), 1);
	assert_int_equal(g.n, 0);
	assert_string_equal(g.etag, "\"e2\"");
	/* A new upload replaces the old one and its parts. */
	assert_int_equal(store_upload_part(st, "U1", &p), 0);
	u.upload_id = "U2";
	assert_int_equal(store_upload_begin(st, &u), 0);
	assert_int_equal(store_upload_get(st, "ds", "2026-11-24", got_upload_fn, &g), 1);
	assert_string_equal(g.id, "U2");
	assert_int_equal(g.n, 0);
	assert_int_equal(store_upload_ids(st, count_ids, &ids), 0);
	assert_int_equal(ids, 1);
	assert_int_equal(store_upload_end(st, "U2"), 0);
	g.calls = 0;
	assert_int_equal(store_upload_get(st, "ds", "2026-11-24", got_upload_fn, &g), 0);
	assert_int_equal(g.calls, 0);
	store_close(st);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_db_gets_current_schema),
		cmocka_unit_test(test_forward_migration_from_v1),
		cmocka_unit_test(test_forward_migration_from_v2),
		cmocka_unit_test(test_forward_migration_from_v3_spark_server),
		cmocka_unit_test(test_uploads),
		cmocka_unit_test(test_newer_schema_is_refused),
		cmocka_unit_test(test_garbage_file_is_refused),
		cmocka_unit_test(test_wal_and_event_round_trip),
		cmocka_unit_test(test_quick_check_finds_a_damaged_page),
		cmocka_unit_test(test_quick_check_interrupted_before_it_starts),
		cmocka_unit_test(test_reader_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
