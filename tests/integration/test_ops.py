"""Metrics and alerts through the built daemon and denverctl: the metrics
text parsed by prometheus_client's parser, the atomic --output file for
node_exporter, and a freshness SLA alert POSTed to a real webhook server on
loopback, on time."""
import json
import os
import stat
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import base_config
from opsutil import TOP, Webhook, build_dir, complete

NOBODY = 65534


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams, name, **labels):
    for fam in fams.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


@pytest.fixture
def hook():
    h = Webhook().start()
    yield h
    h.stop()


def failing_dataset(name="demo", extra=""):
    # Port 9 (discard) has no listener here: every fetch fails at once.
    return (f"{name}:\n  url: http://127.0.0.1:9/{name}.csv\n  schedule: \"15 6 * * *\"\n"
            f"  retries: 0\n{extra}")


def test_metrics_parse_with_prometheus_client(daemon, tmp):
    daemon.start(base_config(tmp, datasets=failing_dataset(extra="  max_age: 36h\n")))
    # The first rendering of the store's figures runs on a worker thread from
    # start; a scrape before it ends says so and the next one has them.
    deadline = time.monotonic() + 10
    while "being rendered" in (text := daemon.ctl("metrics").stdout):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    fams = families(text)
    for name in ("denverd_build_info", "process_start_time_seconds", "denverd_uptime_seconds",
                 "process_resident_memory_bytes", "denverd_runs", "denverd_fetch_attempts",
                 "denverd_check_results", "denverd_tasks", "denverd_snapshot_rows",
                 "denverd_last_success_timestamp_seconds", "denverd_alert_firing",
                 "denverd_metrics_store_age_seconds"):
        assert name in fams, name
    assert fams["denverd_fetch_attempts"].type == "counter"
    assert fams["denverd_runs"].type == "gauge"
    assert 1e6 < value(fams, "process_resident_memory_bytes") < 64e6
    assert value(fams, "denverd_dataset_max_age_seconds", dataset="demo") == 36 * 3600
    assert value(fams, "denverd_tasks", state="queued") == 0
    assert abs(value(fams, "process_start_time_seconds") - time.time()) < 60
    # --json carries the same text in the reply's result.
    j = json.loads(daemon.ctl("metrics", json_out=True).stdout)
    assert "denverd_build_info" in families(j["result"]["text"])


def test_metrics_follow_the_runs(daemon, tmp):
    daemon.start(base_config(tmp, datasets=failing_dataset()))
    fams = families(daemon.ctl("metrics").stdout)
    assert value(fams, "denverd_runs", target="demo", state="failed") is None

    daemon.ctl("trigger", "demo", "--wait", check=False, timeout=60)
    fams = families(daemon.ctl("metrics").stdout)
    assert value(fams, "denverd_runs_total", target="demo") is None   # a gauge, not a counter
    assert value(fams, "denverd_runs", target="demo", kind="dataset", state="failed") == 1
    assert value(fams, "denverd_fetch_attempts_total", dataset="demo", outcome="failed") == 1
    assert value(fams, "denverd_tasks", state="running") == 0


def test_metrics_output_file_for_node_exporter(daemon, tmp):
    daemon.start(base_config(tmp, extra='socket_mode: "0666"\n'))
    out = tmp / "textfile"
    out.mkdir()
    os.chmod(out, 0o777)
    prom = out / "denverd.prom"
    # As an unprivileged reader, the way denverd-metrics.service runs it.
    r = daemon.ctl("metrics", "--output", prom, user=NOBODY)
    assert r.stdout == ""
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
    assert "denverd_build_info" in families(prom.read_text())
    assert sorted(p.name for p in out.iterdir()) == ["denverd.prom"]   # no temp file left
    r = daemon.ctl("metrics", "--output", tmp / "no" / "such" / "dir.prom", check=False)
    assert r.returncode == 1 and "cannot write" in r.stderr


