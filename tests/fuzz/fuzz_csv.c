/*
 * fuzz_csv.c - libFuzzer harness for the CSV scanner (csv.c).
 *
 * Every input is scanned several times: with the default caps and with tiny
 * ones (so truncation and squeezing run on small inputs), in one read and
 * in reads of 1..7 bytes.  The scanner must not crash or leak (ASan), must
 * not invoke undefined behaviour (UBSan), and must give the same rows and
 * the same statistics whatever the read size; a plain row's raw bytes must
 * be its fields joined by ','; every field must lie in memory the scanner
 * owns.  Any difference aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "quality/csv.h"

struct digest {
	XXH3_state_t h;
	uint64_t rows;
	int stop_at;                 /* stop the scan after this many rows (0: never) */
};

static int on_row(void *ud, const struct csv_row *row)
{
	struct digest *d = ud;
	uint32_t n = row->n_fields;
	XXH3_64bits_update(&d->h, &n, sizeof n);
	XXH3_64bits_update(&d->h, &row->line, sizeof row->line);
	XXH3_64bits_update(&d->h, &row->offset, sizeof row->offset);
	for (uint32_t i = 0; i < n; i++) {
		XXH3_64bits_update(&d->h, &row->fields[i].len, sizeof row->fields[i].len);
		XXH3_64bits_update(&d->h, &row->fields[i].flags, sizeof row->fields[i].flags);
		XXH3_64bits_update(&d->h, row->fields[i].p, row->fields[i].len);
	}
	if (row->plain) {
		size_t at = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (i && (at >= row->raw_len || row->raw[at++] != ','))
				abort();
			if (at + row->fields[i].len > row->raw_len ||
			    memcmp(row->raw + at, row->fields[i].p, row->fields[i].len) != 0)
				abort();
			at += row->fields[i].len;
		}
		if (at != row->raw_len)
			abort();
	}
	if (row->index != d->rows++)
		abort();
	return d->stop_at && (int)d->rows == d->stop_at ? 1 : 0;
}

static uint64_t scan(const uint8_t *data, size_t size, const struct csv_opts *o,
                     struct csv_stats *st, int stop_at)
{
	struct digest d = { .stop_at = stop_at };
	int rc;
	XXH3_64bits_reset(&d.h);
	rc = csv_scan_mem(data, size, o, on_row, &d, st);
	if (rc != (stop_at && d.rows == (uint64_t)stop_at ? 1 : 0) || d.rows != st->rows)
		abort();
	return XXH3_64bits_digest(&d.h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct csv_opts caps[] = {
		{ 0 },
		{ .max_field = 5, .max_row = 12, .max_fields = 4 },
	};
	for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
		struct csv_stats first, st;
		struct csv_opts o = caps[c];
		uint64_t want = scan(data, size, &o, &first, 0);
		if (first.bytes != size)
			abort();
		for (size_t block = 1; block <= 7; block += 3) {
			o.block = block;
			if (scan(data, size, &o, &st, 0) != want ||
			    memcmp(&st, &first, sizeof st) != 0)
				abort();
		}
		/* Stopping early must leave nothing behind (ASan's leak check). */
		o.block = 2;
		scan(data, size, &o, &st, 2);
	}
	return 0;
}
