"""Shared fixtures of the Spark job tests: one real local SparkSession for
the whole run (the jobs' main() functions take it), one real Spark Connect
server for the tests that run the jobs in both modes (`jobs`), the run's
one SeaweedFS S3 server (`s3`, tests/integration/s3server.py), generated
input files, and helpers to convert a file and read the datastore back
with pyarrow (an independent Parquet reader)."""

import csv
import io
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(TOP, "jobs"), os.path.join(TOP, "data"), HERE, os.path.join(TOP, "tests", "integration")]

import convert  # noqa: E402
import crashjob  # noqa: E402
import generate  # noqa: E402
import specs  # noqa: E402
from s3server import s3  # noqa: E402, F401 - the run's one SeaweedFS, for the s3a:// tests

SAMPLE_2014 = os.path.join(TOP, "data", "traffic_accidents.2014-05.sample.csv")
# Spark settings of the test session; the jobs set only correctness ones.
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "1g",
}


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession
    b = SparkSession.builder.appName("denverd-tests")
    for k, v in SPARK_CONF.items():
        b = b.config(k, v)
    session = b.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def no_connect_mark_left():
    """Fails a test that leaves this process marked as a Spark Connect
    client (SPARK_CONNECT_MODE_ENABLED, set by pyspark when a Connect
    session is made in-process): with the mark, pyspark's lookups of the
    active session skip the classic `spark`, and every later classic test
    fails far from the cause (test_session.join shows how to undo it)."""
    before = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
    yield
    if os.environ.get("SPARK_CONNECT_MODE_ENABLED") != before:
        if before is None:      # the next tests get a clean process
            del os.environ["SPARK_CONNECT_MODE_ENABLED"]
        pytest.fail("the test left SPARK_CONNECT_MODE_ENABLED set in the test process")


def gen_file(directory, dataset, rows, vintage=None, start=None, end=None, seed=1, extra=()):
    """Generate a CSV with data/generate.py; returns its path."""
    name = f"{dataset}.generated.{vintage or 'current'}.{seed}.{rows}.csv"
    path = os.path.join(str(directory), name)
    argv = [dataset, "--rows", str(rows), "--seed", str(seed), "-o", path, *extra]
    if vintage:
        argv += ["--vintage", vintage]
    if start:
        argv += ["--start", start]
    if end:
        argv += ["--end", end]
    assert generate.main(argv) == 0
    return path


@pytest.fixture(scope="session")
def gen_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


MODES = ("classic", "connect")


@pytest.fixture(scope="session")
def connect_url(tmp_path_factory):
    """The URL of ONE Spark Connect server (local[2], loopback, a free
    port) for the whole run, started on first use and stopped (and
    reaped) at the end."""
    import sparkproc
    proc, url = sparkproc.connect_server(str(tmp_path_factory.mktemp("connect")),
                                         conf={"spark.sql.shuffle.partitions": "2"})
    yield url
    proc.stop()


