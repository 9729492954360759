"""What follows the fetch when snapshots live in S3 (storage: s3), through
the built daemon against the real SeaweedFS (s3server.py): the check reads
the object back by streaming GET, compares it with what the fetch
published, and checks it as a local file; the key index stays in the
local mirror, so the next run's diff works; a `fail` moves the object to
quarantine/ by server-side copy then delete; an object changed behind
denverd's back is refused on read-back.  convert is off (no Spark)."""
import json
import re

from conftest import base_config, wait_for
from s3server import SECRET_KEY, s3  # noqa: F401 (the fixture)
from test_dq_ctl import DATASET, serve
from test_sched import q, q1, wait_run

PREFIX = "dd"
D1, D2, D3 = "2025-03-01", "2025-03-02", "2025-03-03"

def config(tmp, www, s3, bucket, more=""):  # noqa: F811
    """test_dq_ctl's dataset (a `unique` check of severity fail on id) on S3."""
    st = ("storage:\n  type: s3\n  endpoint: %s\n  bucket: %s\n  prefix: %s\n"
          "  part_size: 8MiB\n" % (s3.endpoint, bucket, PREFIX))
    return base_config(tmp, DATASET.format(port=www.port) + more, extra=st)


def run(daemon, date, rc=0):
    r = daemon.ctl("trigger", "demo", "--date", date, "--wait", check=False)
    assert r.returncode == rc, f"{r.stdout}\n{r.stderr}\n{daemon.log()}"
    return int(re.match(r"run (\d+) ", r.stdout).group(1))


def key(area, date):
    return f"{PREFIX}/{area}/demo/exec_date={date}/demo.csv"


def test_check_reads_back_diffs_and_quarantines_on_s3(daemon, tmp, www, s3):  # noqa: F811
    b = s3.bucket()
    daemon.start(config(tmp, www, s3, b), env=s3.env())
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
    run(daemon, D1)
    serve(www, [(1, "a", 10), (2, "B", 20), (3, "c", 30), (4, "d", 40)])
    r2 = run(daemon, D2)
    log = daemon.log()
    assert re.search(r"read back \d+ bytes from S3 in [\d.]+s", log), log
    # Nothing of the snapshot on local disk but its key index, in the mirror.
    st = daemon.state
    assert (st / f"staging/demo/exec_date={D2}/.keys").is_file()
    assert not list(st.glob("staging/demo/*/demo.csv")) and not list(st.glob("work/*.spool"))
    diff = json.loads(daemon.ctl("diff", "demo", json_out=True).stdout)["result"]
    assert (diff["run_id"], diff["prev_exec_date"]) == (r2, D1)
    assert (diff["added"], diff["changed"], diff["removed"]) == (1, 1, 0)

    serve(www, [(1, "a", 10), (1, "a", 11), (2, "b", 20)])
    r3 = run(daemon, D3, rc=5)
    keys = s3.keys(b)
    assert key("quarantine", D3) in keys and key("staging", D3) not in keys
    assert key("staging", D1) in keys and key("staging", D2) in keys
    snap = q1(daemon, "SELECT state, path FROM snapshots WHERE run_id=?", r3)
    assert snap == {"state": "quarantined", "path": f"s3://{b}/{key('quarantine', D3)}"}
    assert (st / f"quarantine/demo/exec_date={D3}/.keys").is_file()
    assert not (st / f"staging/demo/exec_date={D3}").exists()
    assert SECRET_KEY not in daemon.log()

    # An object changed behind denverd's back is refused on read-back.
    s3.client.put_object(Bucket=b, Key=key("quarantine", D3), Body=b"id,name,score\n9,z,1\n")
    assert daemon.call("retry", run=r3)["ok"]
    wait_run(daemon, r3, timeout=30)
    errs = [a["error"] for a in q(daemon, "SELECT a.error FROM attempts a JOIN tasks t ON"
                                  " a.task_id = t.id WHERE t.run_id = ? AND t.name = 'check'"
                                  " ORDER BY a.id", r3)]
    assert "not the one published" in errs[-1], errs
    daemon.stop()


