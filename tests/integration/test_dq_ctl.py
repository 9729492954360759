"""denverctl dq, diff and promote against the built denverd, end to end: a
dataset served over loopback HTTP (httpd.py), runs triggered with
`denverctl trigger --wait`, their check results, diffs and quarantine read
back with denverctl (text and --json) and compared with the files under
state_dir and the SQLite state.  convert is off: no Spark needed."""
import json
import re
import sqlite3
import textwrap
import time

import pytest

from conftest import base_config

D1, D2, D3 = "2025-03-01", "2025-03-02", "2025-03-03"

DATASET = textwrap.dedent("""\
    demo:
      url: http://127.0.0.1:{port}/demo.csv
      schedule: "15 6 * * *"
      convert: false
      retries: 0
      schema:
        key: [id]
        columns:
          - {{name: id, type: int}}
          - {{name: name, type: string}}
          - {{name: score, type: int}}
      checks:
        header: {{type: columns, severity: fail}}
        rows: {{type: row_count, min: 2, max: 0, max_change: 80%, severity: fail}}
        key_unique: {{type: unique, severity: fail}}
        scores: {{type: range, columns: [score], min: 0, max: 100, max_bad: 10%, severity: warn}}
""")


@pytest.fixture
def demo(daemon, tmp, www):
    daemon.start(base_config(tmp, DATASET.format(port=www.port)))
    return daemon


def serve(www, rows):
    """Publish ROWS [(id, name, score)] as demo.csv; returns the bytes."""
    data = ("id,name,score\n" + "".join("%s,%s,%s\n" % r for r in rows)).encode()
    (www.root / "demo.csv").write_bytes(data)
    return data


def trigger(daemon, date, rc=0):
    """Run demo for DATE to its end; returns the run id."""
    r = daemon.ctl("trigger", "demo", "--date", date, "--wait", check=False)
    assert r.returncode == rc, f"{r.stdout}\n{r.stderr}\n{daemon.log()}"
    return int(re.match(r"run (\d+) ", r.stdout).group(1))


def cells(text, first):
    """The cells of the table row starting with FIRST (columns are separated
    by two or more spaces; a cell holds single spaces)."""
    for line in text.splitlines():
        if line.split(" ", 1)[0] == first:
            return re.split(r"\s{2,}", line.strip())
    raise AssertionError(f"no row {first!r} in:\n{text}")


def snapshot_state(daemon, run_id):
    db = sqlite3.connect(f"file:{daemon.state}/state.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT state, path FROM snapshots WHERE run_id = ?",
                          (run_id,)).fetchone()
    finally:
        db.close()


def test_dq_shows_each_check_over_the_runs_newest_first(demo, www):
    r = demo.ctl("dq", "demo")
    assert r.stdout == "demo: no check results yet\n"

    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
    r1 = trigger(demo, D1)
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30), (4, "d", 400)])
    r2 = trigger(demo, D2)           # a warn does not stop the run
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30), (4, "d", 40), (5, "e", 50)])
    r3 = trigger(demo, D3)

    out = demo.ctl("dq", "demo").stdout
    assert out.splitlines()[0].startswith("demo: 3 runs, newest first (leftmost)")
    assert cells(out, "CHECK") == ["CHECK", "SEV", f"#{r3} {D3}", f"#{r2} {D2}",
                                   f"#{r1} {D1}", "PASSES WHEN"]
    # The row count drifts 3 -> 4 -> 5; the bad scores show in run 2 only.
    assert cells(out, "rows")[2:5] == ["5 ok", "4 ok", "3 ok"]
    assert cells(out, "scores")[1:5] == ["warn", "0% ok", "25% WARN", "0% ok"]
    assert cells(out, "key_unique")[1:5] == ["fail", "0 ok", "0 ok", "0 ok"]
    assert cells(out, "header")[-1] == "0 required missing"
    assert "did not pass" not in out    # the newest run passed everything

    # --runs limits the columns; --json is the daemon's reply as is.
    j = json.loads(demo.ctl("dq", "demo", "--runs", "2", json_out=True).stdout)
    res = j["result"]
    assert [x["run_id"] for x in res["runs"]] == [r3, r2]
    scores = next(c for c in res["checks"] if c["name"] == "scores")
    assert [v["outcome"] for v in scores["values"]] == ["pass", "warn"]
    assert scores["values"][1]["observed"] == pytest.approx(0.25)
    assert scores["values"][1]["lines"] == [5]

    # Errors: the daemon's (exit 1), the command line's (exit 2).
    r = demo.ctl("dq", "nope", check=False)
    assert r.returncode == 1 and 'no dataset named "nope"' in r.stderr
    for args in (["dq"], ["dq", "demo", "--runs", "0"], ["dq", "demo", "extra"],
                 ["diff", "demo", "--bogus"]):
        r = demo.ctl(*args, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert "usage: denverctl" in r.stderr


def test_diff_counts_rows_added_removed_changed_by_key(demo, www):
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30), (4, "d", 40), (5, "e", 50)])
    r1 = trigger(demo, D1)
    r = demo.ctl("diff", "demo", check=False)
    assert r.returncode == 1 and "no diff recorded for demo" in r.stderr

    # 1 and 2 age out, 3 changes, 6 7 8 are new, 4 and 5 stay.
    serve(www, [(3, "c2", 30), (4, "d", 40), (5, "e", 50), (6, "f", 60), (7, "g", 70),
                (8, "h", 80)])
    r2 = trigger(demo, D2)

    out = demo.ctl("diff", "demo").stdout
    lines = out.splitlines()
    assert lines[0] == f"demo: {D2} (run {r2}) against {D1} (run {r1}), by key"
    counts = {ln.split()[0]: int(ln.split()[1]) for ln in lines[1:] if ln and not ln.startswith(" ")}
    assert counts == {"added": 3, "removed": 2, "changed": 1, "unchanged": 2}
    # Example keys are listed under their count.
    block = out[out.index("added"):out.index("removed")]
    assert sorted(ln.strip() for ln in block.splitlines()[1:]) == ["6", "7", "8"]
    block = out[out.index("removed"):out.index("changed")]
    assert sorted(ln.strip() for ln in block.splitlines()[1:]) == ["1", "2"]
    block = out[out.index("changed"):out.index("unchanged")]
    assert [ln.strip() for ln in block.splitlines()[1:]] == ["3"]

    j = json.loads(demo.ctl("diff", "demo", "--date", D2, json_out=True).stdout)["result"]
    assert (j["run_id"], j["prev_run_id"], j["added"], j["removed"], j["changed"]) == \
        (r2, r1, 3, 2, 1)
    assert sorted(j["examples"]["added"]) == ["6", "7", "8"]
    r = demo.ctl("diff", "demo", "--date", D1, check=False)
    assert r.returncode == 1 and f"no diff recorded for demo on {D1}" in r.stderr


