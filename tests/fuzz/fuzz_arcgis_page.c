/*
 * fuzz_arcgis_page.c - libFuzzer harness for the page parser
 * (io/arcgis_page.c, arcgis_scan.c) against the DOM path it replaced
 * (tests/unit/io/arcgis_dom.c: jansson's tree, json_object_get).
 *
 * The first byte picks a layer (geometry or not, where the object id is,
 * a duplicated field name); the rest is the page body.  It is parsed by
 * both paths into fresh chunks of the ids 0..63, then again into the same
 * chunks (every row a duplicate the second time).  The verdict (return
 * code, message, retryable), the rows (oid, CSV text, digest) and the
 * chunk's flags must be the same; any difference aborts, as do crashes,
 * leaks and undefined behaviour (ASan, UBSan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/tz.h"
#include "io/arcgis_int.h"

#include "tests/unit/io/arcgis_dom.c"

#define N_IDS 64

static void compare(const struct ag_layer *l, const struct tz *tz, struct ag_pscan *ps,
                    const char *p, size_t n, struct ag_chunk *cd, struct ag_chunk *cs)
{
	char md[AG_ERR_MAX] = "", ms[AG_ERR_MAX] = "";
	bool rd = false, rs = false;
	int a = dom_page(l, tz, p, n, cd, &rd, md);
	int b = ag_page_parse(ps, l, tz, p, n, cs, &rs, ms);

	if (a != b || (a < 0 && (strcmp(md, ms) != 0 || rd != rs))) {
		fprintf(stderr, "verdicts differ: dom %d \"%s\" (%d), stream %d \"%s\" (%d)\n", a,
		        md, rd, b, ms, rs);
		abort();
	}
	if (cd->n_rows != cs->n_rows || memcmp(cd->have, cs->have, cd->n) != 0) {
		fprintf(stderr, "rows differ: dom %zu, stream %zu\n", cd->n_rows, cs->n_rows);
		abort();
	}
	for (size_t i = 0; i < cd->n_rows; i++) {
		const struct ag_row *x = &cd->rows[i], *y = &cs->rows[i];
		if (x->oid != y->oid || x->len != y->len || x->h.hi != y->h.hi ||
		    x->h.lo != y->h.lo ||
		    memcmp(cd->text->p + x->off, cs->text->p + y->off, x->len) != 0) {
			fprintf(stderr, "row %zu differs:\n%.*s\n%.*s\n", i, (int)x->len,
			        cd->text->p + x->off, (int)y->len, cs->text->p + y->off);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tz *tz;
	static int64_t ids[N_IDS];
	struct ag_field f[] = {
		{ "OBJECTID", AG_F_OID }, { "Name", AG_F_TEXT }, { "When", AG_F_DATE },
		{ "N", AG_F_NUMBER }, { "O", AG_F_OTHER }, { "caf\xc3\xa9", AG_F_TEXT },
	};
	bool hd[N_IDS] = { 0 }, hs[N_IDS] = { 0 };
	struct ag_row rd[N_IDS], rs[N_IDS];
	struct buf td, ts;

	if (!tz) {
		if (tz_load("America/Denver", &tz) < 0)
			abort();
		for (int64_t i = 0; i < N_IDS; i++)
			ids[i] = i;
	}
	if (size < 1)
		return 0;
	unsigned pick = data[0];
	size_t oid = pick & 1 ? 3 : 0;
	if (oid) {                                  /* the id not first */
		f[3] = (struct ag_field){ "OBJECTID", AG_F_OID };
		f[0] = (struct ag_field){ "N", AG_F_NUMBER };
	}
	if (pick & 2)
		f[4].name = (char *)"Name";            /* two fields of one name */
	struct ag_layer l = { .fields = f, .n_fields = 6, .oid_index = oid,
	                      .oid_name = f[oid].name, .geometry = !(pick & 4) };
	struct ag_pscan *ps = ag_pscan_new();
	if (!ps)
		abort();
	buf_init(&td, 0, SIZE_MAX / 2);
	buf_init(&ts, 0, SIZE_MAX / 2);
	struct ag_chunk cd = { ids, N_IDS, hd, rd, 0, &td }, cs = { ids, N_IDS, hs, rs, 0, &ts };
	compare(&l, tz, ps, (const char *)data + 1, size - 1, &cd, &cs);
	compare(&l, tz, ps, (const char *)data + 1, size - 1, &cd, &cs);
	buf_free(&td);
	buf_free(&ts);
	ag_pscan_free(ps);
	return 0;
}
