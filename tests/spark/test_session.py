"""Converts through Spark Connect reuse one server-side session per dataset
and datastore (jobs/session.py, jobs/README.md "Round 5"): the same session
run after run, with what convert set in it; a failed convert's session
released and the next generation taken; an operator's own session_id
kept.  On the suite's one Connect server (conftest.connect_url)."""

import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "jobs"))

import convert  # noqa: E402
import session  # noqa: E402
from conftest import Jobs, gen_file  # noqa: E402


def join(url, sid, monkeypatch):
    """A client of the server-side session `sid` (created if it does not
    exist), in this process; the caller closes it with leave().  pyspark
    marks the process as a Connect client (SPARK_CONNECT_MODE_ENABLED),
    after which pyspark's own lookups of the active session find no
    classic one: `monkeypatch` takes the mark away at the test's end, so
    the suite's classic session serves the modules after this one."""
    from pyspark.sql import SparkSession
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")
    return SparkSession.builder.remote(session.with_session_id(url, sid)).create()


def leave(spark):
    spark.release_session_on_close = False
    spark.stop()


def session_of(jobs):
    """The session id the last convert logged."""
    m = re.search(r"Spark Connect session (\S+)", jobs.last.stderr)
    assert m, jobs.last.stderr[-3000:]
    return m.group(1)


def test_converts_reuse_one_session(connect_url, tmp_path, gen_dir, monkeypatch):
    url = connect_url
    jobs = Jobs("connect", url=url)
    path = gen_file(gen_dir, "traffic_accidents", 300)
    spec, m1 = jobs.convert(tmp_path, "traffic_accidents", path, "utf-8", "2026-11-24", run_id=1)
    first = session_of(jobs)
    _, m2 = jobs.convert(tmp_path, "traffic_accidents", path, "utf-8", "2026-11-25", run_id=2)
    assert m1["rows_read"] == m2["rows_read"] == 300
    key = convert.session_key(spec)
    assert first == session_of(jobs) == session.reused_id(key, 0)
    # the same merge again sends the server the same plans: it reads the
    # datastore as run 2 left it, not the listing run 2 saw
    _, m3 = jobs.convert(tmp_path, "traffic_accidents", path, "utf-8", "2026-11-26", run_id=3)
    assert session_of(jobs) == first
    assert m3["datastore_rows"] == 300 and m3["partitions"] == m2["partitions"]
    # the session lives on with what convert set in it; a fresh one has
    # the default
    for sid, want in ((first, "true"), ("99999999-2222-3333-4444-555555555555", "false")):
        spark = join(url, sid, monkeypatch)
        try:
            assert spark.conf.get("spark.sql.legacy.javaCharsets") == want
            assert spark.conf.get("spark.connect.session.planCache.enabled") == ("false" if want == "true" else "true")
        finally:
            leave(spark)
    # the server's JVMs compile methods over HotSpot's limit (denverd's
    # own server defaults, sparkproc.SERVER_DEFAULTS): convert leaves
    # Spark's huge-method limit at its default there
    spark = join(url, first, monkeypatch)
    try:
        assert convert.compiles_huge_methods(spark)
        assert spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "65535"
    finally:
        leave(spark)
    # another datastore of the same dataset has a session of its own
    jobs.convert(tmp_path / "other", "traffic_accidents", path, "utf-8", "2026-11-24", run_id=3)
    assert session_of(jobs) not in (first, session.reused_id(key, 1))


def test_a_failed_convert_releases_its_session(connect_url, tmp_path, gen_dir, monkeypatch):
    url = connect_url
    jobs = Jobs("connect", url=url)
    path = gen_file(gen_dir, "traffic_accidents", 200)
    spec, _ = jobs.convert(tmp_path, "traffic_accidents", path, "utf-8", "2026-11-24", run_id=1)
    key = convert.session_key(spec)
    assert session_of(jobs) == session.reused_id(key, 0)
    jobs.convert(tmp_path, "traffic_accidents", path, "utf-8", "2026-11-25", run_id=2, expect_rc=1,
                 crash="commit")
    spark = join(url, session.reused_id(key, 0), monkeypatch)
    try:
        with pytest.raises(Exception, match="SESSION_CLOSED"):
            spark.range(1).count()
    finally:
        leave(spark)
    _, m = jobs.convert(tmp_path, "traffic_accidents", path, "utf-8", "2026-11-25", run_id=3)
    assert session_of(jobs) == session.reused_id(key, 1)
    assert m["datastore_rows"] == 200


def test_a_session_id_in_spark_remote_is_kept(connect_url, tmp_path, gen_dir):
    """An operator's own session_id (in SPARK_REMOTE) is used as given."""
    url = connect_url
    sid = "77777777-2222-3333-4444-555555555555"
    jobs = Jobs("connect", url=session.with_session_id(url, sid))
    jobs.convert(tmp_path, "traffic_accidents", gen_file(gen_dir, "traffic_accidents", 100), "utf-8",
                 "2026-11-24")
    assert session_of(jobs) == sid
