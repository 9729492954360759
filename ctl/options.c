/*
 * options.c - denverctl's one command-line parser.  Each command declares
 * its operand and its options as rows of data (struct ctl_opt, ctl.h);
 * this file turns those rows into getopt_long's tables, stores the values
 * as JSON (the request's args, or the options that stay in denverctl),
 * checks numbers, text and required options, and prints the usage and help
 * text from the same rows, so the help cannot drift from the parser.
 *
 * getopt_long does the scanning, so everything it accepts works as it
 * always did: --name=value, unambiguous abbreviations (--lim 5), -n5,
 * bundled flags (-fw), "--" to end the options, and options after operands
 * (glibc permutes the words; optind = 0 restarts it from scratch).  Its
 * messages ("diff: unrecognized option '--bogus'") are getopt's own,
 * prefixed with ARGV[0]: the program before the command, the command's
 * name after it.  Ours are "denverctl: CMD: what is wrong".
 *
 * The global options (ctl_global_opts, below; denverctl.c acts on them) are
 * parsed twice: before the command, stopping at it, and again among the
 * command's own words, so that they may follow it (`denverctl status
 * --json`).  A command therefore cannot use a global option's name or
 * letter; add_rows() refuses the table if it does.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

#define MAX_ROWS 32          /* one command's options plus the global ones */
#define LONG_VAL 256         /* getopt_long returns LONG_VAL + i for row i's --name */
#define LABEL_MAX 64         /* "--limit", "RUN", "-o, --output FILE" */

const struct ctl_opt ctl_global_opts[] = {
	{ .name = "socket", .shrt = 's', .kind = CTL_STRING, .meta = "PATH", .key = "socket",
	  .local = true, .help = "control socket" },
	{ .name = "json", .shrt = 'j', .kind = CTL_FLAG, .key = "json", .local = true,
	  .help = "print the raw JSON replies" },
	{ .name = "version", .shrt = 'V', .kind = CTL_FLAG, .key = "version", .local = true,
	  .immediate = true, .help = "print denverctl's version" },
	{ .name = "help", .shrt = 'h', .kind = CTL_FLAG, .key = "help", .local = true,
	  .immediate = true, .help = "this text" },
	{ 0 },
};

const struct ctl_opt ctl_operand_dataset = {
	.kind = CTL_STRING, .meta = "DATASET", .key = "dataset", .required = true,
	.help = "a dataset (or job) of the configuration",
};
const struct ctl_opt ctl_operand_dataset_optional = {
	.kind = CTL_STRING, .meta = "DATASET", .key = "dataset",
	.help = "only this dataset (or job) of the configuration",
};
const struct ctl_opt ctl_operand_run = {
	.kind = CTL_RUN, .meta = "RUN", .key = "run", .required = true,
	.help = "a run id, as `denverctl runs` shows it",
};

/* getopt_long's view of one or two tables of rows. */
struct rows {
	const struct ctl_opt *row[MAX_ROWS];
	struct option longopts[MAX_ROWS + 1];      /* ends with a zeroed entry */
	char shorts[2 + 4 * MAX_ROWS];             /* '+', then "x:" per letter */
	size_t n, nshorts;
};

/* Append the letter C (with ':' when the row takes a value) to R's optstring. */
static void add_letter(struct rows *r, char c, const struct ctl_opt *o)
{
	r->shorts[r->nshorts++] = c;
	if (o->kind != CTL_FLAG)
		r->shorts[r->nshorts++] = ':';
	r->shorts[r->nshorts] = '\0';
}

/* Is the name or a letter of O already one of R's?  (A programming error
 * in the tables, said as such.) */
static bool taken(const struct rows *r, const struct ctl_opt *o)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct ctl_opt *p = r->row[i];
		if (strcmp(p->name, o->name) == 0 ||
		    (o->shrt && (o->shrt == p->shrt || o->shrt == p->alias)) ||
		    (o->alias && (o->alias == p->shrt || o->alias == p->alias)))
			return true;
	}
	return false;
}

/* Add the rows of TABLE (may be NULL) to R.  -1 after a message when a
 * name or letter is taken twice or there are too many. */
static int add_rows(struct rows *r, const struct ctl_opt *table, const char *who)
{
	for (const struct ctl_opt *o = table; o && o->name; o++) {
		if (r->n == MAX_ROWS || taken(r, o)) {
			fprintf(stderr, "%s: %s: option --%s: %s (a bug in denverctl)\n", ctl_prog, who,
			        o->name, r->n == MAX_ROWS ? "too many options" : "defined twice");
			return -1;
		}
		r->longopts[r->n] = (struct option){
			o->name, o->kind == CTL_FLAG ? no_argument : required_argument, NULL,
			LONG_VAL + (int)r->n,
		};
		if (o->shrt)
			add_letter(r, o->shrt, o);
		if (o->alias)
			add_letter(r, o->alias, o);
		r->row[r->n++] = o;
	}
	return 0;
}

