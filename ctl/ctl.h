/*
 * ctl.h - what the files of denverctl share: the invocation (struct ctl),
 * the declarative description of a command (struct ctl_cmd, with its
 * operand and option table, struct ctl_opt), the one option parser
 * (options.c), the connection to the daemon (conn.c) and the output
 * helpers (output.c).
 *
 *   denverctl.c   main: the commands' list, what global options do, dispatch
 *   options.c     the parser, the global options' table, the usage/help text
 *   conn.c        connect, send a request, read a reply or an event line
 *   output.c      text helpers for the printers
 *   cmd_ops.c     status, version, reload, watch, metrics, alerts
 *   cmd_sched.c   runs, show, backfill, retry, cancel, pause, resume, schedule
 *   cmd_trigger.c trigger, and --wait following the run
 *   cmd_dq.c      dq, diff, promote
 *   cmd_purge.c   purge
 *   cmd_report.c  report
 *
 * denverctl includes no daemon header but the protocol's
 * (include/denverd/protocol.h) and common/ (scripts/layers).  It is single
 * threaded; everything here may block on the socket.
 */
#ifndef DENVERCTL_CTL_H
#define DENVERCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define EXIT_REMOTE   1
#define EXIT_USAGE    2
#define EXIT_CONNECT  3
#define EXIT_PROTOCOL 4
#define EXIT_RUN      5   /* trigger --wait: the run ended without success */

extern const char *ctl_prog;     /* "denverctl", the prefix of every message */

/* ---- options (options.c) ---- */

/* What an option's value (or an operand) is, and how it is checked. */
enum ctl_kind {
	CTL_FLAG,      /* no value: stored as true */
	CTL_STRING,    /* text as given (UTF-8 unless .local) */
	CTL_DATE,      /* an exec date YYYY-MM-DD, passed as given: the daemon
	                  checks it, it knows the time zone and today */
	CTL_INT,       /* a decimal number from .min to .max */
	CTL_RUN,       /* a run id: a number from 1 */
};

/* One option of a command, or its operand.  A table of options ends with
 * a row whose .name is NULL.  Rows are static data; nothing frees them. */
struct ctl_opt {
	const char *name;      /* --name (for an operand: NULL, see .meta) */
	char shrt;             /* -x, shown in the usage and help, or 0 */
	char alias;            /* -x, accepted but not shown, or 0: the letters
	                          the hand-written getopt loops took */
	enum ctl_kind kind;
	const char *meta;      /* the value in the usage: "D", "N", "DATASET" */
	const char *key;       /* where the value is stored: args[key] */
	bool local;            /* ... or opts[key]: it stays in denverctl */
	bool required;
	bool immediate;        /* parsing stops here (--help, --version) */
	long min, max;         /* CTL_INT */
	const char *help;      /* one line for `denverctl COMMAND --help` */
};

/* The operands commands take (one at most): a dataset (or job) name into
 * args["dataset"], the same but optional, and a run id into args["run"]. */
extern const struct ctl_opt ctl_operand_dataset;
extern const struct ctl_opt ctl_operand_dataset_optional;
extern const struct ctl_opt ctl_operand_run;

/* ---- the invocation and the connection (conn.c) ---- */

struct ctl {
	const char *socket;
	bool json;             /* --json: print reply lines as they came */
	json_t *opts;          /* the options that stay here, by key (global
	                          ones, metrics --output, trigger --wait) */
	int fd;
	FILE *in;              /* buffered reader over fd */
	json_int_t next_id;
};

/* A command: the declarative part (name, help, operand, options) that
 * options.c parses and prints help from, and what to do with the reply. */
struct ctl_cmd {
	const char *name;
	const char *help;                  /* one line, for --help */
	const struct ctl_opt *operand;     /* NULL: takes none */
	const struct ctl_opt *opts;        /* NULL: takes none */
	/* Print RESULT (the reply's, borrowed) for humans. */
	void (*print)(json_t *result);
	/* Instead of one request and print: commands that are more than one
	 * request/reply (watch, trigger --wait) or do more with the reply
	 * (metrics -o).  ARGS is the request's, built from the command line.
	 * Returns 0 or an EXIT_* code. */
	int (*run)(struct ctl *c, const struct ctl_cmd *cmd, json_t *args);
};

