/* test_metrics.c - Prometheus text from a real store file filled with runs,
 * attempts, snapshots, check results and alerts written the way the other
 * modules write them (plain SQL, so this test does not depend on them). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "base/clock.h"
#include "api/control.h"
#include "ctlcall.h"
#include "base/denverd.h"
#include "domain/config_types.h"
#include "api/cmd_metrics.h"
#include "api/metrics.h"
#include "store/store.h"
#include "tmpstore.h"
#include "version.h"

static const char fill_sql[] =
	"INSERT INTO datasets(name, first_configured, paused) VALUES"
	" ('traffic_accidents', 0, 0), ('service_requests_311', 0, 1);"
	"INSERT INTO runs(id, target, kind, exec_date, trigger, state, created, started, ended)"
	" VALUES (1, 'traffic_accidents', 'dataset', '2026-11-22', 'schedule', 'succeeded',"
	"         1795300000000, 1795300000000, 1795300090000),"
	"        (2, 'traffic_accidents', 'dataset', '2026-11-23', 'schedule', 'unchanged',"
	"         1795390000000, 1795390000000, 1795390005500),"
	"        (3, 'traffic_accidents', 'dataset', '2026-11-24', 'schedule', 'failed',"
	"         1795480000000, 1795480000000, 1795480100000),"
	"        (4, 'service_requests_311', 'dataset', '2026-11-24', 'manual', 'running',"
	"         1795480000000, 1795480000000, NULL),"
	"        (5, 'report', 'job', '2026-11-22', 'schedule', 'succeeded',"
	"         1795300100000, 1795300100000, 1795300200000),"
	"        (6, 'we\"ird\\name', 'job', '2026-11-22', 'manual', 'failed', 0, 0, 0);"
	"INSERT INTO tasks(id, run_id, name, seq, state, attempts) VALUES"
	" (1, 1, 'fetch', 0, 'succeeded', 2), (2, 2, 'fetch', 0, 'unchanged', 1),"
	" (3, 3, 'fetch', 0, 'failed', 1), (4, 4, 'fetch', 0, 'running', 1),"
	" (5, 4, 'check', 1, 'queued', 0), (6, 3, 'check', 1, 'queued', 0);"
	"INSERT INTO attempts(task_id, n, started, ended, outcome) VALUES"
	" (1, 1, 1795300000000, 1795300030000, 'failed'),"
	" (1, 2, 1795300040000, 1795300052250, 'succeeded'),"
	" (2, 1, 1795390000000, 1795390001500, 'unchanged'),"
	" (3, 1, 1795480000000, 1795480100000, 'failed'),"
	" (4, 1, 1795480000000, NULL, NULL);"
	"INSERT INTO snapshots(run_id, dataset, exec_date, path, bytes, hash, rows, state,"
	"                      published) VALUES"
	" (1, 'traffic_accidents', '2026-11-22', 'a', 832967, 'h1', 4171, 'published', 1),"
	" (3, 'traffic_accidents', '2026-11-24', 'b', 1000, 'h2', 10, 'quarantined', 2);"
	"INSERT INTO dq_results(run_id, check_name, check_type, severity, outcome) VALUES"
	" (1, 'rows', 'row_count', 'fail', 'pass'), (3, 'rows', 'row_count', 'fail', 'fail'),"
	" (1, 'location', 'coordinates', 'warn', 'warn');"
	"INSERT INTO alerts(ts, dataset, reason, state, message) VALUES"
	" (1, 'traffic_accidents', 'run_failed', 'firing', 'x'),"
	" (2, 'traffic_accidents', 'stale', 'firing', 'x'),"
	" (3, 'traffic_accidents', 'stale', 'recovered', 'x');";

struct fixture {
	struct tmpstore t;
	struct config cfg;
	struct cfg_dataset datasets[2];
	struct denverd d;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f || tmpstore_open(&f->t) < 0 || tmpstore_sql(&f->t, fill_sql) < 0)
		return -1;
	f->datasets[0].name = "traffic_accidents";
	f->datasets[0].max_age_ms = 36 * 3600 * 1000ull;
	f->datasets[1].name = "service_requests_311";
	f->datasets[1].max_age_ms = 0;
	f->cfg.datasets = f->datasets;
	f->cfg.n_datasets = 2;
	f->d.cfg = &f->cfg;
	f->d.store = f->t.st;
	f->d.started_ms = clock_now_ms() - 90 * 1000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tmpstore_close(&f->t);
	free(f);
	return 0;
}

static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("missing line: %s\n--- in ---\n%s", line, text);
}

static void test_store_aggregates(void **state)
{
	struct fixture *f = *state;
	char *text;
	size_t len;

	assert_int_equal(metrics_text(&f->d, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	static const char *const want[] = {
		"# TYPE denverd_runs gauge",
		"denverd_runs{target=\"traffic_accidents\",kind=\"dataset\",state=\"failed\"} 1",
		"denverd_runs{target=\"traffic_accidents\",kind=\"dataset\",state=\"succeeded\"} 1",
		"denverd_runs{target=\"service_requests_311\",kind=\"dataset\",state=\"running\"} 1",
		"denverd_runs{target=\"report\",kind=\"job\",state=\"succeeded\"} 1",
		/* label values are escaped */
		"denverd_runs{target=\"we\\\"ird\\\\name\",kind=\"job\",state=\"failed\"} 1",
		/* the unchanged run of the 23rd is the latest time data was current */
		"denverd_last_success_timestamp_seconds{dataset=\"traffic_accidents\"} 1795390005.5",
		/* the quarantined snapshot does not count as the current one */
		"denverd_snapshot_rows{dataset=\"traffic_accidents\"} 4171",
		"denverd_snapshot_bytes{dataset=\"traffic_accidents\"} 832967",
		"# TYPE denverd_fetched_bytes_total counter",
		"denverd_fetched_bytes_total{dataset=\"traffic_accidents\"} 833967",
		"denverd_fetch_attempts_total{dataset=\"traffic_accidents\",outcome=\"failed\"} 2",
		"denverd_fetch_attempts_total{dataset=\"traffic_accidents\",outcome=\"succeeded\"} 1",
		"denverd_fetch_attempts_total{dataset=\"traffic_accidents\",outcome=\"unchanged\"} 1",
		"denverd_fetch_duration_seconds{dataset=\"traffic_accidents\"} 1.5",
		"denverd_check_results_total{dataset=\"traffic_accidents\",check=\"rows\",outcome=\"fail\"} 1",
		"denverd_check_results_total{dataset=\"traffic_accidents\",check=\"rows\",outcome=\"pass\"} 1",
		"denverd_check_results_total{dataset=\"traffic_accidents\",check=\"location\",outcome=\"warn\"} 1",
		"denverd_dataset_paused{dataset=\"service_requests_311\"} 1",
		"denverd_dataset_paused{dataset=\"traffic_accidents\"} 0",
		"denverd_alert_firing{dataset=\"traffic_accidents\",reason=\"run_failed\"} 1",
		"denverd_alert_firing{dataset=\"traffic_accidents\",reason=\"stale\"} 0",
		"denverd_dataset_max_age_seconds{dataset=\"traffic_accidents\"} 129600",
		"denverd_build_info{version=\"" DENVERD_VERSION "\"} 1",
		/* run 4 is running its fetch, its check waits; the task left
		 * queued in the failed run 3 does not count */
		"denverd_tasks{state=\"queued\"} 1",
		"denverd_tasks{state=\"running\"} 1",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_line(text, want[i]);
	/* A dataset without an SLA is not listed; a running attempt has no outcome. */
	assert_null(strstr(text, "max_age_seconds{dataset=\"service_requests_311\"}"));
	assert_null(strstr(text, "outcome=\"\""));
	free(text);
}

