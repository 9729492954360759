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
"""

import os
import re


def remote():
    """The Spark Connect URL from SPARK_REMOTE, or None (classic Spark)."""
    url = os.environ.get("SPARK_REMOTE", "").strip()
    return url or None


def describe(url):
    """`url` fit for a log line: ``sc://host:port`` without the parameters
    after ``/;`` (token=...), which may hold a secret."""
    return re.sub(r"/?;.*$", "", url)


def get(app_name):
    """The job's SparkSession: a Connect client of SPARK_REMOTE when it is
    set, else the classic session spark-submit configured (getOrCreate).
    The caller stops it when done (a Connect client's stop releases its
    server-side session; the server keeps running)."""
    from pyspark.sql import SparkSession
    url = remote()
    if url is not None:
        return SparkSession.builder.remote(url).appName(app_name).getOrCreate()
    return SparkSession.builder.appName(app_name).getOrCreate()


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
