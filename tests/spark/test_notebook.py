"""notebooks/analysis.ipynb: built from its jupytext source, executed
headless (nbclient, the venv's ipykernel, Jupyter's directories in tmp)
against the report fixture's datastore, and its figures held to the
report.json of the same datastore; and how it picks its Spark
(notebooks/spark_endpoint.py)."""

import json
import os
import socket
import sys
import time

import pytest

import report
from conftest import TOP

NB_DIR = os.path.join(TOP, "notebooks")
sys.path.insert(0, NB_DIR)
import spark_endpoint  # noqa: E402

EXEC_DATE = "2026-11-21"
# appended to the notebook before it runs: what the test reads back
PROBE = """import json
print(json.dumps({"results": results, "questions": {a.key: a.data for a in answered},
                  "mode": choice.mode, "shown": choice.shown, "why": choice.why,
                  "timings": db.timings}, default=str))
spark.stop()"""


def cells(nb):
    """The cells as the notebook's reader sees them: type, source, tags."""
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


def test_the_ipynb_is_built_from_its_source():
    import jupytext
    import nbformat
    built = jupytext.read(os.path.join(NB_DIR, "analysis.py"))
    committed = nbformat.read(os.path.join(NB_DIR, "analysis.ipynb"), as_version=4)
    nbformat.validate(committed)
    assert cells(committed) == cells(built), \
        "notebooks/analysis.ipynb is stale: .venv/bin/jupytext --update --to ipynb notebooks/analysis.py"
    assert committed.metadata["kernelspec"] == built.metadata["kernelspec"]
    assert committed.metadata["kernelspec"]["name"] == "python3"
    for c in committed.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, "commit the notebook with outputs cleared"
    assert [c for c in committed.cells if "parameters" in c.metadata.get("tags", [])]


def jupyter_dirs(tmp_path):
    """Jupyter's and IPython's directories, all in `tmp_path` (no user-level
    state is read or written)."""
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTER_PATH": "data", "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "mpl"}
    out = {k: tmp_path / v for k, v in dirs.items()}
    for d in out.values():
        os.makedirs(d, exist_ok=True)
    return {**out, "JUPYTER_PLATFORM_DIRS": "1"}


def test_jupyter_lab_serves_the_notebook_and_its_source(tmp_path):
    """What the README says to run (`jupyter lab notebooks/`) serves
    analysis.ipynb, and analysis.py as the same notebook (jupytext)."""
    import secrets
    import subprocess
    import urllib.request
    token = secrets.token_hex(16)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **{k: str(v) for k, v in jupyter_dirs(tmp_path).items()}, "HOME": str(tmp_path)}
    lab = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "jupyter"), "lab", "--no-browser",
                            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                            f"--IdentityProvider.token={token}", *(["--allow-root"] if os.geteuid() == 0 else []),
                            NB_DIR],
                           env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "wb"))
    try:
        def get(name):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/{name}?type=notebook&content=1",
                                         headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.load(r)["content"]
        deadline = time.monotonic() + 120
        while True:
            try:
                ipynb = get("analysis.ipynb")
                break
            except OSError:
                assert lab.poll() is None and time.monotonic() < deadline, (tmp_path / "lab.log").read_text()
                time.sleep(0.5)
        source = get("analysis.py")
        assert [(c["cell_type"], c["source"]) for c in source["cells"]] == \
            [(c["cell_type"], c["source"]) for c in ipynb["cells"]]
        assert ipynb["metadata"]["kernelspec"]["name"] == "python3" and len(ipynb["cells"]) > 20
    finally:
        lab.terminate()
        lab.wait(30)


@pytest.fixture(scope="module")
def report_json(spark, report_state):
    out = os.path.join(report_state, "reports", f"exec_date={EXEC_DATE}")
    assert report.main(["--exec-date", EXEC_DATE, "--out", out], spark=spark) == 0
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        return json.load(f)


def execute(tmp_path, monkeypatch, datastore, env):
    """Run the notebook headless in a fresh kernel (the venv's python3
    kernelspec; no user-level Jupyter or IPython state: every directory in
    `tmp_path`), with DENVERD_DATASTORE = `datastore`, the report's exec
    date and `env` set (a None value unsets).  Returns the executed
    notebook and what PROBE printed."""
    import nbformat
    from nbclient import NotebookClient
    base = {**jupyter_dirs(tmp_path), "DENVERD_DATASTORE": datastore, "DENVERD_EXEC_DATE": EXEC_DATE}
    for k, v in {**base, **env}.items():
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, str(v))
    nb = nbformat.read(os.path.join(NB_DIR, "analysis.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    # generous limits: a loaded 2-core CI machine starts the kernel and the JVM slowly
    NotebookClient(nb, timeout=600, startup_timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": NB_DIR}}).execute()
    probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return nb, json.loads(probe)


def outputs(nb, kind):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})]


