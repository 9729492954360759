/* test_purge.c - the purge command over a real control socket, against real
 * partition directories and a real store file: what a dry run lists and
 * keeps, what --yes removes and marks, a reply deferred while requests
 * pipelined behind it wait their turn, a client that leaves before its
 * deferred reply, and the refusals. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "api/cmd_purge.h"
#include "apifix.h"
#include "store/store.h"

static int setup(void **state)
{
	return (*state = apifix_open("datasets:\n  d:\n    url: https://example.org/d.csv\n"
	                             "    schedule: \"0 6 * * *\"\n")) &&
	       cmd_purge_init(&((struct apifix *)*state)->d) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	return apifix_close(*state);
}

/* <state>/<rel>, made with its parents, holding TEXT. */
static void put(struct apifix *f, const char *rel, const char *text)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", f->t.dir, rel);
	assert_int_equal(apifix_write(path, text), 0);
}

static bool exists(struct apifix *f, const char *rel)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof path, "%s/%s", f->t.dir, rel);
	return stat(path, &sb) == 0;
}

/* A run of d for DATE in RUN_STATE and, unless AREA is NULL, its snapshot
 * in AREA/d/exec_date=DATE/ (the CSV and its .keys) in SNAP_STATE. */
static int64_t snapshot(struct apifix *f, const char *date, const char *run_state,
                        const char *area, const char *snap_state)
{
	struct store_run r = { .target = "d", .kind = "dataset", .exec_date = date,
	                       .trigger = "manual", .state = run_state, .created = 1 };
	char rel[256], path[512];
	int64_t id;

	assert_int_equal(store_run_add(f->t.st, &r, &id), 0);
	if (!area)
		return id;
	snprintf(rel, sizeof rel, "%s/d/exec_date=%s/.keys", area, date);
	put(f, rel, "keys");
	snprintf(rel, sizeof rel, "%s/d/exec_date=%s/d.csv", area, date);
	put(f, rel, "id\n1\n");
	snprintf(path, sizeof path, "%s/%s", f->t.dir, rel);
	struct store_snapshot s = { .run_id = id, .dataset = "d", .exec_date = (char *)date,
	                            .path = path, .bytes = 5, .hash = "h", .rows = 1,
	                            .state = (char *)snap_state, .published = 1 };
	assert_true(store_snapshot_add(f->t.st, &s) > 0);
	return id;
}

static const char *snap_state(struct apifix *f, const char *date, char *buf, size_t n)
{
	struct store_snapshot *list = NULL;
	size_t len = 0;

	assert_int_equal(store_snapshots_before(f->t.st, "d", "9999-01-01", &list, &len), 0);
	snprintf(buf, n, "removed");             /* not listed: removed */
	for (size_t i = 0; i < len; i++)
		if (strcmp(list[i].exec_date, date) == 0)
			snprintf(buf, n, "%s", list[i].state);
	store_snapshots_free(list, len);
	return buf;
}

/* The areas and exec dates of the entries of ARR, "staging 2026-01-01,...". */
static void places(json_t *arr, char *out, size_t n)
{
	size_t used = 0, i;
	json_t *x;

	out[0] = '\0';
	json_array_foreach(arr, i, x)
		used += (size_t)snprintf(out + used, n - used, "%s%s %s", i ? "," : "",
		                         json_string_value(json_object_get(x, "area")),
		                         json_string_value(json_object_get(x, "name")));
}

static json_t *purge(struct apifix *f, const char *before, bool yes, bool want_ok)
{
	char req[256];
	json_t *r;

	snprintf(req, sizeof req, "{\"id\":7,\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\","
	         "\"before\":\"%s\",\"yes\":%s}}", before, yes ? "true" : "false");
	if (!(r = ctlcall_json(&f->loop, f->sock, req, want_ok)))
		fail_msg("%s: no reply, or not ok=%d", req, want_ok);
	return r;
}

