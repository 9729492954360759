/* test_config.c - the configuration parser: unit parsers, good and bad
 * files with their exact messages, defaults, caps, and the shipped file.
 * (Enum names and the name rule: tests/unit/domain/test_config_types.c.) */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- unit parsers ------------------------------------------------------ */

struct u64_case {
	const char *text;
	int rc;
	uint64_t value;
};

static const struct u64_case durations[] = {
	{ "500ms", 0, 500 }, { "30s", 0, 30000 }, { "5m", 0, 300000 },
	{ "2h", 0, 7200000 }, { "1d", 0, 86400000 }, { "1w", 0, 604800000 },
	{ "1h30m", 0, 5400000 }, { "0", 0, 0 }, { "0s", 0, 0 }, { "36h", 0, 129600000 },
	{ "", -EINVAL, 0 }, { "5", -EINVAL, 0 }, { "5 m", -EINVAL, 0 },
	{ "-1s", -EINVAL, 0 }, { "1.5h", -EINVAL, 0 }, { "1x", -EINVAL, 0 },
	{ "m", -EINVAL, 0 }, { "1hh", -EINVAL, 0 }, { "5S", -EINVAL, 0 },
	{ " 5s", -EINVAL, 0 }, { "5s ", -EINVAL, 0 }, { "1h30", -EINVAL, 0 },
	{ "18446744073709551615s", -EINVAL, 0 }, { "99999999999999999999ms", -EINVAL, 0 },
};

static const struct u64_case sizes[] = {
	{ "512", 0, 512 }, { "0", 0, 0 }, { "10B", 0, 10 }, { "64KiB", 0, 65536 },
	{ "1MiB", 0, 1048576 }, { "1GiB", 0, 1073741824 }, { "2TiB", 0, 2199023255552 },
	{ "1KB", 0, 1000 }, { "1kB", 0, 1000 }, { "2MB", 0, 2000000 },
	{ "1GB", 0, 1000000000 }, { "3TB", 0, 3000000000000 },
	{ "", -EINVAL, 0 }, { "1.5GiB", -EINVAL, 0 }, { "1 KiB", -EINVAL, 0 },
	{ "1kib", -EINVAL, 0 }, { "KiB", -EINVAL, 0 }, { "-1", -EINVAL, 0 },
	{ "1K", -EINVAL, 0 }, { "64k", -EINVAL, 0 }, { "99999999999999999999", -EINVAL, 0 },
	{ "18014398509481984KiB", -EINVAL, 0 },
};

static void check_u64_cases(int (*parse)(const char *, uint64_t *), const struct u64_case *t,
                            size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 12345;
		int rc = parse(t[i].text, &v);
		if (rc != t[i].rc)
			fail_msg("'%s': rc %d, want %d", t[i].text, rc, t[i].rc);
		if (rc == 0 && v != t[i].value)
			fail_msg("'%s': %llu", t[i].text, (unsigned long long)v);
	}
}

static void test_durations(void **state)
{
	check_u64_cases(config_parse_duration, durations, N(durations));
}

static void test_sizes(void **state)
{
	check_u64_cases(config_parse_size, sizes, N(sizes));
}

static const struct {
	const char *text;
	int rc;
	double frac;
} percents[] = {
	{ "2%", 0, 0.02 }, { "0.5%", 0, 0.005 }, { "100%", 0, 1.0 }, { "0%", 0, 0 },
	{ "150%", 0, 1.5 }, { "0.01%", 0, 0.0001 },
	{ "2", -EINVAL, 0 }, { "%", -EINVAL, 0 }, { "2 %", -EINVAL, 0 }, { "-1%", -EINVAL, 0 },
	{ ".5%", -EINVAL, 0 }, { "5.%", -EINVAL, 0 }, { "2%%", -EINVAL, 0 },
	{ "abc", -EINVAL, 0 }, { "1e2%", -EINVAL, 0 }, { "", -EINVAL, 0 }, { "0.5", -EINVAL, 0 },
};

static void test_percents(void **state)
{
	for (size_t i = 0; i < N(percents); i++) {
		double f = -7;
		int rc = config_parse_percent(percents[i].text, &f);
		if (rc != percents[i].rc)
			fail_msg("'%s': rc %d, want %d", percents[i].text, rc, percents[i].rc);
		if (rc == 0 && fabs(f - percents[i].frac) > 1e-12)
			fail_msg("'%s': %g", percents[i].text, f);
	}
}

/* ---- good and bad files ------------------------------------------------ */

/* A dataset d whose lines 1-4 are fixed; further keys of d start on line 5,
 * column 5. */
#define DS "datasets:\n  d:\n    url: https://example.org/d.csv\n    schedule: \"0 6 * * *\"\n"
/* The same with another URL; the URL starts at 3:10. */
#define DS_URL(u) "datasets:\n  d:\n    url: " u "\n    schedule: \"0 6 * * *\"\n"

static const char *const good_files[] = {
	DS,
	"timezone: UTC\n",
	"timezone: Europe/Berlin\n" DS_URL("https://x.org/a.csv") "  e:\n    url: https://x.org/b.csv\n"
	"    schedule: \"*/15 0-5,22 1-7 JAN-mar mon-fri\"\n"
	"  f: {url: https://x.org/c.csv, schedule: \"@daily\"}\n",
	"datasets:\n",
	"datasets: {}\njobs:\nalerts:\nlimits: {}\n",
	"socket_mode: 0600\nlog_level: warn\nallow_file_urls: false\n",
	"allow_file_urls: true\n" DS_URL("file:///srv/demo/d.csv"),
	DS_URL("https://example.org/311_{year}_{month}_{day}.csv"),
	DS_URL("HTTP://example.org:8080/a/b.csv?x=1#f"),
	DS "    max_age: 1d12h\n    retry_delay: 0\n    retry_max_delay: 0\n",
	DS "    file_name: data_{exec_date}.csv\n    missed: all\n    convert: false\n",
	DS "    fetch: {timeout: 1h, low_speed_limit: 0, max_redirects: 0}\n",
	DS "    schema:\n      columns:\n        - {name: t, type: timestamp}\n"
	   "        - {name: d, type: date, formats: [\"%d/%m/%Y\"], aliases: [Day, \"The Date\"]}\n"
	   "        - {name: n, type: float, nulls: [\"0\", \"-\"]}\n"
	   "      key: [t]\n      event_time: t\n"
	   "    checks:\n      ts: {type: timestamps}\n      f: {type: freshness, max_age: 1d}\n"
	   "      u: {type: unique, severity: warn}\n      r: {type: range, columns: [n], max: 5}\n",
	"spark:\n  python:\n  conf: {spark.a: 1, spark.b: \"x=y\"}\n",
	"alerts:\n  command: [\"/bin/notify\", \"{dataset}\", \"{reason}\", \"{message}\"]\n"
	"  webhook: https://hooks.example.org/T0/secret\n",
	DS "jobs:\n  report:\n    after: [d]\n    command: [\"prog\", \"{{literal}}\", \"{state_dir}/{job}\"]\n",
};

