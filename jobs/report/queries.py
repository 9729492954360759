"""Spark SQL over the Parquet datastore: every query the report runs.

The datastore layout is datastore.py's; each dataset is registered as a
cached temporary view (``traffic``, ``sr``) with only the columns the report
reads.  Every collected query has a name and its wall time lands in
``Datastore.timings`` (report.json ``timings``), in the order the queries
ran.  The question functions return plain containers of collected pyspark
``Row`` objects, field names as given in their docstrings; they compute no
statistic and write no file (answers.py does that).

Repeatable: every query orders its rows completely (ties broken by the
grouping key), so the same datastore gives the same rows in the same order
and the same report.json; sums and shares are of integers (a sum of
doubles depends on the order partitions meet).  One residual
risk: percentile_approx (Q5) merges per-partition summaries, and once a
group holds more values than its buffer the merged summary could depend
on the order partial results arrive; with the same files, splits and
settings Spark has so far always given the same figures
(tests/spark/test_report.py re-runs the report and compares).

Timestamps stay in SQL (formatted with ``date_format``) whenever their text
is reported: collected ones would come back in the Python process's time
zone, not the session's.
"""

import os
import time
from urllib.parse import unquote, urlparse

import datastore
from datastore import Store

from .common import CELL_LAT, CELL_LON, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, TOP_N, log, rnd

TRAFFIC_COLS = ["reported_date", "geo_lat", "geo_lon", "road_condition", "neighborhood_id", "district_id",
                "source_file", "first_seen", "last_seen"]
SR_COLS = ["case_created_dttm", "case_closed_dttm", "latitude", "longitude", "council_district",
           "police_district", "neighborhood", "agency", "case_summary", "type", "source_file",
           "first_seen", "last_seen"]
VIEWS = ("traffic", "sr")


class Datastore:
    """The datastore at `root` (``<state_dir>/datastore``, or
    ``s3a://bucket/prefix/datastore`` with `filesystem` its
    pyarrow.fs.S3FileSystem, storage.py) seen through one SparkSession.
    `timings` maps query name -> seconds, filled by `sql`."""

    def __init__(self, spark, root, filesystem=None):
        self.spark = spark
        self.root = root.rstrip("/")
        self.fs = filesystem
        self.timings = {}
        self.state = {}

    def sql(self, name, query):
        """Run one Spark SQL query, collect it, record its time under `name`.
        Returns the list of Rows."""
        t = time.monotonic()
        rows = self.spark.sql(query).collect()
        self.timings[name] = round(time.monotonic() - t, 3)
        return rows

    def load(self, name, view, columns, recover=True, cache=True):
        """Register `view` over datastore/<name> and cache it (`cache`), if
        the dataset holds data; ``columns[0]`` is its event time.  Finishes
        an interrupted commit first (datastore.py); with `recover` false it
        writes nothing and only logs the commits still pending (the
        notebook: a reader that may run beside a convert, whose swap a
        recover would race).  Returns the dataset summary
        (report.json ``datasets.<name>``: rows, first/last event, generated
        rows and share, first/last seen) or None when there is no month yet.
        Either way ``state[name]`` is the dataset's state as read
        (`read_state`).
        Exits (SystemExit) when the datastore lacks one of `columns`."""
        path = f"{self.root}/{name}"
        store = Store(path, filesystem=self.fs)
        if recover:
            rolled = store.recover()
            if rolled:
                log(f"{name}: finished interrupted commits {', '.join(rolled)}")
        elif waiting := datastore.pending_commits(path, self.fs):
            log(f"{name}: commits {', '.join(waiting)} are being swapped in or were interrupted; "
                "the rows read now may miss their months (the next convert or report finishes them)")
        self.state[name] = read_state(store, path, self.fs)
        if not store.months():
            return None
        df = self.spark.read.parquet(path)
        check_as_read(path, df.inputFiles(), self.state[name]["files"], self.fs)
        have = set(df.columns)
        missing = [c for c in columns if c not in have]
        if missing:
            raise SystemExit(f"report: {path}: datastore lacks columns {', '.join(missing)}")
        df.select(*columns, "year", "month").createOrReplaceTempView(view)
        if cache:
            self.spark.sql(f"CACHE TABLE {view}")
        ev = columns[0]
        r = self.sql(f"{view}_summary", f"""
            SELECT count(*) n, date_format(min({ev}), 'yyyy-MM-dd HH:mm:ss') lo,
                   date_format(max({ev}), 'yyyy-MM-dd HH:mm:ss') hi,
                   sum(CASE WHEN lower(source_file) LIKE '%generated%' THEN 1 ELSE 0 END) gen,
                   min(first_seen) fs, max(last_seen) ls
            FROM {view}""")[0]
        return {"rows": r.n, "first_event": str(r.lo), "last_event": str(r.hi),
                "generated_rows": r.gen, "generated_share": rnd(r.gen / r.n if r.n else 0, 4),
                "first_seen": str(r.fs), "last_seen": str(r.ls),
                "removals": self.removals(view, path)}

    def removals(self, view, path):
        """report.json ``datasets.<name>.removals``: the rows the city
        removed, by the month of ``removed_on`` (the exec date a row was
        first missing), oldest first: [{month "YYYY-MM", withdrawn,
        aged_out, unknown}] (convert.py, "Removed rows").  Read with an
        explicit schema, so months written before the columns existed count
        as none removed."""
        from pyspark.sql import types as T
        schema = T.StructType([T.StructField("removed_on", T.DateType()),
                               T.StructField("removal", T.StringType()),
                               T.StructField("year", T.IntegerType()),
                               T.StructField("month", T.IntegerType())])
        self.spark.read.schema(schema).parquet(path).createOrReplaceTempView(f"{view}_removed")
        rows = self.sql(f"{view}_removals", f"""
            SELECT date_format(removed_on, 'yyyy-MM') m,
                   sum(CASE WHEN removal = 'withdrawn' THEN 1 ELSE 0 END) w,
                   sum(CASE WHEN removal = 'aged_out' THEN 1 ELSE 0 END) a,
                   sum(CASE WHEN removal IS NULL THEN 1 ELSE 0 END) u
            FROM {view}_removed WHERE removed_on IS NOT NULL GROUP BY 1 ORDER BY 1""")
        return [{"month": r.m, "withdrawn": r.w, "aged_out": r.a, "unknown": r.u} for r in rows]

    def changed_since_read(self):
        """The datasets whose fingerprint differs now from when they were
        loaded (the report then describes no single state)."""
        return sorted(n for n, st in self.state.items()
                      if datastore.fingerprint(f"{self.root}/{n}", self.fs)["fingerprint"] != st["fingerprint"])

    def drop_views(self):
        """Drop the dataset views (the helper views are replaced on the next run)."""
        for view in VIEWS:
            self.spark.catalog.dropTempView(view)


