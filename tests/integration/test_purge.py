"""denverctl purge against the built denverd, on local disk: real runs of a
dataset served over loopback HTTP publish and quarantine snapshots, then
`purge DATASET --before D` is asked for a dry run (nothing changes: every
file under state_dir and every snapshot row is as before), and with --yes
(exactly the listed partitions go, their rows become `removed`, the
datastore, the reports and the newest published snapshot stay, and the next
run's diff still has its baseline).  An active run keeps its exec date and
its diff baseline; another uid is refused; a bad date or an unknown dataset
is refused with words.  convert is off: no Spark needed."""
import hashlib
import json
import re
import sqlite3

import pytest

from conftest import base_config, wait_for
from test_dq_ctl import DATASET, serve as serve_rows

NOBODY = 65534
D1, D2, D3, D4, D5 = "2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05"
LATER = "2025-04-01"


def config(tmp, www, query="", extra='socket_mode: "0666"\n'):
    """test_dq_ctl's dataset (a `unique` check of severity fail on id)."""
    ds = DATASET.format(port=www.port).replace("/demo.csv", "/demo.csv" + query)
    return base_config(tmp, ds, extra=extra)


def serve(www, ids):
    serve_rows(www, [(i, f"n{i}", 10) for i in ids])


def trigger(daemon, date, rc=0, wait=True, force=False):
    args = ["trigger", "demo", "--date", date] + (["--wait"] if wait else []) + \
           (["--force"] if force else [])
    r = daemon.ctl(*args, check=False)
    assert r.returncode == rc, f"{r.stdout}\n{r.stderr}\n{daemon.log()}"
    return int(re.match(r"run (\d+) ", r.stdout).group(1))