def check_against_report(nb, got, report_data):
    """The notebook's figures are report.json's, question by question."""
    want = json.loads(json.dumps(report_data, default=str))
    assert got["results"]["datasets"] == {n: d["rows"] for n, d in want["datasets"].items()}
    assert set(got["results"]) - {"datasets"} == set(want["questions"]) == set(got["questions"])
    for key, figures in got["results"].items():
        if key == "datasets":
            continue
        assert len(figures) >= 4, key
        for name, value in figures.items():
            assert value == want["questions"][key][name], f"{key}.{name}"
    # and everything else each question records, the sentence included
    for key, data in got["questions"].items():
        assert data == want["questions"][key], key
    # the sentences are on the page, charts drawn inline
    shown = "".join(o["data"]["text/markdown"] for o in outputs(nb, "text/markdown"))
    for sentence in want["answers"].values():
        assert sentence in shown
    assert len(outputs(nb, "image/png")) >= 5
    said = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream")
    assert "the same datastore state; every figure the same" in said


def test_notebook_in_local_spark_gives_the_report_figures(report_state, report_json, tmp_path, monkeypatch):
    # no SPARK_REMOTE, and a socket no daemon listens on: local Spark, and the reason says so
    t = time.monotonic()
    nb, got = execute(tmp_path, monkeypatch, report_state / "datastore",
                      {"SPARK_REMOTE": None, "DENVERD_SOCKET": tmp_path / "no-daemon.sock"})
    assert got["mode"] == "local" and got["shown"] == "local[*]"
    assert "no denverd answers" in got["why"] or "no denverctl" in got["why"]
    check_against_report(nb, got, report_json)
    assert set(got["timings"]) >= {"q1_monthly", "q3_grid", "q5_overall"}
    print(f"notebook, local Spark: {time.monotonic() - t:.1f} s")


@pytest.fixture
def connect_server(request):
    """A Spark Connect server's URL: $DENVERD_TEST_SPARK_REMOTE, else the
    Spark tests' shared server (conftest's `connect_url` fixture, where the
    tree has it); skips when there is neither."""
    if os.environ.get("DENVERD_TEST_SPARK_REMOTE"):
        return os.environ["DENVERD_TEST_SPARK_REMOTE"]
    try:
        return request.getfixturevalue("connect_url")
    except pytest.FixtureLookupError:
        pytest.skip("no Spark Connect server: set DENVERD_TEST_SPARK_REMOTE=sc://host:port "
                    "(or give tests/spark/conftest.py a connect_url fixture)")


def test_notebook_over_spark_connect_gives_the_report_figures(report_state, report_json, connect_server, tmp_path,
                                                              monkeypatch):
    t = time.monotonic()
    nb, got = execute(tmp_path, monkeypatch, report_state / "datastore", {"SPARK_REMOTE": connect_server})
    assert got["mode"] == "connect" and got["why"] == "SPARK_REMOTE is set"
    assert got["shown"] == spark_endpoint.redact(connect_server)
    check_against_report(nb, got, report_json)
    print(f"notebook, Spark Connect: {time.monotonic() - t:.1f} s")


# -- choosing the Spark --------------------------------------------------------
def reply(spark=None, ok=True):
    result = {"version": "x", "datasets": []}
    if spark is not None:
        result["spark"] = spark
    return {"ok": ok, "result": result} if ok else {"ok": False, "error": {"code": "busy", "message": "m"}}


@pytest.mark.parametrize("status, url, why", [
    (reply({"mode": "managed", "url": "sc://127.0.0.1:15002", "state": "ready", "pid": 7}),
     "sc://127.0.0.1:15002", "managed Connect endpoint as ready"),
    (reply({"mode": "external", "url": "sc://spark.example:443/;use_ssl=true", "state": "ready"}),
     "sc://spark.example:443/;use_ssl=true", "external"),
    (reply(), None, "no Spark endpoint (a daemon from before Spark Connect)"),
    (reply({"mode": "submit"}), None, "submit mode, without a Connect endpoint"),
    (reply({"mode": "managed", "url": "sc://127.0.0.1:15002", "state": "restarting"}), None,
     "sc://127.0.0.1:15002 is restarting, not ready"),
    (reply({"mode": "external", "url": "sc://h:1", "state": "unreachable"}), None, "is unreachable"),
    (reply({"mode": "external", "url": "http://h:1", "state": "ready"}), None, "not an sc:// URL"),
    (reply(ok=False), None, "an error (busy)"),
    ("not a reply", None, "unreadable reply"),
])
def test_a_daemons_status_names_the_endpoint(status, url, why):
    got, reason = spark_endpoint.status_endpoint(status)
    assert got == url and why in reason


