/*
 * main.c - command line, start-up in order, stop in reverse.
 *
 * Start-up errors are fatal (exit non-zero with one clear message); once the
 * loop runs, failures mark runs and the daemon keeps serving.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <signal.h>
#include <uv.h>

#include "notify/alerts.h"
#include "notify/lineage.h"
#include "app/check_data.h"
#include "base/clock.h"
#include "config/config.h"
#include "api/cmd_alerts.h"
#include "api/cmd_purge.h"
#include "api/cmd_source.h"
#include "api/cmd_sched.h"
#include "api/control.h"
#include "api/watch.h"
#include "base/denverd.h"
#include "base/fsutil.h"
#include "api/cmd_dq.h"
#include "base/log.h"
#include "app/loop.h"
#include "api/cmd_metrics.h"
#include "api/cmd_report.h"
#include "app/perm.h"
#include "engine/engine.h"
#include "store/store.h"
#include "store/integrity.h"
#include "version.h"

#define EX_USAGE_ 64
#define DEFAULT_CONFIG DENVERD_SYSCONFDIR "/denverd.yaml"

static void usage(FILE *f)
{
	fprintf(f,
	"usage: denverd [-c FILE] [--log-level LEVEL]\n"
	"       denverd --check [-c FILE]\n"
	"       denverd --check-data DATASET FILE [-c FILE] [--date D] [--json]\n"
	"       denverd --version | --help\n"
	"\n"
	"Keeps a queryable copy of Denver's open data current: scheduled fetches,\n"
	"data-quality checks, Spark conversion, run state in SQLite, control over a\n"
	"Unix socket (see denverctl(1)).  Runs in the foreground; see denverd(8).\n"
	"\n"
	"  -c, --config FILE     configuration (default %s)\n"
	"      --check           validate the configuration and exit (0, or 78)\n"
	"      --check-data DATASET FILE\n"
	"                        run DATASET's checks on FILE, no daemon needed\n"
	"                        (exit 0 pass/warn, 1 fail, 2 error)\n"
	"      --date D          exec date for --check-data (default today)\n"
	"      --json            --check-data prints the report as JSON\n"
	"      --log-level LEVEL error, warning, notice, info or debug\n"
	"  -V, --version         print the version and exit\n"
	"  -h, --help            this text\n", DEFAULT_CONFIG);
}

/* What the command line asks for. */
struct args {
	const char *config_path;
	bool check_only;             /* --check */
	const char *check_dataset;   /* --check-data DATASET FILE */
	const char *check_file;
	const char *exec_date;       /* --date, for --check-data */
	bool json;                   /* --json, for --check-data */
	int log_level;               /* --log-level; -1 when not given */
};

/* The operands after the options, and the options that go together.  -1
 * when they fit, else EX_USAGE_ after saying why. */
