/* test_cmd_dq.c - data-quality results in a real store file (saved from
 * real dq_run reports the way the check task saves them) and the dq, diff
 * and promote commands over a real control socket, promote moving real
 * directories. */
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
#include <jansson.h>

#include "apifix.h"
#include "quality/dq.h"
#include "api/cmd_dq.h"
#include "engine/tasks/task_check.h"
#include "store/store.h"

static void write_file(const char *path, const char *text)
{
	assert_int_equal(apifix_write(path, text), 0);
}

static int setup(void **state)
{
	struct apifix *f = apifix_open(
	        "datasets:\n  d:\n    url: https://example.org/d.csv\n"
	        "    schedule: \"0 6 * * *\"\n"
	        "    schema:\n      key: [id]\n      columns:\n"
	        "        - {name: id, type: int}\n        - {name: val, type: string}\n"
	        "    checks:\n      rows: {type: row_count, min: 3}\n"
	        "      u: {type: unique, severity: warn}\n"
	        "jobs:\n  report: {after: [d], command: [\"true\"]}\n");

	*state = f;
	return f && cmd_dq_init(&f->d) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return apifix_close(*state);
}

/* Send REQUEST; the reply's result (ok) or error (not ok) as a new ref. */
static json_t *call(struct apifix *f, const char *request, bool want_ok)
{
	json_t *out = ctlcall_json(&f->loop, f->sock, request, want_ok);

	if (!out)
		fail_msg("%s: no reply, or not ok=%d", request, want_ok);
	return out;
}

static void expect_error(struct apifix *f, const char *request, const char *code)
{
	json_t *e = call(f, request, false);
	assert_string_equal(json_string_value(json_object_get(e, "code")), code);
	json_decref(e);
}

