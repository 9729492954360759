"""OpenLineage run events through the built daemon: a run's tasks emit
START and COMPLETE, a failing fetch FAIL, a cancelled run ABORT, to a
loopback HTTP receiver and to the NDJSON file alike; a receiver that
accepts and never answers delays neither runs nor `status`.

Every event is validated with openlineage-python.  Its wheel carries no
JSON Schema of the spec (only the attrs classes generated from it), so
each event is rebuilt strictly from those classes: an unknown key is a
TypeError, a missing required one too, and the classes' own validators
check eventTime, producer and schemaURL; each standard facet's _schemaURL
must be its class's.  denverd's custom facets are validated with
jsonschema against docs/lineage-facets.json."""
import copy
import json
import socket
import threading
import time
import uuid

import jsonschema
import pytest
from openlineage.client import event_v2
from openlineage.client.generated import (
    data_quality_assertions_dataset as dqa,
    data_quality_metrics_input_dataset as dqm,
    datasource_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
)

from conftest import base_config
from opsutil import TOP, Webhook

FACETS = json.loads((TOP / "docs/lineage-facets.json").read_text())
CUSTOM = {"denverd_run": "RunFacet", "denverd_snapshot": "SnapshotDatasetFacet",
          "denverd_convert": "ConvertDatasetFacet"}
CSV = b"id,name\r\n1,a\r\n2,b\r\n"


def _std(cls, d, **nested):
    """Facet class CLS from D, strictly; NESTED builds the inner objects."""
    d = dict(d)
    producer, schema = d.pop("_producer"), d.pop("_schemaURL")
    assert schema == cls._get_schema(), (schema, cls)
    for k, build in nested.items():
        if k in d:
            d[k] = build(d[k])
    return cls(producer=producer, **d)


STANDARD = {
    "schema": lambda d: _std(schema_dataset.SchemaDatasetFacet, d, fields=lambda fs: [
        schema_dataset.SchemaDatasetFacetFields(**f) for f in fs]),
    "dataSource": lambda d: _std(datasource_dataset.DatasourceDatasetFacet, d),
    "dataQualityMetrics": lambda d: _std(dqm.DataQualityMetricsInputDatasetFacet, d,
                                         columnMetrics=lambda cm: {
                                             k: dqm.ColumnMetrics(**v) for k, v in cm.items()}),
    "dataQualityAssertions": lambda d: _std(dqa.DataQualityAssertionsDatasetFacet, d,
                                            assertions=lambda a: [dqa.Assertion(**x) for x in a]),
    "outputStatistics": lambda d: _std(
        output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet, d),
    "parent": lambda d: _std(parent_run.ParentRunFacet, d,
                             run=lambda r: parent_run.Run(**r),
                             job=lambda j: parent_run.Job(**j)),
    "errorMessage": lambda d: _std(error_message_run.ErrorMessageRunFacet, d),
    "jobType": lambda d: _std(job_type_job.JobTypeJobFacet, d),
}


def _facets(facets):
    out = {}
    for name, f in (facets or {}).items():
        if name in CUSTOM:
            schema = {"$ref": "#/$defs/" + CUSTOM[name], "$defs": FACETS["$defs"]}
            jsonschema.validate(f, schema)
            assert f["_schemaURL"].endswith("lineage-facets.json#/$defs/" + CUSTOM[name])
            continue
        assert name in STANDARD, f"unexpected facet {name}"
        out[name] = STANDARD[name](f)
    return out


def validate(ev):
    """Rebuild EV as openlineage-python's RunEvent (raises when it is not one)."""
    ev = copy.deepcopy(ev)
    run, job = ev.pop("run"), ev.pop("job")
    inputs = [event_v2.InputDataset(namespace=i["namespace"], name=i["name"],
                                    facets=_facets(i.get("facets")),
                                    inputFacets=_facets(i.get("inputFacets")))
              for i in ev.pop("inputs")]
    outputs = [event_v2.OutputDataset(namespace=o["namespace"], name=o["name"],
                                      facets=_facets(o.get("facets")),
                                      outputFacets=_facets(o.get("outputFacets")))
               for o in ev.pop("outputs")]
    assert uuid.UUID(run["runId"]).version == 8
    out = event_v2.RunEvent(
        eventType=event_v2.RunState[ev.pop("eventType")], eventTime=ev.pop("eventTime"),
        producer=ev.pop("producer"),
        run=event_v2.Run(runId=run.pop("runId"), facets=_facets(run.pop("facets"))),
        job=event_v2.Job(namespace=job.pop("namespace"), name=job.pop("name"),
                         facets=_facets(job.pop("facets"))),
        inputs=inputs, outputs=outputs)
    assert ev.pop("schemaURL") == out.schemaURL == event_v2.RunEvent._get_schema()
    assert not ev and not run and not job, (ev, run, job)
    return out


class Stalled:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.conns = []
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def hook():
    h = Webhook().start()
    yield h
    h.stop()


def lineage(url, tmp, more=""):
    return (f"lineage:\n  url: {url}\n  file: {tmp}/lineage.ndjson\n"
            f"  retries: 1\n  retry_delay: 100ms\n{more}")


def events_of(evs):
    return [(e["job"]["name"], e["eventType"]) for e in evs]