def tree(root):
    """Every file under ROOT: relative path -> sha256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "state.db"
            and not p.name.startswith("state.db-")}


def rows(daemon):
    db = sqlite3.connect(f"file:{daemon.state}/state.db?mode=ro", uri=True)
    try:
        return {r[0]: (r[1], r[2], r[3]) for r in
                db.execute("SELECT id, exec_date, state, path FROM snapshots")}
    finally:
        db.close()


def purge(daemon, before, *more, rc=0, user=None):
    r = daemon.ctl("purge", "demo", "--before", before, *more, json_out=True, check=False,
                   user=user)
    assert r.returncode == rc, f"{r.stdout}\n{r.stderr}\n{daemon.log()}"
    return json.loads(r.stdout) if r.stdout else None, r


@pytest.fixture
def history(daemon, tmp, www):
    """Published D1, D2, quarantined D3 (duplicate keys), published D4; a
    datastore and a report the purge must not touch."""
    daemon.start(config(tmp, www))
    serve(www, [1, 2, 3])
    trigger(daemon, D1)
    serve(www, [1, 2, 3, 4])
    trigger(daemon, D2)
    serve(www, [1, 1, 2])
    trigger(daemon, D3, rc=5)
    serve(www, [1, 2, 3, 4, 5])
    trigger(daemon, D4)
    for rel in ("datastore/demo/year=2025/month=03/part-0.parquet",
                "reports/exec_date=2025-03-04/report.json"):
        p = daemon.state / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"not ours to remove " + rel.encode())
    return daemon


def test_dry_run_lists_and_changes_nothing_then_yes_removes_exactly_those(history, www):
    d = history
    before_tree, before_rows = tree(d.state), rows(d)
    res, r = purge(d, LATER)
    res = res["result"]
    assert res["dry_run"] is True and res["removed"] == 0 and res["failed"] == 0
    listed = [(p["area"], p["exec_date"]) for p in res["partitions"]]
    assert listed == [("staging", D1), ("staging", D2), ("quarantine", D3)]
    assert [(k["area"], k["exec_date"]) for k in res["kept"]] == [("staging", D4)]
    assert "diff baseline" in res["kept"][0]["reason"]
    for p in res["partitions"]:
        assert p["removed"] is False and p["files"] == 2, p   # the CSV and its .keys
        assert p["bytes"] == sum((d.state / f).stat().st_size for f in before_tree
                                 if str(d.state / f).startswith(p["path"] + "/"))
    assert tree(d.state) == before_tree and rows(d) == before_rows

    # The text form says the same, as a dry run.
    t = d.ctl("purge", "demo", "--before", LATER).stdout
    assert "dry run, nothing removed" in t and "would remove" in t
    assert all(p["path"] in t for p in res["partitions"]) and "because: the newest" in t

    res2, _ = purge(d, LATER, "--yes")
    res2 = res2["result"]
    assert res2["dry_run"] is False and res2["failed"] == 0 and res2["removed"] == 3
    assert [p["path"] for p in res2["partitions"]] == [p["path"] for p in res["partitions"]]
    after = tree(d.state)
    gone = set(before_tree) - set(after)
    expect = {f for f in before_tree for p in res["partitions"]
              if str(d.state / f).startswith(p["path"] + "/")}
    assert gone == expect and len(gone) == 6
    assert {f: after[f] for f in after} == {f: before_tree[f] for f in after}  # rest intact
    assert "datastore/demo/year=2025/month=03/part-0.parquet" in after
    assert "reports/exec_date=2025-03-04/report.json" in after
    for p in res["partitions"]:
        assert not (d.state / p["path"]).exists()
    now = rows(d)
    purged = {i for p in res2["partitions"] for i in p["snapshots"]}
    assert purged and all(now[i][1] == "removed" for i in purged)
    assert [v[1] for k, v in sorted(now.items()) if k not in purged] == ["published"]
    assert "purge before 2025-04-01: removed 3 partitions" in d.log()

    # A second purge finds nothing; the kept baseline still serves the next
    # run's diff, and the diffs already recorded are still there.
    res3, _ = purge(d, LATER, "--yes")
    assert res3["result"]["partitions"] == [] and res3["result"]["removed"] == 0
    serve(www, [1, 2, 3, 4, 5, 6])
    trigger(d, D5)
    diff = json.loads(d.ctl("diff", "demo", json_out=True).stdout)["result"]
    assert diff["exec_date"] == D5 and diff["prev_exec_date"] == D4 and diff["added"] == 1
    assert json.loads(d.ctl("diff", "demo", "--date", D2, json_out=True).stdout)[
        "result"]["prev_exec_date"] == D1


def test_before_a_date_keeps_later_partitions_and_marks_rows_without_files(history):
    d = history
    # Staging of D1 removed by hand: its row is reported missing, then marked.
    d1 = next(p for i, (e, s, p) in sorted(rows(d).items()) if e == D1)
    for f in (d.state / d1).parent.iterdir():
        f.unlink()
    (d.state / d1).parent.rmdir()
    res, _ = purge(d, D3)
    res = res["result"]
    assert [(p["area"], p["exec_date"]) for p in res["partitions"]] == [("staging", D2)]
    assert len(res["missing"]) == 1 and res["kept"] == []
    res, _ = purge(d, D3, "--yes")
    now = rows(d)
    assert now[res["result"]["missing"][0]][1] == "removed"
    assert [now[i][1] for i in sorted(now)] == ["removed", "removed", "quarantined", "published"]
    assert (d.state / "quarantine/demo" / f"exec_date={D3}").is_dir()


def test_an_active_run_keeps_its_date_and_its_baseline(history, tmp, www):
    d = history
    # D3 again, with a download that stalls: the run stays active.
    d.write_config(config(tmp, www, query="?stall_at=5&stall=30"))
    d.ctl("reload")
    run = trigger(d, D3, wait=False, force=True)
    wait_for("the stalled fetch", lambda: any(
        t.get("run_id") == run for t in d.call("status")["result"].get("running", [])),
        daemon=d)
    res, _ = purge(d, LATER, "--yes")
    res = res["result"]
    assert [(p["area"], p["exec_date"]) for p in res["partitions"]] == [("staging", D1)]
    kept = {(k["area"], k["exec_date"]): k for k in res["kept"]}
    assert set(kept) == {("staging", D2), ("quarantine", D3), ("staging", D4)}
    assert kept[("quarantine", D3)]["run_id"] == run
    assert kept[("quarantine", D3)]["reason"] == f"run {run} of this exec date is active"
    assert kept[("staging", D2)]["reason"] == f"the diff baseline of active run {run}"
    assert (d.state / "staging/demo" / f"exec_date={D2}").is_dir()
    d.ctl("cancel", str(run))


def test_refused_to_another_uid_for_a_bad_date_and_an_unknown_dataset(history):
    d = history
    before = tree(d.state)
    _, r = purge(d, LATER, "--yes", rc=1, user=NOBODY)
    assert "EPERM" in r.stdout and "changes state" in r.stdout
    assert "refused 'purge' from uid 65534" in d.log()
    for bad in ("2025-02-30", "2025-3-1", "soon"):
        _, r = purge(d, bad, "--yes", rc=1)
        assert "EINVAL" in r.stdout and "before" in r.stdout, r.stdout
    r = d.ctl("purge", "demo", check=False)
    assert r.returncode == 2 and "--before" in r.stderr
    r = d.ctl("purge", "nosuch", "--before", LATER, "--yes", check=False)
    assert r.returncode == 1 and "no dataset named" in r.stderr
    assert tree(d.state) == before