static int count(struct apifix *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int n = -1;
	assert_int_equal(sqlite3_open(f->t.db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* The one text value SQL selects, into OUT. */
static void text_of(struct apifix *f, const char *sql, char *out, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(f->t.db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, len, "%s", sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0)
	                                                   : "NULL");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static int64_t add_run(struct apifix *f, const char *target, const char *kind,
                       const char *date)
{
	struct store_run r = { .target = target, .kind = kind, .exec_date = date,
	                       .trigger = "manual", .state = "running", .created = 1 };
	int64_t id;
	assert_int_equal(store_run_add(f->t.st, &r, &id), 0);
	return id;
}

static struct dq_report *check(struct apifix *f, const char *csv, const char *date,
                               const char *prev_keys, const char *keys_out)
{
	char path[256];
	struct dq_input in = { .path = path, .dataset = &f->cfg->datasets[0],
	                       .exec_date = date, .prev_rows = -1, .prev_keys = prev_keys,
	                       .keys_out = keys_out };
	struct dq_report *r;
	char *err = NULL;
	snprintf(path, sizeof path, "%s/%s.csv", f->t.dir, date);
	write_file(path, csv);
	if (dq_run(&in, &r, &err) < 0)
		fail_msg("dq_run: %s", err);
	return r;
}

static void test_results_and_diff(void **state)
{
	struct apifix *f = *state;
	char k1[256], k2[256];
	struct dq_report *r;
	int64_t run1, run2;
	json_t *res, *checks, *v;

	snprintf(k1, sizeof k1, "%s/k1", f->t.dir);
	snprintf(k2, sizeof k2, "%s/k2", f->t.dir);
	run1 = add_run(f, "d", "dataset", "2026-03-09");
	r = check(f, "id,val\n1,a\n2,b\n3,c\n", "2026-03-09", NULL, k1);
	assert_int_equal(task_check_save(f->t.st, run1, 0, r), 0);
	/* Saving again replaces, all or nothing. */
	assert_int_equal(task_check_save(f->t.st, run1, 0, r), 0);
	dq_report_free(r);
	run2 = add_run(f, "d", "dataset", "2026-03-10");
	r = check(f, "id,val\n1,a\n2,B\n4,d\n4,e\n", "2026-03-10", k1, k2);
	assert_int_equal(r->results[1].outcome, DQ_WARN);
	assert_int_equal(task_check_save(f->t.st, run2, run1, r), 0);
	dq_report_free(r);

	res = call(f, "{\"cmd\":\"dq\",\"args\":{\"dataset\":\"d\",\"runs\":5}}", true);
	assert_string_equal(json_string_value(json_object_get(res, "dataset")), "d");
	assert_int_equal(json_array_size(json_object_get(res, "runs")), 2);
	assert_int_equal(json_integer_value(json_object_get(
	        json_array_get(json_object_get(res, "runs"), 0), "run_id")), run2);
	checks = json_object_get(res, "checks");
	assert_int_equal(json_array_size(checks), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(checks, 0), "name")), "rows");
	v = json_object_get(json_array_get(checks, 0), "values");
	assert_int_equal(json_array_size(v), 2);
	assert_true(json_real_value(json_object_get(json_array_get(v, 0), "observed")) == 4);
	assert_true(json_real_value(json_object_get(json_array_get(v, 1), "observed")) == 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "exec_date")),
	                    "2026-03-09");
	v = json_object_get(json_array_get(checks, 1), "values");
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "outcome")), "warn");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(json_array_get(v, 0),
	                 "lines"), 0)), 5);
	json_decref(res);

	/* Only the newest run. */
	res = call(f, "{\"cmd\":\"dq\",\"args\":{\"dataset\":\"d\",\"runs\":1}}", true);
	assert_int_equal(json_array_size(json_object_get(res, "runs")), 1);
	json_decref(res);

	res = call(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\"}}", true);
	assert_int_equal(json_integer_value(json_object_get(res, "run_id")), run2);
	assert_int_equal(json_integer_value(json_object_get(res, "prev_run_id")), run1);
	assert_string_equal(json_string_value(json_object_get(res, "prev_exec_date")), "2026-03-09");
	assert_int_equal(json_integer_value(json_object_get(res, "added")), 2);
	assert_int_equal(json_integer_value(json_object_get(res, "removed")), 1);
	assert_int_equal(json_integer_value(json_object_get(res, "changed")), 1);
	assert_int_equal(json_integer_value(json_object_get(res, "unchanged")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	        json_object_get(res, "examples"), "removed"), 0)), "3");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	        json_object_get(res, "examples"), "changed"), 0)), "2");
	assert_null(json_object_get(json_object_get(res, "examples"), "unchanged"));
	json_decref(res);
	res = call(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\",\"date\":\"2026-03-10\"}}", true);
	assert_int_equal(json_integer_value(json_object_get(res, "run_id")), run2);
	json_decref(res);

	/* The first run had nothing to compare with. */
	expect_error(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\",\"date\":\"2026-03-09\"}}", "ENOENT");
	expect_error(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\",\"date\":\"2026-3-9\"}}", "EINVAL");
	expect_error(f, "{\"cmd\":\"dq\",\"args\":{\"dataset\":\"nope\"}}", "ENOENT");
	expect_error(f, "{\"cmd\":\"dq\",\"args\":{\"dataset\":\"d\",\"runs\":0}}", "EINVAL");
	expect_error(f, "{\"cmd\":\"dq\",\"args\":{}}", "EINVAL");

	/* A store failure is the daemon's error. */
	assert_int_equal(tmpstore_sql(&f->t, "DROP TABLE diffs"), 0);
	expect_error(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\"}}", "EINTERNAL");
}

/* The reply line to REQUEST must be WANT, byte for byte. */
static void expect_reply(struct apifix *f, const char *request, const char *want)
{
	char *reply = ctlcall(&f->loop, f->sock, request);
	assert_non_null(reply);
	assert_string_equal(reply, want);
	free(reply);
}

#define REPLY(result) "{\"v\":1,\"id\":null,\"ok\":true,\"result\":" result "}"

/* The exact reply lines of dq and diff: the shape, the key order and the
 * number forms are the protocol that ctl/ctl_dq.c and scripts read.  Two
 * runs saved from real reports (a warn, a diff), then a third written by
 * hand with what a report never holds: no observed value, threshold or
 * detail, unreadable lines, no previous run, examples without "unchanged"
 * and a key that could not be read back. */
