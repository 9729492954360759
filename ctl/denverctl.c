/*
 * denverctl.c - the command-line client of denverd's control socket: the
 * list of commands, and main(), which parses the command line (options.c),
 * acts on the global options (the socket, --json, --help, --version) and
 * dispatches.
 *
 * Each command (cmd_*.c) declares its operand and options as a table and
 * prints the reply's result for humans; `--json` prints the raw reply line
 * instead, for scripts.  Global options may come before the command or
 * among its own words (`denverctl status --json`).  The protocol is
 * described in include/denverd/protocol.h and denverd(8).
 *
 * Exit status: 0 success, 1 the daemon answered with an error, 2 usage,
 * 3 cannot reach the daemon, 4 protocol error (a reply we cannot read),
 * 5 trigger --wait: the run ended without success.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "denverd/protocol.h"
#include "version.h"

/* The order of `denverctl --help`. */
static const struct ctl_cmd *const commands[] = {
	&cmd_status, &cmd_version, &cmd_reload, &cmd_watch, &cmd_metrics, &cmd_alerts,
	/* the scheduler's (cmd_sched.c, cmd_trigger.c) */
	&cmd_runs, &cmd_show, &cmd_trigger, &cmd_backfill, &cmd_retry, &cmd_cancel,
	&cmd_pause, &cmd_resume, &cmd_schedule,
	/* data quality (cmd_dq.c) */
	&cmd_dq, &cmd_diff, &cmd_promote,
	/* snapshot teardown (cmd_purge.c) */
	&cmd_purge,
	/* the report's provenance (cmd_report.c) */
	&cmd_report,
	/* the sources' cadence (cmd_source.c) */
	&cmd_source,
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	char u[256];

	fprintf(f, "usage: %s [-s SOCKET] [--json] COMMAND [ARGS]\n\n"
	        "Talks to denverd over its control socket (default $%s or %s).\n\n"
	        "Commands:\n", ctl_prog, PROTOCOL_SOCKET_ENV, PROTOCOL_DEFAULT_SOCKET);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %-28s %s\n", commands[i]->name,
		        ctl_usage(commands[i], u, sizeof u), commands[i]->help);
	fprintf(f, "\nOptions (before or after the command; '%s COMMAND --help' for its own):\n",
	        ctl_prog);
	ctl_print_options(f, ctl_global_opts);
	fprintf(f, "\nExit status: 0 ok, 1 the daemon refused, 2 usage, 3 daemon not "
	        "reachable, 4 protocol error, 5 trigger --wait: the run did not succeed.\n");
}

static int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", ctl_prog);
	return EXIT_USAGE;
}

static const struct ctl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(name, commands[i]->name) == 0)
			return commands[i];
	return NULL;
}

/* --help or --version, if given: answered (of CMD, when not NULL). */
static bool answered(json_t *opts, const struct ctl_cmd *cmd)
{
	if (json_is_true(json_object_get(opts, "version")))
		printf("denverctl %s\n", DENVERD_VERSION);
	else if (json_is_true(json_object_get(opts, "help")) && cmd)
		ctl_print_help(stdout, cmd);
	else if (json_is_true(json_object_get(opts, "help")))
		usage(stdout);
	else
		return false;
	return true;
}

/* The command line into C (socket, --json, local options), ARGS (the
 * request) and *CMD; *CMD stays NULL when --help or --version answered.
 * Returns 0 or EXIT_USAGE (after saying why). */
static int parse(struct ctl *c, int argc, char **argv, json_t *args,
                 const struct ctl_cmd **cmd)
{
	const char *env = getenv(PROTOCOL_SOCKET_ENV);
	int first = ctl_parse_global(argc, argv, c->opts);

	if (first < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (answered(c->opts, NULL))
		return 0;
	if (first >= argc)
		return die_usage("no command given");
	if (!(*cmd = find_command(argv[first])))
		return die_usage("unknown command '%s'", argv[first]);
	if (ctl_parse_command(*cmd, argc - first, argv + first, args, c->opts) < 0) {
		ctl_print_usage(stderr, *cmd);
		*cmd = NULL;
		return EXIT_USAGE;
	}
	if (answered(c->opts, *cmd)) {
		*cmd = NULL;
		return 0;
	}
	c->socket = json_string_value(json_object_get(c->opts, "socket"));
	if (!c->socket)
		c->socket = env && *env ? env : PROTOCOL_DEFAULT_SOCKET;
	c->json = json_is_true(json_object_get(c->opts, "json"));
	return 0;
}

/* Connect, then one request and its reply printed, or the command's run. */
static int dispatch(struct ctl *c, const struct ctl_cmd *cmd, json_t *args)
{
	json_t *result = NULL;
	int rc = ctl_connect(c);

	if (rc)
		return rc;
	if (cmd->run)
		return cmd->run(c, cmd, args);
	if ((rc = ctl_call(c, cmd->name, args, &result)) == 0 && !c->json)
		cmd->print(result);
	json_decref(result);
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl c = { .fd = -1, .opts = json_object() };
	const struct ctl_cmd *cmd = NULL;
	json_t *args = json_object();
	int rc = c.opts && args ? parse(&c, argc, argv, args, &cmd) : EXIT_PROTOCOL;

	if (rc == 0 && cmd)
		rc = dispatch(&c, cmd, args);
	ctl_close(&c);
	json_decref(args);
	json_decref(c.opts);
	return rc;
}