static int check_args(int argc, char **argv, struct args *a)
{
	if (a->check_dataset && optind != argc - 1) {
		fprintf(stderr, "denverd: --check-data DATASET needs one FILE\n");
		usage(stderr);
		return EX_USAGE_;
	}
	if (!a->check_dataset && (a->exec_date || a->json)) {
		fprintf(stderr, "denverd: --date and --json go with --check-data\n");
		return EX_USAGE_;
	}
	if (!a->check_dataset && optind != argc) {
		fprintf(stderr, "denverd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EX_USAGE_;
	}
	a->check_file = a->check_dataset ? argv[optind] : NULL;
	return -1;
}

/*
 * Fill A from ARGV.  -1 when denverd should go on (as a daemon or a
 * check), else the exit status after printing what was asked for
 * (--version, --help) or why the command line is wrong.
 */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "check-data", required_argument, NULL, 'D' },
		{ "date", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	*a = (struct args){ .config_path = DEFAULT_CONFIG, .log_level = -1 };
	while ((opt = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->config_path = optarg; break;
		case 'C': a->check_only = true; break;
		case 'D': a->check_dataset = optarg; break;
		case 'd': a->exec_date = optarg; break;
		case 'j': a->json = true; break;
		case 'L':
			if ((a->log_level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "denverd: unknown log level '%s'\n", optarg);
				return EX_USAGE_;
			}
			break;
		case 'V': printf("denverd %s\n", DENVERD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EX_USAGE_;
		}
	}
	return check_args(argc, argv, a);
}

/* Print every message of a failed load, one per line, to stderr. */
static void print_config_errors(const char *path, int rc, const char *errors)
{
	if (errors && *errors)
		fprintf(stderr, "%s%s", errors,
		        errors[strlen(errors) - 1] == '\n' ? "" : "\n");
	else
		fprintf(stderr, "%s: %s\n", path, strerror(-rc));
}

/* Configuration files are code (they name programs denverd runs): warn
 * when anyone but root and us could change this one. */
static void warn_if_untrusted(const struct config *cfg, const char *path)
{
	/* A secret (a token in a URL or header) makes a readable file a leak. */
	bool secret = cfg->alerts.webhook || cfg->lineage.url || cfg->lineage.header;
	char why[512];

	if (perm_check_trusted(path, getuid(), secret, why, sizeof why) < 0)
		log_warn(NULL, "configuration %s: %s", path, why);
}

/* --log-level given on the command line wins over the file, also after a
 * reload; -1 when not given. */
static int cmdline_log_level = -1;

static int daemon_reload(struct denverd *d, char **errors)
{
	struct config *next = NULL, *old = d->cfg;
	int rc = config_load(d->config_path, &next, errors);

	if (rc < 0)
		return rc;
	/* Some settings are bound at start (files, socket, the thread pool's
	 * size, the time every schedule was computed in: KEY_RESTART in the
	 * config tables); changing them needs a restart, and a half-applied
	 * reload is worse than none. */
	const char *fixed = config_restart_diff(old, next);
	if (fixed) {
		if (asprintf(errors, "%s: %s cannot change on reload; restart denverd",
		             d->config_path, fixed) < 0)
			*errors = NULL;
		config_free(next);
		return -EINVAL;
	}
	log_set_level(cmdline_log_level >= 0 ? cmdline_log_level : next->log_level);
	d->cfg = next;
	alerts_reload(d);
	warn_if_untrusted(next, d->config_path);
	log_info(NULL, "configuration reloaded from %s (%zu datasets, %zu jobs)",
	         d->config_path, next->n_datasets, next->n_jobs);
	sched_reload(d, old);        /* takes OLD: frees it once no task borrows it */
	return 0;
}

static void tune_malloc(void)
{
	/* One malloc arena: the few worker threads (scans, metrics, file
	 * writes) would otherwise each keep an arena of their own resident
	 * for the daemon's lifetime. */
	mallopt(M_ARENA_MAX, 1);
	/* Large blocks (a status reply, a scan's buffers) are mapped and given
	 * back when freed.  Setting the threshold also stops glibc from raising
	 * it after each such free, which would leave them on the heap. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

/* libuv's pool runs file writes, hashing and data-quality scans; it is
 * sized once, before its first use, so every concurrent fetch and check
 * gets a thread and a slow scan never starves a download's writes.  (So
 * limits.fetches and limits.checks are KEY_RESTART.)  UV_THREADPOOL_SIZE
 * in the environment wins. */
static void size_thread_pool(const struct config *cfg)
{
	char n[16];

	if (getenv("UV_THREADPOOL_SIZE"))
		return;
	snprintf(n, sizeof n, "%u", cfg->limits.fetches + cfg->limits.checks + 2);
	setenv("UV_THREADPOOL_SIZE", n, 1);
}

/* --check and --check-data: no daemon; frees CFG.  The exit status. */
static int run_check(const struct args *a, struct config *cfg)
{
	int rc = 0;

	if (a->check_dataset)
		rc = checkdata_main(cfg, a->check_dataset, a->check_file, a->exec_date, a->json);
	else
		printf("%s: ok (%zu datasets, %zu jobs)\n", a->config_path, cfg->n_datasets,
		       cfg->n_jobs);
	config_free(cfg);
	return rc;
}

static void daemon_stop(struct denverd *d)
{
	d->stopping = true;
	loop_notify_stopping();
	loop_set_status("stopping");
	sched_stop(d);               /* SIGTERM to running jobs; runs stay resumable */
	control_fini(d);
	uv_stop(d->loop);
}

static int open_state(struct denverd *d)
{
	char *db = NULL, *err = NULL;
	int rc;

	if ((rc = make_dir(d->cfg->state_dir, 0750)) < 0) {
		log_err(NULL, "state_dir %s: %s", d->cfg->state_dir, strerror(-rc));
		return rc;
	}
	if (asprintf(&db, "%s/state.db", d->cfg->state_dir) < 0)
		return -ENOMEM;
	rc = store_open(db, &d->store, &err);
	if (rc < 0)
		log_err(NULL, "state store: %s", err ? err : strerror(-rc));
	free(err);
	free(db);
	return rc;
}

/* Alerts judge every run once its final state is committed. */
static void judge_finished_run(void *arg, const struct engine_event *ev)
{
	if (ev->kind == ENGINE_EV_RUN_STATE && run_state_final(ev->state))
		alerts_run_finished(arg, ev->run_id);
}

/* Lineage hears every task state, in its own words (notify/ knows no
 * engine). */
static void lineage_task_event(void *arg, const struct engine_event *ev)
{
	if (ev->kind != ENGINE_EV_TASK_STATE)
		return;
	const struct lineage_task_event le = {
		.ts = ev->ts, .dataset = ev->dataset, .job = ev->job, .task = ev->task,
		.run_id = ev->run_id, .exec_date = ev->exec_date, .state = ev->state,
		.message = ev->message,
	};
	lineage_task_state(((struct denverd *)arg)->lineage, &le);
}

/*
 * The modules in start-up order, and who hears whom: the engine announces
 * to the journal, the control watchers, the alerts and lineage (in that
 * order); the alerts to the control watchers.  Commands are registered by api/.  0 or
 * a negative errno (logged); main() stops what started either way.
 */
static int start_modules(struct denverd *d)
{
	int rc;

	if ((rc = control_init(d)) < 0) {
		log_err(NULL, "control socket %s: %s", d->cfg->socket,
		        rc == -EADDRINUSE ? "another denverd is listening there"
		        : rc == -EEXIST ? "exists and is not a socket" : uv_strerror(rc));
		return rc;
	}
	if ((rc = cmd_dq_init(d)) < 0 || (rc = cmd_metrics_init(d)) < 0 ||
	    (rc = alerts_init(d)) < 0 ||
	    (rc = alerts_subscribe(d->alerts, watch_alert_event, d)) < 0 ||
	    (rc = cmd_alerts_init(d)) < 0 || (rc = cmd_report_init(d)) < 0 ||
	    (rc = cmd_source_init(d)) < 0 || (rc = cmd_purge_init(d)) < 0 ||
	    (rc = lineage_init(d)) < 0) {
		log_err(NULL, "start-up: %s", strerror(-rc));
		return rc;
	}
	if ((rc = sched_init(d)) < 0)
		return rc;           /* logged by sched_init */
	if ((rc = engine_subscribe(d->sched, engine_journal, NULL)) < 0 ||
	    (rc = engine_subscribe(d->sched, watch_engine_event, d)) < 0 ||
	    (rc = engine_subscribe(d->sched, judge_finished_run, d)) < 0 ||
	    (rc = engine_subscribe(d->sched, lineage_task_event, d)) < 0 ||
	    (rc = cmd_sched_init(d)) < 0 || (rc = cmd_status_init(d)) < 0) {
		log_err(NULL, "start-up: %s", strerror(-rc));
		return rc;
	}
	if ((rc = sched_start(d)) < 0)
		return rc;           /* logged by sched_start */
	return store_integrity_init(d);   /* logged by store_integrity_init */
}

int main(int argc, char **argv)
{
	struct denverd d = { 0 };
	struct args args;
	int rc, status = 1;
	char *errors = NULL;
	uv_loop_t loop;

	log_init("denverd");
	tune_malloc();
	if ((rc = parse_args(argc, argv, &args)) >= 0)
		return rc;
	if (clock_init() < 0) {
		fprintf(stderr, "denverd: DENVERD_NOW='%s' is not a time like "
		        "2026-03-08T01:59:00-07:00 or unix seconds\n", getenv("DENVERD_NOW"));
		return EX_USAGE_;
	}

	rc = config_load(args.config_path, &d.cfg, &errors);
	if (rc < 0) {
		print_config_errors(args.config_path, rc, errors);
		free(errors);
		return CONFIG_EX_CONFIG;
	}
	if (args.check_dataset || args.check_only)
		return run_check(&args, d.cfg);

	cmdline_log_level = args.log_level;
	log_set_level(args.log_level >= 0 ? args.log_level : d.cfg->log_level);
	/* A file-size limit must fail a write (EFBIG), not kill the daemon. */
	signal(SIGXFSZ, SIG_IGN);
	size_thread_pool(d.cfg);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err(NULL, "libcurl failed to initialise");
		config_free(d.cfg);
		return 1;
	}
	warn_if_untrusted(d.cfg, args.config_path);
	d.config_path = strdup(args.config_path);
	d.started_ms = clock_now_ms();
	d.reload = daemon_reload;
	d.stop = daemon_stop;
	uv_loop_init(&loop);
	d.loop = &loop;

	if ((rc = open_state(&d)) < 0)
		goto out;
	if ((rc = loop_init(&d)) < 0) {
		log_err(NULL, "signals: %s", uv_strerror(rc));
		goto out;
	}
	if ((rc = start_modules(&d)) < 0)
		goto out;            /* logged */

	log_info(NULL, "denverd %s ready: %zu datasets, %zu jobs, socket %s, state %s",
	         DENVERD_VERSION, d.cfg->n_datasets, d.cfg->n_jobs, d.cfg->socket,
	         d.cfg->state_dir);
	loop_set_status("ready: %zu datasets", d.cfg->n_datasets);
	/* Start-up (recovery, catch-up) read much of the store and freed more
	 * heap than an idle daemon needs: give it back before idling. */
	store_release_memory(d.store);
	malloc_trim(0);
	loop_notify_ready();
	uv_run(&loop, UV_RUN_DEFAULT);
	status = d.exit_status;
	log_info(NULL, "stopped");
out:
	store_integrity_fini(&d);
	sched_fini(&d);              /* waits (bounded) for cancelled children */
	lineage_fini(&d);            /* drops what waits: never waits on a receiver */
	alerts_fini(&d);
	cmd_metrics_fini(&d);
	control_fini(&d);
	loop_fini(&d);
	loop_drain(&d);
	if (status == 0)
		status = d.exit_status;      /* set by a module while stopping */
	store_close(d.store);
	if (uv_loop_close(&loop) < 0)
		log_debug(NULL, "loop still had handles at exit");
	config_free(d.cfg);
	free(d.config_path);
	curl_global_cleanup();
	log_fini();
	return status;
}
