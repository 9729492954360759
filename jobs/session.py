"""How the jobs reach Spark: the one place that chooses (convert.py, report/).

Two modes, chosen by the environment the daemon gives the job:

- **Spark Connect** when ``SPARK_REMOTE`` is set (``sc://host:port``, maybe
  ``sc://host:port/;token=...``): the job is a thin client of a long-lived
  Connect server (the daemon's managed one or an external endpoint), started
  by plain ``python jobs/convert.py ...``.  The client has no JVM: no
  ``sparkContext``, no RDDs, no Hadoop FileSystem.  The jobs' own file I/O
  (the datastore's commit protocol, the CSV header, file sizes) therefore
  goes through ``pyarrow.fs`` on the client's side (datastore.py), which
  must see the same files as the server: the same host's disk today, an
  object store (``s3a://`` for Spark, pyarrow's S3FileSystem here) later.
- **Classic Spark** otherwise: the job runs under ``spark-submit`` (or a
  test's in-process session) with its own driver JVM; master and settings
  come from spark-submit's command line.

The SparkSession API is the same in both, and the jobs use only the part
that exists in both (DataFrames, SQL, the catalog, ``spark.conf``).

``SPARK_REMOTE`` holds the endpoint's token when one is configured: it is
never logged here, and `describe` strips it.

Reused sessions (``get(..., reuse=KEY)``, convert.py): through Connect each
new client session gets its own classloader on the server, and Spark's
cache of generated code is per classloader (SPARK-44795), so a fresh
session recompiles and re-JITs every generated class of the job: measured
9-10 CPU-seconds of the JIT compiler per 100 MB merge, a third of the
server's CPU (jobs/README.md "Round 5").  A reused session keeps them.  The
server-side session id is derived from KEY (the same job on the same data
gets the same session, run after run); a session the server closed (an idle
timeout, or a failed job's `stop`) leaves a tombstone that refuses its id,
so the next generation of the id is tried, up to REUSE_GENERATIONS, then a
fresh random one.  Joining, the job interrupts what a killed predecessor
left running in it and turns the session's plan cache off (what it would
keep from run to run is stale: get).  Safe only for a job of which at most one runs per KEY
at a time (the daemon's converts: one per dataset, runq.h "exclusive").
"""

import os
import re
import uuid

REUSE_GENERATIONS = 32


def remote():
    """The Spark Connect URL from SPARK_REMOTE, or None (classic Spark)."""
    url = os.environ.get("SPARK_REMOTE", "").strip()
    return url or None


def describe(url):
    """`url` fit for a log line: ``sc://host:port`` without the parameters
    after ``/;`` (token=...), which may hold a secret."""
    return re.sub(r"/?;.*$", "", url)


def get(app_name, reuse=None):
    """The job's SparkSession: a Connect client of SPARK_REMOTE when it is
    set, else the classic session spark-submit configured (getOrCreate).
    With `reuse` (a string naming the job and its data) and Connect, the
    client joins the server-side session of that name (module comment),
    unless SPARK_REMOTE names a session_id itself.  The caller ends it with
    `stop`."""
    from pyspark.sql import SparkSession
    url = remote()
    if url is None:
        return SparkSession.builder.appName(app_name).getOrCreate()
    if reuse is None or "session_id=" in url:
        return SparkSession.builder.remote(url).appName(app_name).getOrCreate()
    for gen in range(REUSE_GENERATIONS):
        sid = reused_id(reuse, gen)
        # No options: create() makes no RPC (appName would, and a failure
        # inside create() leaves the dead session active in pyspark; the
        # name is cosmetic through Connect, the server's application is
        # the one that runs).  interruptAll is the probe.
        spark = SparkSession.builder.remote(with_session_id(url, sid)).create()
        try:
            spark.interruptAll()
        except Exception as e:      # pyspark's errors share no narrower base
            spark.release_session_on_close = False
            spark.stop()            # no longer pyspark's default or active one
            if "SESSION_CLOSED" not in str(e):
                raise
            continue
        spark.release_session_on_close = False  # kept for the next run (stop)
        # The server caches resolved plans per session, keyed by the plan
        # as sent, ids included, and each client numbers its plans from 0:
        # the next run's identical read of the datastore would get this
        # run's file listing, files since swapped away (a failed read) or
        # a month it lacks (a silent loss).  Off for the whole session.
        spark.conf.set("spark.connect.session.planCache.enabled", "false")
        return spark
    return SparkSession.builder.remote(url).appName(app_name).create()


def reused_id(reuse, gen):
    """The server-side session id of generation `gen` of `reuse` (get)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"denverd:{reuse}:{gen}"))


def with_session_id(url, sid):
    """`url` with ``session_id=SID`` among its parameters (after ``/;``)."""
    return f"{url};session_id={sid}" if "/;" in url else f"{url.rstrip('/')}/;session_id={sid}"


def stop(spark, failed=False):
    """End the job's use of `spark`.  A reused Connect session stays on the
    server for the next run unless the job `failed` (what a failed job
    leaves there, cached rows or a running operation, goes with it: the
    next run joins the next generation).  Any other session is stopped (a
    Connect client's stop releases its server-side session; the server
    keeps running)."""
    if failed and is_connect(spark):
        spark.release_session_on_close = True
    spark.stop()


def is_connect(spark):
    """Is `spark` a Spark Connect client session (no JVM behind it)?"""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def default_parallelism(spark):
    """How many tasks keep the cluster's cores busy: Spark's
    defaultParallelism in classic mode; through Connect (no SparkContext)
    the same figure read as the partition count of a range, which Spark
    sizes by it."""
    if not is_connect(spark):
        return spark.sparkContext.defaultParallelism
    from pyspark.sql import functions as F
    return spark.range(0, 1 << 16).select(F.spark_partition_id().alias("p")).distinct().count()