/* The row getopt_long's return value OPT stands for. */
static const struct ctl_opt *row_of(const struct rows *r, int opt)
{
	if (opt >= LONG_VAL)
		return r->row[opt - LONG_VAL];
	for (size_t i = 0; i < r->n; i++)
		if (opt == r->row[i]->shrt || opt == r->row[i]->alias)
			return r->row[i];
	return NULL;
}

/* How messages name O: "--limit", or an operand's "RUN". */
static const char *label(const struct ctl_opt *o, char *buf, size_t n)
{
	if (!o->name)
		return o->meta;
	snprintf(buf, n, "--%s", o->name);
	return buf;
}

/* S as a decimal number from MIN to MAX into *OUT. */
static int parse_number(const char *who, const char *what, const char *s, long min, long max,
                        long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || *end || !*s || *out < min || *out > max) {
		fprintf(stderr, "%s: %s: %s wants a number from %ld to %ld, not '%s'\n", ctl_prog,
		        who, what, min, max, s);
		return -1;
	}
	return 0;
}

/* VALUE (NULL for a flag) of O, checked, into ARGS or OPTS at O's key. */
static int store(const char *who, const struct ctl_opt *o, const char *value, json_t *args,
                 json_t *opts)
{
	char buf[LABEL_MAX];
	const char *what = label(o, buf, sizeof buf);
	json_t *v = NULL;
	long n;

	switch (o->kind) {
	case CTL_FLAG:
		v = json_true();
		break;
	case CTL_STRING:
	case CTL_DATE:
		/* Local values (a path) are never sent, so need not be UTF-8. */
		v = o->local ? json_string_nocheck(value) : json_string(value);
		if (!v) {
			fprintf(stderr, "%s: %s: %s must be UTF-8 text\n", ctl_prog, who, what);
			return -1;
		}
		break;
	case CTL_INT:
	case CTL_RUN:
		if (parse_number(who, what, value, o->kind == CTL_RUN ? 1 : o->min,
		                 o->kind == CTL_RUN ? LONG_MAX : o->max, &n) < 0)
			return -1;
		v = json_integer(n);
		break;
	}
	if (json_object_set_new(o->local ? opts : args, o->key, v) < 0) {
		fprintf(stderr, "%s: %s: out of memory\n", ctl_prog, who);
		return -1;
	}
	return 0;
}

/* Run getopt_long over ARGV with R.  1 when an .immediate option was met
 * (parsing stops there), 0 at the end of the options, -1 on an error. */
static int scan(const struct rows *r, const char *who, int argc, char **argv, json_t *args,
                json_t *opts)
{
	const struct ctl_opt *o;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, r->shorts, r->longopts, NULL)) != -1) {
		if (opt == '?' || !(o = row_of(r, opt)))
			return -1;      /* getopt said why */
		if (store(who, o, optarg, args, opts) < 0)
			return -1;
		if (o->immediate)
			return 1;
	}
	return 0;
}

int ctl_parse_global(int argc, char **argv, json_t *opts)
{
	struct rows r = { .shorts = "+", .nshorts = 1 };     /* '+': stop at the command */

	if (add_rows(&r, ctl_global_opts, ctl_prog) < 0 ||
	    scan(&r, ctl_prog, argc, argv, NULL, opts) < 0)
		return -1;
	return optind;
}

/* "--from and --to are required" when any of TABLE's required options is
 * missing from ARGS and OPTS. */
static int check_required(const char *who, const struct ctl_opt *table, json_t *args,
                          json_t *opts)
{
	const struct ctl_opt *o;
	bool missing = false;
	int n = 0, i = 0;

	for (o = table; o && o->name; o++)
		if (o->required) {
			missing |= !json_object_get(o->local ? opts : args, o->key);
			n++;
		}
	if (!missing)
		return 0;
	fprintf(stderr, "%s: %s: ", ctl_prog, who);
	for (o = table; o->name; o++) {
		if (!o->required)
			continue;
		i++;
		fprintf(stderr, "%s--%s", i == 1 ? "" : i == n ? " and " : ", ", o->name);
	}
	fprintf(stderr, " %s required\n", n == 1 ? "is" : "are");
	return -1;
}

