/* test_options.c - denverctl's one option parser and the usage text it
 * generates (ctl/options.c), over test tables and over the real commands'
 * (cmd_*.c): what lands in the request's args, what stays local, every
 * message a bad command line gets, and the usage lines users know. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"

static const struct ctl_opt every_kind[] = {
	{ .name = "name", .alias = 'n', .kind = CTL_STRING, .meta = "S", .key = "name",
	  .help = "a string" },
	{ .name = "count", .kind = CTL_INT, .meta = "N", .key = "count", .min = 1, .max = 50,
	  .help = "a number" },
	{ .name = "day", .kind = CTL_DATE, .meta = "D", .key = "date", .help = "a date" },
	{ .name = "force", .alias = 'f', .kind = CTL_FLAG, .key = "force", .help = "a flag" },
	{ .name = "output", .shrt = 'o', .kind = CTL_STRING, .meta = "FILE", .key = "output",
	  .local = true, .help = "a local path" },
	{ .name = "wait", .alias = 'w', .kind = CTL_FLAG, .key = "wait", .local = true,
	  .help = "a local flag" },
	{ 0 },
};

static const struct ctl_opt two_required[] = {
	{ .name = "from", .kind = CTL_DATE, .meta = "D1", .key = "from", .required = true },
	{ .name = "to", .kind = CTL_DATE, .meta = "D2", .key = "to", .required = true },
	{ 0 },
};

static const struct ctl_opt three_required[] = {
	{ .name = "a", .kind = CTL_STRING, .meta = "A", .key = "a", .required = true },
	{ .name = "b", .kind = CTL_STRING, .meta = "B", .key = "b" },
	{ .name = "c", .kind = CTL_STRING, .meta = "C", .key = "c", .required = true },
	{ .name = "d", .kind = CTL_STRING, .meta = "D", .key = "d", .required = true },
	{ 0 },
};

static const struct ctl_opt has_state[] = {
	{ .name = "state", .kind = CTL_STRING, .meta = "S", .key = "state" },
	{ 0 },
};

static const struct ctl_opt takes_socket[] = {
	{ .name = "state", .alias = 's', .kind = CTL_STRING, .meta = "S", .key = "state" },
	{ 0 },
};

static const struct ctl_cmd test_cmd = {
	.name = "test", .help = "every kind", .operand = &ctl_operand_dataset, .opts = every_kind,
};
static const struct ctl_cmd bare_cmd = { .name = "bare", .help = "nothing" };
static const struct ctl_cmd opts_only_cmd = {
	.name = "opts", .help = "options, no operand", .opts = every_kind,
};
static const struct ctl_cmd run_cmd = { .name = "one", .operand = &ctl_operand_run };
static const struct ctl_cmd maybe_cmd = { .name = "maybe",
                                          .operand = &ctl_operand_dataset_optional };
static const struct ctl_cmd range_cmd = { .name = "range", .opts = two_required };
static const struct ctl_cmd three_cmd = { .name = "three", .opts = three_required };
static const struct ctl_cmd clash_cmd = { .name = "clash", .opts = takes_socket };
static const struct ctl_cmd state_cmd = { .name = "st", .opts = has_state };

/* What one parse did: its return value, the request's args and the local
 * options as compact JSON with sorted keys, and what it printed on stderr. */
struct result {
	int rc;
	char args[512], opts[512], err[1024];
};

static void dump(json_t *o, char *buf, size_t n)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(buf, n, "%s", s ? s : "?");
	free(s);
}

/* Parse LINE (words split at single spaces; the first is the command's
 * name, as getopt's messages show it) as CMD's command line. */
static struct result parse(const struct ctl_cmd *cmd, const char *line)
{
	struct result r = { 0 };
	char copy[512], *argv[32];
	int argc = 0, saved = dup(STDERR_FILENO);
	FILE *err = tmpfile();
	json_t *args = json_object(), *opts = json_object();