def test_failed_check_quarantines_and_promote_brings_it_back(demo, www):
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
    r1 = trigger(demo, D1)
    bad = serve(www, [(1, "a", 10), (2, "b", 20), (2, "b", 20), (3, "c", 30)])
    r2 = trigger(demo, D2, rc=5)     # key_unique fails: the run fails

    quarantined = demo.state / "quarantine" / "demo" / f"exec_date={D2}" / "demo.csv"
    staged = demo.state / "staging" / "demo" / f"exec_date={D2}" / "demo.csv"
    assert quarantined.read_bytes() == bad and not staged.exists()
    assert snapshot_state(demo, r2) == ("quarantined", str(quarantined))

    out = demo.ctl("dq", "demo").stdout
    assert cells(out, "key_unique")[2:4] == ["1 FAIL", "0 ok"]
    assert f"run {r2} ({D2}, failed), checks that did not pass:" in out
    detail = next(ln for ln in out.splitlines() if re.match(r"\s+key_unique\s+FAIL\s", ln))
    assert "duplicate" in detail and "first lines: " in detail

    # A retry checks the snapshot where it lies, fails the same way, and
    # leaves it in quarantine (not moved aside, not lost).
    demo.ctl("retry", r2)
    deadline = time.monotonic() + 20
    while demo.call("show", run=int(r2))["result"]["run"]["state"] != "failed":
        assert time.monotonic() < deadline, demo.ctl("show", r2).stdout
        time.sleep(0.1)
    assert quarantined.read_bytes() == bad
    assert snapshot_state(demo, r2) == ("quarantined", str(quarantined))

    # Only a quarantined snapshot can be promoted.
    r = demo.ctl("promote", r1, check=False)
    assert r.returncode == 1 and "ESTATE" in r.stderr and "not quarantined" in r.stderr

    out = demo.ctl("promote", r2, "--reason", "duplicate is known upstream").stdout
    assert out == (f"run {r2}: the quarantined snapshot of demo {D2} is promoted, back in "
                   f"staging:\n  {staged}\n")
    assert staged.read_bytes() == bad and not quarantined.exists()
    assert (staged.parent / ".keys").exists()     # its key index moved with it
    assert snapshot_state(demo, r2) == ("promoted", str(staged))
    show = demo.ctl("show", r2).stdout
    assert re.search(r"snapshot\.promoted .*by the operator: duplicate is known upstream", show)
    # The run goes on from where the quarantine stopped it: its check now
    # counts as accepted, and the run ends well.
    deadline = time.monotonic() + 20
    while demo.call("show", run=int(r2))["result"]["run"]["state"] != "succeeded":
        assert time.monotonic() < deadline, demo.ctl("show", r2).stdout
        time.sleep(0.1)
    assert "queued again (snapshot promoted)" in demo.ctl("show", r2).stdout

    r = demo.ctl("promote", r2, check=False)
    assert r.returncode == 1 and "is promoted, not quarantined" in r.stderr
    r = demo.ctl("promote", "999", check=False)
    assert r.returncode == 1 and "no run 999" in r.stderr
    for args in (["promote"], ["promote", "x"], ["promote", "1", "2"]):
        assert demo.ctl(*args, check=False).returncode == 2, args