class Jobs:
    """Runs the jobs the way one mode does: "classic", in this process on
    the test session `spark` (what spark-submit gives the job); "connect",
    as the daemon does with a Connect server: ``python jobs/<job>.py``
    with SPARK_REMOTE=`url`, a separate client process without a JVM."""

    def __init__(self, mode, spark=None, url=None):
        self.mode, self.spark, self.url = mode, spark, url
        self.last = None    # connect: the last job's CompletedProcess

    def convert(self, state_dir, dataset, path, encoding, exec_date, run_id=1, expect_rc=0, crash=None):
        """Write the spec the daemon would write and run convert on it;
        `crash` (crashjob.install's argument) makes the commit fail, exit
        status 1.  Returns (spec, manifest or None)."""
        spec = specs.make_spec(dataset, str(state_dir), exec_date, path, encoding, run_id=run_id)
        argv = ["--spec", specs.write_spec(spec)]
        if self.mode == "classic":
            undo = crashjob.install(crash) if crash else None
            try:
                rc = convert.main(argv, spark=self.spark)
            except OSError as e:
                if "simulated crash" not in str(e):
                    raise
                rc = 1
            finally:
                if undo:
                    undo()
        else:
            import sparkproc
            script = [os.path.join(HERE, "crashjob.py"), crash] if crash else [os.path.join(TOP, "jobs", "convert.py")]
            self.last = sparkproc.run_job([*script, *argv], self.url, str(state_dir))
            rc = self.last.returncode
            if crash:
                assert "simulated crash" in self.last.stderr, self.last.stderr[-3000:]
        assert rc == expect_rc, self.last.stderr[-3000:] if self.last else rc
        if rc != 0:
            return spec, None
        with open(spec["manifest"], encoding="utf-8") as f:
            return spec, json.load(f)

    def report(self, argv, cwd):
        """Run the report job with `argv`; returns its exit status."""
        if self.mode == "classic":
            import report
            return report.main(argv, spark=self.spark)
        import sparkproc
        self.last = sparkproc.run_job([os.path.join(TOP, "jobs", "report.py"), *argv], self.url, str(cwd))
        return self.last.returncode


@pytest.fixture(scope="module", params=MODES)
def jobs(request):
    """The jobs in each mode in turn (module scope: a module's tests run
    in one mode, then in the other)."""
    if request.param == "classic":
        return Jobs("classic", spark=request.getfixturevalue("spark"))
    return Jobs("connect", url=request.getfixturevalue("connect_url"))


def run_convert(spark, state_dir, dataset, path, encoding, exec_date, run_id=1, expect_rc=0):
    """Convert in this process on `spark` (Jobs.convert, classic)."""
    return Jobs("classic", spark=spark).convert(state_dir, dataset, path, encoding, exec_date, run_id, expect_rc)


def read_store(root):
    """Every row of a dataset's datastore as a sorted list of tuples of
    (column, value) pairs, read with pyarrow, plus the month list."""
    import pyarrow.dataset as pads
    months = sorted(f"{y}/{m}" for y in os.listdir(root) if y.startswith("year=")
                    for m in os.listdir(os.path.join(root, y)))
    if not months:
        return [], []
    ds = pads.dataset(root, format="parquet", partitioning="hive",
                      exclude_invalid_files=True, ignore_prefixes=[".", "_"])
    rows = ds.to_table().to_pylist()
    return sorted((tuple(sorted(r.items())) for r in rows), key=repr), months


def rows_by(root, key):
    rows, _ = read_store(root)
    out = {}
    for r in rows:
        d = dict(r)
        out.setdefault(d[key], []).append(d)
    return out


def csv_rows(path, encoding="utf-8"):
    with open(path, newline="", encoding=encoding) as f:
        r = csv.reader(f)
        header = next(r)
        return header, list(r)


def write_csv(path, header, rows, encoding="utf-8"):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(buf.getvalue())
    return path


@pytest.fixture(scope="session")
def report_state(spark, tmp_path_factory, gen_dir):
    """A state directory whose datastore holds generated traffic accidents
    (four years) and one year of 311 requests, converted in-process."""
    state = tmp_path_factory.mktemp("report_state")
    tr = gen_file(gen_dir, "traffic_accidents", 4000, start="2023-01-01", end="2026-11-20", seed=11)
    sr = gen_file(gen_dir, "service_requests_311", 3000, start="2025-11-21", end="2026-11-20", seed=11)
    run_convert(spark, state, "traffic_accidents", tr, "utf-8", "2026-11-21", run_id=1)
    run_convert(spark, state, "service_requests_311", sr, "windows-1252", "2026-11-21", run_id=2)
    return state


def pytest_configure(config):
    # matplotlib's mathtext (log-scale tick labels) calls deprecated
    # pyparsing names; not ours to fix
    config.addinivalue_line("filterwarnings", "ignore::pyparsing.warnings.PyparsingDeprecationWarning")