def test_a_token_is_never_shown():
    url = "sc://127.0.0.1:1/;use_ssl=false;token=s3cr3t-T0KEN;user_id=ana"
    assert spark_endpoint.redact(url) == "sc://127.0.0.1:1/;use_ssl=false;token=***;user_id=ana"
    c = spark_endpoint.choose({"SPARK_REMOTE": url})
    assert c.mode == "connect" and c.url == url
    assert "s3cr3t" not in str(c) and "s3cr3t" not in repr(c) and "s3cr3t" not in c.shown
    # a daemon's status never holds one, but a URL that did is not repeated in the reason either
    _, why = spark_endpoint.status_endpoint(reply({"mode": "external", "url": url, "state": "down"}))
    assert "s3cr3t" not in why and "token=***" in why


def test_reachable_tells_a_listening_port_from_a_closed_one():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        assert spark_endpoint.reachable(f"sc://127.0.0.1:{port}/;token=x") is None
    # the port is closed now (nothing listens on it)
    assert "does not accept connections" in spark_endpoint.reachable(f"sc://127.0.0.1:{port}")
    assert spark_endpoint.reachable("sc:///;token=x") == "names no host"


def test_no_daemon_means_local_spark(tmp_path):
    env = {"PATH": os.environ["PATH"], "DENVERD_SOCKET": str(tmp_path / "none.sock")}
    c = spark_endpoint.choose(env)
    assert (c.mode, c.url) == ("local", "local[*]")
    assert str(tmp_path / "none.sock") in c.why or "no denverctl" in c.why
    c = spark_endpoint.choose({**env, "DENVERCTL": str(tmp_path / "missing-denverctl")})
    assert c.mode == "local" and "cannot run" in c.why


# -- reading without writing ---------------------------------------------------
def tree(root):
    """Every path under `root` with its size (directories: -1)."""
    out = {}
    for d, dirs, files in os.walk(root):
        out.update({os.path.relpath(os.path.join(d, n), root): -1 for n in dirs})
        out.update({os.path.relpath(os.path.join(d, n), root): os.path.getsize(os.path.join(d, n)) for n in files})
    return out


def test_the_notebooks_load_leaves_a_pending_commit_alone(spark, report_state, tmp_path, capsys):
    """A commit whose journal is still there (a convert swapping months in
    right now, or a crash) is reported, not rolled forward: the notebook's
    load writes nothing; the report's load (recover) finishes it."""
    import shutil

    import datastore
    from report import queries
    root = tmp_path / "datastore"
    shutil.copytree(report_state / "datastore", root)
    txn = root / ".txn" / "traffic_accidents"
    staged = txn / "staging" / "t1" / "year=2030" / "month=1"
    shutil.copytree(root / "traffic_accidents" / "year=2023" / "month=1", staged)   # a real month, moved in later
    moved = len(datastore.data_files(str(txn / "staging" / "t1")))
    (txn / "journal").mkdir(exist_ok=True)
    (txn / "journal" / "t1.json").write_text(json.dumps(
        {"version": 1, "txn": "t1", "months": [{"month": "year=2030/month=1", "new": True}]}))
    assert datastore.pending_commits(str(root / "traffic_accidents")) == ["t1"]
    assert datastore.pending_commits(str(root / "service_requests_311")) == []
    before = tree(root)
    capsys.readouterr()
    db = queries.Datastore(spark, str(root))
    info = db.load("traffic_accidents", "nb_traffic", queries.TRAFFIC_COLS, recover=False, cache=False)
    assert info["rows"] == 4000
    assert "commits t1 are being swapped in or were interrupted" in capsys.readouterr().err
    assert tree(root) == before
    assert not spark.catalog.isCached("nb_traffic")
    # the report's load finishes it: the staged month moves in
    info = queries.Datastore(spark, str(root)).load("traffic_accidents", "nb_traffic", queries.TRAFFIC_COLS,
                                                    cache=False)
    assert datastore.pending_commits(str(root / "traffic_accidents")) == [] and moved >= 1
    live = datastore.data_files(str(root / "traffic_accidents"))
    assert len([f for f in live if f.startswith("year=2030/")]) == moved
    assert info["rows"] > 4000
    spark.catalog.dropTempView("nb_traffic")
