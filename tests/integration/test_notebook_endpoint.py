"""The analysts' notebook asks a real denverd which Spark to use
(notebooks/spark_endpoint.py through the built denverctl): a daemon that
offers no ready Connect endpoint, or none at all, means local Spark, and
the reason says which; a daemon in external mode whose endpoint is up
means that endpoint.  (The daemon's Connect modes themselves are
test_spark_connect.py's; the notebook run over Connect is
tests/spark/test_notebook.py's.)"""

import json
import socket
import subprocess
import sys

import pytest

from conftest import DENVERCTL, DENVERD, ROOT, base_config, wait_for

sys.path.insert(0, str(ROOT / "notebooks"))
import spark_endpoint  # noqa: E402


def test_a_daemon_without_a_ready_connect_endpoint_means_local_spark(daemon, tmp):
    daemon.start(base_config(tmp))
    env = {"PATH": "/usr/bin:/bin", "DENVERCTL": str(DENVERCTL), "DENVERD_SOCKET": str(daemon.socket)}
    status = json.loads(daemon.ctl("status", json_out=True).stdout)
    assert status["ok"] is True
    url, why = spark_endpoint.ask_daemon(env)
    assert (url, why) == spark_endpoint.status_endpoint(status)
    spark = status["result"].get("spark")
    if spark is None:        # a daemon from before Spark Connect
        assert "no Spark endpoint" in why
    elif spark.get("state") != "ready":      # submit mode, or a server not up
        assert url is None
    c = spark_endpoint.choose(env)
    if url is None:
        assert (c.mode, c.url, c.why) == ("local", "local[*]", why)
    daemon.stop()
    c = spark_endpoint.choose(env)
    assert c.mode == "local" and f"no denverd answers at {daemon.socket}" in c.why


def test_a_daemons_ready_external_endpoint_is_the_notebooks_spark(daemon, tmp):
    """External mode: the daemon's health check is a TCP connect, so a plain
    listener stands in for the Connect server (no JVM); the notebook takes
    the URL while it is up and local Spark once it is gone."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        url = "sc://127.0.0.1:%d" % srv.getsockname()[1]
        cfg = base_config(tmp, extra="spark:\n  mode: external\n  connect:\n"
                                     "    url: \"%s\"\n    check_interval: 300ms\n" % url)
        daemon.write_config(cfg)
        check = subprocess.run([str(DENVERD), "--check", "-c", str(daemon.config)], capture_output=True, text=True)
        if check.returncode != 0 and "unknown key 'mode'" in check.stderr:
            pytest.skip("this denverd has no spark.mode (the Connect modes are the connectd branch's)")
        assert check.returncode == 0, check.stderr
        daemon.start()
        env = {"PATH": "/usr/bin:/bin", "DENVERCTL": str(DENVERCTL), "DENVERD_SOCKET": str(daemon.socket)}
        c = wait_for("the notebook to take the daemon's endpoint",
                     lambda: (lambda c: c if c.mode == "connect" else None)(spark_endpoint.choose(env)),
                     daemon=daemon)
        assert c.url == url and "external Connect endpoint as ready" in c.why
    # the listener is gone: the daemon notices (unreachable), or the notebook's own TCP check does
    c = spark_endpoint.choose(env)
    assert c.mode == "local" and ("not ready" in c.why or "does not accept connections" in c.why)
    daemon.stop()