static void test_dry_run_then_yes(void **state)
{
	struct apifix *f = *state;
	char buf[512];
	json_t *r;

	snapshot(f, "2026-01-01", "succeeded", "staging", "published");
	snapshot(f, "2026-01-02", "failed", "quarantine", "quarantined");
	put(f, "quarantine/d/exec_date=2026-01-02.1767312000000/d.csv", "older quarantine");
	snapshot(f, "2026-01-03", "succeeded", "staging", "promoted");
	snapshot(f, "2026-01-05", "succeeded", "staging", "published");
	put(f, "staging/d/junk/x", "not a partition");
	put(f, "staging/d/exec_date=2026-1-4/x", "not a partition either");
	put(f, "staging/d/exec_date=2026-01-04", "a file, not a partition");
	put(f, "datastore/d/year=2026/month=01/part-0.parquet", "PAR1");

	r = purge(f, "2026-01-03", false, true);
	places(json_object_get(r, "partitions"), buf, sizeof buf);
	assert_string_equal(buf, "staging exec_date=2026-01-01,quarantine exec_date=2026-01-02,"
	                    "quarantine exec_date=2026-01-02.1767312000000");
	assert_int_equal(json_array_size(json_object_get(r, "kept")), 0);
	assert_true(json_is_true(json_object_get(r, "dry_run")));
	assert_int_equal(json_integer_value(json_object_get(r, "removed")), 0);
	assert_int_equal(json_integer_value(json_object_get(
	        json_array_get(json_object_get(r, "partitions"), 0), "files")), 2);
	json_decref(r);
	assert_true(exists(f, "staging/d/exec_date=2026-01-01/d.csv"));
	assert_string_equal(snap_state(f, "2026-01-01", buf, sizeof buf), "published");

	/* Everything: the newest published one stays, whatever the date. */
	r = purge(f, "2027-01-01", true, true);
	places(json_object_get(r, "partitions"), buf, sizeof buf);
	assert_string_equal(buf, "staging exec_date=2026-01-01,quarantine exec_date=2026-01-02,"
	                    "quarantine exec_date=2026-01-02.1767312000000,"
	                    "staging exec_date=2026-01-03");
	places(json_object_get(r, "kept"), buf, sizeof buf);
	assert_string_equal(buf, "staging exec_date=2026-01-05");
	assert_int_equal(json_integer_value(json_object_get(r, "removed")), 4);
	assert_int_equal(json_integer_value(json_object_get(r, "failed")), 0);
	json_decref(r);
	assert_false(exists(f, "staging/d/exec_date=2026-01-01"));
	assert_false(exists(f, "quarantine/d/exec_date=2026-01-02"));
	assert_false(exists(f, "quarantine/d/exec_date=2026-01-02.1767312000000"));
	assert_false(exists(f, "staging/d/exec_date=2026-01-03"));
	assert_true(exists(f, "staging/d/exec_date=2026-01-05/.keys"));
	assert_true(exists(f, "staging/d/junk/x"));
	assert_true(exists(f, "staging/d/exec_date=2026-1-4/x"));
	assert_true(exists(f, "staging/d/exec_date=2026-01-04"));
	assert_true(exists(f, "datastore/d/year=2026/month=01/part-0.parquet"));
	assert_string_equal(snap_state(f, "2026-01-01", buf, sizeof buf), "removed");
	assert_string_equal(snap_state(f, "2026-01-02", buf, sizeof buf), "removed");
	assert_string_equal(snap_state(f, "2026-01-03", buf, sizeof buf), "removed");
	assert_string_equal(snap_state(f, "2026-01-05", buf, sizeof buf), "published");
}

static void test_active_runs_keep_their_date_and_baseline(void **state)
{
	struct apifix *f = *state;
	char buf[512];
	json_t *r, *kept;

	snapshot(f, "2026-02-01", "succeeded", "staging", "published");
	snapshot(f, "2026-02-02", "succeeded", "staging", "published");
	snapshot(f, "2026-02-04", "succeeded", "staging", "published");
	int64_t active = snapshot(f, "2026-02-03", "running", NULL, NULL);
	int64_t queued = snapshot(f, "2026-02-01", "queued", NULL, NULL);

	r = purge(f, "2026-03-01", true, true);
	places(json_object_get(r, "partitions"), buf, sizeof buf);
	assert_string_equal(buf, "");
	kept = json_object_get(r, "kept");
	places(kept, buf, sizeof buf);
	assert_string_equal(buf, "staging exec_date=2026-02-01,staging exec_date=2026-02-02,"
	                    "staging exec_date=2026-02-04");
	snprintf(buf, sizeof buf, "run %lld of this exec date is active", (long long)queued);
	assert_string_equal(json_string_value(json_object_get(json_array_get(kept, 0), "reason")),
	                    buf);
	snprintf(buf, sizeof buf, "the diff baseline of active run %lld", (long long)active);
	assert_string_equal(json_string_value(json_object_get(json_array_get(kept, 1), "reason")),
	                    buf);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(kept, 1), "run_id")),
	                 active);
	assert_true(json_is_null(json_object_get(json_array_get(kept, 2), "run_id")));
	json_decref(r);
	assert_true(exists(f, "staging/d/exec_date=2026-02-01/d.csv"));
}

