"""Security review (issue 7, part 6) against the built daemon: names from
the configuration can never make a path outside state_dir, and a
configuration file others could change is warned about.  (The socket's 0660
mode and the refusal of `reload` to another uid are tested in
test_lifecycle.py.)"""
import os
import signal
import subprocess

import pytest

from conftest import DENVERD, base_config

BAD_NAMES = [
    ("dataset name", "  ../escape:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"),
    ("dataset name", "  a/b:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"),
    ("dataset name", "  ..:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: ../../../etc/cron.d/x\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: sub/dir.csv\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: \"..\"\n"),
    ("file_name", "  d:\n    url: https://x.org/a.csv\n    schedule: \"@daily\"\n"
                  "    file_name: \"{exec_date}/../../x\"\n"),
]


@pytest.mark.parametrize("what,datasets", BAD_NAMES)
def test_names_that_would_leave_state_dir_are_refused(tmp, what, datasets):
    cfg = tmp / "bad.yaml"
    cfg.write_text(f"state_dir: {tmp}/state\ndatasets:\n{datasets}")
    r = subprocess.run([DENVERD, "--check", "-c", cfg], capture_output=True, text=True)
    assert r.returncode == 78, (r.stdout, r.stderr)
    assert f"{cfg}:" in r.stderr


def test_state_dir_must_be_absolute(tmp):
    cfg = tmp / "bad.yaml"
    cfg.write_text("state_dir: var/lib/denverd\n")
    r = subprocess.run([DENVERD, "--check", "-c", cfg], capture_output=True, text=True)
    assert r.returncode == 78 and "state_dir" in r.stderr, r.stderr


def test_configuration_writable_by_others_is_warned_about(daemon, tmp):
    config = base_config(tmp)
    daemon.write_config(config)
    os.chmod(daemon.config, 0o666)
    daemon.start()
    warning = f"configuration {daemon.config}: {daemon.config} is writable by everyone"
    assert warning in daemon.log()

    def reload_and_log():
        mark = len(daemon.notify.messages)
        n = len(daemon.log())
        daemon.send(signal.SIGHUP)
        daemon.notify.wait_for("READY=1", after=mark)
        return daemon.log()[n:]

    os.chmod(daemon.config, 0o644)
    assert "is writable" not in reload_and_log()
    os.chmod(daemon.config, 0o664)
    assert f"{daemon.config} is writable by group" in reload_and_log()
    # A secret in a world-readable file.
    daemon.write_config(config + "alerts:\n  webhook: https://hooks.example.org/T0KEN\n")
    os.chmod(daemon.config, 0o644)
    log = reload_and_log()
    assert "holds a secret (alerts.webhook) and is readable by everyone" in log
    assert "T0KEN" not in daemon.log()
    os.chmod(daemon.config, 0o640)
    assert "configuration" not in reload_and_log().replace("configuration reloaded", "")