static void test_reply_bytes(void **state)
{
	struct apifix *f = *state;
	char k1[256], k2[256], buf[256];
	struct dq_report *r;

	expect_reply(f, "{\"cmd\":\"dq\",\"args\":{\"dataset\":\"d\"}}",
	             REPLY("{\"dataset\":\"d\",\"runs\":[],\"checks\":[]}"));
	snprintf(k1, sizeof k1, "%s/k1", f->t.dir);
	snprintf(k2, sizeof k2, "%s/k2", f->t.dir);
	assert_int_equal(add_run(f, "d", "dataset", "2026-03-09"), 1);
	r = check(f, "id,val\n1,a\n2,b\n3,c\n", "2026-03-09", NULL, k1);
	assert_int_equal(task_check_save(f->t.st, 1, 0, r), 0);
	dq_report_free(r);
	assert_int_equal(add_run(f, "d", "dataset", "2026-03-10"), 2);
	r = check(f, "id,val\n1,a\n2,B\n4,d\n4,e\n", "2026-03-10", k1, k2);
	assert_int_equal(task_check_save(f->t.st, 2, 1, r), 0);
	dq_report_free(r);
	/* What a saved report leaves in the store's text columns. */
	text_of(f, "SELECT group_concat(check_name || '=' || lines, ' ') FROM dq_results"
	        " WHERE run_id = 2", buf, sizeof buf);
	assert_string_equal(buf, "rows=[] u=[5]");
	text_of(f, "SELECT prev_run_id || ' ' || examples FROM diffs WHERE run_id = 2",
	        buf, sizeof buf);
	assert_string_equal(buf, "1 {\"added\":[\"4\",\"4\"],\"removed\":[\"3\"],"
	                    "\"changed\":[\"2\"],\"aged_out\":[],\"withdrawn\":[],\"unchanged\":1}");
	text_of(f, "SELECT count(*) || ' ' || quote(observed) FROM dq_results WHERE run_id = 1"
	        " AND check_name = 'rows'", buf, sizeof buf);
	assert_string_equal(buf, "1 3.0");

	expect_reply(f, "{\"cmd\":\"dq\",\"args\":{\"dataset\":\"d\"}}", REPLY(
	    "{\"dataset\":\"d\",\"runs\":["
	    "{\"run_id\":2,\"exec_date\":\"2026-03-10\",\"state\":\"running\"},"
	    "{\"run_id\":1,\"exec_date\":\"2026-03-09\",\"state\":\"running\"}],"
	    "\"checks\":["
	    "{\"name\":\"rows\",\"type\":\"row_count\",\"severity\":\"fail\",\"values\":["
	    "{\"run_id\":2,\"exec_date\":\"2026-03-10\",\"outcome\":\"pass\",\"observed\":4.0,"
	    "\"threshold\":\">= 3\",\"detail\":\"4 rows\",\"lines\":[]},"
	    "{\"run_id\":1,\"exec_date\":\"2026-03-09\",\"outcome\":\"pass\",\"observed\":3.0,"
	    "\"threshold\":\">= 3\",\"detail\":\"3 rows\",\"lines\":[]}]},"
	    "{\"name\":\"u\",\"type\":\"unique\",\"severity\":\"warn\",\"values\":["
	    "{\"run_id\":2,\"exec_date\":\"2026-03-10\",\"outcome\":\"warn\",\"observed\":1.0,"
	    "\"threshold\":\"0 duplicate keys\",\"detail\":\"key 4 on lines 4 and 5; 1 duplicate"
	    " keys in 4 keyed rows; 0 rows with no key value\",\"lines\":[5]},"
	    "{\"run_id\":1,\"exec_date\":\"2026-03-09\",\"outcome\":\"pass\",\"observed\":0.0,"
	    "\"threshold\":\"0 duplicate keys\",\"detail\":\"0 duplicate keys in 3 keyed rows;"
	    " 0 rows with no key value\",\"lines\":[]}]}]}"));
	expect_reply(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\"}}", REPLY(
	    "{\"dataset\":\"d\",\"run_id\":2,\"exec_date\":\"2026-03-10\",\"prev_run_id\":1,"
	    "\"prev_exec_date\":\"2026-03-09\",\"added\":2,\"removed\":1,\"changed\":1,"
	    "\"unchanged\":1,\"aged_out\":null,\"withdrawn\":null,\"window_start\":null,"
	    "\"examples\":{\"added\":[\"4\",\"4\"],\"removed\":[\"3\"],"
	    "\"changed\":[\"2\"],\"aged_out\":[],\"withdrawn\":[]}}"));

	assert_int_equal(add_run(f, "d", "dataset", "2026-03-11"), 3);
	assert_int_equal(tmpstore_sql(&f->t,
	        "INSERT INTO dq_results(run_id, check_name, check_type, severity, outcome, lines)"
	        " VALUES (3, 'u', 'unique', 'warn', 'fail', 'not json');"
	        "INSERT INTO diffs(run_id, added, removed, changed, examples)"
	        " VALUES (3, 0, 0, 0, '{\"added\":[],\"removed\":[null],\"changed\":[]}')"), 0);
	/* A check first seen in an older run comes after the newest run's. */
	expect_reply(f, "{\"cmd\":\"dq\",\"args\":{\"dataset\":\"d\",\"runs\":2}}", REPLY(
	    "{\"dataset\":\"d\",\"runs\":["
	    "{\"run_id\":3,\"exec_date\":\"2026-03-11\",\"state\":\"running\"},"
	    "{\"run_id\":2,\"exec_date\":\"2026-03-10\",\"state\":\"running\"}],"
	    "\"checks\":["
	    "{\"name\":\"u\",\"type\":\"unique\",\"severity\":\"warn\",\"values\":["
	    "{\"run_id\":3,\"exec_date\":\"2026-03-11\",\"outcome\":\"fail\",\"observed\":null,"
	    "\"threshold\":null,\"detail\":null,\"lines\":[]},"
	    "{\"run_id\":2,\"exec_date\":\"2026-03-10\",\"outcome\":\"warn\",\"observed\":1.0,"
	    "\"threshold\":\"0 duplicate keys\",\"detail\":\"key 4 on lines 4 and 5; 1 duplicate"
	    " keys in 4 keyed rows; 0 rows with no key value\",\"lines\":[5]}]},"
	    "{\"name\":\"rows\",\"type\":\"row_count\",\"severity\":\"fail\",\"values\":["
	    "{\"run_id\":2,\"exec_date\":\"2026-03-10\",\"outcome\":\"pass\",\"observed\":4.0,"
	    "\"threshold\":\">= 3\",\"detail\":\"4 rows\",\"lines\":[]}]}]}"));
	expect_reply(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\"}}", REPLY(
	    "{\"dataset\":\"d\",\"run_id\":3,\"exec_date\":\"2026-03-11\",\"prev_run_id\":null,"
	    "\"prev_exec_date\":null,\"added\":0,\"removed\":0,\"changed\":0,\"unchanged\":null,"
	    "\"aged_out\":null,\"withdrawn\":null,\"window_start\":null,\"examples\":{\"added\":[],\"removed\":[null],\"changed\":[]}}"));
	expect_reply(f, "{\"cmd\":\"diff\",\"args\":{\"dataset\":\"d\",\"date\":\"2026-03-10\"}}",
	             REPLY("{\"dataset\":\"d\",\"run_id\":2,\"exec_date\":\"2026-03-10\","
	                   "\"prev_run_id\":1,\"prev_exec_date\":\"2026-03-09\",\"added\":2,"
	                   "\"removed\":1,\"changed\":1,\"unchanged\":1,\"aged_out\":null,"
	                   "\"withdrawn\":null,\"window_start\":null,\"examples\":{\"added\":"
	                   "[\"4\",\"4\"],\"removed\":[\"3\"],\"changed\":[\"2\"],"
	                   "\"aged_out\":[],\"withdrawn\":[]}}"));
}