def file_events(tmp):
    return [json.loads(line) for line in (tmp / "lineage.ndjson").read_text().splitlines()]


def test_run_emits_start_and_complete_per_task(daemon, tmp, hook):
    hook.files["/demo.csv"] = (200, CSV)
    datasets = (f"demo:\n  url: {hook.url}/demo.csv\n  schedule: \"15 6 * * *\"\n"
                f"  convert: false\n  schema:\n    columns:\n      - {{name: id, type: int}}\n"
                f"      - {{name: name, type: string}}\n"
                f"  checks:\n    ids:\n      type: nulls\n      columns: [id]\n")
    daemon.start(base_config(tmp, datasets=datasets,
                             extra=lineage(hook.url + "/api/v1/lineage", tmp)))
    r = daemon.ctl("trigger", "demo", "--wait", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()
    posts = hook.wait_posts(4)
    assert events_of(posts) == [("demo.fetch", "START"), ("demo.fetch", "COMPLETE"),
                                ("demo.check", "START"), ("demo.check", "COMPLETE")]
    assert all(p == "/api/v1/lineage" for p in hook.paths)
    for ev in posts:
        validate(ev)
    fetch_start, fetch_done, _, check_done = posts
    assert fetch_start["run"]["runId"] == fetch_done["run"]["runId"]
    assert fetch_done["run"]["runId"] != check_done["run"]["runId"]
    assert (fetch_done["run"]["facets"]["parent"]["run"]["runId"]
            == check_done["run"]["facets"]["parent"]["run"]["runId"])
    snap = fetch_done["outputs"][0]["facets"]["denverd_snapshot"]
    assert snap["bytes"] == len(CSV) and len(snap["hash"]) == 32
    assert fetch_done["inputs"][0]["name"] == "/demo.csv"
    inf = check_done["inputs"][0]["inputFacets"]
    assert inf["dataQualityMetrics"]["rowCount"] == 2
    assert inf["dataQualityMetrics"]["columnMetrics"]["id"]["nullCount"] == 0
    assert inf["dataQualityAssertions"]["assertions"][0]["name"] == "ids"
    assert inf["dataQualityAssertions"]["assertions"][0]["success"] is True
    # The file has the same events, in the same order.
    assert file_events(tmp) == posts


def test_failing_fetch_emits_fail(daemon, tmp, hook):
    datasets = "demo:\n  url: http://127.0.0.1:9/demo.csv\n  schedule: \"15 6 * * *\"\n  retries: 0\n"
    daemon.start(base_config(tmp, datasets=datasets, extra=lineage(hook.url + "/l", tmp)))
    daemon.ctl("trigger", "demo", "--wait", check=False, timeout=60)
    posts = hook.wait_posts(2)
    assert events_of(posts) == [("demo.fetch", "START"), ("demo.fetch", "FAIL")]
    for ev in posts:
        validate(ev)
    assert posts[1]["run"]["facets"]["errorMessage"]["message"]
    assert file_events(tmp) == posts


def test_cancelled_run_emits_abort(daemon, tmp, hook):
    slow = Stalled()
    try:
        datasets = f"demo:\n  url: {slow.url}/demo.csv\n  schedule: \"15 6 * * *\"\n"
        daemon.start(base_config(tmp, datasets=datasets, extra=lineage(hook.url + "/l", tmp)))
        r = daemon.call("trigger", dataset="demo")
        assert r["ok"], r
        hook.wait_posts(1)
        daemon.ctl("cancel", r["result"]["run_id"])
        posts = hook.wait_posts(2)
        time.sleep(0.5)
        assert events_of(hook.posts)[:2] == [("demo.fetch", "START"), ("demo.fetch", "ABORT")]
        for ev in hook.posts:
            validate(ev)
        assert posts[0]["run"]["runId"] == posts[1]["run"]["runId"]
    finally:
        slow.close()


def test_stalled_receiver_delays_neither_runs_nor_status(daemon, tmp, hook):
    stalled = Stalled()
    try:
        hook.files["/demo.csv"] = (200, CSV)
        datasets = (f"demo:\n  url: {hook.url}/demo.csv\n  schedule: \"15 6 * * *\"\n"
                    f"  convert: false\n")
        daemon.start(base_config(tmp, datasets=datasets,
                                 extra=lineage(stalled.url + "/api/v1/lineage", tmp,
                                               "  queue: 5\n  timeout: 10m\n")))
        t0 = time.monotonic()
        for _ in range(3):
            r = daemon.ctl("trigger", "demo", "--force", "--wait", check=False, timeout=60)
            assert r.returncode == 0, r.stdout + r.stderr + daemon.log()
        assert time.monotonic() - t0 < 15
        assert len(file_events(tmp)) == 12       # the file does not wait for HTTP
        times = []
        for _ in range(200):
            t = time.perf_counter()
            assert daemon.call("status")["ok"]
            times.append(time.perf_counter() - t)
        times.sort()
        p99 = times[197] * 1000
        print(f"status p99 with a stalled lineage receiver: {p99:.2f} ms "
              f"(median {times[100] * 1000:.2f} ms)")
        assert p99 < 50, p99
        assert len(stalled.conns) == 1           # one POST in flight, the rest wait
    finally:
        stalled.close()
