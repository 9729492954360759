/*
 * config_types.h - what a configuration holds: struct config and its parts,
 * the enums and their names, the caps.  Pure data: no parser here (that is
 * config/config.h), so the layers below config/ (domain, quality, io) can
 * take a struct config without depending on the YAML reader.
 *
 * A struct config is immutable once config_load() has returned it: a reload
 * parses into a new struct and swaps the pointer only when the new one is
 * valid, so readers never see half of a configuration.  Every string and
 * array in it is owned by the struct and freed by config_free()
 * (config/config.h).
 *
 * Units: every duration is held in milliseconds (uint64_t), every size in
 * bytes (uint64_t), every percentage as a fraction in [0, 1] (double).
 */
#ifndef DENVERD_DOMAIN_CONFIG_TYPES_H
#define DENVERD_DOMAIN_CONFIG_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps on what a configuration may hold (every input is bounded). */
#define CONFIG_MAX_FILE_SIZE   (4u * 1024 * 1024)
#define CONFIG_MAX_DATASETS    4096
#define CONFIG_MAX_JOBS        256
#define CONFIG_MAX_COLUMNS     512
#define CONFIG_MAX_CHECKS      256
#define CONFIG_MAX_LIST        1024    /* aliases, formats, values, argv */
#define CONFIG_MAX_NAME        64      /* dataset, job, check, column names */

/*
 * The enums of the file, each with its name table (the words the file
 * uses; index = value) and a *_COUNT that must follow the last value.
 * config_*_name() give a value's word, "?" for a value out of range, never
 * NULL; the strings are static.
 */
enum missed_policy { MISSED_LATEST, MISSED_ALL, MISSED_NONE };
#define MISSED_COUNT (MISSED_NONE + 1)
extern const char *const missed_table[MISSED_COUNT];
const char *config_missed_name(enum missed_policy m);

/* Where a dataset's snapshot comes from: one file over HTTP (io/fetch.h),
 * an ArcGIS FeatureServer layer paged into a CSV (io/arcgis.h), or the
 * export file an ArcGIS Hub builds of a layer (io/hub.h, then io/fetch.h). */
enum source_kind { SOURCE_HTTP, SOURCE_ARCGIS, SOURCE_ARCGIS_HUB };
#define SOURCE_COUNT (SOURCE_ARCGIS_HUB + 1)
extern const char *const source_table[SOURCE_COUNT];
const char *config_source_name(enum source_kind s);

enum col_type { COL_STRING, COL_INT, COL_FLOAT, COL_TIMESTAMP, COL_DATE, COL_BOOL };
#define COL_TYPE_COUNT (COL_BOOL + 1)
extern const char *const col_type_table[COL_TYPE_COUNT];
const char *config_col_type_name(enum col_type t);

/* How jobs reach Spark (denverd.yaml(5), SPARK CONNECT): a spark-submit per
 * job, a Spark Connect server denverd runs and supervises, or one someone
 * else runs, which denverd only health-checks. */
enum spark_mode { SPARK_SUBMIT, SPARK_MANAGED, SPARK_EXTERNAL };
#define SPARK_MODE_COUNT (SPARK_EXTERNAL + 1)
extern const char *const spark_mode_table[SPARK_MODE_COUNT];
const char *config_spark_mode_name(enum spark_mode m);

enum severity { SEV_FAIL, SEV_WARN };
#define SEVERITY_COUNT (SEV_WARN + 1)
extern const char *const severity_table[SEVERITY_COUNT];
const char *config_severity_name(enum severity s);