COMMITS_SHOWN = 20  # commit records report.json repeats (the newest)


def read_state(store, path, filesystem=None):
    """report.json ``state.<dataset>``: the content fingerprint of the data
    files (datastore.fingerprint: fingerprint, files, bytes), the number of
    commit records behind them (``commit_count``, the newest one's
    sequence number) and the newest COMMITS_SHOWN records, oldest first
    (``commits``); the rest are in the datastore's _denverd/commits, which
    is only ever appended to."""
    commits = store.commits()
    return {**datastore.fingerprint(path, filesystem), "commit_count": commits[-1]["seq"] if commits else 0,
            "commits": commits[-COMMITS_SHOWN:]}


def check_as_read(path, input_files, files, filesystem=None):
    """Exit (SystemExit) unless Spark's file list `input_files` (URIs) is
    the fingerprint's `files` count of data files under `path`: the
    fingerprint must describe what the queries read."""
    if filesystem is not None:      # s3a://bucket/key URIs, no symlinks
        rel = sorted(unquote(u)[len(path) + 1:] for u in input_files)
    else:
        root = os.path.realpath(path)
        rel = sorted(os.path.relpath(os.path.realpath(unquote(urlparse(u).path)), root) for u in input_files)
    if rel != datastore.data_files(path, filesystem) or len(rel) != files:
        raise SystemExit(f"report: {path}: Spark reads {len(rel)} files, the fingerprint covers {files}; "
                         "was the datastore written while the report started?")


def seasonality(db):
    """Q1 over ``traffic``: ``monthly`` rows (y, m, n) and ``weekly`` rows
    (y, w = ISO week, n), accidents per calendar month and per week of each
    year, in session-time-zone dates, ordered by year then month/week."""
    monthly = db.sql("q1_monthly", """
        SELECT year(reported_date) y, month(reported_date) m, count(*) n
        FROM traffic GROUP BY 1, 2 ORDER BY 1, 2""")
    weekly = db.sql("q1_weekly", """
        SELECT year(reported_date) y, weekofyear(reported_date) w, count(*) n
        FROM traffic GROUP BY 1, 2 ORDER BY 1, 2""")
    return {"monthly": monthly, "weekly": weekly}


