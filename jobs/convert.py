"""Merge one published CSV snapshot into a dataset's Parquet datastore.

Run by the daemon's convert task (CONTRACTS.md section 4)::

    spark-submit [--master M --driver-memory N --conf k=v ...] convert.py --spec convert.json
    SPARK_REMOTE=sc://host:port python convert.py --spec convert.json   # Spark Connect

Reading.  The header is read first (one record) to learn this vintage's
columns; the file is then read with an explicit all-string schema of that
width (never inferSchema), RFC 4180 quoting (``""`` inside quotes),
multi-line records and the encoding the check task detected (a file over
REPARTITION_BYTES cut at record boundaries into one part per core first,
split.py, so the parse runs in parallel).  Header names
map to the spec's canonical columns case-insensitively after trimming, with
' ' and '_' alike, through each column's aliases; a missing required column
is an error, a missing optional one is NULL.  Every value is trimmed; blank
values and the column's ``nulls`` are NULL (numerically for numeric columns,
so ``nulls: ["0"]`` also catches ``0.0``).  Types: int accepts integral
float text (``20148031043.0``); timestamps try each strptime-style format
(``%m %d %H %I`` also one digit, ``%f`` 1-9 digits) in the spec's time zone;
dates try their formats, then the timestamp formats.  A value that does not
type becomes NULL and is counted per column in the manifest.

Rejected rows, counted by reason: ``malformed`` (wrong number of fields),
``no_key`` (every key column blank), ``bad_key`` (a key value that does not
type), ``no_event_time``, ``bad_event_time`` (blank or unparseable event
time), ``duplicate_key`` (a second row with the key of another row of the
same snapshot; the kept one is chosen by a hash of the row, so the choice is
repeatable).  Up to 1000 rejected records go to ``rejected.jsonl`` next to the
manifest.  rows_read = rows_written + sum(rows_rejected).

Merging.  The datastore is partitioned by the event time's local year and
month.  For every key the newest snapshot wins: the row with the latest
``last_seen`` exec date (the snapshot's row on a tie), so re-running an old
exec date after a newer one changes nothing but ``first_seen``.  Each row
carries ``first_seen`` (earliest exec date it was in a snapshot),
``last_seen`` (latest) and ``source_file`` (base name of that snapshot; a
name containing "generated" marks synthetic data).  Rows missing from the
snapshot are kept, and marked (below).  Only months that the snapshot
touches are rewritten: the months of its rows' event times, plus the months
where the datastore held a snapshot key before (a record whose event time
moved to another month is removed from its old month; when the event time
is part of the key, as for 311, that cannot happen and the lookup is
skipped), plus the months holding rows whose removal marks change.  A month
left with no rows is removed.  Re-running an exec date gives the same rows
(same content; file names differ).

Removed rows: ``removed_on`` and ``removal`` (aged out or withdrawn) follow
the rules in removal.py.

Crash safety.  Spark's own dynamic partition overwrite deletes each live
month and then renames the new one into place; a crash between the two loses
that month, and with it history the city no longer publishes.  So the new
months are written to a staging directory and swapped in by datastore.py:
journal first (the commit point), then per month rename live -> trash and
staging -> live, rolled forward by the next job after a crash.  Before the
commit point the previous datastore is untouched; after it the new one is
complete once the roll-forward ran; at no point is old data deleted before
its replacement is in place.  The manifest is written last, atomically.

Provenance.  Each commit leaves a record in the dataset's
``_denverd/commits/`` (datastore.py): this run's id, exec date, snapshot
name, its hash, size and id as the daemon's spec gives them
(``snapshot_hash``, ``snapshot_bytes``, ``snapshot_id``), the rows written
and the months rewritten.  It is written inside the commit protocol, so
the record exists exactly when the commit took effect.

How the job reaches Spark (session.py): as a Spark Connect client when
SPARK_REMOTE is set (``python convert.py --spec ...``, no spark-submit),
else as a classic driver.  Its own file I/O (the CSV header, the input's
size, the commit protocol) is pyarrow.fs on this side, never Spark's JVM,
on the file system of the spec's ``storage`` (storage.py: local, or S3
with the credentials from this process's environment; the input and the
datastore are then ``s3a://`` and Spark reads and writes them through its
own s3a settings, which the JVM's starter gives).

Spark settings come from spark-submit (--master, --conf) or the Connect
server; this job sets only what correctness needs: the session time zone
from the spec, the CORRECTED datetime parser, TIMESTAMP_MICROS Parquet
timestamps (readable by any Parquet reader) and spark.sql.legacy.javaCharsets
(Spark 4 reads windows-1252 CSV only with it), and for speed only
spark.sql.codegen.hugeMethodLimit=8000 when the JVMs do not compile huge
methods (whole-stage code too big for HotSpot's JIT then runs as compiled
per-expression code instead; compiles_huge_methods).  Spark 4 runs with ANSI mode
on, where a failed cast raises; every text-to-value conversion here is a
``try_cast`` or ``try_to_timestamp`` (NULL when the value does not type),
so the NULL-and-count semantics above hold whatever spark.sql.ansi.enabled
says, and the job does not turn ANSI off for the rest of its plan.
Python UDFs are not used; the driver runs in client mode (it writes the
manifest to the spec's local path).  Exit status: 0 done, 2 bad spec or
input (message on stderr), 1 anything else.
"""

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
import uuid

