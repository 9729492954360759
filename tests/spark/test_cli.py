"""The command-line path the daemon uses: one real `spark-submit` of each
job (argv as CONTRACTS.md sections 4 and 5 give it, no shell)."""

import json
import os
import subprocess

import specs
from conftest import TOP, gen_file

SUBMIT = os.path.join(TOP, ".venv", "bin", "spark-submit")
JOBS = os.path.join(TOP, "jobs")
CONF = ["--master", "local[2]", "--driver-memory", "1024m",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false",
        "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.log.level=WARN",
        "--conf", "spark.sql.session.timeZone=America/Denver"]


def submit(args, tmp_path):
    env = dict(os.environ, PYSPARK_PYTHON=os.path.join(TOP, ".venv", "bin", "python"),
               PYSPARK_DRIVER_PYTHON=os.path.join(TOP, ".venv", "bin", "python"))
    return subprocess.run([SUBMIT, *CONF, *args], capture_output=True, text=True, timeout=600,
                          env=env, cwd=str(tmp_path))


def test_spark_submit_convert(tmp_path, gen_dir):
    path = gen_file(gen_dir, "service_requests_311", 800, start="2026-10-01", end="2026-11-20", seed=21)
    spec = specs.make_spec("service_requests_311", str(tmp_path / "state"), "2026-11-21", path,
                           "windows-1252", run_id=12, rows_checked=800)
    r = submit([os.path.join(JOBS, "convert.py"), "--spec", specs.write_spec(spec)], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    # spark-submit's PythonRunner merges the driver's stderr into its stdout
    assert "convert: service_requests_311 2026-11-21: read 800" in r.stdout
    m = json.load(open(spec["manifest"], encoding="utf-8"))
    assert m["rows_read"] == 800 == m["rows_checked"] and m["run_id"] == 12
    assert m["partitions"] == ["year=2026/month=10", "year=2026/month=11"]
    assert m["rows_written"] + sum(m["rows_rejected"].values()) == 800
    parts = [f for f in os.listdir(os.path.join(spec["datastore"], "year=2026", "month=10")) if f.endswith(".parquet")]
    assert parts and all(".zstd." in f for f in parts)
    # a bad spec: exit status 2 and one clear line, no manifest
    spec["input"] = str(tmp_path / "missing.csv")
    spec["manifest"] = str(tmp_path / "m2.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(spec))
    r = submit([os.path.join(JOBS, "convert.py"), "--spec", str(bad)], tmp_path)
    assert r.returncode == 2 and "convert: error: input " in r.stdout and "does not exist" in r.stdout
    assert not os.path.exists(spec["manifest"])


def test_spark_submit_report(report_state, tmp_path):
    out = os.path.join(report_state, "reports", "exec_date=2026-11-23")
    r = submit([os.path.join(JOBS, "report.py"), "--exec-date", "2026-11-23", "--out", out], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.load(open(os.path.join(out, "report.json"), encoding="utf-8"))
    assert len(data["answers"]) == 5 and all(data["answers"].values())
    assert os.path.exists(os.path.join(out, "index.html"))
    assert "report: q4_same_areas: " in r.stdout
