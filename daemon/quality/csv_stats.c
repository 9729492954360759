/*
 * csv_stats.c - the scanner's statistics merged (the parallel check's
 * parts, dq_par.c) and the names of encodings, line endings and issues.
 */
#include "base/strtable.h"
#include "quality/csv.h"

void csv_stats_merge(struct csv_stats *into, const struct csv_stats *part)
{
	into->bytes += part->bytes;
	into->rows += part->rows;
	into->lines += part->lines;
	if (part->max_fields > into->max_fields)
		into->max_fields = part->max_fields;
	into->eol_crlf += part->eol_crlf;
	into->eol_lf += part->eol_lf;
	into->eol_cr += part->eol_cr;
	into->non_ascii += part->non_ascii;
	if (!into->first_eol)
		into->first_eol = part->first_eol;
	if (into->rows == part->rows)
		into->header_fields = part->header_fields;
	for (int k = 0; k < CSV_I_N; k++) {
		struct csv_issue_stat *d = &into->issue[k];
		const struct csv_issue_stat *s = &part->issue[k];
		for (unsigned i = 0; i < s->n_at && d->n_at < CSV_LOCS; i++)
			d->at[d->n_at++] = s->at[i];
		d->count += s->count;
	}
	into->encoding = into->bom ? CSV_ENC_UTF8_BOM
	               : into->issue[CSV_I_INVALID_UTF8].count ? CSV_ENC_CP1252
	               : CSV_ENC_UTF8;
}

const char *csv_encoding_name(enum csv_encoding e)
{
	switch (e) {
	case CSV_ENC_UTF8_BOM: return "utf-8-sig";
	case CSV_ENC_CP1252:   return "windows-1252";
	default:               return "utf-8";
	}
}

const char *csv_line_ending(const struct csv_stats *st)
{
	return st->eol_crlf && st->eol_crlf >= st->eol_lf + st->eol_cr ? "crlf" : "lf";
}

static const char *const csv_issue_table[CSV_I_N] = {
	[CSV_I_INNER_QUOTE] = "inner_quote",
	[CSV_I_BARE_QUOTE] = "bare_quote",
	[CSV_I_UNCLOSED_QUOTE] = "unclosed_quote",
	[CSV_I_NEWLINE_IN_QUOTES] = "newline_in_quotes",
	[CSV_I_SHORT_ROW] = "short_row",
	[CSV_I_LONG_ROW] = "long_row",
	[CSV_I_BLANK_LINE] = "blank_line",
	[CSV_I_PADDED] = "padded_value",
	[CSV_I_FIELD_TRUNCATED] = "field_truncated",
	[CSV_I_TOO_MANY_FIELDS] = "too_many_fields",
	[CSV_I_MIXED_EOL] = "mixed_line_endings",
	[CSV_I_NO_FINAL_EOL] = "no_final_newline",
	[CSV_I_INVALID_UTF8] = "invalid_utf8",
	[CSV_I_TRUNCATED_UTF8] = "truncated_utf8",
	[CSV_I_NUL] = "nul_byte",
};
STRING_TABLE_STATIC(csv_issue, enum csv_issue)

const char *csv_issue_name(enum csv_issue i)
{
	const char *name = csv_issue_to_string(i);

	return name ? name : "unknown";
}

