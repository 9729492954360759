/*
 * fuzz_dq_parallel.c - libFuzzer harness: the parallel check (dq_par.c,
 * csv_split.c) against the single-threaded one.
 *
 * The input's first byte picks the thread count, the next eight seed the
 * chunk cuts (up to 16, anywhere in the file, byte 0 and 1 included); the
 * rest is the snapshot.  Both reports must be identical (dq_report_diff)
 * and so must both .keys files; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "quality/dq.h"

static const char yaml[] =
	"datasets:\n"
	"  p:\n"
	"    url: https://example.org/p.csv\n"
	"    schedule: \"0 6 * * *\"\n"
	"    schema:\n"
	"      key: [id, part]\n"
	"      event_time: ts\n"
	"      timestamp_formats: [\"%Y-%m-%d %H:%M:%S\", \"%m/%d/%Y %I:%M:%S %p\"]\n"
	"      columns:\n"
	"        - {name: id, type: int}\n"
	"        - {name: part, type: string}\n"
	"        - {name: ts, type: timestamp}\n"
	"        - {name: lat, type: float, nulls: [\"0\"]}\n"
	"        - {name: lon, type: float, nulls: [\"0\"]}\n"
	"        - {name: kind, type: string}\n"
	"    checks:\n"
	"      header: {type: columns}\n"
	"      rows: {type: row_count, min: 2}\n"
	"      unique: {type: unique, severity: warn}\n"
	"      nulls: {type: nulls, columns: [id, kind], max_null: 10%}\n"
	"      n: {type: range, columns: [lat], min: 39, max: 40, max_bad: 5%}\n"
	"      box: {type: coordinates, lat: lat, lon: lon, min_lat: 39.6, max_lat: 39.92,"
	" min_lon: -105.11, max_lon: -104.6, max_bad: 5%}\n"
	"      dates: {type: timestamps, max_unparsed: 1%, future_slack: 1d}\n"
	"      fresh: {type: freshness, max_age: 7d, severity: warn}\n"
	"      kinds: {type: allowed, columns: [kind], values: [a, b, \"C \"], max_bad: 2%}\n";

static struct config *cfg;
static char dir[64];

static void put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || !(p = malloc((size_t)n + 1)))
		abort();
	rewind(f);
	if (fread(p, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return p;
}

static struct dq_report *check(const char *path, const char *keys, unsigned threads,
                               const uint64_t *cuts, size_t n)
{
	struct dq_input in = { .path = path, .dataset = &cfg->datasets[0],
	                       .exec_date = "2014-05-08", .prev_rows = 3, .keys_out = keys,
	                       .threads = threads, .cuts = cuts, .n_cuts = n };
	struct dq_report *r = NULL;
	char *err = NULL;

	if (dq_run(&in, &r, &err) < 0)
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char f[96], k1[96], k2[96], *a, *b;
	uint64_t seed = 0, cuts[18];
	struct dq_report *one, *par;
	size_t n = 0, la = 0, lb = 0, len;
	unsigned threads;

	if (size < 9)
		return 0;
	if (!cfg) {
		char *errs = NULL;
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		if (config_parse("fuzz.yaml", yaml, sizeof yaml - 1, &cfg, &errs) < 0) {
			fprintf(stderr, "%s", errs);
			abort();
		}
		snprintf(dir, sizeof dir, "%s/fuzz_dqp.XXXXXX", base);
		if (!mkdtemp(dir))
			abort();
	}
	threads = 1 + data[0] % 7;
	memcpy(&seed, data + 1, 8);
	data += 9;
	len = size - 9;
	cuts[n++] = 0;
	cuts[n++] = 1;
	for (unsigned k = (unsigned)(seed & 15); k > 0 && len; k--) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		cuts[n++] = (seed >> 33) % (len + 1);
	}
	snprintf(f, sizeof f, "%s/f.csv", dir);
	snprintf(k1, sizeof k1, "%s/1.keys", dir);
	snprintf(k2, sizeof k2, "%s/2.keys", dir);
	put(f, data, len);
	one = check(f, k1, 1, NULL, 0);
	par = check(f, k2, threads, cuts, n);
	if (dq_report_diff(one, par)) {
		fprintf(stderr, "reports differ in %s\n", dq_report_diff(one, par));
		abort();
	}
	a = slurp(k1, &la);
	b = slurp(k2, &lb);
	if ((a == NULL) != (b == NULL) || (a && (la != lb || memcmp(a, b, la) != 0)))
		abort();
	free(a);
	free(b);
	dq_report_free(one);
	dq_report_free(par);
	unlink(f);
	unlink(k1);
	unlink(k2);
	return 0;
}
