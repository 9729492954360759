/* test_config.c - the configuration parser: unit parsers, good and bad
 * files with their exact messages, and the caps.  (What a valid file
 * holds: test_config_load.c; enum names and the name rule:
 * tests/unit/domain/test_config_types.c; the key tables against the man
 * page: test_config_man.c.) */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"
#include "config_fixture.h"

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
	check_u64_cases(config_parse_duration, durations, ARRAY_SIZE(durations));
}

static void test_sizes(void **state)
{
	check_u64_cases(config_parse_size, sizes, ARRAY_SIZE(sizes));
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
	for (size_t i = 0; i < ARRAY_SIZE(percents); i++) {
		double f = -7;
		int rc = config_parse_percent(percents[i].text, &f);
		if (rc != percents[i].rc)
			fail_msg("'%s': rc %d, want %d", percents[i].text, rc, percents[i].rc);
		if (rc == 0 && fabs(f - percents[i].frac) > 1e-12)
			fail_msg("'%s': %g", percents[i].text, f);
	}
}

/* ---- good and bad files ------------------------------------------------ */

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
	"spark:\n  mode: managed\n  connect: {port: 15999, memory: 2GiB, bind: \"::1\"}\n",
	"spark:\n  mode: managed\n  connect: {bind: 0.0.0.0, token_file: /etc/denverd/spark.token}\n",
	"spark:\n  mode: managed\n  connect: {bind: 10.0.0.5, token_credential: spark.token}\n",
	"spark:\n  mode: external\n  connect: {url: \"sc://spark.example.org:15002\"}\n",
	"spark:\n  mode: external\n  connect: {url: \"sc://[::1]:15002/;use_ssl=true\"}\n",
	"alerts:\n  command: [\"/bin/notify\", \"{dataset}\", \"{reason}\", \"{message}\"]\n"
	"  webhook: https://hooks.example.org/T0/secret\n",
	DS_URL("https://services1.arcgis.com/o/arcgis/rest/services/ODC_X/FeatureServer/325") "    source: arcgis\n",
	DS_URL("http://127.0.0.1:8080/rest/services/x/FeatureServer/0")
	"    source: arcgis\n    arcgis: {allow_http: true, where: \"a = 'x'\", page_size: 500}\n",
	DS "    arcgis:\n",
	DS_URL("https://opendata-geospatialdenver.hub.arcgis.com/api/download/v1/items/"
	       "ff6c84d8881647ca97b439971ad20a72/csv?layers=0") "    source: arcgis_hub\n",
	DS_URL("\"http://127.0.0.1:8080/api/download/v1/items/ab12/csv?where=1%3D1&layers=325\"")
	"    source: arcgis_hub\n    hub: {allow_http: true, poll_interval: 100ms, deadline: 1d}\n",
	DS "    hub:\n",
	DS "    source: http\n",
	DS "jobs:\n  report:\n    after: [d]\n    command: [\"prog\", \"{{literal}}\", \"{state_dir}/{job}\"]\n",
};