# the city's mixed-case road conditions, normalised (NULL: not recorded)
COND_SQL = """CASE
      WHEN rc IS NULL OR rc = '' OR rc LIKE 'unknown%' THEN NULL
      WHEN rc LIKE 'dry%' THEN 'dry' WHEN rc LIKE 'wet%' THEN 'wet'
      WHEN rc LIKE 'snow%' THEN 'snowy' WHEN rc LIKE 'ic%' THEN 'icy'
      WHEN rc LIKE 'slush%' THEN 'slushy' ELSE 'other' END"""
SEASON_SQL = """CASE WHEN m IN (12,1,2) THEN 'winter' WHEN m IN (3,4,5) THEN 'spring'
                    WHEN m IN (6,7,8) THEN 'summer' ELSE 'autumn' END"""


def road_conditions(db):
    """Q2 over ``traffic`` (view ``traffic_cond`` adds the normalised
    condition).  Returns ``by_month`` rows (m, cond, n) and ``values`` rows
    (v = raw road_condition, n; the 40 commonest).  Only when some accident
    has a known condition also ``by_season`` rows (season, cond, n),
    ``season_days`` {season: calendar days with such accidents} and
    ``year_month`` rows (y, m, n, bad = share of icy/snowy/slushy); else
    those three are None."""
    db.spark.sql(f"""CREATE OR REPLACE TEMP VIEW traffic_cond AS
        SELECT reported_date, month(reported_date) m, year(reported_date) y, {COND_SQL} cond
        FROM (SELECT reported_date, lower(regexp_replace(trim(road_condition), '\\\\s+', ' ')) rc FROM traffic)""")
    by_month = db.sql("q2_by_month", """
        SELECT m, cond, count(*) n FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""")
    values = db.sql("q2_values", """
        SELECT road_condition v, count(*) n FROM traffic WHERE road_condition IS NOT NULL
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 40""")
    out = {"by_month": by_month, "values": values, "by_season": None, "season_days": None, "year_month": None}
    if not sum(r.n for r in by_month):
        return out
    out["by_season"] = db.sql("q2_by_season", f"""
        SELECT {SEASON_SQL} season, cond, count(*) n
        FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""")
    out["season_days"] = {r.season: r.days for r in db.sql("q2_days", f"""
        SELECT {SEASON_SQL} season, count(DISTINCT to_date(reported_date)) days
        FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1 ORDER BY 1""")}
    out["year_month"] = db.sql("q2_year_month", """
        SELECT y, m, count(*) n,
               sum(CASE WHEN cond IN ('icy','snowy','slushy') THEN 1 ELSE 0 END) / count(*) bad
        FROM traffic_cond WHERE cond IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""")
    return out


def where_311(db):
    """Q3 over ``sr`` (view ``sr_loc`` adds ``loc_state``: ok, swapped =
    latitude in the longitude column, missing, outside the box).  Returns
    ``coord_states`` {state: calls}; ``council_district``,
    ``police_district``, ``neighborhood`` rows (k, n) of calls per known
    value, commonest first; ``grid`` rows (i, j, n) of calls with usable
    coordinates per grid cell (i from LAT_MIN by CELL_LAT, j from LON_MIN by
    CELL_LON)."""
    db.spark.sql(f"""CREATE OR REPLACE TEMP VIEW sr_loc AS
        SELECT *, CASE
          WHEN longitude IS NULL OR latitude IS NULL THEN 'missing'
          WHEN longitude BETWEEN {LAT_MIN - 1} AND {LAT_MAX + 1} THEN 'swapped'
          WHEN latitude BETWEEN {LAT_MIN} AND {LAT_MAX} AND longitude BETWEEN {LON_MIN} AND {LON_MAX} THEN 'ok'
          ELSE 'outside' END loc_state
        FROM sr""")
    out = {"coord_states": {r.s: r.n for r in db.sql(
        "q3_coord_states", "SELECT loc_state s, count(*) n FROM sr_loc GROUP BY 1 ORDER BY 1")}}
    for col in ("council_district", "police_district", "neighborhood"):
        out[col] = db.sql(f"q3_by_{col}", f"""
            SELECT {col} k, count(*) n FROM sr WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, k""")
    out["grid"] = db.sql("q3_grid", f"""
        SELECT floor((latitude - {LAT_MIN}) / {CELL_LAT}) i, floor((longitude - ({LON_MIN})) / {CELL_LON}) j, count(*) n
        FROM sr_loc WHERE loc_state = 'ok' GROUP BY 1, 2 ORDER BY 1, 2""")
    return out