enum check_type {
	CHECK_COLUMNS,      /* required columns present; drift reported */
	CHECK_ROW_COUNT,    /* min/max rows, max change vs previous snapshot */
	CHECK_NULLS,        /* null fraction per column */
	CHECK_UNIQUE,       /* the key is unique (exact) */
	CHECK_RANGE,        /* numeric range of one column */
	CHECK_COORDINATES,  /* lat/lon inside a box, swapped pairs counted apart */
	CHECK_TIMESTAMPS,   /* share that parse; none after the exec date */
	CHECK_FRESHNESS,    /* newest event time within max_age of the exec date */
	CHECK_ALLOWED,      /* values in a list (trimmed, case-insensitive) */
	CHECK_WITHDRAWN,    /* removed keys inside the window, share at most */
};
#define CHECK_TYPE_COUNT (CHECK_WITHDRAWN + 1)
extern const char *const check_type_table[CHECK_TYPE_COUNT];
const char *config_check_type_name(enum check_type t);

/* True when NAME matches [a-z0-9_]+ and is at most CONFIG_MAX_NAME bytes:
 * the rule for dataset, job, check and column names (they become paths). */
bool config_name_valid(const char *name);

/* A list of strings owned by its holder; items[n] is NULL. */
struct strlist {
	char **items;
	size_t n;
};

struct cfg_retry {
	unsigned retries;          /* attempts after the first; default 3 */
	uint64_t delay_ms;         /* base of exponential backoff; default 1m */
	uint64_t max_delay_ms;     /* cap of one delay; default 1h */
};

struct cfg_column {
	char *name;                /* canonical name, as written to Parquet */
	enum col_type type;
	struct strlist aliases;    /* names of older vintages */
	struct strlist formats;    /* strptime-style, timestamp/date only;
	                              empty = the schema's timestamp_formats */
	bool required;             /* default true */
	struct strlist nulls;      /* extra values meaning NULL ("0", "00000") */
};

struct cfg_schema {
	struct cfg_column *columns;
	size_t n_columns;
	struct strlist key;              /* column names forming the key */
	char *event_time;                /* column name, or NULL */
	struct strlist timestamp_formats;/* default formats for timestamps */
};

struct cfg_check {
	char *name;                /* [a-z0-9_]+, unique in its dataset */
	enum check_type type;
	enum severity severity;    /* default fail */
	struct strlist columns;    /* nulls, range, allowed: columns checked */
	double max_fraction;       /* nulls: max null share; range, allowed,
	                              coordinates: max bad share; timestamps:
	                              max share that does not parse; withdrawn:
	                              max share of the window withdrawn */
	/* row_count */
	uint64_t min_rows, max_rows;       /* max_rows 0 = unbounded */
	double max_change;                 /* vs previous snapshot; <0 = off */
	/* range */
	double min, max;
	/* coordinates: lat/lon column names and the box */
	char *lat, *lon;
	double min_lat, max_lat, min_lon, max_lon;
	bool zero_is_null;                 /* 0,0 counts as missing; default true */
	/* timestamps: how far after the exec date's end counts as future */
	uint64_t future_slack_ms;
	/* freshness */
	uint64_t max_age_ms;
	/* allowed */
	struct strlist values;
};

struct cfg_fetch {
	uint64_t connect_timeout_ms;   /* default 30s */
	uint64_t low_speed_limit;      /* bytes per second; default 1KiB */
	uint64_t low_speed_time_ms;    /* window; default 60s */
	uint64_t timeout_ms;           /* whole transfer; default 6h */
	unsigned max_redirects;        /* default 5 */
};

/* The arcgis: mapping of a dataset whose source is arcgis. */
struct cfg_arcgis {
	char *where;                   /* the query's predicate; default "1=1" */
	unsigned page_size;            /* rows per page; 0 = the layer's maxRecordCount */
	char *date_zone;               /* IANA zone dates are written in; default
	                                  the configuration's timezone */
	bool allow_http;               /* an http:// layer URL (tests, the demo) */
};

/* The hub: mapping of a dataset whose source is arcgis_hub. */
struct cfg_hub {
	uint64_t poll_interval_ms;     /* between status polls; default 3s */
	uint64_t deadline_ms;          /* the whole export wait; default 30m */
	bool allow_http;               /* an http:// Hub URL (tests, the demo) */
};