	snprintf(copy, sizeof copy, "%s", line);
	for (char *w = strtok(copy, " "); w && argc < 31; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	assert_non_null(err);
	fflush(stderr);
	dup2(fileno(err), STDERR_FILENO);
	r.rc = ctl_parse_command(cmd, argc, argv, args, opts);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(err);
	r.err[fread(r.err, 1, sizeof r.err - 1, err)] = '\0';
	fclose(err);
	dump(args, r.args, sizeof r.args);
	dump(opts, r.opts, sizeof r.opts);
	json_decref(args);
	json_decref(opts);
	return r;
}

static void expect_ok(const struct ctl_cmd *cmd, const char *line, const char *args,
                      const char *opts)
{
	struct result r = parse(cmd, line);
	if (r.rc != 0)
		fail_msg("%s: rc %d, stderr %s", line, r.rc, r.err);
	assert_string_equal(r.args, args);
	assert_string_equal(r.opts, opts);
	assert_string_equal(r.err, "");
}

static void expect_error(const struct ctl_cmd *cmd, const char *line, const char *err)
{
	struct result r = parse(cmd, line);
	if (r.rc != -1)
		fail_msg("%s: rc %d, args %s", line, r.rc, r.args);
	assert_string_equal(r.err, err);
}

static void test_values_go_to_args_or_stay_local(void **state)
{
	expect_ok(&test_cmd, "test demo", "{\"dataset\":\"demo\"}", "{}");
	expect_ok(&test_cmd, "test demo --name x --count 50 --day 2026-11-01 --force",
	          "{\"count\":50,\"dataset\":\"demo\",\"date\":\"2026-11-01\",\"force\":true,"
	          "\"name\":\"x\"}", "{}");
	expect_ok(&test_cmd, "test demo -o /tmp/f --wait", "{\"dataset\":\"demo\"}",
	          "{\"output\":\"/tmp/f\",\"wait\":true}");
	/* The getopt forms: aliases, =, abbreviations, bundles, attached values,
	 * options before the operand, "--" ending the options. */
	expect_ok(&test_cmd, "test -n x -fw demo", "{\"dataset\":\"demo\",\"force\":true,"
	          "\"name\":\"x\"}", "{\"wait\":true}");
	expect_ok(&test_cmd, "test --count=7 --na y demo -o/f", "{\"count\":7,\"dataset\":"
	          "\"demo\",\"name\":\"y\"}", "{\"output\":\"/f\"}");
	expect_ok(&test_cmd, "test -- --force", "{\"dataset\":\"--force\"}", "{}");
	/* The last of a repeated option wins. */
	expect_ok(&test_cmd, "test demo --count 2 --count 3", "{\"count\":3,\"dataset\":"
	          "\"demo\"}", "{}");
	expect_ok(&run_cmd, "one 9223372036854775807", "{\"run\":9223372036854775807}", "{}");
	expect_ok(&maybe_cmd, "maybe", "{}", "{}");
	expect_ok(&maybe_cmd, "maybe demo", "{\"dataset\":\"demo\"}", "{}");
	expect_ok(&range_cmd, "range --to 2 --from 1", "{\"from\":\"1\",\"to\":\"2\"}", "{}");
}

static void test_global_options_among_the_commands_words(void **state)
{
	expect_ok(&bare_cmd, "bare --json", "{}", "{\"json\":true}");
	expect_ok(&test_cmd, "test demo --name x --json -s /run/s", "{\"dataset\":\"demo\","
	          "\"name\":\"x\"}", "{\"json\":true,\"socket\":\"/run/s\"}");
	expect_ok(&test_cmd, "test -j demo --socket=/s", "{\"dataset\":\"demo\"}",
	          "{\"json\":true,\"socket\":\"/s\"}");
	/* --help stops the parse: nothing after it, nor the operand, is checked. */
	expect_ok(&test_cmd, "test --help --count 0", "{}", "{\"help\":true}");
	expect_ok(&run_cmd, "one -h", "{}", "{\"help\":true}");
}

static void test_getopt_messages_name_the_command(void **state)
{
	expect_error(&test_cmd, "test demo --bogus", "test: unrecognized option '--bogus'\n");
	expect_error(&test_cmd, "test demo -x", "test: invalid option -- 'x'\n");
	expect_error(&test_cmd, "test demo --count", "test: option '--count' requires an argument\n");
	expect_error(&test_cmd, "test demo -o", "test: option requires an argument -- 'o'\n");
	expect_error(&test_cmd, "test demo --force=yes",
	             "test: option '--force' doesn't allow an argument\n");
	expect_error(&bare_cmd, "bare --bogus", "bare: unrecognized option '--bogus'\n");
	/* Global options join the command's, so an abbreviation may become
	 * ambiguous; the whole name is not. */
	expect_error(&state_cmd, "st --s x",
	             "st: option '--s' is ambiguous; possibilities: '--state' '--socket'\n");
	expect_ok(&state_cmd, "st --st x", "{\"state\":\"x\"}", "{}");
}

static void test_values_are_checked(void **state)
{
	expect_error(&test_cmd, "test demo --count 0",
	             "denverctl: test: --count wants a number from 1 to 50, not '0'\n");
	expect_error(&test_cmd, "test demo --count 51",
	             "denverctl: test: --count wants a number from 1 to 50, not '51'\n");
	expect_error(&test_cmd, "test demo --count 5x",
	             "denverctl: test: --count wants a number from 1 to 50, not '5x'\n");
	expect_error(&test_cmd, "test demo --count=",
	             "denverctl: test: --count wants a number from 1 to 50, not ''\n");
	expect_error(&test_cmd, "test demo --count 99999999999999999999",
	             "denverctl: test: --count wants a number from 1 to 50, not "
	             "'99999999999999999999'\n");
	expect_error(&run_cmd, "one x",
	             "denverctl: one: RUN wants a number from 1 to 9223372036854775807, not 'x'\n");
	expect_error(&run_cmd, "one 0",
	             "denverctl: one: RUN wants a number from 1 to 9223372036854775807, not '0'\n");
	expect_error(&test_cmd, "test demo --name \xff",
	             "denverctl: test: --name must be UTF-8 text\n");
	expect_error(&test_cmd, "test \xff", "denverctl: test: DATASET must be UTF-8 text\n");
}

static void test_a_local_value_may_be_any_bytes(void **state)
{
	/* It is never sent (a path), so it need not be UTF-8. */
	char a0[] = "test", a1[] = "demo", a2[] = "-o", a3[] = "/tmp/\xff";
	char *argv[] = { a0, a1, a2, a3, NULL };
	json_t *args = json_object(), *opts = json_object();

	assert_int_equal(ctl_parse_command(&test_cmd, 4, argv, args, opts), 0);
	assert_string_equal(json_string_value(json_object_get(opts, "output")), "/tmp/\xff");
	json_decref(args);
	json_decref(opts);
}

static void test_operands_are_counted(void **state)
{
	expect_error(&bare_cmd, "bare x", "denverctl: bare takes no arguments\n");
	expect_error(&opts_only_cmd, "opts x", "denverctl: opts: unexpected argument 'x'\n");
	expect_error(&test_cmd, "test", "denverctl: test: missing DATASET\n");
	expect_error(&test_cmd, "test a b", "denverctl: test: unexpected argument 'b'\n");
	expect_error(&maybe_cmd, "maybe a b", "denverctl: maybe: unexpected argument 'b'\n");
	expect_error(&run_cmd, "one", "denverctl: one: want exactly one run id\n");
	expect_error(&run_cmd, "one 1 2", "denverctl: one: want exactly one run id\n");
}

static void test_required_options_are_named(void **state)
{
	expect_error(&range_cmd, "range --from 1", "denverctl: range: --from and --to are required\n");
	expect_error(&range_cmd, "range", "denverctl: range: --from and --to are required\n");
	expect_error(&three_cmd, "three --a 1 --b 2",
	             "denverctl: three: --a, --c and --d are required\n");
	expect_ok(&three_cmd, "three --d 4 --c 3 --a 1", "{\"a\":\"1\",\"c\":\"3\",\"d\":\"4\"}", "{}");
}

static void test_a_table_that_takes_a_global_letter_is_refused(void **state)
{
	expect_error(&clash_cmd, "clash",
	             "denverctl: clash: option --socket: defined twice (a bug in denverctl)\n");
}

static void test_global_parse_stops_at_the_command(void **state)
{
	char a0[] = "denverctl", a1[] = "-s", a2[] = "/s", a3[] = "runs", a4[] = "--json";
	char *argv[] = { a0, a1, a2, a3, a4, NULL };
	json_t *opts = json_object();
	char got[128];

	assert_int_equal(ctl_parse_global(5, argv, opts), 3);
	dump(opts, got, sizeof got);
	assert_string_equal(got, "{\"socket\":\"/s\"}");    /* --json is the command's */
	assert_string_equal(argv[3], "runs");
	json_decref(opts);

	char *none[] = { a0, a4, NULL };
	opts = json_object();
	assert_int_equal(ctl_parse_global(2, none, opts), 2);
	json_decref(opts);
}

static void test_usage_is_generated_from_the_table(void **state)
{
	char u[256];

	assert_string_equal(ctl_usage(&test_cmd, u, sizeof u),
	                    "DATASET [--name S] [--count N] [--day D] [--force] [-o FILE] [--wait]");
	assert_string_equal(ctl_usage(&bare_cmd, u, sizeof u), "");
	assert_string_equal(ctl_usage(&maybe_cmd, u, sizeof u), "[DATASET]");
	assert_string_equal(ctl_usage(&run_cmd, u, sizeof u), "RUN");
	assert_string_equal(ctl_usage(&range_cmd, u, sizeof u), "--from D1 --to D2");
	assert_string_equal(ctl_usage(&test_cmd, u, 12), "DATASET [--");   /* cut, terminated */
}

/* What PRINT wrote to a memory stream, into OUT. */
static void capture(void (*print)(FILE *f), char *out, size_t n)
{
	FILE *f = fmemopen(out, n, "w");
	assert_non_null(f);
	print(f);
	fclose(f);
}

static void print_global(FILE *f) { ctl_print_options(f, ctl_global_opts); }
static void print_test_help(FILE *f) { ctl_print_help(f, &test_cmd); }

static void test_help_lists_every_shown_row(void **state)
{
	char out[2048];

	capture(print_global, out, sizeof out);
	assert_string_equal(out,
	                    "  -s, --socket PATH  control socket\n"
	                    "  -j, --json         print the raw JSON replies\n"
	                    "  -V, --version      print denverctl's version\n"
	                    "  -h, --help         this text\n");
	capture(print_test_help, out, sizeof out);
	assert_string_equal(out,
	                    "usage: denverctl test DATASET [--name S] [--count N] [--day D] [--force] "
	                    "[-o FILE] [--wait]\n"
	                    "\n"
	                    "every kind\n"
	                    "\n"
	                    "  DATASET            a dataset (or job) of the configuration\n"
	                    "  --name S           a string\n"
	                    "  --count N          a number (1 to 50)\n"
	                    "  --day D            a date\n"
	                    "  --force            a flag\n"
	                    "  -o, --output FILE  a local path\n"
	                    "  --wait             a local flag\n"
	                    "\n"
	                    "Global options, before or after the command:\n"
	                    "  -s, --socket PATH  control socket\n"
	                    "  -j, --json         print the raw JSON replies\n"
	                    "  -V, --version      print denverctl's version\n"
	                    "  -h, --help         this text\n");
}

/* The usage lines of the real commands, as denverctl has always printed
 * them (denverctl --help, and after a bad command line). */
static void test_the_commands_usage_lines(void **state)
{
	static const struct { const struct ctl_cmd *cmd; const char *usage; } want[] = {
		{ &cmd_status, "" }, { &cmd_version, "" }, { &cmd_reload, "" }, { &cmd_watch, "" },
		{ &cmd_metrics, "[-o FILE]" },
		{ &cmd_alerts, "[--dataset D] [--limit N]" },
		{ &cmd_runs, "[--dataset D] [--state S] [--limit N]" },
		{ &cmd_show, "RUN" },
		{ &cmd_trigger, "DATASET [--date D] [--force] [--wait]" },
		{ &cmd_backfill, "DATASET --from D1 --to D2" },
		{ &cmd_retry, "RUN" }, { &cmd_cancel, "RUN" },
		{ &cmd_pause, "DATASET" }, { &cmd_resume, "DATASET" },
		{ &cmd_schedule, "[DATASET] [--next N]" },
		{ &cmd_dq, "DATASET [--runs N]" },
		{ &cmd_diff, "DATASET [--date D]" },
		{ &cmd_promote, "RUN [--reason TEXT]" },
		{ &cmd_purge, "DATASET --before D [--yes]" },
	};
	char u[256], line[64];

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_string_equal(ctl_usage(want[i].cmd, u, sizeof u), want[i].usage);
		/* Its table and the global one together make a parser. */
		snprintf(line, sizeof line, "%s --help", want[i].cmd->name);
		expect_ok(want[i].cmd, line, "{}", "{\"help\":true}");
	}
}

