"""Spark's s3a:// settings for a SeaweedFS endpoint (s3a contract section
4; ../shared/reference/ENGINES.md section 7), for the tests that start a
Spark JVM against tests/integration/s3server.py: the jobs side's
(tests/spark/test_s3a.py) and the daemon side's.

    conf = s3a.spark_conf(s3.endpoint)     # {"spark.hadoop.fs.s3a.endpoint": ..., ...}

They go on the JVM's command line (spark-submit --conf, or the Connect
server's start command): the class path is read at JVM start.  The
credentials are NOT here: they reach the JVM through its environment
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, read by
EnvironmentVariableCredentialsProvider), never a command line."""

import os
from urllib.parse import urlparse

import sagemaker_pyspark

JARS_DIR = os.path.join(os.path.dirname(sagemaker_pyspark.__file__), "jars")
# hadoop-aws and the AWS SDK bundle it was built against (sagemaker-pyspark 1.4.5)
JARS = [os.path.join(JARS_DIR, "hadoop-aws-3.3.1.jar"), os.path.join(JARS_DIR, "aws-java-sdk-bundle-1.11.901.jar")]

# hadoop-aws 3.3.1 cannot parse Hadoop 3.5's "60s"-style defaults of these
# (NumberFormatException): plain numbers, ENGINES.md section 7.  A
# deployment with the hadoop-aws matching its Hadoop needs none of them.
DURATIONS = {
    "fs.s3a.threads.keepalivetime": "60",
    "fs.s3a.connection.establish.timeout": "30000",
    "fs.s3a.connection.timeout": "200000",
    "fs.s3a.multipart.purge.age": "86400",
    "fs.s3a.connection.ttl": "300000",
    "fs.s3a.connection.acquisition.timeout": "60000",
    "fs.s3a.connection.idle.time": "60000",
}


def classpath():
    """The s3a jars joined for extraClassPath (asserting they are there)."""
    for j in JARS:
        assert os.path.isfile(j), f"{j}: missing (pip install --no-deps sagemaker-pyspark==1.4.5)"
    return ":".join(JARS)


def spark_conf(endpoint, region="us-east-1", path_style=True, fail_fast=True):
    """The ``spark.*`` settings for an s3a:// store at `endpoint`
    (``http://127.0.0.1:PORT``, scheme included).  `fail_fast` lowers
    s3a's retries so a refused request fails the test in seconds."""
    hadoop = {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.endpoint.region": region,
        "fs.s3a.path.style.access": "true" if path_style else "false",
        "fs.s3a.connection.ssl.enabled": "true" if urlparse(endpoint).scheme == "https" else "false",
        "fs.s3a.aws.credentials.provider": "com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
        "fs.s3a.change.detection.mode": "none",
        "fs.s3a.directory.marker.retention": "delete",
        **DURATIONS,
    }
    if fail_fast:
        hadoop.update({"fs.s3a.attempts.maximum": "2", "fs.s3a.retry.limit": "2"})
    cp = classpath()
    return {**{f"spark.hadoop.{k}": v for k, v in hadoop.items()},
            "spark.driver.extraClassPath": cp, "spark.executor.extraClassPath": cp}


def storage(endpoint, region="us-east-1", path_style=True):
    """The spec's ``storage`` object for `endpoint` (contract section 2)."""
    return {"type": "s3", "endpoint": endpoint, "region": region, "path_style": path_style}