struct cfg_dataset {
	char *name;                    /* [a-z0-9_]+ */
	enum source_kind source;       /* default http */
	char *url;                     /* http: template: {year} {month} {day}
	                                  {exec_date}; arcgis: the layer's URL,
	                                  .../FeatureServer/<id>, no template;
	                                  arcgis_hub: the Hub download URL,
	                                  .../api/download/v1/items/<item>/csv
	                                  ?layers=<id>, no template */
	char *file_name;               /* published name; NULL = URL's last segment
	                                  (http), "<name>.csv" (arcgis, arcgis_hub) */
	char *schedule;                /* cron text, validated by cron_parse() */
	enum missed_policy missed;     /* default latest */
	unsigned max_catchup;          /* default 3 */
	unsigned keep_snapshots;       /* default 14 */
	uint64_t max_age_ms;           /* freshness SLA; 0 = off; default 36h */
	uint64_t cadence_margin_ms;    /* late = p95 gap + this; default 6h */
	uint64_t window_ms;            /* the publisher's rolling window: rows
	                                  whose event time is older than the
	                                  exec date's 00:00 minus this age out;
	                                  0 (default) = the earliest event time
	                                  of each new snapshot */
	bool cadence_alert;            /* the `late` alert; default true */
	bool convert;                  /* run the Spark convert task; default true */
	uint64_t convert_timeout_ms;   /* default 2h */
	struct cfg_retry retry;
	struct cfg_fetch fetch;
	struct cfg_arcgis arcgis;      /* source arcgis only; else its defaults */
	struct cfg_hub hub;            /* source arcgis_hub only; else its defaults */
	struct cfg_schema schema;
	struct cfg_check *checks;
	size_t n_checks;
	int line;                      /* where it was defined, for messages */
};

struct cfg_job {
	char *name;                    /* [a-z0-9_]+ */
	struct strlist after;          /* dataset names */
	struct strlist command;        /* argv template, never a shell */
	uint64_t timeout_ms;           /* default 1h */
	uint64_t kill_grace_ms;        /* SIGTERM -> SIGKILL; default 10s */
	struct cfg_retry retry;
	int line;
};

/* spark.connect: the Connect endpoint of modes managed and external.  The
 * token itself is never in the configuration: token_file or
 * token_credential say where it is (read by engine/spark.c). */
struct cfg_connect {
	char *url;                     /* external: "sc://host:port"; else NULL */
	char *bind;                    /* managed: listen address; default 127.0.0.1 */
	unsigned port;                 /* managed: default 15002 */
	uint64_t memory;               /* managed: server heap, bytes; default 1GiB */
	uint64_t ready_timeout_ms;     /* managed: start until it listens; default 3m */
	uint64_t check_interval_ms;    /* external: health check period; default 10s */
	uint64_t kill_grace_ms;        /* managed: SIGTERM -> SIGKILL; default 30s */
	struct cfg_retry restart;      /* managed: restart backoff (retries unused) */
	char *token_file;              /* path of the token; NULL = none */
	char *token_credential;        /* $CREDENTIALS_DIRECTORY/<name>; NULL = none */
};

struct cfg_spark {
	enum spark_mode mode;          /* default submit */
	struct cfg_connect connect;
	char *submit;                  /* spark-submit path; default "spark-submit" */
	char *master;                  /* default "local[2]" */
	uint64_t driver_memory;        /* bytes; default 2GiB */
	char *python;                  /* PYSPARK_PYTHON; NULL = inherit */
	char *jobs_dir;                /* where convert.py, report.py live */
	char **conf_keys, **conf_values;  /* --conf k=v, in file order */
	size_t n_conf;
	struct strlist s3a_classpath;  /* storage: s3: jars (absolute paths, each
	                                  readable at start) joined with ':' into
	                                  spark.{driver,executor}.extraClassPath
	                                  (domain/s3a.h); empty = none */
};