static void test_good_files(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(good_files); i++) {
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
	/* storage: a secret inline is refused (its value not shown), s3 needs
	 * an endpoint and a bucket, each value is checked */
	{ "storage:\n  type: s3\n  secret_access_key: hunter2\n",
	  "t.yaml: storage: type s3 needs an endpoint (like https://s3.us-west-2.amazonaws.com)\n"
	  "t.yaml: storage: type s3 needs a bucket\n"
	  "t.yaml:3:3: storage.secret_access_key: a secret is never written in the "
	  "configuration file; put the keys in a credentials file named by "
	  "storage.credentials_file (with systemd: LoadCredential=, read from "
	  "$CREDENTIALS_DIRECTORY) or in the environment (AWS_ACCESS_KEY_ID, "
	  "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)\n" },
	{ "storage:\n  type: s3\n  endpoint: http://u:p@h:1\n  bucket: B\n  prefix: /a/\n"
	  "  part_size: 1MiB\n  credentials_file: a/b\n",
	  "t.yaml: storage: type s3 needs an endpoint (like https://s3.us-west-2.amazonaws.com)\n"
	  "t.yaml: storage: type s3 needs a bucket\n"
	  "t.yaml:3:13: endpoint: no user or password in the URL (see storage.credentials_file)\n"
	  "t.yaml:4:11: bucket: 3 to 63 characters of a-z 0-9 . -\n"
	  "t.yaml:5:11: prefix: key names of A-Z a-z 0-9 . _ - = joined by single '/', no '/' "
	  "at either end (like denverd or prod/denverd)\n"
	  "t.yaml:6:14: part_size: must be between 8MiB and 1GiB, not '1MiB'\n"
	  "t.yaml:7:21: credentials_file: an absolute path, or the name of a systemd credential "
	  "(LoadCredential=NAME:..., read from $CREDENTIALS_DIRECTORY)\n" },
	{ "storage:\n  type: nfs\n", "t.yaml:2:9: type: expected local or s3, not 'nfs'\n" },
	/* keys */
	{ "timezon: UTC\n", "t.yaml:1:1: unknown key 'timezon', did you mean 'timezone'?\n" },
	{ "Timezone: UTC\n", "t.yaml:1:1: unknown key 'Timezone', did you mean 'timezone'?\n" },
	{ "colour: red\n", "t.yaml:1:1: unknown key 'colour'; expected one of: timezone, "
	                   "state_dir, socket, socket_mode, log_level, allow_file_urls, limits, "
	                   "spark, alerts, lineage, storage, datasets, jobs\n" },
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
	/* arcgis sources */
	{ DS "    source: arcgis\n", "t.yaml:3:10: url: an arcgis source needs a FeatureServer "
	  "layer or table URL ending in /FeatureServer/<id> (no query), not "
	  "'https://example.org/d.csv'\n" },
	{ DS_URL("https://x.org/rest/services/s/FeatureServer/3/query?where=1=1")
	  "    source: arcgis\n", "t.yaml:3:10: url: an arcgis source needs a FeatureServer "
	  "layer or table URL ending in /FeatureServer/<id> (no query), not "
	  "'https://x.org/rest/services/s/FeatureSer...'\n" },
	{ DS_URL("https://x.org/s/FeatureServer/{year}") "    source: arcgis\n",
	  "t.yaml:3:10: url: an arcgis source needs a FeatureServer layer or table URL ending "
	  "in /FeatureServer/<id> (no query), not 'https://x.org/s/FeatureServer/{year}'\n" },
	{ DS_URL("http://x.org/s/FeatureServer/0") "    source: arcgis\n",
	  "t.yaml:3:10: url: an arcgis layer URL must be https (http needs arcgis.allow_http: "
	  "true, meant for tests and the demo)\n" },
	{ "allow_file_urls: true\n" DS_URL("file:///srv/FeatureServer/0") "    source: arcgis\n",
	  "t.yaml:4:10: url: file:// URLs need allow_file_urls: true (meant for the bundled "
	  "demo)\n" },
	/* arcgis_hub sources */
#define HUB_SHAPE(u) "t.yaml:3:10: url: an arcgis_hub source needs a Hub download URL like " \
	"https://<hub>/api/download/v1/items/<item>/csv?layers=<id> (no fragment or " \
	"placeholder), not '" u "'\n"
	{ DS "    source: arcgis_hub\n", HUB_SHAPE("https://example.org/d.csv") },
	{ DS_URL("https://h.org/api/download/v1/items/a1/csv") "    source: arcgis_hub\n",
	  HUB_SHAPE("https://h.org/api/download/v1/items/a1/c...") },
	{ DS_URL("https://h.org/api/download/v1/items/a1/geojson?layers=0")
	  "    source: arcgis_hub\n",
	  HUB_SHAPE("https://h.org/api/download/v1/items/a1/g...") },
	{ DS_URL("https://h.org/api/download/v1/items/a1/csv?layers=x") "    source: arcgis_hub\n",
	  HUB_SHAPE("https://h.org/api/download/v1/items/a1/c...") },
	{ DS_URL("https://h.org/api/download/v1/items/a1/csv?layers=0&layers=1")
	  "    source: arcgis_hub\n",
	  HUB_SHAPE("https://h.org/api/download/v1/items/a1/c...") },
	{ DS_URL("https://h.org/api/download/v1/items/a1/csv?layers=0#f") "    source: arcgis_hub\n",
	  HUB_SHAPE("https://h.org/api/download/v1/items/a1/c...") },
	{ DS_URL("https://h.org/api/download/v1/items/{year}/csv?layers=0")
	  "    source: arcgis_hub\n",
	  HUB_SHAPE("https://h.org/api/download/v1/items/{yea...") },
	{ DS_URL("https://h.org/api/download/v1/items/a1/csv?layers=0&redirect=false")
	  "    source: arcgis_hub\n", "t.yaml:3:10: url: the Hub URL cannot hold redirect=, "
	  "updateCache= or trackCacheUpdate= (denverd adds them)\n" },
	{ DS_URL("http://h.org/api/download/v1/items/a1/csv?layers=0") "    source: arcgis_hub\n",
	  "t.yaml:3:10: url: a Hub URL must be https (http needs hub.allow_http: true, meant "
	  "for tests and the demo)\n" },
	{ DS_URL("http://h.org/api/download/v1/items/a1/csv?layers=0") "    source: arcgis_hub\n"
	  "    arcgis: {allow_http: true}\n",
	  "t.yaml:3:10: url: a Hub URL must be https (http needs hub.allow_http: true, meant "
	  "for tests and the demo)\n"
	  "t.yaml:6:13: arcgis: only a dataset with source: arcgis takes an arcgis mapping\n" },
	{ DS "    hub: {poll_interval: 1s}\n", "t.yaml:5:10: hub: only a dataset with "
	  "source: arcgis_hub takes a hub mapping\n" },
	{ DS_URL("https://h.org/api/download/v1/items/a1/csv?layers=0") "    source: arcgis_hub\n"
	  "    hub: {poll_interval: 10ms, deadline: 2d, alow_http: true}\n",
	  "t.yaml:6:26: poll_interval: must be between 100ms and 10m, not '10ms'\n"
	  "t.yaml:6:42: deadline: must be between 1s and 1d, not '2d'\n"
	  "t.yaml:6:46: unknown key 'alow_http', did you mean 'allow_http'?\n" },
#undef HUB_SHAPE
	{ DS "    source: esri\n", "t.yaml:5:13: source: expected http, arcgis or arcgis_hub, "
	  "not 'esri'\n" },
	{ DS "    arcgis: {where: \"1=1\"}\n", "t.yaml:5:13: arcgis: only a dataset with "
	  "source: arcgis takes an arcgis mapping\n" },
	{ DS_URL("https://x.org/s/FeatureServer/0") "    source: arcgis\n"
	  "    arcgis: {date_zone: America/Denvr, page_size: 200000, wher: x}\n",
	  "t.yaml:6:25: date_zone: unknown time zone 'America/Denvr' (an IANA name like "
	  "America/Denver or UTC)\n"
	  "t.yaml:6:51: page_size: expected a whole number from 0 to 100000, not '200000'\n"
	  "t.yaml:6:59: unknown key 'wher', did you mean 'where'?\n" },
	/* schema */
	{ DS "    schema:\n      columns:\n        - {name: Geo Lon, type: flaot}\n",
	  "t.yaml:7:18: name: column name 'Geo Lon' must match [a-z0-9_]+ and be at most 64 "
	  "bytes (it becomes a Parquet column)\n"
	  "t.yaml:7:33: type: expected string, int, float, timestamp, date or bool, not "
	  "'flaot', did you mean 'float'?\n" },
	{ DS "    schema:\n      columns:\n        - {name: a, type: int, formats: [\"%Y\"]}\n"
	     "        - {name: t, type: timestamp, formats: [\"%Y-%m-%d %Z\", \"%d/%m/%Y %I:%M\"]}\n",
	  "t.yaml:7:32: formats: only timestamp and date columns take formats, not int columns\n"
	  "t.yaml:7:42: formats: '%Y' needs %Y, %m and %d\n"
	  "t.yaml:8:48: formats: '%Y-%m-%d %Z' uses %Z; supported: %Y %m %d %H %I %M %S %p %f %z\n"
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
	  "{year} {month} {day} {run_id} {state_dir} {job} {input} {output} {datastore} {spec} "
	  "{storage} {spark_conf}\n"
	  "t.yaml:9:3: missing key 'after' in job 'report2'\n"
	  "t.yaml:10:14: command: expected a program and its arguments, like "
	  "[\"/usr/bin/prog\", \"{exec_date}\"]\n" },
	{ "datasets:\n  traffic:\n    url: https://example.org/t.csv\n    schedule: \"0 6 * * *\"\n"
	  "jobs:\n  r:\n    after: [traffic]\n    command: [x, \"{spark_conf}\", \"-{spark_conf}\"]\n",
	  "t.yaml:8:34: command: {spark_conf} is an argument of its own (it becomes --conf "
	  "key=value pairs), not part of '-{spark_conf}'\n" },
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
	/* spark connect: the rules across keys, and no token in the file */
	{ "spark:\n  mode: managed\n  connect: {bind: 0.0.0.0}\n",
	  "t.yaml:3:19: spark.connect.bind 0.0.0.0 is not a loopback address: anyone who "
	  "reaches it could run code as denverd.  Set token_file (or token_credential) so "
	  "clients must present a token, or bind to 127.0.0.1\n" },
	{ "spark:\n  mode: external\n",
	  "t.yaml:2:9: spark.mode external needs spark.connect.url (sc://host:port of the "
	  "Connect server)\n" },
	{ "spark:\n  mode: cluster\n  connect: {url: \"sc://h:1\", token: s3cr3t, port: 0}\n",
	  "t.yaml:2:9: mode: expected submit, managed or external, not 'cluster'\n"
	  "t.yaml:3:18: spark.connect.url is for mode: external (spark.mode is submit)\n"
	  "t.yaml:3:30: token: a token is not written in the configuration; put it in a file "
	  "readable only by denverd and name it with token_file (or pass a systemd credential, "
	  "LoadCredential=, named by token_credential)\n"
	  "t.yaml:3:51: port: expected a whole number from 1 to 65535, not '0'\n" },
	{ "spark:\n  mode: external\n  connect:\n    url: \"sc://h:1/;token=s3cr3t\"\n"
	  "    token_file: /t\n    token_credential: x\n"
	  "  conf: {spark.connect.authenticate.token: s3cr3t}\n",
	  "t.yaml:2:9: spark.mode external needs spark.connect.url (sc://host:port of the "
	  "Connect server)\n"
	  "t.yaml:4:10: url: a token is not written in the configuration; put it in a file "
	  "readable only by denverd and name it with token_file (or pass a systemd credential "
	  "named by token_credential)\n"
	  "t.yaml:6:23: spark.connect: token_file and token_credential both name a token; keep "
	  "one\n"
	  "t.yaml:7:10: conf: spark.connect.authenticate.token is not set here (it would show on "
	  "the server's command line); put the token in a file and name it with "
	  "spark.connect.token_file\n" },	/* storage: s3's keys are never a Spark setting (the value is not shown);
	 * the class path's jars exist, and are listed in one place */
	{ "spark:\n  conf:\n    spark.hadoop.fs.s3a.secret.key: hunter2\n"
	  "    spark.hadoop.fs.s3a.bucket.b.access.key: AKIA\n"
	  "    spark.executorEnv.AWS_SESSION_TOKEN: t0k\n"
	  "    spark.driver.extraClassPath: /bin/sh\n"
	  "  s3a_classpath: [/nonexistent/hadoop-aws.jar, relative.jar, /tmp]\n",
	  "t.yaml:3:5: conf: spark.hadoop.fs.s3a.secret.key is not set here (it would show on a "
	  "command line); with storage: s3 denverd gives Spark the keys of "
	  "storage.credentials_file (or its AWS_* environment) in the environment of the jobs "
	  "and of the Connect server\n"
	  "t.yaml:4:5: conf: spark.hadoop.fs.s3a.bucket.b.access.key is not set here (it would "
	  "show on a command line); with storage: s3 denverd gives Spark the keys of "
	  "storage.credentials_file (or its AWS_* environment) in the environment of the jobs "
	  "and of the Connect server\n"
	  "t.yaml:5:5: conf: spark.executorEnv.AWS_SESSION_TOKEN is not set here (it would show "
	  "on a command line); with storage: s3 denverd gives Spark the keys of "
	  "storage.credentials_file (or its AWS_* environment) in the environment of the jobs "
	  "and of the Connect server\n"
	  "t.yaml:7:18: spark.s3a_classpath and spark.conf's spark.driver.extraClassPath both "
	  "set the class path; list the jars in one of them\n"
	  "t.yaml:7:19: spark.s3a_classpath: /nonexistent/hadoop-aws.jar: No such file or "
	  "directory\n"
	  "t.yaml:7:48: spark.s3a_classpath: 'relative.jar' is not an absolute path without ':' "
	  "(a jar: hadoop-aws and the AWS SDK bundle)\n"
	  "t.yaml:7:62: spark.s3a_classpath: /tmp is not a file (name each jar)\n" },
};