static void test_good_files(void **state)
{
	for (size_t i = 0; i < N(good_files); i++) {
		struct config *cfg = NULL;
		char *errors = NULL;
		int rc = config_parse("t.yaml", good_files[i], strlen(good_files[i]), &cfg, &errors);
		if (rc != 0)
			fail_msg("good file %zu: rc %d:\n%s", i, rc, errors ? errors : "");
		assert_non_null(cfg);
		assert_null(errors);
		config_free(cfg);
	}
}

static const struct {
	const char *text;
	const char *want;
} bad_files[] = {
	/* not a mapping of settings */
	{ "", "t.yaml:1:1: the file is empty; expected a mapping of settings (timezone, "
	      "state_dir, datasets, ...)\n" },
	{ "# only a comment\n\n", "t.yaml:1:1: the file is empty; expected a mapping of settings "
	                          "(timezone, state_dir, datasets, ...)\n" },
	{ "- a\n- b\n", "t.yaml:1:1: expected a mapping of settings (timezone, state_dir, "
	                "datasets, ...) at the top level, not a list\n" },
	{ "just text\n", "t.yaml:1:1: expected a mapping of settings (timezone, state_dir, "
	                 "datasets, ...) at the top level, not a string\n" },
	/* not YAML */
	{ "a: [1, 2\n", "t.yaml:2:1: not valid YAML: did not find expected ',' or ']' "
	                "(while parsing a flow sequence at line 1)\n" },
	{ "timezone: UTC\n  state_dir: /x\n", "t.yaml:2:12: not valid YAML: mapping values "
	                                      "are not allowed in this context\n" },
	{ "x: \xff\n", "t.yaml:1:4: not valid YAML: invalid leading UTF-8 octet (byte 0xff)\n" },
	{ "timezone: UTC\n---\ntimezone: UTC\n",
	  "t.yaml:2:1: only one YAML document is allowed; a second one starts here\n" },
	{ "state_dir: &d /srv\nsocket: *d\n",
	  "t.yaml:2:9: aliases (*d) are not supported; write the value out\n" },
	{ "timezone: \"a\\0b\"\n", "t.yaml:1:11: NUL characters are not allowed in values\n" },
	{ "? [a]\n: 1\n", "t.yaml:1:3: keys must be strings, not a list\n" },
	{ "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	  "t.yaml:1:35: values are nested more than 32 levels deep\n" },
	/* keys */
	{ "timezon: UTC\n", "t.yaml:1:1: unknown key 'timezon', did you mean 'timezone'?\n" },
	{ "Timezone: UTC\n", "t.yaml:1:1: unknown key 'Timezone', did you mean 'timezone'?\n" },
	{ "colour: red\n", "t.yaml:1:1: unknown key 'colour'; expected one of: timezone, "
	                   "state_dir, socket, socket_mode, log_level, allow_file_urls, limits, "
	                   "spark, alerts, datasets, jobs\n" },
	{ "timezone: UTC\ntimezone: UTC\n",
	  "t.yaml:2:1: duplicate key 'timezone', first set at line 1\n" },
	/* time zone and schedules */
	{ "timezone: America/Denvr\n", "t.yaml:1:11: timezone: unknown time zone 'America/Denvr' "
	  "(an IANA name like America/Denver or UTC)\n" },
	{ "timezone: ../../etc/passwd\n", "t.yaml:1:11: timezone: '../../etc/passwd' is not a "
	  "usable time zone (an IANA name like America/Denver or UTC)\n" },
	{ DS_URL("https://x.org/a.csv") "  e:\n    url: https://x.org/b.csv\n    schedule: 75 6 * * *\n"
	  "  f:\n    url: https://x.org/c.csv\n    schedule: \"15 6 * *\"\n"
	  "  g:\n    url: https://x.org/c.csv\n    schedule: \"0 0 30 feb *\"\n",
	  "t.yaml:7:15: schedule: minute: value out of range 0-59 (in '75 6 * * *')\n"
	  "t.yaml:10:15: schedule: expected 5 fields (minute hour day-of-month month "
	  "day-of-week), found fewer (in '15 6 * *')\n"
	  "t.yaml:13:15: schedule: day-of-month: the selected days never occur in the selected "
	  "months (in '0 0 30 feb *')\n" },
	/* types and units */
	{ "state_dir: var/lib\n", "t.yaml:1:12: state_dir: expected an absolute path, not 'var/lib'\n" },
	{ "state_dir:\n", "t.yaml:1:11: state_dir: expected a string, not an empty value\n" },
	{ "timezone: [UTC]\n", "t.yaml:1:11: timezone: expected a string, not a list\n" },
	{ "socket: \"\"\n", "t.yaml:1:9: socket: must not be empty\n" },
	{ "socket_mode: rw\n",
	  "t.yaml:1:14: socket_mode: expected an octal mode like \"0660\", not 'rw'\n" },
	{ "log_level: verbose\n", "t.yaml:1:12: log_level: expected error, warning, notice, "
	                          "info or debug, not 'verbose'\n" },
	{ "log_level: inf0\n", "t.yaml:1:12: log_level: expected error, warning, notice, info "
	                       "or debug, not 'inf0', did you mean 'info'?\n" },
	{ "allow_file_urls: yes\n",
	  "t.yaml:1:18: allow_file_urls: expected true or false, not 'yes'\n" },
	{ "limits: {fetches: 0, request_size: 64k, output_tail: [1]}\n",
	  "t.yaml:1:19: fetches: expected a whole number from 1 to 64, not '0'\n"
	  "t.yaml:1:36: request_size: expected a size like 512, 64KiB, 1MiB, 1GiB, not '64k'\n"
	  "t.yaml:1:54: output_tail: expected a size like 512, 64KiB, 1MiB, 1GiB, not a list\n" },
	{ "limits: 4\n", "t.yaml:1:9: limits: expected a mapping (key: value lines), not a string\n" },
	{ DS "    max_age: soon\n",
	  "t.yaml:5:14: max_age: expected a duration like 30s, 5m, 2h, 1d, not 'soon'\n" },
	{ DS "    convert_timeout: 0\n",
	  "t.yaml:5:22: convert_timeout: must be between 1s and 7d, not '0'\n" },
	{ DS "    retries: -1\n",
	  "t.yaml:5:14: retries: expected a whole number from 0 to 100, not '-1'\n" },
	{ DS "    missed: lastest\n", "t.yaml:5:13: missed: expected latest, all or none, "
	                             "not 'lastest', did you mean 'latest'?\n" },
	{ DS "    retry_delay: 5m\n    retry_max_delay: 1m\n",
	  "t.yaml:6:22: retry_max_delay (1m) is shorter than retry_delay (5m)\n" },
	/* durations print in common/fmt.h's style: largest unit plus one more */
	{ DS "    retry_delay: 90s\n    retry_max_delay: 0\n",
	  "t.yaml:6:22: retry_max_delay (0s) is shorter than retry_delay (1m30s)\n" },
	{ DS "    fetch: {connect_timeout: 5, max_redirect: 3}\n",
	  "t.yaml:5:30: connect_timeout: expected a duration like 30s, 5m, 2h, 1d, not '5'\n"
	  "t.yaml:5:33: unknown key 'max_redirect', did you mean 'max_redirects'?\n" },
	/* dataset names and required keys */
	{ "datasets:\n  Traffic-2:\n    url: https://x.org/a.csv\n    schedule: \"0 6 * * *\"\n",
	  "t.yaml:2:3: dataset name 'Traffic-2' must match [a-z0-9_]+ (it becomes a path)\n" },
	{ "datasets:\n  a123456789012345678901234567890123456789012345678901234567890123456789:\n"
	  "    url: https://x.org/a.csv\n    schedule: \"0 6 * * *\"\n",
	  "t.yaml:2:3: dataset name 'a123456789012345678901234567890123456789...' is longer "
	  "than 64 bytes\n" },
	{ "datasets:\n  d: {}\n", "t.yaml:2:3: missing key 'url' in dataset 'd'\n"
	                          "t.yaml:2:3: missing key 'schedule' in dataset 'd'\n" },
	{ "datasets:\n  d:\n    url: https://x.org/a.csv\n    shedule: \"0 6 * * *\"\n",
	  "t.yaml:2:3: missing key 'schedule' in dataset 'd'\n"
	  "t.yaml:4:5: unknown key 'shedule', did you mean 'schedule'?\n" },
	{ "datasets: [a]\n", "t.yaml:1:11: datasets: expected a mapping (key: value lines), "
	                     "not a list\n" },
	{ "datasets:\n  d: [1]\n",
	  "t.yaml:2:6: d: expected a mapping with url, schedule, ..., not a list\n" },
	{ "datasets:\n  d: {url: https://x.org/a.csv, schedule: \"1 1 * * *\"}\n"
	  "  d: {url: https://x.org/b.csv, schedule: \"1 1 * * *\"}\n",
	  "t.yaml:3:3: duplicate key 'd', first set at line 2\n" },
	/* URLs and file names */
	{ DS_URL("ftp://example.org/d.csv"),
	  "t.yaml:3:10: url: scheme 'ftp' is not supported; use https or http\n" },
	{ DS_URL("file:///srv/d.csv"), "t.yaml:3:10: url: file:// URLs need allow_file_urls: "
	                               "true (meant for the bundled demo)\n" },
	{ "allow_file_urls: true\n" DS_URL("file://srv/d.csv"),
	  "t.yaml:4:10: url: a file:// URL needs an absolute path, like file:///srv/x.csv\n" },
	{ DS_URL("https://example.org/d_{yaer}.csv"), "t.yaml:3:10: url: unknown placeholder "
	  "'{yaer}'; allowed: {year} {month} {day} {exec_date}\n" },
	{ DS_URL("https://example.org/d_{year.csv"), "t.yaml:3:10: url: unterminated "
	  "placeholder '{year.csv' (write '{{' for a literal brace)\n" },
	{ DS_URL("https://example.org/data/"),
	  "t.yaml:3:10: url: the URL's path does not end in a file name; set file_name\n" },
	{ DS_URL("example.org/d.csv"), "t.yaml:3:10: url: expected an absolute URL like "
	                               "https://host/path, not 'example.org/d.csv'\n" },
	{ DS_URL("https:///d.csv"), "t.yaml:3:10: url: the URL has no host\n" },
	{ DS_URL("\"https://example.org/a b.csv\""), "t.yaml:3:10: url: URLs cannot contain "
	  "spaces or control characters (encode a space as %20)\n" },
	{ DS "    file_name: ../x.csv\n", "t.yaml:5:16: file_name: '../x.csv' is not a plain "
	                                  "file name (no '/', not starting with '.')\n" },
	{ DS "    file_name: x_{run_id}.csv\n", "t.yaml:5:16: file_name: unknown placeholder "
	  "'{run_id}'; allowed: {year} {month} {day} {exec_date}\n" },
	/* schema */
	{ DS "    schema:\n      columns:\n        - {name: Geo Lon, type: flaot}\n",
	  "t.yaml:7:18: name: column name 'Geo Lon' must match [a-z0-9_]+ and be at most 64 "
	  "bytes (it becomes a Parquet column)\n"
	  "t.yaml:7:33: type: expected string, int, float, timestamp, date or bool, not "
	  "'flaot', did you mean 'float'?\n" },
	{ DS "    schema:\n      columns:\n        - {name: a, type: int, formats: [\"%Y\"]}\n"
	     "        - {name: t, type: timestamp, formats: [\"%Y-%m-%d %z\", \"%d/%m/%Y %I:%M\"]}\n",
	  "t.yaml:7:32: formats: only timestamp and date columns take formats, not int columns\n"
	  "t.yaml:7:42: formats: '%Y' needs %Y, %m and %d\n"
	  "t.yaml:8:48: formats: '%Y-%m-%d %z' uses %z; supported: %Y %m %d %H %I %M %S %p %f\n"
	  "t.yaml:8:63: formats: '%d/%m/%Y %I:%M': %I (12-hour clock) and %p (AM/PM) go "
	  "together\n" },
	{ DS "    schema:\n      key: [id, nme]\n      event_time: name\n      columns:\n"
	     "        - {name: id, type: int, required: false}\n"
	     "        - {name: name, aliases: [ID]}\n        - {name: id}\n",
	  "t.yaml:6:13: key: column 'id' is required: false, but a key column must be in every "
	  "file\n"
	  "t.yaml:6:17: key: no column 'nme' in the schema, did you mean 'name'?\n"
	  "t.yaml:7:19: event_time: column 'name' is a string; the event time must be a "
	  "timestamp or date column\n"
	  "t.yaml:10:34: 'ID' would match both column 'id' (line 9) and column 'name'; names and "
	  "aliases are compared ignoring case, with ' ' and '_' alike\n"
	  "t.yaml:11:18: duplicate column 'id', first at line 9\n" },
	{ DS "    schema:\n      columns:\n        - {type: int}\n        - 7\n",
	  "t.yaml:7:11: missing key 'name' in this column\n"
	  "t.yaml:8:11: columns: expected a mapping like {name: x, type: int}, not a string\n" },
	{ DS "    schema:\n      timestamp_formats: []\n      columns: [{name: t, type: date}]\n",
	  "t.yaml:7:17: column 't' is a date but has no formats, and schema.timestamp_formats "
	  "is empty\n" },
	/* jobs */
	{ "datasets:\n  traffic:\n    url: https://example.org/t.csv\n    schedule: \"0 6 * * *\"\n"
	  "jobs:\n  fetch:\n    after: [trafic, traffic, traffic]\n"
	  "    command: [\"prog\", \"{exec_date}\", \"{dataset\", \"a}b\", \"{bogus}\"]\n"
	  "  report2:\n    command: []\n",
	  "t.yaml:6:3: job name 'fetch' is reserved for a built-in task\n"
	  "t.yaml:7:13: after: no dataset 'trafic', did you mean 'traffic'?\n"
	  "t.yaml:7:30: after: dataset 'traffic' is listed twice\n"
	  "t.yaml:8:38: command: unterminated placeholder '{dataset' (write '{{' for a literal "
	  "brace)\n"
	  "t.yaml:8:50: command: stray '}' (write '}}' for a literal brace)\n"
	  "t.yaml:8:57: command: unknown placeholder '{bogus}'; allowed: {dataset} {exec_date} "
	  "{year} {month} {day} {run_id} {state_dir} {job} {input} {output}\n"
	  "t.yaml:9:3: missing key 'after' in job 'report2'\n"
	  "t.yaml:10:14: command: expected a program and its arguments, like "
	  "[\"/usr/bin/prog\", \"{exec_date}\"]\n" },
	{ "jobs:\n  r:\n    after: []\n    command: [x]\n",
	  "t.yaml:3:12: after: must name at least one dataset\n" },
	/* spark and alerts */
	{ "spark:\n  driver_memory: 512KiB\n  conf: {\"spark.a b\": 1, spark.x: [1]}\n"
	  "  jobs_dir: relative\nalerts:\n  webhook: ftp://hooks.example.org/x\n"
	  "  command: [\"/bin/notify\", \"{reason}\", \"{job}\"]\n  min_interval: 1 hour\n",
	  "t.yaml:2:18: driver_memory: must be between 1MiB and 1TiB, not '512KiB'\n"
	  "t.yaml:3:10: conf: 'spark.a b' is not a Spark setting name (no spaces or '=')\n"
	  "t.yaml:3:35: spark.x: expected a string, not a list\n"
	  "t.yaml:4:13: jobs_dir: expected an absolute path, not 'relative'\n"
	  "t.yaml:6:12: webhook: scheme 'ftp' is not supported; use https or http\n"
	  "t.yaml:7:40: command: unknown placeholder '{job}'; allowed: {dataset} {exec_date} "
	  "{year} {month} {day} {run_id} {state_dir} {reason} {message}\n"
	  "t.yaml:8:17: min_interval: expected a duration like 30s, 5m, 2h, 1d, not '1 hour'\n" },
};

/* Every message of a file with many errors, in file order. */
static const char many_errors[] =
	DS "    schema:\n      key: [id]\n      columns:\n"
	"        - {name: id, type: int}\n        - {name: city, type: string}\n"
	"    checks:\n"
	"      c1: {type: rowcount}\n"
	"      c2: {severity: fail}\n"
	"      c3: {type: range, columns: [city, lat], min: 5, max: 1, lat: x}\n"
	"      c4: {type: nulls, max_null: 2}\n"
	"      c5: {type: coordinates, lat: id, lon: id, min_lat: -95, max_lat: 10, min_lon: 10, max_lon: 5}\n"
	"      c6: {type: freshness, max_age: 7d}\n"
	"      C7: {type: unique}\n"
	"      c8: {type: allowed, columns: [citty], values: [], max_bad: 200%}\n"
	"      c9: {type: row_count, min: 10, max: 5, severity: fatal}\n";

static const char many_errors_want[] =
	"t.yaml:11:18: type: expected columns, row_count, nulls, unique, range, coordinates, "
	"timestamps, freshness or allowed, not 'rowcount', did you mean 'row_count'?\n"
	"t.yaml:12:7: missing key 'type' in check 'c2' (one of: columns, row_count, nulls, "
	"unique, range, coordinates, timestamps, freshness, allowed)\n"
	"t.yaml:13:35: columns: column 'city' is a string; a range check needs int or float "
	"columns\n"
	"t.yaml:13:41: columns: no column 'lat' in the schema\n"
	"t.yaml:13:52: min (5) is greater than max (1)\n"
	"t.yaml:13:63: 'lat' does not apply to a range check; it takes: type, severity, "
	"columns, min, max, max_bad\n"
	"t.yaml:14:7: missing key 'columns' in check 'c4'\n"
	"t.yaml:14:35: max_null: expected a percentage like 2%, 0.5%, not '2'\n"
	"t.yaml:15:58: min_lat: must be between -90 and 90\n"
	"t.yaml:15:85: min_lon (10) must be less than max_lon (5)\n"
	"t.yaml:16:7: check 'c6': a freshness check needs schema.event_time\n"
	"t.yaml:17:7: check name 'C7' must match [a-z0-9_]+ (it becomes a path)\n"
	"t.yaml:18:37: columns: no column 'citty' in the schema, did you mean 'city'?\n"
	"t.yaml:18:53: values: must list at least one value\n"
	"t.yaml:18:66: max_bad: must be between 0% and 100%, not '200%'\n"
	"t.yaml:19:34: min (10) is greater than max (5)\n"
	"t.yaml:19:56: severity: expected fail or warn, not 'fatal'\n";

static void expect_errors(const char *text, size_t len, const char *want)
{
	struct config *cfg = (struct config *)1;
	char *errors = NULL;
	int rc = config_parse("t.yaml", text, len, &cfg, &errors);

	if (rc != -EINVAL || !errors || strcmp(errors, want) != 0) {
		/* cmocka truncates long failure messages: print first */
		fprintf(stderr, "rc %d for:\n%s\ngot:\n%s\nwant:\n%s", rc, text,
		        errors ? errors : "(null)\n", want);
		fail();
	}
	assert_null(cfg);
	free(errors);
}

static void test_bad_files(void **state)
{
	for (size_t i = 0; i < N(bad_files); i++)
		expect_errors(bad_files[i].text, strlen(bad_files[i].text), bad_files[i].want);
}

static void test_all_errors_reported(void **state)
{
	expect_errors(many_errors, strlen(many_errors), many_errors_want);
}

/* ---- defaults ---------------------------------------------------------- */

static struct config *parse_ok(const char *text)
{
	struct config *cfg = NULL;
	char *errors = NULL;
	int rc = config_parse("t.yaml", text, strlen(text), &cfg, &errors);
	if (rc != 0)
		fail_msg("rc %d:\n%s", rc, errors ? errors : "");
	return cfg;
}

static void test_defaults(void **state)
{
	struct config *c = parse_ok(DS);
	const struct cfg_dataset *d = &c->datasets[0];

	assert_string_equal(c->path, "t.yaml");
	assert_string_equal(c->timezone, "America/Denver");
	assert_string_equal(c->state_dir, "/var/lib/denverd");
	assert_string_equal(c->socket, "/run/denverd/denverd.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_false(c->allow_file_urls);
	assert_int_equal(c->limits.fetches, 2);
	assert_int_equal(c->limits.jobs, 1);
	assert_int_equal(c->limits.checks, 2);
	assert_int_equal(c->limits.clients, 64);
	assert_int_equal(c->limits.request_size, 64 * 1024);
	assert_int_equal(c->limits.output_tail, 16 * 1024);
	assert_string_equal(c->spark.submit, "spark-submit");
	assert_string_equal(c->spark.master, "local[2]");
	assert_int_equal(c->spark.driver_memory, 2ull << 30);
	assert_null(c->spark.python);
	assert_non_null(c->spark.jobs_dir);
	assert_int_equal(c->spark.jobs_dir[0], '/');
	assert_int_equal(c->spark.n_conf, 0);
	assert_int_equal(c->alerts.command.n, 0);
	assert_null(c->alerts.webhook);
	assert_int_equal(c->alerts.min_interval_ms, 3600000);
	assert_int_equal(c->alerts.retries, 5);
	assert_true(c->alerts.on_warn);
	assert_int_equal(c->n_jobs, 0);

	assert_int_equal(c->n_datasets, 1);
	assert_string_equal(d->name, "d");
	assert_int_equal(d->line, 2);
	assert_string_equal(d->url, "https://example.org/d.csv");
	assert_string_equal(d->file_name, "d.csv");      /* from the URL */
	assert_string_equal(d->schedule, "0 6 * * *");
	assert_int_equal(d->missed, MISSED_LATEST);
	assert_int_equal(d->max_catchup, 3);
	assert_int_equal(d->keep_snapshots, 14);
	assert_int_equal(d->max_age_ms, 36 * 3600000ull);
	assert_true(d->convert);
	assert_int_equal(d->convert_timeout_ms, 2 * 3600000ull);
	assert_int_equal(d->retry.retries, 3);
	assert_int_equal(d->retry.delay_ms, 60000);
	assert_int_equal(d->retry.max_delay_ms, 3600000);
	assert_int_equal(d->fetch.connect_timeout_ms, 30000);
	assert_int_equal(d->fetch.low_speed_limit, 1024);
	assert_int_equal(d->fetch.low_speed_time_ms, 60000);
	assert_int_equal(d->fetch.timeout_ms, 6 * 3600000ull);
	assert_int_equal(d->fetch.max_redirects, 5);
	assert_int_equal(d->schema.n_columns, 0);
	assert_int_equal(d->schema.key.n, 0);
	assert_null(d->schema.event_time);
	assert_int_equal(d->schema.timestamp_formats.n, 3);
	assert_string_equal(d->schema.timestamp_formats.items[0], "%Y-%m-%d %H:%M:%S");
	assert_null(d->schema.timestamp_formats.items[3]);
	assert_int_equal(d->n_checks, 0);
	config_free(c);

	/* a column and a check with nothing but what they need */
	c = parse_ok(DS "    schema:\n      columns: [{name: c}]\n"
	             "    checks: {n: {type: nulls, columns: [c]}}\n");
	d = &c->datasets[0];
	assert_int_equal(d->schema.columns[0].type, COL_STRING);
	assert_true(d->schema.columns[0].required);
	assert_int_equal(d->schema.columns[0].formats.n, 0);
	assert_int_equal(d->checks[0].severity, SEV_FAIL);
	assert_true(d->checks[0].max_fraction == 0);
	assert_true(d->checks[0].max_change < 0);              /* off */
	assert_true(isinf(d->checks[0].min) && d->checks[0].min < 0);
	assert_true(isinf(d->checks[0].max) && d->checks[0].max > 0);
	assert_true(d->checks[0].zero_is_null);
	assert_int_equal(d->checks[0].future_slack_ms, 0);
	config_free(c);
}

static void test_values_and_check_defaults(void **state)
{
	struct config *c = parse_ok(
		"socket_mode: \"0600\"\nlog_level: debug\nallow_file_urls: true\n"
		"spark: {conf: {spark.b: 2, spark.a: x=1}, python: /opt/py}\n"
		DS "    max_age: 1h30m\n    file_name: f_{year}.csv\n"
		"    schema:\n      event_time: t\n      key: [id]\n      columns:\n"
		"        - {name: id, type: int}\n"
		"        - {name: t, type: timestamp, formats: [\"%m/%d/%Y %I:%M:%S %p\"]}\n"
		"        - {name: x, type: float, aliases: [Lon, \"X Coord\"], nulls: [\"0\"], required: false}\n"
		"        - {name: y, type: float}\n"
		"    checks:\n"
		"      n: {type: nulls, columns: [id, x], max_null: 0.5%}\n"
		"      r: {type: range, columns: [x], min: -3.5e2}\n"
		"      rc: {type: row_count, max_change: 25%}\n"
		"      co: {type: coordinates, lat: y, lon: x, min_lat: 39.6, max_lat: 39.92, min_lon: -105.11, max_lon: -104.6}\n"
		"      a: {type: allowed, columns: [x], values: [Dry, \"Closed - Spam\"], severity: warn}\n");
	const struct cfg_dataset *d = &c->datasets[0];
	const struct cfg_column *x = config_column(&d->schema, "x");
	const struct cfg_check *ck = d->checks;

	assert_int_equal(c->socket_mode, 0600);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_true(c->allow_file_urls);
	assert_int_equal(c->spark.n_conf, 2);
	assert_string_equal(c->spark.conf_keys[0], "spark.b");   /* file order */
	assert_string_equal(c->spark.conf_values[0], "2");
	assert_string_equal(c->spark.conf_values[1], "x=1");
	assert_string_equal(c->spark.python, "/opt/py");
	assert_int_equal(d->max_age_ms, 5400000);
	assert_string_equal(d->file_name, "f_{year}.csv");
	assert_string_equal(d->schema.event_time, "t");
	assert_int_equal(d->schema.n_columns, 4);
	assert_non_null(x);
	assert_int_equal(x->type, COL_FLOAT);
	assert_false(x->required);
	assert_int_equal(x->aliases.n, 2);
	assert_string_equal(x->aliases.items[1], "X Coord");
	assert_string_equal(x->nulls.items[0], "0");
	assert_true(config_column(&d->schema, "id")->required);
	assert_int_equal(config_column(&d->schema, "id")->type, COL_INT);
	assert_string_equal(config_column(&d->schema, "t")->formats.items[0], "%m/%d/%Y %I:%M:%S %p");
	assert_null(config_column(&d->schema, "X Coord"));

	assert_int_equal(d->n_checks, 5);
	assert_string_equal(ck[0].name, "n");
	assert_int_equal(ck[0].type, CHECK_NULLS);
	assert_int_equal(ck[0].severity, SEV_FAIL);
	assert_true(fabs(ck[0].max_fraction - 0.005) < 1e-12);
	assert_int_equal(ck[0].columns.n, 2);
	assert_int_equal(ck[1].type, CHECK_RANGE);
	assert_true(ck[1].min == -350.0);
	assert_true(isinf(ck[1].max) && ck[1].max > 0);
	assert_true(ck[1].max_fraction == 0);
	assert_int_equal(ck[2].type, CHECK_ROW_COUNT);
	assert_int_equal(ck[2].min_rows, 0);
	assert_int_equal(ck[2].max_rows, 0);
	assert_true(fabs(ck[2].max_change - 0.25) < 1e-12);
	assert_int_equal(ck[3].type, CHECK_COORDINATES);
	assert_string_equal(ck[3].lat, "y");
	assert_string_equal(ck[3].lon, "x");
	assert_true(ck[3].min_lon == -105.11 && ck[3].max_lat == 39.92);
	assert_true(ck[3].zero_is_null);
	assert_int_equal(ck[4].severity, SEV_WARN);
	assert_string_equal(ck[4].values.items[1], "Closed - Spam");
	config_free(c);
}

static void test_lookups(void **state)
{
	struct config *c = parse_ok(DS "jobs:\n  r: {after: [d], command: [x]}\n");
	assert_non_null(config_dataset(c, "d"));
	assert_null(config_dataset(c, "e"));
	assert_non_null(config_job(c, "r"));
	assert_int_equal(config_job(c, "r")->line, 6);
	assert_int_equal(config_job(c, "r")->timeout_ms, 3600000);
	assert_int_equal(config_job(c, "r")->kill_grace_ms, 10000);
	assert_null(config_job(c, "d"));
	config_free(c);
	config_free(NULL);
}

/* ---- reload ------------------------------------------------------------ */

/* The restart-only key config_restart_diff() names between DS and DS
 * plus EXTRA (NULL: none). */
static void expect_restart_diff(const char *extra, const char *want)
{
	char text[1024];
	struct config *a = parse_ok(DS), *b;
	const char *got;

	snprintf(text, sizeof text, "%s%s", extra, DS);
	b = parse_ok(text);
	got = config_restart_diff(a, b);
	if (want ? !got || strcmp(got, want) != 0 : got != NULL)
		fail_msg("'%s': got %s, want %s", extra, got ? got : "NULL", want ? want : "NULL");
	assert_null(config_restart_diff(b, b));
	config_free(a);
	config_free(b);
}

static void test_restart_diff(void **state)
{
	expect_restart_diff("timezone: UTC\n", "timezone");
	expect_restart_diff("state_dir: /srv/denverd\n", "state_dir");
	expect_restart_diff("socket: /run/other.sock\n", "socket");
	expect_restart_diff("socket_mode: \"0600\"\n", "socket_mode");
	expect_restart_diff("limits: {fetches: 3}\n", "limits.fetches");
	expect_restart_diff("limits: {checks: 3}\n", "limits.checks");
	expect_restart_diff("limits: {clients: 8}\n", "limits.clients");
	expect_restart_diff("limits: {request_size: 1MiB}\n", "limits.request_size");
	/* the first in the order of the tables */
	expect_restart_diff("limits: {clients: 8}\nsocket: /run/other.sock\n", "socket");
	/* the rest is applied by a reload */
	expect_restart_diff("", NULL);
	expect_restart_diff("log_level: debug\nallow_file_urls: true\n"
	                    "limits: {jobs: 4, output_tail: 1MiB}\n"
	                    "spark: {master: \"local[4]\"}\nalerts: {retries: 1}\n", NULL);
	expect_restart_diff("timezone: America/Denver\nlimits: {fetches: 2}\n", NULL);
}

/* ---- the key tables ---------------------------------------------------- */

/* A default is in its row's range and parses as its type; required keys
 * have none; restart-only keys hold a value a reload can compare. */
static int check_row(void *arg, const struct config_key *k)
{
	uint64_t v = 0;
	double f;
	int rc = 0;

	(*(size_t *)arg)++;
	if (k->required && (k->dflt || k->dflt_list))
		fail_msg("%s.%s: required, yet has a default", k->table, k->name);
	if (k->restart && (!k->type || strcmp(k->type, "mapping") == 0))
		fail_msg("%s.%s: restart-only but not comparable", k->table, k->name);
	if (!k->dflt || !k->type)
		return 0;
	if (strcmp(k->type, "duration") == 0)
		rc = config_parse_duration(k->dflt, &v);
	else if (strcmp(k->type, "size") == 0)
		rc = config_parse_size(k->dflt, &v);
	else if (strcmp(k->type, "integer") == 0)
		v = strtoull(k->dflt, NULL, 10);
	else if (strcmp(k->type, "percentage") == 0 && strcmp(k->dflt, "off") != 0)
		rc = config_parse_percent(k->dflt, &f), v = (uint64_t)(f * 100);
	else
		return 0;
	if (rc < 0 || v < k->lo || v > k->hi)
		fail_msg("%s.%s: default '%s' is outside %llu..%llu", k->table, k->name, k->dflt,
		         (unsigned long long)k->lo, (unsigned long long)k->hi);
	return 0;
}

static int stop_at_third(void *arg, const struct config_key *k)
{
	return ++*(int *)arg == 3 ? -42 : 0;
}

static void test_key_rows(void **state)
{
	size_t rows = 0;
	int calls = 0;

	assert_int_equal(config_keys_foreach(check_row, &rows), 0);
	assert_true(rows > 80);
	assert_int_equal(config_keys_foreach(stop_at_third, &calls), -42);
	assert_int_equal(calls, 3);
}

/* ---- caps -------------------------------------------------------------- */

/* HEAD, then N lines PRE<i>POST. */
static char *repeat(const char *head, const char *pre, const char *post, size_t n)
{
	size_t cap = strlen(head) + n * (strlen(pre) + strlen(post) + 24) + 1, off;
	char *s = malloc(cap);
	assert_non_null(s);
	off = (size_t)snprintf(s, cap, "%s", head);
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, cap - off, "%s%zu%s", pre, i, post);
	return s;
}

static void test_caps(void **state)
{
	char *s;

	s = repeat("datasets:\n", "  d", ": {}\n", CONFIG_MAX_DATASETS + 1);
	expect_errors(s, strlen(s), "t.yaml:2:3: datasets: too many datasets (4097); the limit is "
	                            "4096\n");
	free(s);
	s = repeat(DS "    schema:\n      columns:\n", "        - {name: c", "}\n",
	           CONFIG_MAX_COLUMNS + 1);
	expect_errors(s, strlen(s), "t.yaml:7:9: columns: too many columns (513); the limit is "
	                            "512\n");
	free(s);
	s = repeat(DS "    checks:\n", "      c", ": {type: unique}\n", CONFIG_MAX_CHECKS + 1);
	expect_errors(s, strlen(s), "t.yaml:6:7: checks: too many checks (257); the limit is 256\n");
	free(s);
	s = repeat("jobs:\n", "  j", ": {}\n", CONFIG_MAX_JOBS + 1);
	expect_errors(s, strlen(s), "t.yaml:2:3: jobs: too many jobs (257); the limit is 256\n");
	free(s);
	s = repeat("alerts:\n  command:\n", "  - a", "\n", CONFIG_MAX_LIST + 1);
	expect_errors(s, strlen(s), "t.yaml:3:3: command: too many items (1025); the limit is "
	                            "1024\n");
	free(s);

	s = repeat("limits:\n", "  k", ": 1\n", 257);
	expect_errors(s, strlen(s), "t.yaml:2:3: too many keys (257) in limits; the limit is 256\n");
	free(s);

	/* more messages than are kept: the rest are counted */
	s = repeat("", "k", ": 1\n", 150);
	{
		struct config *cfg;
		char *errors;
		assert_int_equal(config_parse("t.yaml", s, strlen(s), &cfg, &errors), -EINVAL);
		assert_non_null(strstr(errors, "t.yaml:100:1: unknown key 'k99'"));
		assert_null(strstr(errors, "'k100'"));
		assert_non_null(strstr(errors, "\nt.yaml: 50 more errors not shown\n"));
		free(errors);
	}
	free(s);

	/* a buffer larger than the file cap is refused before parsing */
	{
		size_t big = CONFIG_MAX_FILE_SIZE + 1;
		char *text = malloc(big);
		struct config *cfg;
		char *errors;
		assert_non_null(text);
		memset(text, '#', big);
		assert_int_equal(config_parse("t.yaml", text, big, &cfg, &errors), -EFBIG);
		assert_string_equal(errors, "t.yaml: the file is larger than 4194304 bytes\n");
		free(errors);
		free(text);
	}
}

/* ---- files ------------------------------------------------------------- */

static void test_load_errors(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct config *cfg;
	char *errors;
	int fd;
	FILE *f;

	assert_int_equal(config_load("/nonexistent/denverd.yaml", &cfg, &errors), -ENOENT);
	assert_null(cfg);
	assert_string_equal(errors, "/nonexistent/denverd.yaml: cannot read: No such file or "
	                            "directory\n");
	free(errors);
	assert_int_equal(config_load("/", &cfg, &errors), -EISDIR);
	free(errors);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	for (size_t i = 0; i < CONFIG_MAX_FILE_SIZE / 16 + 1; i++)
		fputs("# 4 MiB of this\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, &errors), -EFBIG);
	assert_null(cfg);
	assert_non_null(strstr(errors, ": the file is larger than 4194304 bytes\n"));
	free(errors);

	assert_non_null(f = fopen(path, "w"));
	fputs("datasets:\n  d:\n    url: https://x.org/a.csv\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, &errors), -EINVAL);
	assert_non_null(strstr(errors, ":2:3: missing key 'schedule' in dataset 'd'\n"));
	assert_int_equal(strncmp(errors, path, strlen(path)), 0);
	free(errors);

	assert_non_null(f = fopen(path, "w"));
	fputs(DS, f);
	fclose(f);
	assert_int_equal(config_load(path, &cfg, &errors), 0);
	assert_null(errors);
	assert_string_equal(cfg->path, path);
	config_free(cfg);
	unlink(path);
}

static const struct cfg_check *check_named(const struct cfg_dataset *d, const char *name)
{
	for (size_t i = 0; i < d->n_checks; i++)
		if (strcmp(d->checks[i].name, name) == 0)
			return &d->checks[i];
	fail_msg("no check %s", name);
	return NULL;
}

static bool list_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

/* The shipped Denver configuration loads, and says what issue 2 asks. */
static void test_shipped_config(void **state)
{
	struct config *c;
	char *errors = NULL;
	int rc = config_load(SOURCE_ROOT "/etc/denverd.yaml", &c, &errors);
	const struct cfg_dataset *t, *s;
	const struct cfg_column *col;
	const struct cfg_check *ck;
	const struct cfg_job *job;

	if (rc != 0)
		fail_msg("rc %d:\n%s", rc, errors ? errors : "");
	assert_string_equal(c->timezone, "America/Denver");
	assert_string_equal(c->state_dir, "/var/lib/denverd");
	assert_string_equal(c->socket, "/run/denverd/denverd.sock");
	assert_false(c->allow_file_urls);
	assert_string_equal(c->spark.jobs_dir, "/usr/share/denverd/jobs");
	assert_string_equal(c->spark.conf_keys[0], "spark.sql.session.timeZone");
	assert_string_equal(c->spark.conf_values[0], "America/Denver");
	assert_null(c->alerts.webhook);
	assert_int_equal(c->alerts.command.n, 0);
	assert_int_equal(c->n_datasets, 2);

	t = config_dataset(c, "traffic_accidents");
	assert_non_null(t);
	assert_string_equal(t->url, "https://www.denvergov.org/media/gis/DataCatalog/"
	                            "traffic_accidents/csv/traffic_accidents.csv");
	assert_string_equal(t->schedule, "15 6 * * *");
	assert_string_equal(t->file_name, "traffic_accidents.csv");
	assert_int_equal(t->schema.n_columns, 49);   /* 47 current + 2 of 2014-2017 */
	assert_string_equal(t->schema.event_time, "reported_date");
	assert_int_equal(t->schema.key.n, 1);
	assert_non_null(col = config_column(&t->schema, "geo_lon"));
	assert_string_equal(col->aliases.items[0], "longitude");
	assert_true(list_has(&col->nulls, "0"));
	assert_non_null(col = config_column(&t->schema, "harmful_event_seq_3"));
	assert_string_equal(col->aliases.items[0], "harmful_event_seq_most");
	assert_int_equal(config_column(&t->schema, "reported_date")->type, COL_TIMESTAMP);
	assert_int_equal(config_column(&t->schema, "incident_id")->type, COL_INT);
	assert_false(config_column(&t->schema, "offense_type_id")->required);
	assert_true(list_has(&t->schema.timestamp_formats, "%m/%d/%Y %I:%M:%S %p"));
	ck = check_named(t, "location");
	assert_int_equal(ck->type, CHECK_COORDINATES);
	assert_true(ck->min_lat == 39.6 && ck->max_lon == -104.6);
	assert_int_equal(check_named(t, "key_unique")->severity, SEV_FAIL);
	ck = check_named(t, "road_conditions");
	assert_true(list_has(&ck->values, "Dry"));
	assert_true(list_has(&ck->values, "Dry W/Visible Icy Road Treatment"));
	assert_true(list_has(&check_named(t, "light_conditions")->values, "DAY LIGHT"));

	s = config_dataset(c, "service_requests_311");
	assert_non_null(s);
	assert_string_equal(s->url, "https://www.denvergov.org/media/gis/DataCatalog/"
	                            "311_service_data/csv/311_service_data_{year}.csv");
	assert_string_equal(s->schedule, "45 6 * * *");
	assert_string_equal(s->file_name, "311_service_data_{year}.csv");
	assert_int_equal(s->schema.n_columns, 25);   /* 24 + objectid */
	assert_int_equal(s->schema.key.n, 6);
	assert_string_equal(s->schema.key.items[0], "case_created_dttm");
	assert_string_equal(s->schema.event_time, "case_created_dttm");
	assert_true(list_has(&config_column(&s->schema, "incident_zip_code")->nulls, "00000"));
	assert_int_equal(config_column(&s->schema, "case_created_date")->formats.n, 2);
	ck = check_named(s, "status");
	assert_int_equal(ck->type, CHECK_ALLOWED);
	assert_true(list_has(&ck->values, "Closed - Transfered to External Agency"));
	assert_true(list_has(&ck->values, "Spam"));
	assert_int_equal(check_named(s, "key_unique")->severity, SEV_WARN);

	assert_int_equal(c->n_jobs, 1);
	job = config_job(c, "report");
	assert_non_null(job);
	assert_int_equal(job->after.n, 2);
	assert_string_equal(job->command.items[0], "spark-submit");
	assert_true(list_has(&job->command, "/usr/share/denverd/jobs/report.py"));
	assert_true(list_has(&job->command, "{state_dir}/reports/exec_date={exec_date}"));
	assert_int_equal(job->retry.retries, 1);
	config_free(c);
}

/* The EXAMPLE of denverd.yaml(5) is a valid configuration. */
static void test_man_page_example(void **state)
{
	FILE *f = fopen(SOURCE_ROOT "/man/denverd.yaml.5.scd", "r");
	static char page[64 * 1024];
	size_t n;
	char *start, *end, *errors = NULL;
	struct config *c;

	assert_non_null(f);
	n = fread(page, 1, sizeof page - 1, f);
	fclose(f);
	page[n] = '\0';
	assert_non_null(start = strstr(page, "\n# EXAMPLE\n"));
	assert_non_null(start = strstr(start, "```\n"));
	start += 4;
	assert_non_null(end = strstr(start, "\n```"));
	end[1] = '\0';
	if (config_parse("example", start, strlen(start), &c, &errors) != 0)
		fail_msg("%s", errors);
	assert_int_equal(c->n_datasets, 2);
	assert_int_equal(config_dataset(c, "traffic_accidents")->n_checks, 6);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_percents),
		cmocka_unit_test(test_good_files),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_and_check_defaults),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_restart_diff),
		cmocka_unit_test(test_key_rows),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_man_page_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