def test_retention_deletes_old_objects_and_their_mirrors(daemon, tmp, www, s3):  # noqa: F811
    b = s3.bucket()
    daemon.start(config(tmp, www, s3, b, more="  keep_snapshots: 2\n"), env=s3.env())
    runs = []
    for i, d in enumerate((D1, D2, D3)):
        serve(www, [(1, "a", 10), (2, "b", 20), (3 + i, "c", 30)])
        runs.append(run(daemon, d))
    st = daemon.state
    wait_for("retention of " + D1, lambda: key("staging", D1) not in s3.keys(b), daemon=daemon)
    assert sorted(s3.keys(b)) == [key("staging", D2), key("staging", D3)]
    wait_for("the mirror of " + D1, lambda: not (st / f"staging/demo/exec_date={D1}").exists(),
             daemon=daemon)
    assert (st / f"staging/demo/exec_date={D2}/.keys").is_file()
    states = [q1(daemon, "SELECT state FROM snapshots WHERE run_id=?", r)["state"] for r in runs]
    assert states == ["removed", "published", "published"]
    daemon.stop()


def test_purge_lists_the_bucket_and_removes_objects_and_mirrors(daemon, tmp, www, s3):  # noqa: F811
    b = s3.bucket()
    daemon.start(config(tmp, www, s3, b), env=s3.env())
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
    r1 = run(daemon, D1)
    serve(www, [(1, "a", 10), (2, "b", 20), (4, "c", 30)])
    run(daemon, D2)
    serve(www, [(1, "a", 10), (1, "a", 11), (2, "b", 20)])
    r3 = run(daemon, D3, rc=5)
    s3.client.put_object(Bucket=b, Key=f"{PREFIX}/datastore/demo/part-0.parquet", Body=b"PAR1")
    before = sorted(s3.keys(b))
    st = daemon.state

    res = json.loads(daemon.ctl("purge", "demo", "--before", "2025-04-01", json_out=True)
                     .stdout)["result"]
    assert [(p["area"], p["exec_date"]) for p in res["partitions"]] == \
        [("staging", D1), ("quarantine", D3)]
    assert res["partitions"][0]["path"] == f"s3://{b}/{PREFIX}/staging/demo/exec_date={D1}"
    assert [(k["area"], k["exec_date"]) for k in res["kept"]] == [("staging", D2)]
    assert sorted(s3.keys(b)) == before and (st / f"staging/demo/exec_date={D1}").is_dir()

    res = json.loads(daemon.ctl("purge", "demo", "--before", "2025-04-01", "--yes",
                                json_out=True).stdout)["result"]
    assert res["removed"] == 2 and res["failed"] == 0 and "error" not in res, res
    assert sorted(s3.keys(b)) == sorted([key("staging", D2),
                                         f"{PREFIX}/datastore/demo/part-0.parquet"])
    assert not (st / f"staging/demo/exec_date={D1}").exists()
    assert not (st / f"quarantine/demo/exec_date={D3}").exists()
    assert (st / f"staging/demo/exec_date={D2}/.keys").is_file()
    for r in (r1, r3):
        assert q1(daemon, "SELECT state FROM snapshots WHERE run_id=?", r)["state"] == "removed"
    daemon.stop()


def test_promote_moves_the_object_back_to_staging(daemon, tmp, www, s3):  # noqa: F811
    b = s3.bucket()
    daemon.start(config(tmp, www, s3, b), env=s3.env())
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
    run(daemon, D1)
    serve(www, [(1, "a", 10), (1, "a", 11), (2, "b", 20)])
    r3 = run(daemon, D3, rc=5)
    data = s3.client.get_object(Bucket=b, Key=key("quarantine", D3))["Body"].read()
    res = json.loads(daemon.ctl("promote", str(r3), "--reason", "checked", json_out=True)
                     .stdout)["result"]
    assert res["state"] == "promoted" and res["path"] == f"s3://{b}/{key('staging', D3)}"
    assert sorted(s3.keys(b)) == [key("staging", D1), key("staging", D3)]
    assert s3.client.get_object(Bucket=b, Key=key("staging", D3))["Body"].read() == data
    st = daemon.state
    assert (st / f"staging/demo/exec_date={D3}/.keys").is_file()
    assert not (st / f"quarantine/demo/exec_date={D3}").exists()
    snap = q1(daemon, "SELECT state, path FROM snapshots WHERE run_id=?", r3)
    assert snap == {"state": "promoted", "path": res["path"]}
    wait_run(daemon, r3, timeout=30)
    r = daemon.ctl("promote", str(r3), check=False)
    assert r.returncode == 1 and "is promoted, not quarantined" in r.stderr
    daemon.stop()