struct cfg_limits {
	unsigned fetches;              /* concurrent fetch tasks; default 2 */
	unsigned jobs;                 /* concurrent child processes; default 1 */
	unsigned checks;               /* concurrent check scans; default 2 */
	unsigned check_threads;        /* threads of one check; 0 = CPUs (default) */
	unsigned clients;              /* control connections; default 64 */
	uint64_t request_size;         /* control request bytes; default 64KiB */
	uint64_t output_tail;          /* job output kept in the store; 16KiB */
};

struct cfg_alerts {
	struct strlist command;        /* argv template; empty = off */
	char *webhook;                 /* URL; NULL = off; may hold a secret */
	uint64_t min_interval_ms;      /* per dataset+reason; default 1h */
	unsigned retries;              /* webhook delivery; default 5 */
	bool on_warn;                  /* alert on warn checks; default true */
};

/* OpenLineage run events (notify/lineage.c); both transports off by
 * default.  url and header may hold a secret: never logged. */
struct cfg_lineage {
	char *file;                    /* NDJSON file appended to; NULL = off */
	char *url;                     /* HTTP endpoint; NULL = off */
	char *header;                  /* one "Name: value" request header; NULL = none */
	char *namespace;               /* of the jobs; default "denverd" */
	unsigned queue;                /* events waiting for HTTP; default 1000 */
	unsigned retries;              /* HTTP attempts after the first; default 5 */
	uint64_t retry_delay_ms;       /* base of the backoff; default 1s */
	uint64_t retry_max_delay_ms;   /* cap of one delay; default 5m */
	uint64_t timeout_ms;           /* one HTTP attempt; default 10s */
};

/* Where snapshots live (storage:).  local: under state_dir/staging, as
 * ever.  s3: in a bucket under <prefix>/staging/..., streamed there by
 * multipart upload (io/s3.h, io/fetch_s3.c); the secret is never in the
 * file: it comes from credentials_file (relative: under
 * $CREDENTIALS_DIRECTORY, systemd's LoadCredential=) or from the
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 * environment variables, read when the daemon starts. */
enum storage_type { STORAGE_LOCAL, STORAGE_S3 };
#define STORAGE_COUNT (STORAGE_S3 + 1)
extern const char *const storage_table[STORAGE_COUNT];
const char *config_storage_name(enum storage_type t);

struct cfg_storage {
	enum storage_type type;        /* default local */
	char *endpoint;                /* s3: http(s)://host[:port]; required */
	char *region;                  /* default us-east-1 */
	char *bucket;                  /* s3: required */
	char *prefix;                  /* default "" (no leading/trailing '/') */
	bool path_style;               /* default true */
	uint64_t part_size;            /* default 8MiB, at least 8MiB, at most 1GiB */
	char *credentials_file;        /* NULL = the environment */
};

struct config {
	char *path;                    /* file it was read from */
	char *timezone;                /* IANA name; default America/Denver */
	char *state_dir;               /* default /var/lib/denverd */
	char *socket;                  /* default /run/denverd/denverd.sock */
	unsigned socket_mode;          /* default 0660 */
	int log_level;                 /* syslog priority; default LOG_INFO */
	bool allow_file_urls;          /* file:// for the demo; default false */
	struct cfg_limits limits;
	struct cfg_spark spark;
	struct cfg_alerts alerts;
	struct cfg_lineage lineage;
	struct cfg_storage storage;
	struct cfg_dataset *datasets;
	size_t n_datasets;
	struct cfg_job *jobs;
	size_t n_jobs;
};

/* Lookups by name (config_types.c); NULL when absent.  The result lives
 * as long as CFG (or S). */
const struct cfg_dataset *config_dataset(const struct config *cfg, const char *name);
const struct cfg_job *config_job(const struct config *cfg, const char *name);
const struct cfg_column *config_column(const struct cfg_schema *s, const char *name);

#endif