/* The words ARGV[optind..] left after the options: CMD's operand, if any. */
static int parse_operand(const struct ctl_cmd *cmd, int argc, char **argv, json_t *args,
                         json_t *opts)
{
	const struct ctl_opt *o = cmd->operand;
	int left = argc - optind;

	if (!o && left == 0)
		return 0;
	if (!o && !cmd->opts)
		fprintf(stderr, "%s: %s takes no arguments\n", ctl_prog, cmd->name);
	else if (!o)
		fprintf(stderr, "%s: %s: unexpected argument '%s'\n", ctl_prog, cmd->name, argv[optind]);
	else if (o->kind == CTL_RUN && left != 1)
		fprintf(stderr, "%s: %s: want exactly one run id\n", ctl_prog, cmd->name);
	else if (left == 0 && o->required)
		fprintf(stderr, "%s: %s: missing %s\n", ctl_prog, cmd->name, o->meta);
	else if (left > 1)
		fprintf(stderr, "%s: %s: unexpected argument '%s'\n", ctl_prog, cmd->name,
		        argv[optind + 1]);
	else
		return left ? store(cmd->name, o, argv[optind], args, opts) : 0;
	return -1;
}

int ctl_parse_command(const struct ctl_cmd *cmd, int argc, char **argv, json_t *args,
                      json_t *opts)
{
	struct rows r = { 0 };
	int rc;

	if (add_rows(&r, cmd->opts, cmd->name) < 0 ||
	    add_rows(&r, ctl_global_opts, cmd->name) < 0)
		return -1;
	if ((rc = scan(&r, cmd->name, argc, argv, args, opts)) != 0)
		return rc > 0 ? 0 : -1;
	if (check_required(cmd->name, cmd->opts, args, opts) < 0)
		return -1;
	return parse_operand(cmd, argc, argv, args, opts);
}

/* ---- usage and help, from the same rows ---- */

/* printf to BUF at *LEN (N bytes in all), keeping it NUL-terminated. */
static void append(char *buf, size_t n, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*len + 1 >= n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len = *len + (size_t)w < n ? *len + (size_t)w : n - 1;
}

/* How the usage line shows O: "DATASET", "--force", "-o FILE", in [] when
 * optional. */
static void usage_word(const struct ctl_opt *o, char *buf, size_t n, size_t *len)
{
	const char *open = o->required ? "" : "[", *close = o->required ? "" : "]";
	const char *sep = *len ? " " : "";

	if (!o->name)
		append(buf, n, len, "%s%s%s%s", sep, open, o->meta, close);
	else if (o->shrt)
		append(buf, n, len, "%s%s-%c %s%s", sep, open, o->shrt, o->meta, close);
	else if (o->kind == CTL_FLAG)
		append(buf, n, len, "%s%s--%s%s", sep, open, o->name, close);
	else
		append(buf, n, len, "%s%s--%s %s%s", sep, open, o->name, o->meta, close);
}

char *ctl_usage(const struct ctl_cmd *cmd, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	if (cmd->operand)
		usage_word(cmd->operand, buf, n, &len);
	for (const struct ctl_opt *o = cmd->opts; o && o->name; o++)
		usage_word(o, buf, n, &len);
	return buf;
}

void ctl_print_usage(FILE *f, const struct ctl_cmd *cmd)
{
	char u[256];

	ctl_usage(cmd, u, sizeof u);
	fprintf(f, "usage: %s %s%s%s\n", ctl_prog, cmd->name, *u ? " " : "", u);
}

/* One help line: "  -s, --socket PATH  control socket". */
static void print_row(FILE *f, const struct ctl_opt *o)
{
	char left[LABEL_MAX];
	size_t len = 0;

	if (!o->name)
		append(left, sizeof left, &len, "%s", o->meta);
	else if (o->shrt)
		append(left, sizeof left, &len, "-%c, --%s", o->shrt, o->name);
	else
		append(left, sizeof left, &len, "--%s", o->name);
	if (o->name && o->kind != CTL_FLAG)
		append(left, sizeof left, &len, " %s", o->meta);
	fprintf(f, "  %-17s  %s", left, o->help);
	if (o->kind == CTL_INT)
		fprintf(f, " (%ld to %ld)", o->min, o->max);
	fputc('\n', f);
}

void ctl_print_options(FILE *f, const struct ctl_opt *table)
{
	for (const struct ctl_opt *o = table; o && o->name; o++)
		print_row(f, o);
}

void ctl_print_help(FILE *f, const struct ctl_cmd *cmd)
{
	ctl_print_usage(f, cmd);
	fprintf(f, "\n%s\n", cmd->help);
	if (cmd->operand || cmd->opts)
		fputc('\n', f);
	if (cmd->operand)
		print_row(f, cmd->operand);
	ctl_print_options(f, cmd->opts);
	fprintf(f, "\nGlobal options, before or after the command:\n");
	ctl_print_options(f, ctl_global_opts);
}
