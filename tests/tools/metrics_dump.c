/*
 * metrics_dump - print the metrics of a state database the way the daemon
 * renders them (metrics_text), for tests/bench/metrics_bench and by hand:
 *
 *   metrics_dump STATE_DB [REPEAT]
 *
 * Prints the text on stdout and, with REPEAT > 1, the best time of REPEAT
 * renderings on stderr ("metrics_text: best 12.345 ms, 4567 bytes").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/denverd.h"
#include "api/metrics.h"
#include "store/store.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct denverd d = { 0 };
	char *err = NULL, *text = NULL;
	size_t len = 0;
	int repeat = argc > 2 ? atoi(argv[2]) : 1, rc;
	double best = -1;

	if (argc < 2 || repeat < 1) {
		fprintf(stderr, "usage: metrics_dump STATE_DB [REPEAT]\n");
		return 2;
	}
	clock_init();
	if (store_open(argv[1], &d.store, &err) < 0) {
		fprintf(stderr, "metrics_dump: %s\n", err ? err : "cannot open the store");
		return 1;
	}
	d.started_ms = clock_now_ms();
	for (int i = 0; i < repeat; i++) {
		double t0 = now_ms();
		free(text);
		if ((rc = metrics_text(&d, &text, &len)) < 0) {
			fprintf(stderr, "metrics_dump: %s\n",
			        rc == -EIO ? store_errmsg(d.store) : strerror(-rc));
			store_close(d.store);
			return 1;
		}
		double dt = now_ms() - t0;
		if (best < 0 || dt < best)
			best = dt;
	}
	fwrite(text, 1, len, stdout);
	if (repeat > 1)
		fprintf(stderr, "metrics_text: best %.3f ms, %zu bytes\n", best, len);
	free(text);
	store_close(d.store);
	return 0;
}
