/*
 * cmd_source.c - `denverctl source DATASET`: the dataset's observed cadence
 * (when its source changed, as distinct from when it was polled), from the
 * daemon's `source` command; --json prints the reply as it came.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/fmt.h"
#include "ctl/ctl.h"

/* Duration ms at KEY of O, or "-" when null. */
static const char *dur(json_t *o, const char *key, char *buf, size_t n)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return "-";
	return fmt_duration(buf, n, (uint64_t)json_integer_value(v));
}

static void print_source(json_t *r)
{
	static const char *const days[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	json_t *last = json_object_get(r, "last_change"), *w = json_object_get(r, "weekdays");
	json_t *typ = json_object_get(r, "typical_weekdays"), *recent = json_object_get(r, "recent");
	json_t *v;
	char t[64], d1[FMT_DURATION_MAX], d2[FMT_DURATION_MAX];
	size_t i;

	printf("dataset:        %s\n", ctl_str(r, "dataset"));
	printf("changes:        %" JSON_INTEGER_FORMAT " recorded (the newest %" JSON_INTEGER_FORMAT
	       " count)\n", json_integer_value(json_object_get(r, "changes")),
	       json_integer_value(json_object_get(r, "window")));
	if (json_is_object(last)) {
		ctl_fmt_time(json_object_get(last, "observed_at"), t, sizeof t);
		printf("last change:    %s (%s%s%s)\n", t, ctl_str(last, "kind"),
		       json_is_string(json_object_get(last, "value")) ? " " : "",
		       json_is_string(json_object_get(last, "value")) ? ctl_str(last, "value") : "");
	} else {
		printf("last change:    none recorded\n");
	}
	printf("weekdays:      ");
	for (int d = 0; d < 7; d++)
		printf(" %s %" JSON_INTEGER_FORMAT, days[d], json_integer_value(json_array_get(w, d)));
	printf("  (%s)\n", ctl_str(r, "timezone"));
	printf("typical:       ");
	json_array_foreach(typ, i, v)
		printf("%s%s", i ? ", " : " ", json_string_value(v));
	printf("%s at %s\n", json_array_size(typ) ? "" : " -",
	       json_is_string(json_object_get(r, "typical_time")) ?
	       ctl_str(r, "typical_time") : "no typical time");
	if (!json_is_true(json_object_get(r, "enough"))) {
		printf("cadence:        not enough history (%" JSON_INTEGER_FORMAT " changes needed)\n",
		       json_integer_value(json_object_get(r, "min_changes")));
	} else {
		printf("gap:            median %s, p95 %s", dur(r, "median_gap_ms", d1, sizeof d1),
		       dur(r, "p95_gap_ms", d2, sizeof d2));
		printf(", margin %s\n", dur(r, "margin_ms", d1, sizeof d1));
		ctl_fmt_time(json_object_get(r, "expected_by"), t, sizeof t);
		printf("next expected:  by %s\n", t);
		if (json_is_true(json_object_get(r, "late")))
			printf("late:           yes, by %s%s\n", dur(r, "overdue_ms", d1, sizeof d1),
			       json_is_true(json_object_get(r, "alert")) ? "" : " (cadence_alert off)");
		else
			printf("late:           no\n");
	}
	if (!json_array_size(recent))
		return;
	printf("\n%-24s %-10s %-8s %s\n", "OBSERVED", "KIND", "RUN", "VALUE");
	for (i = json_array_size(recent); i-- > 0;) {
		json_t *c = json_array_get(recent, i), *run = json_object_get(c, "run_id");
		char id[24] = "-";
		if (json_is_integer(run))
			snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT, json_integer_value(run));
		ctl_fmt_time(json_object_get(c, "observed_at"), t, sizeof t);
		printf("%-24s %-10s %-8s %s\n", t, ctl_str(c, "kind"), id, ctl_str(c, "value"));
	}
}

const struct ctl_cmd cmd_source = {
	.name = "source", .help = "when a dataset's source changed, and its usual cadence",
	.operand = &ctl_operand_dataset, .print = print_source,
};