/* The real commands' tables: the same requests the hand-written getopt
 * loops built, letters included (but runs -s, which is --socket). */
static void test_the_commands_requests(void **state)
{
	expect_ok(&cmd_runs, "runs -d demo -n 3 --state failed",
	          "{\"dataset\":\"demo\",\"limit\":3,\"state\":\"failed\"}", "{}");
	expect_ok(&cmd_runs, "runs -s /s --lim 2", "{\"limit\":2}", "{\"socket\":\"/s\"}");
	expect_error(&cmd_runs, "runs --limit 1001",
	             "denverctl: runs: --limit wants a number from 1 to 1000, not '1001'\n");
	expect_ok(&cmd_alerts, "alerts -d demo -n 5", "{\"dataset\":\"demo\",\"limit\":5}", "{}");
	expect_ok(&cmd_metrics, "metrics -o /tmp/m.prom", "{}", "{\"output\":\"/tmp/m.prom\"}");
	expect_ok(&cmd_trigger, "trigger -fw demo -d 2026-11-01",
	          "{\"dataset\":\"demo\",\"date\":\"2026-11-01\",\"force\":true}", "{\"wait\":true}");
	expect_ok(&cmd_backfill, "backfill -f 2026-11-01 demo -t 2026-11-02",
	          "{\"dataset\":\"demo\",\"from\":\"2026-11-01\",\"to\":\"2026-11-02\"}", "{}");
	expect_error(&cmd_backfill, "backfill demo --from 2026-11-01",
	             "denverctl: backfill: --from and --to are required\n");
	expect_ok(&cmd_schedule, "schedule -n 3 demo", "{\"dataset\":\"demo\",\"next\":3}", "{}");
	expect_error(&cmd_schedule, "schedule --next 101",
	             "denverctl: schedule: --next wants a number from 1 to 100, not '101'\n");
	expect_ok(&cmd_dq, "dq --runs 1000 demo", "{\"dataset\":\"demo\",\"runs\":1000}", "{}");
	expect_ok(&cmd_diff, "diff demo -d 2026-11-01", "{\"dataset\":\"demo\",\"date\":"
	          "\"2026-11-01\"}", "{}");
	expect_ok(&cmd_promote, "promote -r why 4", "{\"reason\":\"why\",\"run\":4}", "{}");
	expect_ok(&cmd_purge, "purge d --yes --before 2026-01-01",
	          "{\"before\":\"2026-01-01\",\"dataset\":\"d\",\"yes\":true}", "{}");
	expect_ok(&cmd_show, "show 5 --json", "{\"run\":5}", "{\"json\":true}");
	expect_error(&cmd_status, "status x", "denverctl: status takes no arguments\n");
	expect_error(&cmd_pause, "pause", "denverctl: pause: missing DATASET\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_go_to_args_or_stay_local),
		cmocka_unit_test(test_global_options_among_the_commands_words),
		cmocka_unit_test(test_getopt_messages_name_the_command),
		cmocka_unit_test(test_values_are_checked),
		cmocka_unit_test(test_a_local_value_may_be_any_bytes),
		cmocka_unit_test(test_operands_are_counted),
		cmocka_unit_test(test_required_options_are_named),
		cmocka_unit_test(test_a_table_that_takes_a_global_letter_is_refused),
		cmocka_unit_test(test_global_parse_stops_at_the_command),
		cmocka_unit_test(test_usage_is_generated_from_the_table),
		cmocka_unit_test(test_help_lists_every_shown_row),
		cmocka_unit_test(test_the_commands_usage_lines),
		cmocka_unit_test(test_the_commands_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