static void test_process_figures(void **state)
{
	struct fixture *f = *state;
	char *text, *p;
	size_t len;
	unsigned long long rss;
	double uptime;

	assert_int_equal(metrics_rss(&rss), 0);
	assert_true(rss > 1024 * 1024 && rss < 1024ull * 1024 * 1024);
	assert_int_equal(metrics_text(&f->d, &text, &len), 0);
	assert_non_null(p = strstr(text, "\ndenverd_uptime_seconds "));
	uptime = strtod(p + strlen("\ndenverd_uptime_seconds "), NULL);
	assert_true(uptime >= 90 && uptime < 120);
	assert_non_null(strstr(text, "\nprocess_resident_memory_bytes "));
	assert_non_null(strstr(text, "\nprocess_start_time_seconds "));
	free(text);
}

static void test_store_error_is_reported(void **state)
{
	struct fixture *f = *state;
	char *text = (char *)1;
	size_t len;

	assert_int_equal(tmpstore_sql(&f->t, "DROP TABLE dq_results"), 0);
	assert_int_equal(metrics_text(&f->d, &text, &len), -EIO);
	assert_null(text);
	assert_non_null(strstr(store_errmsg(f->t.st), "dq_results"));
}

static void test_command_over_the_socket(void **state)
{
	struct fixture *f = *state;
	uv_loop_t loop;
	char sock[128], *reply;
	json_t *r;

	snprintf(sock, sizeof sock, "%s/denverd.sock", f->t.dir);
	f->cfg.socket = sock;
	f->cfg.socket_mode = 0660;
	f->cfg.limits.request_size = 4096;
	f->cfg.limits.clients = 4;
	assert_int_equal(uv_loop_init(&loop), 0);
	f->d.loop = &loop;
	assert_int_equal(control_init(&f->d), 0);
	assert_int_equal(cmd_metrics_init(&f->d), 0);
	assert_int_equal(cmd_metrics_init(&f->d), -EALREADY);
	/* The first rendering runs on a worker, to learn what one costs. */
	assert_true(cmd_metrics_refreshing());
	while (cmd_metrics_refreshing())
		uv_run(&loop, UV_RUN_ONCE);

	/* A small store: rendered on the loop for each scrape, so fresh. */
	reply = ctlcall(&loop, sock, "{\"v\":1,\"id\":3,\"cmd\":\"metrics\"}");
	assert_non_null(reply);
	r = json_loads(reply, 0, NULL);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 3);
	const char *text = json_string_value(json_object_get(json_object_get(r, "result"), "text"));
	assert_non_null(text);
	assert_non_null(strstr(text, "\ndenverd_snapshot_rows{dataset=\"traffic_accidents\"} 4171\n"));
	assert_non_null(strstr(text, "\ndenverd_metrics_store_age_seconds 0\n"));
	assert_false(cmd_metrics_refreshing());
	json_decref(r);
	free(reply);

	/* A store too big to render on the loop: the last worker rendering
	 * answers, and the scrape starts the next one. */
	cmd_metrics_tune(-1, 0);
	assert_int_equal(tmpstore_sql(&f->t, "UPDATE snapshots SET rows = 4200 WHERE id = 1"), 0);
	reply = ctlcall(&loop, sock, "{\"cmd\":\"metrics\"}");
	assert_non_null(strstr(reply, "denverd_snapshot_rows{dataset=\\\"traffic_accidents\\\"} 4171\\n"));
	free(reply);
	while (cmd_metrics_refreshing())
		uv_run(&loop, UV_RUN_ONCE);
	reply = ctlcall(&loop, sock, "{\"cmd\":\"metrics\"}");
	assert_non_null(strstr(reply, "denverd_snapshot_rows{dataset=\\\"traffic_accidents\\\"} 4200\\n"));
	assert_non_null(strstr(reply, "denverd_metrics_store_age_seconds "));
	free(reply);
	while (cmd_metrics_refreshing())
		uv_run(&loop, UV_RUN_ONCE);

	/* A store failure is the daemon's error, reported as such. */
	cmd_metrics_tune(1000, 0);
	assert_int_equal(tmpstore_sql(&f->t, "DROP TABLE alerts"), 0);
	reply = ctlcall(&loop, sock, "{\"cmd\":\"metrics\"}");
	assert_non_null(reply);
	assert_non_null(strstr(reply, "\"code\":\"EINTERNAL\""));
	assert_non_null(strstr(reply, "alerts"));
	free(reply);

	cmd_metrics_fini(&f->d);
	control_fini(&f->d);
	assert_int_equal(ctlcall_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_figures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_error_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_over_the_socket, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
