"""The analysts' notebook asks a real denverd which Spark to use
(notebooks/spark_endpoint.py through the built denverctl): a daemon that
offers no ready Connect endpoint, or none at all, means local Spark, and
the reason says which.  (A daemon in Spark Connect mode is the connectd
tests' part; the notebook's side of it is tests/spark/test_notebook.py.)"""

import json
import sys

from conftest import DENVERCTL, ROOT, base_config

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