/* Two requests in one write: the deferred purge is answered first, then
 * the request behind it, which waited unread. */
static void test_pipelined_requests_keep_their_order(void **state)
{
	struct apifix *f = *state;
	char buf[8192];
	size_t len = 0;
	int fd, lines = 0;

	snapshot(f, "2026-03-01", "succeeded", "staging", "published");
	fd = ctlcall_connect(f->sock, "{\"id\":1,\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\","
	                     "\"before\":\"2026-04-01\"}}\n{\"id\":2,\"cmd\":\"version\"}\n"
	                     "{\"id\":3,\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\","
	                     "\"before\":\"2026-04-01\",\"yes\":true}}");
	assert_true(fd >= 0);
	for (int spins = 0; lines < 3 && spins < 5000; spins++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		ssize_t n = recv(fd, buf + len, sizeof buf - len - 1, MSG_DONTWAIT);
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			lines = 0;
			for (char *p = buf; (p = strchr(p, '\n')); p++)
				lines++;
		} else {
			usleep(1000);
		}
	}
	close(fd);
	assert_int_equal(lines, 3);
	char *l2 = strchr(buf, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	assert_true(strncmp(buf, "{\"v\":1,\"id\":1,\"ok\":true", 23) == 0);
	assert_true(strncmp(l2, "{\"v\":1,\"id\":2,\"ok\":true", 23) == 0);
	assert_true(strncmp(l3, "{\"v\":1,\"id\":3,\"ok\":true", 23) == 0);
	assert_non_null(strstr(l3, "\"dry_run\":false"));
}

/* A client that leaves before its reply: the purge still finishes, its
 * answer is dropped, and the socket serves the next client. */
static void test_client_gone_before_the_reply(void **state)
{
	struct apifix *f = *state;
	char buf[64];
	json_t *r;
	int fd;

	snapshot(f, "2026-04-01", "succeeded", "staging", "published");
	snapshot(f, "2026-04-02", "succeeded", "staging", "published");
	fd = ctlcall_connect(f->sock, "{\"id\":1,\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\","
	                     "\"before\":\"2026-05-01\",\"yes\":true}}");
	assert_true(fd >= 0);
	for (int i = 0; i < 3; i++)          /* the request read, the purge queued */
		uv_run(&f->loop, UV_RUN_NOWAIT);
	close(fd);
	for (int i = 0; i < 2000 && exists(f, "staging/d/exec_date=2026-04-01"); i++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_false(exists(f, "staging/d/exec_date=2026-04-01"));
	r = purge(f, "2026-05-01", false, true);
	assert_int_equal(json_array_size(json_object_get(r, "partitions")), 0);
	json_decref(r);
	assert_string_equal(snap_state(f, "2026-04-01", buf, sizeof buf), "removed");
}

static void test_refusals(void **state)
{
	struct apifix *f = *state;
	static const char *const bad[] = {
		"{\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\"}}",
		"{\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\",\"before\":\"2026-02-30\"}}",
		"{\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\",\"before\":\"../x\"}}",
		"{\"cmd\":\"purge\",\"args\":{\"dataset\":\"d\",\"before\":\"2026-01-01\","
		"\"yes\":\"yes\"}}",
		"{\"cmd\":\"purge\",\"args\":{\"before\":\"2026-01-01\"}}",
	};
	json_t *e;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_non_null(e = ctlcall_json(&f->loop, f->sock, bad[i], false));
		assert_string_equal(json_string_value(json_object_get(e, "code")), "EINVAL");
		json_decref(e);
	}
	assert_non_null(e = ctlcall_json(&f->loop, f->sock, "{\"cmd\":\"purge\",\"args\":"
	                "{\"dataset\":\"../d\",\"before\":\"2026-01-01\"}}", false));
	assert_string_equal(json_string_value(json_object_get(e, "code")), "ENOENT");
	json_decref(e);
	f->d.stopping = true;
	e = purge(f, "2026-01-01", true, false);
	assert_string_equal(json_string_value(json_object_get(e, "code")), "ESTATE");
	json_decref(e);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);           /* as denverd does (app/loop.c) */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dry_run_then_yes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_runs_keep_their_date_and_baseline,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_requests_keep_their_order, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_before_the_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