/* The global options: -s/--socket PATH, -j/--json, -V/--version and
 * -h/--help (the last two .immediate), all .local, stored under their long
 * names.  Accepted before the command and among its words. */
extern const struct ctl_opt ctl_global_opts[];

/* Parse the global options before the command in ARGV (ARGC words,
 * ARGV[0] the program) into OPTS; stop at the first operand or an
 * .immediate option.  Returns the index of that operand (ARGC when there
 * is none), or -1 after getopt's message on stderr. */
int ctl_parse_global(int argc, char **argv, json_t *opts);

/* Parse a command's words (ARGV[0] is the command's name; getopt permutes
 * the rest): CMD's options and the global ones, in any order and among
 * the operands, then the operand.  Values go to ARGS (the request) or, for
 * .local rows, OPTS.  When an .immediate option is met, returns 0 at once,
 * without checking the rest.  Returns 0, or -1 after saying why on stderr
 * (getopt's message, or "denverctl: CMD: ..."). */
int ctl_parse_command(const struct ctl_cmd *cmd, int argc, char **argv, json_t *args,
                      json_t *opts);

/* CMD's arguments as the usage line shows them ("DATASET [--date D]
 * [--force]"), NUL-terminated into BUF (N bytes, truncated).  Returns BUF. */
char *ctl_usage(const struct ctl_cmd *cmd, char *buf, size_t n);

/* "usage: denverctl CMD ARGS" and a newline, to F. */
void ctl_print_usage(FILE *f, const struct ctl_cmd *cmd);

/* The rows of TABLE ("  -s, --socket PATH  control socket"), one a line,
 * to F; hidden aliases are not shown. */
void ctl_print_options(FILE *f, const struct ctl_opt *table);

/* `denverctl CMD --help`: the usage line, the help, the operand and the
 * options of CMD, then the global ones, to F. */
void ctl_print_help(FILE *f, const struct ctl_cmd *cmd);

/* Each returns 0 or an EXIT_* code (after saying why on stderr). */
int ctl_connect(struct ctl *c);
int ctl_send(struct ctl *c, const char *cmd, json_t *args);
/* One line into a new string (*line, caller frees): a reply or an event. */
int ctl_read_line(struct ctl *c, char **line);
/* Send CMD and wait for its reply.  On success *result is a new reference
 * (and the raw line was printed if --json). */
int ctl_call(struct ctl *c, const char *cmd, json_t *args, json_t **result);
/* Close what ctl_connect opened; C may be connected or not. */
void ctl_close(struct ctl *c);

/* ---- output helpers (output.c) ---- */

/* The string at KEY of O, or "-" (borrowed from O). */
const char *ctl_str(json_t *o, const char *key);
/* Unix ms V as local "YYYY-MM-DD HH:MM:SS TZ" into BUF; "-" when V is not
 * an integer.  Durations and spans are common/fmt.h's. */
void ctl_fmt_time(json_t *v, char *buf, size_t n);
/* An ArcGIS fetch's progress P (pages, rows_done, rows_total) as
 * "page 12, 24,000 of 290,000 rows" ("page 3, 6,000 rows" before the
 * count is known). */
void ctl_fmt_paging(json_t *p, char *buf, size_t n);
/* A Hub fetch's progress P while it polls (hub_status, hub_percent) as
 * "Hub: ConvertingData 40%" ("Hub: asked" before the first answer); false
 * when P is not that. */
bool ctl_fmt_hub(json_t *p, char *buf, size_t n);

/* ---- the commands, in the files named above ---- */

extern const struct ctl_cmd cmd_status, cmd_version, cmd_reload, cmd_watch,
	cmd_metrics, cmd_alerts;
extern const struct ctl_cmd cmd_runs, cmd_show, cmd_backfill, cmd_retry, cmd_cancel,
	cmd_pause, cmd_resume, cmd_schedule;
extern const struct ctl_cmd cmd_trigger;
extern const struct ctl_cmd cmd_dq, cmd_diff, cmd_promote;
extern const struct ctl_cmd cmd_purge;
extern const struct ctl_cmd cmd_report;
extern const struct ctl_cmd cmd_source;

#endif