import session
import split
import storage
from datastore import Store
from jobspec import InputError, load_spec
from removal import configured_window, converted_windows, removal_exprs
from typed import build_typed, flagged, spark_type

MANIFEST_VERSION = 1
REJECT_SAMPLE = 1000
REPARTITION_BYTES = 32 << 20


def log(msg):
    print(f"convert: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Spec
def norm_name(name):
    """Canonical comparison form of a header name: trimmed (BOM too),
    lower case, runs of ' ' and '_' as one '_'."""
    return re.sub(r"[ _]+", "_", name.replace("\ufeff", "").strip().lower())


# ---------------------------------------------------------------------------
# Reading and typing
PY_CODECS = {"utf-8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "windows-1252": "cp1252"}
HEADER_MAX = 1 << 20


def open_store(spec):
    """The datastore's Store on the spec's ``storage`` (storage.py: local
    when absent or null; the input is read through the same file system),
    checked to be reachable.  InputError when it is not."""
    try:
        fs = storage.filesystem(spec.get("storage"))
        storage.require_url(fs, spec["datastore"], "datastore")
        storage.require_url(fs, spec["input"], "input")
        store = Store(spec["datastore"], filesystem=fs)
        storage.check_access(fs, store.root, spec.get("storage"))
    except storage.StorageError as e:
        raise InputError(str(e)) from None
    return store


def read_header(store, path, encoding):
    """The first CSV record of `path`, read on this side through the
    datastore's file system (`store`, pyarrow.fs; no Spark job, and no JVM,
    which a Spark Connect client lacks)."""
    import csv
    import io
    if not store.is_file(path):
        raise InputError(f"input {path} does not exist or is not a file")
    data = b""
    with store.open_input(path) as stream:
        while len(data) < HEADER_MAX:
            chunk = stream.read(65536)
            if not chunk:
                break
            data += chunk
            text = data.decode(PY_CODECS[encoding], errors="replace")
            # a complete first record ends at a line break outside quotes
            # and is followed by more text (or the file ended)
            rows = list(csv.reader(io.StringIO(text)))
            if len(rows) > 1:
                break
    rows = list(csv.reader(io.StringIO(data.decode(PY_CODECS[encoding], errors="replace"))))
    if not rows or not any(h.strip() for h in rows[0]):
        raise InputError(f"{path}: no header")
    if len(rows) < 2 and len(data) >= HEADER_MAX:
        raise InputError(f"{path}: no complete header record in the first {HEADER_MAX} bytes")
    return rows[0]


def map_columns(spec, header):
    """For each spec column, the index of its header column or None.
    Returns (mapping, unmapped header names, missing optional columns)."""
    where = {}
    for i, h in enumerate(header):
        where.setdefault(norm_name(h), i)
    mapping, missing_required, missing_optional = {}, [], []
    for c in spec["columns"]:
        idx = None
        for cand in [c["name"], *c["aliases"]]:
            if norm_name(cand) in where:
                idx = where[norm_name(cand)]
                break
        mapping[c["name"]] = idx
        if idx is None:
            (missing_required if c["required"] else missing_optional).append(c["name"])
    if missing_required:
        raise InputError(f"{spec['input']}: required columns missing from the header: "
                         f"{', '.join(missing_required)} (header: {', '.join(header)})")
    used = {i for i in mapping.values() if i is not None}
    unmapped = [h for i, h in enumerate(header) if i not in used]
    return mapping, unmapped, missing_optional


# ---------------------------------------------------------------------------
# Merging
def output_schema(spec):
    from pyspark.sql import types as T
    fields = [T.StructField(c["name"], spark_type(T, c["type"])) for c in spec["columns"]]
    fields += [T.StructField("first_seen", T.DateType()), T.StructField("last_seen", T.DateType()),
               T.StructField("removed_on", T.DateType()), T.StructField("removal", T.StringType()),
               T.StructField("source_file", T.StringType()),
               T.StructField("year", T.IntegerType()), T.StructField("month", T.IntegerType())]
    return T.StructType(fields)


def month_name(year, month):
    return f"year={year}/month={month}"


def read_months(spark, spec, store, months):
    """The datastore, or only `months` of it.  The root is read and pruned
    by a filter on the partition columns rather than given a list of month
    directories: a long path list makes Spark list files with a distributed
    job of one task per path."""
    from pyspark.sql import functions as F
    df = spark.read.schema(output_schema(spec)).parquet(store.root)
    if months is not None:
        codes = sorted(y * 100 + m for y, m in map(_month_key, months))
        df = df.filter((F.col("year") * 100 + F.col("month")).isin(codes))
    return df


def removal_months(spark, spec, store, months, windows):
    """The months of `months` (datastore months the snapshot does not
    touch: none of their rows is in it) holding a row whose removed_on or
    removal would change."""
    from pyspark.sql import functions as F
    if not months:
        return set()
    removed_on, removal = removal_exprs(F, spec, windows)
    rows = read_months(spark, spec, store, sorted(months)).select(
        spec["event_time"], "last_seen", "removed_on", "removal", "year", "month")
    hits = (rows.filter(~(F.col("removed_on").eqNullSafe(removed_on) & F.col("removal").eqNullSafe(removal)))
            .select("year", "month").distinct().collect())
    return {month_name(r.year, r.month) for r in hits}


def merge(spark, spec, store, snap, new_months, data_cols, timer, provenance):
    """Merge the good snapshot rows `snap` (whose event months are
    `new_months`) into the datastore; `provenance` is the commit record
    (datastore.py) without ``rows_written``, which this adds (the good
    rows less the duplicate keys, counted here).  Returns (months
    rewritten, duplicate-key count, rows in the datastore after, rows
    first missing on this exec date by removal)."""
    from pyspark.sql import Observation, Window, functions as F
    key = spec["key"]
    windows = converted_windows(spec, store, provenance.get("window_start"))
    live = set(store.months())
    old_months = set()
    if live and spec["event_time"] not in key:
        # months where a snapshot key lives now (its event time may have moved)
        ekeys = read_months(spark, spec, store, None).select(*key, "year", "month")
        cond = [ekeys[k].eqNullSafe(snap[k]) for k in key]
        hits = ekeys.join(snap.select(*key), cond, "left_semi").select("year", "month").distinct().collect()
        old_months = {month_name(r.year, r.month) for r in hits}
    affected = new_months | old_months
    affected |= removal_months(spark, spec, store, live - affected, windows)
    timer("find_months")
    union = snap.withColumn("_src", F.lit(1))
    existing = sorted(affected & live)
    if existing:
        old = read_months(spark, spec, store, existing).withColumn("_src", F.lit(0))
        union = union.unionByName(old)
    # When the event time is part of the key (311), all rows of a key fall
    # in one month, so the window over (year, month, key) is the window over
    # the key, and ONE shuffle by month serves both the window and the
    # per-month files.  Otherwise a key's rows may sit in two months: the
    # window shuffles by key and the write by month again.
    by_month = spec["event_time"] in key
    part = ["year", "month", *key] if by_month else key
    if by_month:
        union = union.repartition("year", "month")
    # One window operator: the rank and the key's aggregates share the
    # partitioning and the order (the aggregates over the whole frame), so
    # Spark sorts once and copies each row once.
    order = Window.partitionBy(*part).orderBy(F.col("last_seen").desc(), F.col("_src").desc(),
                                              F.col("_h").desc())
    whole = order.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    ranked = (union.withColumn("_h", F.xxhash64(*data_cols))
              .withColumn("_rn", F.row_number().over(order))
              .withColumn("_first", F.min("first_seen").over(whole))
              .withColumn("_last", F.max("last_seen").over(whole))
              .withColumn("_in_snap", F.max("_src").over(whole)))
    removed_on, removal = removal_exprs(F, spec, windows)
    winners = (ranked.filter(F.col("_rn") == 1)
               .withColumn("first_seen", F.col("_first")).withColumn("last_seen", F.col("_last"))
               .withColumn("removed_on", removed_on).withColumn("removal", removal))
    timer("merge")
    out_cols = [f.name for f in output_schema(spec).fields]
    txn = f"{spec['exec_date']}.{spec.get('run_id', 0)}.{uuid.uuid4().hex[:8]}"
    staging = store.staging(txn)
    out = winners.select(*out_cols, "_in_snap")
    if not by_month:
        out = out.repartition("year", "month")
    # What the write counts as it goes (Spark's observed metrics, no job
    # of their own), on the rows it writes, in its own stage (where Spark
    # takes each task's counts once, whatever was retried)
    seen = Observation("merge")
    out = out.observe(seen, *merge_metrics(F, spec)).select(*out_cols)
    # (year, month, key) is a prefix of the window's own order: no sort
    # beyond the window's; each month's rows are in one task, one file
    (out.sortWithinPartitions("year", "month", *key)
     .write.partitionBy("year", "month")
     .option("compression", "zstd").option("maxRecordsPerFile", 1_000_000)
     .mode("error").parquet(staging))
    got = seen.get
    merged_rows = got["n"]
    dup = provenance["rows_written"] - (got["k"] or 0)
    removed = {"aged_out": got["a"] or 0, "withdrawn": got["w"] or 0}
    if got["u"]:
        removed["unknown"] = got["u"]
    staged = {f"{y}/{m}" for y in store.list_names(staging) if y.startswith("year=")
              for m in store.list_names(f"{staging}/{y}") if m.startswith("month=")}
    timer("write")
    store.commit_months(txn, affected, staged,
                        {**provenance, "rows_written": provenance["rows_written"] - dup})
    timer("commit")
    untouched = sorted(live - affected)
    total = merged_rows + (read_months(spark, spec, store, untouched).count() if untouched else 0)
    timer("count")
    return sorted(affected, key=_month_key), dup, total, removed


def merge_metrics(F, spec):
    """The merge's observed metrics over the rows it writes (the output
    columns and ``_in_snap``, 1 for a key the snapshot has): ``n`` rows,
    ``k`` snapshot keys (so the snapshot's duplicate keys are its good rows
    less ``k``), and ``a``, ``w``, ``u`` the rows first missing on this
    exec date by removal, aged out, withdrawn and unknown.  Every row whose
    removal changes today is in an affected month (removal_months), so
    among the rows written."""
    today = F.col("removed_on") == F.lit(dt.date.fromisoformat(spec["exec_date"]))
    return [F.count(F.lit(1)).alias("n"), F.sum("_in_snap").alias("k"),
            F.sum((today & (F.col("removal") == "aged_out")).cast("long")).alias("a"),
            F.sum((today & (F.col("removal") == "withdrawn")).cast("long")).alias("w"),
            F.sum((today & F.col("removal").isNull()).cast("long")).alias("u")]


def _month_key(m):
    y, mo = m.split("/")
    return int(y.split("=")[1]), int(mo.split("=")[1])


# ---------------------------------------------------------------------------
def write_manifest(path, manifest):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def compiles_huge_methods(spark):
    """Whether the JVMs running this job's tasks JIT-compile methods over
    HotSpot's 8000-byte limit: the driver's and the executors' Java
    options both turn -XX:-DontCompileHugeMethods on (denverd's managed
    Connect server does, unless spark.conf sets those keys)."""
    flag = "-XX:-DontCompileHugeMethods"
    return all(flag in (spark.conf.get(f"spark.{side}.extraJavaOptions", "") or "").split()
               for side in ("driver", "executor"))


def run(spark, spec):
    """Convert and merge; returns the manifest dict (also written)."""
    from pyspark.sql import functions as F
    t0 = time.monotonic()
    phases, last = {}, [t0]

    def timer(name):
        now = time.monotonic()
        phases[name] = round(now - last[0], 3)
        last[0] = now
    spark.conf.set("spark.sql.session.timeZone", spec["timezone"])
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    # Spark 4's CSV reader accepts only seven charsets unless this is on
    # (windows-1252 is not among them); the JDK decodes the others
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    # and one setting for speed: HotSpot never JIT-compiles a method over
    # 8000 bytes of bytecode (-XX:+DontCompileHugeMethods, the default), and
    # the whole-stage code of the typing's wide projections is bigger, so it
    # ran interpreted; at this limit Spark gives such a subtree Spark's
    # per-expression code instead, which is compiled (jobs/README.md
    # "Round 4": the typing 4.7-5.0 CPU-s per 100 MB against 6.5-6.8).  JVMs
    # that compile huge methods (denverd's managed server) run the
    # whole-stage code faster still (round 6): there the server's own
    # setting stands, in a reused session too.
    if compiles_huge_methods(spark):
        spark.conf.unset("spark.sql.codegen.hugeMethodLimit")
    else:
        spark.conf.set("spark.sql.codegen.hugeMethodLimit", "8000")
    store = open_store(spec)
    rolled = store.recover()
    if rolled:
        log(f"recovered interrupted commits: {', '.join(rolled)}")
    header = read_header(store, spec["input"], spec["encoding"])
    mapping, unmapped, missing_optional = map_columns(spec, header)
    names = [c["name"] for c in spec["columns"]]
    ev = F.col(spec["event_time"])
    typed, stats, scratch = read_snapshot(spark, store, spec, header, mapping)
    timer("read_and_type")
    rows_read = sum(r.n for r in stats)
    rejected = {}
    for r in stats:
        if r._reason is not None:
            rejected[r._reason] = rejected.get(r._reason, 0) + r.n
    new_months = {month_name(r.y, r.m) for r in stats if r._reason is None}
    unparsed = {}
    for n in flagged(spec, mapping):
        tot = sum((r[f"b_{n}"] or 0) for r in stats)
        if tot:
            unparsed[n] = tot
    if rejected:
        write_rejects(spec, typed)
    exec_date = dt.date.fromisoformat(spec["exec_date"])
    snap = (typed.filter(F.col("_reason").isNull()).select(*names)
            .withColumn("first_seen", F.lit(exec_date)).withColumn("last_seen", F.lit(exec_date))
            .withColumn("removed_on", F.lit(None).cast("date"))
            .withColumn("removal", F.lit(None).cast("string"))
            .withColumn("source_file", F.lit(os.path.basename(spec["input"])))
            .withColumn("year", F.year(ev)).withColumn("month", F.month(ev)))
    earliest = min((r.earliest for r in stats if r._reason is None and r.earliest), default=None)
    window_start = configured_window(spec, exec_date) or earliest
    partitions, dup, total, removed = merge(
        spark, spec, store, snap, new_months, names, timer,
        {**provenance(spec, rows_read - sum(rejected.values())), "window_start": window_start})
    del typed, snap     # the checkpointed rows are released with their last reference
    if scratch:
        store.delete(scratch)
    if dup:
        rejected["duplicate_key"] = dup
    t_end = time.monotonic()
    good = rows_read - sum(rejected.values())
    manifest = {
        "version": MANIFEST_VERSION, "dataset": spec["dataset"], "exec_date": spec["exec_date"],
        "rows_read": rows_read, "rows_written": good, "rows_rejected": dict(sorted(rejected.items())),
        "partitions": partitions, "datastore_rows": total, "spark_seconds": round(t_end - t0, 3),
        # informational, beyond the contract's fields:
        "run_id": spec.get("run_id"), "rows_checked": spec.get("rows_checked"),
        "values_unparsed": unparsed, "columns_unmapped": unmapped,
        "columns_missing": missing_optional,
        "window_start": window_start, "rows_removed": removed,
        "seconds": phases,
    }
    write_manifest(spec["manifest"], manifest)
    return manifest


def read_snapshot(spark, store, spec, header, mapping):
    """(typed snapshot (build_typed), checkpointed locally; its statistics rows per
    reason, event year and month; the scratch directory of its parts or
    None).  A big file is split (split.py) into the datastore's staging
    area, one part per core; the caller deletes the parts after the last
    use of `typed` (after a failure, the next job's recover() does).  If
    the parts give another row count than the check's, it is read whole."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    ev = F.col(spec["event_time"])
    par = session.default_parallelism(spark)
    size = store.size(spec["input"])
    scratch = None
    if par > 1 and size > REPARTITION_BYTES:
        scratch = store.staging(f"input.{uuid.uuid4().hex[:12]}")
        if not split.split_csv(store.fs, spec["input"], size, par, scratch):
            store.delete(scratch)
            scratch = None
    while True:
        # a whole big file is parsed by one task: spread the typing over
        # the cores (a shuffle costs more than it saves on small files)
        spread = par if scratch is None and size > REPARTITION_BYTES else 0
        # Kept as a local checkpoint, not a persist: the rows are stored
        # the same way (memory, then disk), but the plan of every later
        # action (statistics, duplicate count, the merge and its write)
        # starts from the stored rows instead of re-analysing the parse and
        # the typing of every column (jobs/README.md "Round 3": the 100 MB
        # merge 17 s against 26-32 s).  A lost executor loses the rows: the
        # convert fails and is retried whole, before any commit.  Through
        # Connect the server drops its reference when this DataFrame is
        # dropped or the session released; the stored blocks go when the
        # driver's garbage collector frees the RDD (Spark's ContextCleaner;
        # its periodic collection runs every 30 min), in classic mode too.
        typed = build_typed(spark, spec, header, mapping, scratch or spec["input"], spread).localCheckpoint(
            eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        stats = typed.groupBy("_reason", F.year(ev).alias("y"), F.month(ev).alias("m")).agg(
            F.count(F.lit(1)).alias("n"),
            F.date_format(F.min(ev), "yyyy-MM-dd HH:mm:ss").alias("earliest"),
            *[F.sum(F.col(f"_bad_{n}").cast("long")).alias(f"b_{n}") for n in flagged(spec, mapping)]).collect()
        rows, checked = sum(r.n for r in stats), spec.get("rows_checked")
        if scratch is None or checked is None or rows == checked:
            return typed, stats, scratch
        log(f"{spec['input']}: {rows} rows read from {scratch} but the check counted {checked}: "
            "reading the file whole")
        del typed
        store.delete(scratch)
        scratch = None


def provenance(spec, rows_good):
    """The commit record of this convert (datastore.py, "Provenance"), with
    ``rows_written`` still counting the duplicate keys merge() drops.
    snapshot_* come from the spec when the daemon gives them (it does
    since the datastore has provenance), else null."""
    return {"dataset": spec["dataset"], "run_id": spec.get("run_id"), "exec_date": spec["exec_date"],
            "snapshot": os.path.basename(spec["input"]), "snapshot_id": spec.get("snapshot_id"),
            "snapshot_hash": spec.get("snapshot_hash"), "snapshot_bytes": spec.get("snapshot_bytes"),
            "rows_written": rows_good,
            "committed": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def write_rejects(spec, typed):
    """Up to REJECT_SAMPLE rejected records as JSON lines next to the
    manifest (the driver's local disk, like the manifest)."""
    from pyspark.sql import functions as F
    rows = (typed.filter(F.col("_reason").isNotNull()).select("_reason", "_corrupt", "_raw")
            .limit(REJECT_SAMPLE).collect())
    path = os.path.join(os.path.dirname(os.path.abspath(spec["manifest"])), "rejected.jsonl")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            rec = {"reason": r._reason, "fields": json.loads(r._raw) if r._raw else None}
            if r._corrupt is not None:
                rec["record"] = r._corrupt
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)


def session_key(spec):
    """What names the server-side session the converts of `spec`'s dataset
    into its datastore reuse through Connect (session.get)."""
    return f"convert:{spec['dataset']}:{spec['datastore']}"


def main(argv=None, spark=None):
    """Entry point; `spark` lets tests share one session.  Returns the
    exit status."""
    ap = argparse.ArgumentParser(prog="convert.py", description="Merge a CSV snapshot into the Parquet datastore.")
    ap.add_argument("--spec", required=True, help="convert.json written by the daemon")
    args = ap.parse_args(argv)
    own, failed = False, True
    try:
        spec = load_spec(args.spec)
        if spark is None:
            # One server-side session per dataset and datastore, reused run
            # after run through Connect (session.py: its generated code
            # stays compiled); the daemon runs one convert per dataset at
            # a time.
            spark, own = session.get(f"denverd-convert-{spec['dataset']}", reuse=session_key(spec)), True
            if session.is_connect(spark):
                log(f"Spark Connect session {spark.session_id}")
        m = run(spark, spec)
        failed = False
    except InputError as e:
        log(f"error: {e}")
        return 2
    finally:
        if own:
            session.stop(spark, failed)
    log(f"{m['dataset']} {m['exec_date']}: read {m['rows_read']}, wrote {m['rows_written']}, "
        f"rejected {m['rows_rejected'] or 0}, {len(m['partitions'])} months rewritten, "
        f"{m['datastore_rows']} rows in the datastore, {m['spark_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
