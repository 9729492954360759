"""Aged out or withdrawn, end to end against the built denverd: three
snapshots served over loopback HTTP, `denverctl diff` splitting the removed
keys (text and --json), and the `withdrawn` check warning when a large
share of the window vanishes at once.  convert is off: no Spark needed
(tests/spark/test_removal.py covers the datastore side)."""
import json
import re
import textwrap

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
        event_time: at
        columns:
          - {{name: id, type: int}}
          - {{name: at, type: timestamp}}
      checks:
        withdrawn: {{type: withdrawn, max_withdrawn: 30%, severity: warn}}
""")


@pytest.fixture
def demo(daemon, tmp, www):
    daemon.start(base_config(tmp, DATASET.format(port=www.port)))
    return daemon


def serve(www, rows):
    """Publish ROWS {id: "YYYY-MM-DD"} as demo.csv (events at 10:00)."""
    (www.root / "demo.csv").write_bytes(
        ("id,at\n" + "".join(f"{i},{d} 10:00:00\n" for i, d in rows.items())).encode())


def trigger(daemon, date):
    r = daemon.ctl("trigger", "demo", "--date", date, "--wait", check=False)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{daemon.log()}"
    return int(re.match(r"run (\d+) ", r.stdout).group(1))


def block(out, start, end):
    """The example keys printed between the lines starting START and END."""
    lines = out.splitlines()
    a = next(i for i, ln in enumerate(lines) if ln.strip().startswith(start))
    b = next(i for i, ln in enumerate(lines) if i > a and ln.strip().startswith(end))
    return sorted(ln.strip() for ln in lines[a + 1:b])


def test_three_snapshots_split_removed_keys(demo, www):
    s1 = {1: "2025-02-20", 2: "2025-02-21", 3: "2025-02-22", 4: "2025-02-24", 5: "2025-02-25",
          6: "2025-02-26"}
    serve(www, s1)
    trigger(demo, D1)
    # D2: 1 ages out (before the earliest event, 02-21), 4 is withdrawn, 7 new
    s2 = {k: v for k, v in s1.items() if k not in (1, 4)} | {7: "2025-03-01"}
    serve(www, s2)
    r2 = trigger(demo, D2)
    out = demo.ctl("diff", "demo").stdout
    print(out)
    assert block(out, "aged out", "withdrawn") == ["1"] and block(out, "withdrawn", "(aged out") == ["4"]
    assert "(aged out: event time before 2025-02-21T10:00:00, the window's start)" in out
    # D3: 2 ages out (earliest now 02-22); 6 and 7 withdrawn: 2 of the 4
    # keys still inside the window, more than 30%
    s3 = {k: v for k, v in s2.items() if k not in (2, 6, 7)} | {8: "2025-03-02"}
    serve(www, s3)
    r3 = trigger(demo, D3)
    out = demo.ctl("diff", "demo").stdout
    print(out)
    lines = out.splitlines()
    assert lines[0] == f"demo: {D3} (run {r3}) against {D2} (run {r2}), by key"
    counts = {ln.split()[0]: int(ln.split()[-1]) for ln in lines[1:]
              if ln and not ln.startswith("    ") and ln.split()[-1].isdigit()}
    assert counts == {"added": 1, "removed": 3, "aged": 1, "withdrawn": 2, "changed": 0,
                      "unchanged": 2}
    assert block(out, "aged out", "withdrawn") == ["2"]
    assert block(out, "withdrawn", "(aged out") == ["6", "7"]
    j = json.loads(demo.ctl("diff", "demo", json_out=True).stdout)["result"]
    assert (j["removed"], j["aged_out"], j["withdrawn"]) == (3, 1, 2)
    assert j["window_start"] == "2025-02-22T10:00:00"
    assert j["examples"]["aged_out"] == ["2"] and sorted(j["examples"]["withdrawn"]) == ["6", "7"]
    # the check: D2 passed (1 of 5), D3 warned (2 of 4)
    dq = json.loads(demo.ctl("dq", "demo", "--runs", "3", json_out=True).stdout)["result"]
    (chk,) = [c for c in dq["checks"] if c["name"] == "withdrawn"]
    got = {v["exec_date"]: (v["outcome"], v["observed"]) for v in chk["values"]}
    assert got[D3] == ("warn", 0.5) and got[D2] == ("pass", 0.2) and got[D1][1] is None
    # the diff of an older date still says what it said
    j = json.loads(demo.ctl("diff", "demo", "--date", D2, json_out=True).stdout)["result"]
    assert (j["aged_out"], j["withdrawn"], j["examples"]["withdrawn"]) == (1, 1, ["4"])
