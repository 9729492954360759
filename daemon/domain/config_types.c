/*
 * config_types.c - the names of the configuration's enums, the rule for
 * names, and finding a dataset, job or column by name: pure lookups, shared by the parser (config/) and by the layers
 * that print or store a configuration's values (quality, store, engine).
 */
#include "domain/config_types.h"

#include <string.h>

#include "base/strtable.h"

const char *const missed_table[MISSED_COUNT] = {
	[MISSED_LATEST] = "latest", [MISSED_ALL] = "all", [MISSED_NONE] = "none",
};
STRING_TABLE_STATIC(missed, enum missed_policy)

const char *const source_table[SOURCE_COUNT] = {
	[SOURCE_HTTP] = "http", [SOURCE_ARCGIS] = "arcgis",
	[SOURCE_ARCGIS_HUB] = "arcgis_hub",
};
STRING_TABLE_STATIC(source, enum source_kind)

const char *const storage_table[STORAGE_COUNT] = {
	[STORAGE_LOCAL] = "local", [STORAGE_S3] = "s3",
};
STRING_TABLE_STATIC(storage, enum storage_type)

const char *const col_type_table[COL_TYPE_COUNT] = {
	[COL_STRING] = "string", [COL_INT] = "int", [COL_FLOAT] = "float",
	[COL_TIMESTAMP] = "timestamp", [COL_DATE] = "date", [COL_BOOL] = "bool",
};
STRING_TABLE_STATIC(col_type, enum col_type)

const char *const severity_table[SEVERITY_COUNT] = {
	[SEV_FAIL] = "fail", [SEV_WARN] = "warn",
};
STRING_TABLE_STATIC(severity, enum severity)

const char *const check_type_table[CHECK_TYPE_COUNT] = {
	[CHECK_COLUMNS] = "columns", [CHECK_ROW_COUNT] = "row_count", [CHECK_NULLS] = "nulls",
	[CHECK_UNIQUE] = "unique", [CHECK_RANGE] = "range",
	[CHECK_COORDINATES] = "coordinates", [CHECK_TIMESTAMPS] = "timestamps",
	[CHECK_FRESHNESS] = "freshness", [CHECK_ALLOWED] = "allowed",
	[CHECK_WITHDRAWN] = "withdrawn",
};
STRING_TABLE_STATIC(check_type, enum check_type)

const char *const spark_mode_table[SPARK_MODE_COUNT] = {
	[SPARK_SUBMIT] = "submit", [SPARK_MANAGED] = "managed", [SPARK_EXTERNAL] = "external",
};
STRING_TABLE_STATIC(spark_mode, enum spark_mode)

static const char *or_unknown(const char *name)
{
	return name ? name : "?";
}

const char *config_spark_mode_name(enum spark_mode m)
{
	return or_unknown(spark_mode_to_string(m));
}

const char *config_missed_name(enum missed_policy m)
{
	return or_unknown(missed_to_string(m));
}

const char *config_source_name(enum source_kind s)
{
	return or_unknown(source_to_string(s));
}

const char *config_storage_name(enum storage_type t)
{
	return or_unknown(storage_to_string(t));
}

const char *config_col_type_name(enum col_type t)
{
	return or_unknown(col_type_to_string(t));
}

const char *config_severity_name(enum severity s)
{
	return or_unknown(severity_to_string(s));
}

const char *config_check_type_name(enum check_type t)
{
	return or_unknown(check_type_to_string(t));
}

bool config_name_valid(const char *name)
{
	size_t n = 0;

	if (!name)
		return false;
	for (; name[n]; n++) {
		char c = name[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0 && n <= CONFIG_MAX_NAME;
}

/* ---- lookups by name ---- */

const struct cfg_dataset *config_dataset(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_datasets; i++)
		if (cfg->datasets[i].name && strcmp(cfg->datasets[i].name, name) == 0)
			return &cfg->datasets[i];
	return NULL;
}

const struct cfg_job *config_job(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_jobs; i++)
		if (cfg->jobs[i].name && strcmp(cfg->jobs[i].name, name) == 0)
			return &cfg->jobs[i];
	return NULL;
}

const struct cfg_column *config_column(const struct cfg_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_columns; i++)
		if (s->columns[i].name && strcmp(s->columns[i].name, name) == 0)
			return &s->columns[i];
	return NULL;
}