/* The spark section's defaults: submit mode, a loopback endpoint. */
static void test_spark_defaults(void **state)
{
	struct config *cfg = NULL;
	char *errors = NULL;

	assert_int_equal(config_parse("t.yaml", "spark:\n", 7, &cfg, &errors), 0);
	assert_int_equal(cfg->spark.mode, SPARK_SUBMIT);
	assert_string_equal(cfg->spark.connect.bind, "127.0.0.1");
	assert_int_equal(cfg->spark.connect.port, 15002);
	assert_int_equal(cfg->spark.connect.memory, 1024ull * 1024 * 1024);
	assert_int_equal(cfg->spark.connect.ready_timeout_ms, 180000);
	assert_int_equal(cfg->spark.connect.restart.delay_ms, 5000);
	assert_null(cfg->spark.connect.token_file);
	assert_null(cfg->spark.connect.url);
	assert_true(config_is_loopback("127.0.0.1") && config_is_loopback("::1") &&
	            config_is_loopback("localhost") && !config_is_loopback("0.0.0.0") &&
	            !config_is_loopback("10.1.2.3"));
	config_free(cfg);
}

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
	"timestamps, freshness, allowed or withdrawn, not 'rowcount', did you mean 'row_count'?\n"
	"t.yaml:12:7: missing key 'type' in check 'c2' (one of: columns, row_count, nulls, "
	"unique, range, coordinates, timestamps, freshness, allowed, withdrawn)\n"
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
	for (size_t i = 0; i < ARRAY_SIZE(bad_files); i++)
		expect_errors(bad_files[i].text, strlen(bad_files[i].text), bad_files[i].want);
}

static void test_all_errors_reported(void **state)
{
	expect_errors(many_errors, strlen(many_errors), many_errors_want);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_percents),
		cmocka_unit_test(test_good_files),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_spark_defaults),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
