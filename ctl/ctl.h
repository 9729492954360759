/*
 * ctl.h - what denverctl.c shares with the files that hold groups of its
 * commands (cmd_sched.c, cmd_dq.c): the connection, the command table's
 * entry type, argument and output helpers.  The one table of commands
 * stays in denverctl.c.
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

struct ctl {
	const char *socket;
	bool json;
	int fd;
	FILE *in;              /* buffered reader over fd */
	json_int_t next_id;
};

struct ctl_cmd {
	const char *name;
	const char *usage;     /* arguments, for the help text */
	const char *help;
	/* Fill ARGS from the command's own argv (argv[0] is the command).
	 * Return 0, or -1 after printing a usage message. */
	int (*build)(int argc, char **argv, json_t *args);
	/* Print RESULT for humans. */
	void (*print)(json_t *result);
	/* Commands that are more than one request/reply (watch) run here. */
	int (*run)(struct ctl *c, const struct ctl_cmd *cmd, json_t *args);
};

extern const char *prog;

/* Each returns 0 or an EXIT_* code (after saying why on stderr). */
int ctl_connect(struct ctl *c);
int ctl_send(struct ctl *c, const char *cmd, json_t *args);
int ctl_call(struct ctl *c, const char *cmd, json_t *args, json_t **result);

/* Output helpers: the string at KEY or "-"; unix ms as local
 * "YYYY-MM-DD HH:MM:SS TZ" ("-" when absent); one event line.  Durations
 * are common/fmt.h's. */
const char *str(json_t *o, const char *key);
void fmt_time(json_t *v, char *buf, size_t n);
void print_event(json_t *ev);

/* Argument helpers for build() (cmd_sched.c), after getopt_long: the one
 * operand left into ARGS[KEY] as a string (WHAT names it in the message);
 * the one operand left, a run id, into ARGS["run"]; S as a number from MIN
 * to MAX for option OPT of command CMD.  Each returns 0, or -1 after
 * saying why on stderr. */
int want_positional(int argc, char **argv, const char *what, json_t *args, const char *key);
int want_run_id(int argc, char **argv, json_t *args);
int parse_int(const char *cmd, const char *opt, const char *s, long min, long max, long *out);

/* cmd_sched.c: the scheduler's commands (see denverctl(1)). */
int sched_build_runs(int argc, char **argv, json_t *args);
void sched_print_runs(json_t *r);
int sched_build_run_id(int argc, char **argv, json_t *args);
void sched_print_show(json_t *r);
int sched_build_trigger(int argc, char **argv, json_t *args);
int sched_run_trigger(struct ctl *c, const struct ctl_cmd *cmd, json_t *args);
int sched_build_backfill(int argc, char **argv, json_t *args);
void sched_print_backfill(json_t *r);
void sched_print_retry(json_t *r);
void sched_print_cancel(json_t *r);
int sched_build_dataset(int argc, char **argv, json_t *args);
void sched_print_pause(json_t *r);
int sched_build_schedule(int argc, char **argv, json_t *args);
void sched_print_schedule(json_t *r);

/* cmd_dq.c: the data-quality commands (see denverctl(1)). */
int dq_build_dq(int argc, char **argv, json_t *args);
void dq_print_dq(json_t *r);
int dq_build_diff(int argc, char **argv, json_t *args);
void dq_print_diff(json_t *r);
int dq_build_promote(int argc, char **argv, json_t *args);
void dq_print_promote(json_t *r);

/* cmd_ops.c: metrics and alerts (see denverctl(1)). */
int ops_build_metrics(int argc, char **argv, json_t *args);
void ops_print_metrics(json_t *r);
int ops_build_alerts(int argc, char **argv, json_t *args);
void ops_print_alerts(json_t *r);

#endif