/* A quarantined snapshot (with its .keys) for DATE, as the check task
 * leaves it; returns its run id. */
static int64_t quarantined(struct apifix *f, const char *date)
{
	char path[512], sql[1024];
	int64_t run = add_run(f, "d", "dataset", date);
	snprintf(path, sizeof path, "%s/quarantine/d/exec_date=%s/.keys", f->t.dir, date);
	write_file(path, "keys");
	snprintf(path, sizeof path, "%s/quarantine/d/exec_date=%s/d.csv", f->t.dir, date);
	write_file(path, "id,val\n1,a\n");
	snprintf(sql, sizeof sql, "INSERT INTO snapshots(run_id, dataset, exec_date, path, bytes,"
	         " hash, state, published) VALUES (%lld, 'd', '%s', '%s', 11, 'h', 'quarantined', 1)",
	         (long long)run, date, path);
	assert_int_equal(tmpstore_sql(&f->t, sql), 0);
	return run;
}

static void test_promote(void **state)
{
	struct apifix *f = *state;
	int64_t run = quarantined(f, "2026-03-11"), job = add_run(f, "report", "job", "2026-03-11");
	char req[256], path[512], want[512];
	struct store_dq_snapshot q;
	struct stat sb;
	json_t *res;

	snprintf(req, sizeof req, "{\"cmd\":\"promote\",\"args\":{\"run\":%lld,"
	         "\"reason\":\"checked by hand\"}}", (long long)run);
	res = call(f, req, true);
	snprintf(want, sizeof want, "%s/staging/d/exec_date=2026-03-11/d.csv", f->t.dir);
	assert_string_equal(json_string_value(json_object_get(res, "path")), want);
	assert_string_equal(json_string_value(json_object_get(res, "state")), "promoted");
	json_decref(res);
	assert_int_equal(stat(want, &sb), 0);
	snprintf(path, sizeof path, "%s/staging/d/exec_date=2026-03-11/.keys", f->t.dir);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(path, sizeof path, "%s/quarantine/d/exec_date=2026-03-11", f->t.dir);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(store_dq_quarantined(f->t.st, run, &q), 0);
	assert_string_equal(q.state, "promoted");
	assert_string_equal(q.path, want);
	store_dq_snapshot_clear(&q);

	/* Recorded, with the reason. */
	{
		struct store_run_facts facts;
		assert_int_equal(store_run_facts(f->t.st, run, &facts), 0);
		assert_false(facts.quarantined);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM events WHERE type = 'snapshot.promoted'"
	                 " AND task = 'check' AND message LIKE '%operator: checked by hand'"), 1);

	/* Refusals. */
	res = call(f, req, false);
	assert_string_equal(json_string_value(json_object_get(res, "code")), "ESTATE");
	assert_non_null(strstr(json_string_value(json_object_get(res, "message")),
	                       "is promoted, not quarantined"));
	json_decref(res);
	snprintf(req, sizeof req, "{\"cmd\":\"promote\",\"args\":{\"run\":%lld}}", (long long)job);
	expect_error(f, req, "ESTATE");
	expect_error(f, "{\"cmd\":\"promote\",\"args\":{\"run\":9999}}", "ENOENT");
	expect_error(f, "{\"cmd\":\"promote\",\"args\":{\"run\":\"1\"}}", "EINVAL");

	/* Staging already holds the date: nothing moves. */
	run = quarantined(f, "2026-03-12");
	snprintf(path, sizeof path, "%s/staging/d/exec_date=2026-03-12/d.csv", f->t.dir);
	write_file(path, "newer");
	snprintf(req, sizeof req, "{\"cmd\":\"promote\",\"args\":{\"run\":%lld}}", (long long)run);
	expect_error(f, req, "ESTATE");
	snprintf(path, sizeof path, "%s/quarantine/d/exec_date=2026-03-12/d.csv", f->t.dir);
	assert_int_equal(stat(path, &sb), 0);

	/* The store fails after the move: the files go back. */
	run = quarantined(f, "2026-03-13");
	assert_int_equal(tmpstore_sql(&f->t, "DROP TABLE events"), 0);
	snprintf(req, sizeof req, "{\"cmd\":\"promote\",\"args\":{\"run\":%lld}}", (long long)run);
	expect_error(f, req, "EINTERNAL");
	snprintf(path, sizeof path, "%s/quarantine/d/exec_date=2026-03-13/d.csv", f->t.dir);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(path, sizeof path, "%s/staging/d/exec_date=2026-03-13", f->t.dir);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(store_dq_quarantined(f->t.st, run, &q), 0);
	assert_string_equal(q.state, "quarantined");
	store_dq_snapshot_clear(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_results_and_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_bytes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