def test_alerts_webhook_rate_limit_and_recovery(daemon, tmp, hook):
    extra = (f"alerts:\n  webhook: {hook.url}/hooks/S3CRET?token=T0KEN\n"
             f"  min_interval: 1h\n  retries: 2\n")
    daemon.start(base_config(tmp, datasets=failing_dataset(), extra=extra))
    daemon.ctl("trigger", "demo", "--wait", check=False, timeout=60)
    post = hook.wait_posts(1, timeout=8)[0]
    assert (post["dataset"], post["reason"], post["state"]) == ("demo", "run_failed", "firing")
    assert post["run_id"] >= 1 and "failed" in post["message"]
    assert hook.paths[0] == "/hooks/S3CRET?token=T0KEN"

    # The same failure again within min_interval: recorded, not sent.
    daemon.ctl("trigger", "demo", "--force", "--wait", check=False, timeout=60)
    time.sleep(1)
    assert len(hook.posts) == 1
    rows = json.loads(daemon.ctl("alerts", json_out=True).stdout)["result"]
    assert rows["alerts"][0]["suppressed"] == 1
    assert rows["alerts"][0]["delivered"] is not None
    assert rows["firing"] == [{"dataset": "demo", "reason": "run_failed", "notified": True}]
    text = daemon.ctl("alerts").stdout
    assert "run_failed" in text and "firing now: demo run_failed" in text

    # The secret in the URL never reaches the log.
    assert "S3CRET" not in daemon.log() and "T0KEN" not in daemon.log()


def test_alerts_recover_once(daemon, tmp, hook):
    hook.files["/demo.csv"] = (503, b"")
    datasets = (f"demo:\n  url: {hook.url}/demo.csv\n  schedule: \"15 6 * * *\"\n"
                f"  retries: 0\n  convert: false\n")
    extra = f"alerts:\n  webhook: {hook.url}/h\n  min_interval: 1h\n"
    daemon.start(base_config(tmp, datasets=datasets, extra=extra))
    daemon.ctl("trigger", "demo", "--wait", check=False, timeout=60)
    assert hook.wait_posts(1, timeout=8)[0]["state"] == "firing"
    hook.files["/demo.csv"] = (200, b"id,name\r\n1,a\r\n2,b\r\n")
    r = daemon.ctl("trigger", "demo", "--force", "--wait", check=False, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr + daemon.log()
    post = hook.wait_posts(2)[1]
    assert (post["reason"], post["state"]) == ("run_failed", "recovered")
    daemon.ctl("trigger", "demo", "--force", "--wait", check=False, timeout=60)
    time.sleep(1)
    assert len(hook.posts) == 2              # recovered once, not per good run


def test_freshness_sla_fires_on_time(daemon, tmp, hook):
    extra = f"alerts:\n  webhook: {hook.url}/h\n  min_interval: 1h\n"
    daemon.start(base_config(tmp, datasets=failing_dataset(extra="  max_age: 2s\n"),
                             extra=extra))
    t0 = time.monotonic()
    post = hook.wait_posts(1, timeout=10)[0]
    assert time.monotonic() - t0 >= 1.5
    assert (post["reason"], post["state"]) == ("stale", "firing")
    assert "no succeeded or unchanged run since" in post["message"]
    fams = families(daemon.ctl("metrics").stdout)
    assert value(fams, "denverd_alert_firing", dataset="demo", reason="stale") == 1


@pytest.mark.skipif(not os.path.exists("/usr/share/bash-completion/bash_completion"),
                    reason="bash-completion is not installed")
def test_bash_completion_offers_the_daemons_datasets(daemon, tmp):
    datasets = failing_dataset("traffic_accidents") + failing_dataset("service_requests_311")
    daemon.start(base_config(tmp, datasets=datasets))
    script = TOP / "shell/denverctl.bash"
    ctl_dir = build_dir() / "ctl"
    s = daemon.socket
    assert complete(script, f"denverctl -s {s} trigger t", ctl_dir) == ["traffic_accidents"]
    assert complete(script, f"denverctl -s {s} pause ", ctl_dir) == \
        ["service_requests_311", "traffic_accidents"]
    assert complete(script, f"denverctl -s {s} runs --dataset s", ctl_dir) == \
        ["service_requests_311"]
    # Without a daemon there is nothing to offer, and no error.
    assert complete(script, f"denverctl -s {tmp}/none.sock pause ", ctl_dir) == []