def same_areas(db):
    """Q4 over ``traffic`` and ``sr``, restricted to the period of the 311
    data when some accident falls in it (else all dates).  Returns ``span``
    (a Row: lo, hi = first and last 311 creation date, yyyy-MM-dd),
    ``overlap`` (accidents in that period), ``traffic_grid`` rows (i, j, n)
    on Q3's grid, and ``neighborhoods`` rows (k = slug, sr, tr) for the
    neighborhoods both datasets name."""
    span = db.sql("q4_span", """SELECT date_format(min(case_created_dttm), 'yyyy-MM-dd') lo,
        date_format(max(case_created_dttm), 'yyyy-MM-dd') hi FROM sr""")[0]
    where = ("reported_date BETWEEN (SELECT min(case_created_dttm) FROM sr) "
             "AND (SELECT max(case_created_dttm) FROM sr)")
    overlap = db.sql("q4_overlap", f"SELECT count(*) n FROM traffic WHERE {where}")[0].n
    if overlap == 0:
        where = "true"
    grid = db.sql("q4_traffic_grid", f"""
        SELECT floor((geo_lat - {LAT_MIN}) / {CELL_LAT}) i, floor((geo_lon - ({LON_MIN})) / {CELL_LON}) j, count(*) n
        FROM traffic WHERE {where} AND geo_lat BETWEEN {LAT_MIN} AND {LAT_MAX}
          AND geo_lon BETWEEN {LON_MIN} AND {LON_MAX} GROUP BY 1, 2 ORDER BY 1, 2""")
    # traffic names neighborhoods by slug
    hoods = db.sql("q4_neighborhoods", f"""
        SELECT s.k, s.n sr, t.n tr FROM
          (SELECT regexp_replace(lower(trim(neighborhood)), '[^a-z0-9]+', '-') k, count(*) n FROM sr
           WHERE neighborhood IS NOT NULL GROUP BY 1) s
        JOIN
          (SELECT regexp_replace(lower(trim(neighborhood_id)), '[^a-z0-9]+', '-') k, count(*) n FROM traffic
           WHERE {where} AND neighborhood_id IS NOT NULL GROUP BY 1) t
        ON s.k = t.k ORDER BY 1""")
    return {"span": span, "overlap": overlap, "traffic_grid": grid, "neighborhoods": hoods}


def close_times(db):
    """Q5 over ``sr`` (view ``sr_close``: closed cases with h = hours to
    close).  Returns ``overall`` (a Row: n, med, p90), ``open`` (cases not
    closed), and ``agency`` (the 40 with most closed cases) and
    ``case_summary`` (the TOP_N) rows (k, n, med, p90), most cases first.
    Percentiles are percentile_approx with accuracy 10000."""
    db.spark.sql("""CREATE OR REPLACE TEMP VIEW sr_close AS
        SELECT agency, case_summary, type,
               (unix_timestamp(case_closed_dttm) - unix_timestamp(case_created_dttm)) / 3600D h
        FROM sr WHERE case_closed_dttm IS NOT NULL AND case_closed_dttm >= case_created_dttm""")

    def by(col, limit):
        return db.sql(f"q5_by_{col}", f"""
            SELECT {col} k, count(*) n, percentile_approx(h, 0.5, 10000) med, percentile_approx(h, 0.9, 10000) p90
            FROM sr_close WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY n DESC, k LIMIT {limit}""")
    overall = db.sql("q5_overall", """
        SELECT count(*) n, percentile_approx(h, 0.5, 10000) med, percentile_approx(h, 0.9, 10000) p90
        FROM sr_close""")[0]
    still_open = db.sql("q5_open", "SELECT count(*) n FROM sr WHERE case_closed_dttm IS NULL")[0].n
    return {"overall": overall, "open": still_open, "agency": by("agency", 40),
            "case_summary": by("case_summary", TOP_N)}
