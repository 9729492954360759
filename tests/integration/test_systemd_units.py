"""The installed systemd units: `systemd-analyze verify` is clean, the
sandbox's exposure is at most 2.0, the directives the daemon relies on are
there, and the sysusers.d / tmpfiles.d snippets create what they promise.

Works where PID 1 is not systemd (containers, CI): every tool runs offline
against a `meson install` DESTDIR used as the root (--root=).
"""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from opsutil import TOP, add_host_os, build_dir, under

MAX_EXPOSURE = 2.0
pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed")


def unit_dir(destdir):
    found = sorted(destdir.glob("**/systemd/system/denverd.service"))
    assert len(found) == 1, f"denverd.service installed {len(found)} times: {found}"
    return found[0].parent


def parse_unit(path):
    """A unit file as {section: {key: [values...]}} (keys may repeat)."""
    units = {}
    section = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = units.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key, []).append(value)
    return units


def verify(root, *units):
    return subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}",
                           *units], capture_output=True, text=True)


def exposure(root, unit):
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                        f"--root={root}", unit], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, f"no exposure level in:\n{r.stdout}\n{r.stderr}"
    return float(m.group(1)), r.stdout


@pytest.fixture(scope="module")
def root(installed):
    destdir, _ = installed
    add_host_os(destdir)
    return destdir


def test_verify_is_clean(root):
    r = verify(root, "denverd.service", "denverd.socket", "denverd-metrics.service",
               "denverd-metrics.timer")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr


def test_verify_would_report_a_broken_unit(root, tmp_path):
    # The check above is only worth something if verify complains at all.
    broken = tmp_path / "root"
    shutil.copytree(root, broken, symlinks=True)
    svc = unit_dir(broken) / "denverd.service"
    svc.write_text(svc.read_text().replace("KillMode=mixed", "KillMode=mixed\nKilMode=x"))
    r = verify(broken, "denverd.service")
    assert "Unknown key 'KilMode'" in r.stderr


def test_security_exposure_at_most_2(root):
    level, report = exposure(root, "denverd.service")
    assert level <= MAX_EXPOSURE, report
    # The only deliberate gaps: network access and the JVM-friendly /proc.
    assert "✗ PrivateNetwork=" in report
    assert "✓ NoNewPrivileges=" in report
    assert "✓ ProtectSystem=" in report


def test_metrics_export_unit(root):
    level, report = exposure(root, "denverd-metrics.service")
    assert level <= MAX_EXPOSURE, report
    svc = parse_unit(unit_dir(root) / "denverd-metrics.service")["Service"]
    cmd = svc["ExecStart"][0].split()
    assert cmd[0].endswith("/denverctl") and os.access(under(root, cmd[0]), os.X_OK)
    assert cmd[1:3] == ["metrics", "--output"]
    # The file it writes is in the one directory it may write to.
    assert os.path.dirname(cmd[3]) in svc["ReadWritePaths"]


def test_service_directives(installed):
    destdir, paths = installed
    unit = parse_unit(unit_dir(destdir) / "denverd.service")
    svc = unit["Service"]
    expect = {
        "Type": "notify", "Restart": "on-failure", "KillMode": "mixed",
        "StateDirectory": "denverd", "RuntimeDirectory": "denverd",
        "RuntimeDirectoryPreserve": "yes", "ExecReload": "/bin/kill -HUP $MAINPID",
        "User": "denverd", "RestartPreventExitStatus": "78",
    }
    for key, value in expect.items():
        assert svc.get(key) == [value], (key, svc.get(key))
    for key in ("WatchdogSec", "TimeoutStopSec"):
        assert key in svc
    # The JVM's JIT needs W+X memory: this directive would kill every Spark job.
    assert "MemoryDenyWriteExecute" not in svc
    sbin, etc = paths["sbindir"], paths["sysconfdir"]
    assert svc["ExecStart"] == [f"{sbin}/denverd -c {etc}/denverd/denverd.yaml"]
    assert os.access(under(destdir, f"{sbin}/denverd"), os.X_OK)


def test_socket_unit(installed):
    destdir, _ = installed
    sock = parse_unit(unit_dir(destdir) / "denverd.socket")["Socket"]
    # denverctl's default socket is where systemd listens.
    header = (TOP / "include/denverd/protocol.h").read_text()
    default = re.search(r'#define PROTOCOL_DEFAULT_SOCKET "([^"]+)"', header).group(1)
    assert sock["ListenStream"] == [default]
    assert sock["SocketMode"] == ["0660"]
    assert sock["SocketUser"] == ["denverd"] and sock["SocketGroup"] == ["denverd"]


def test_sysusers_and_tmpfiles_create_user_and_dirs(installed, tmp_path):
    destdir, _ = installed
    sysusers = sorted(destdir.glob("**/sysusers.d/denverd.conf"))
    tmpfiles = sorted(destdir.glob("**/tmpfiles.d/denverd.conf"))
    assert len(sysusers) == 1 and len(tmpfiles) == 1
    target = tmp_path / "target"
    (target / "etc").mkdir(parents=True)
    subprocess.run(["systemd-sysusers", f"--root={target}", str(sysusers[0])],
                   check=True, capture_output=True)
    passwd = [ln.split(":") for ln in (target / "etc/passwd").read_text().splitlines()]
    user = [p for p in passwd if p[0] == "denverd"]
    assert len(user) == 1 and user[0][5] == "/var/lib/denverd", passwd
    uid = int(user[0][2])
    assert 0 < uid < 1000, "a system user"
    subprocess.run(["systemd-tmpfiles", f"--root={target}", "--create", str(tmpfiles[0])],
                   check=True, capture_output=True)
    for path, mode in (("run/denverd", 0o755), ("var/lib/denverd", 0o750)):
        st = (target / path).stat()
        assert (st.st_mode & 0o7777, st.st_uid) == (mode, uid), path


def test_socket_activation_answers_before_the_daemon_runs(tmp_path):
    """What denverd.socket does, with systemd-socket-activate standing in for
    PID 1: the socket exists first, the first client's connection starts
    denverd, which adopts the socket (sd_listen_fds) and answers."""
    if shutil.which("systemd-socket-activate") is None:
        pytest.skip("systemd-socket-activate is not installed")
    build = build_dir()
    sock = tmp_path / "activated.sock"
    cfg = tmp_path / "denverd.yaml"
    # The configured path differs from the listening one: the daemon must
    # use the socket it is given, not bind its own.
    cfg.write_text(f"state_dir: {tmp_path}/state\nsocket: {tmp_path}/configured.sock\n"
                   "datasets:\n  demo: {url: \"http://127.0.0.1:9/d.csv\", "
                   "schedule: \"15 6 * * *\"}\n")
    os.chmod(cfg, 0o644)
    log = open(tmp_path / "stderr", "w")
    act = subprocess.Popen(["systemd-socket-activate", "-l", str(sock),
                            "-E", "DENVERD_LOG=stderr",
                            str(build / "daemon/denverd"), "-c", str(cfg)],
                           stdout=log, stderr=log)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        assert sock.exists(), (tmp_path / "stderr").read_text()
        r = subprocess.run([str(build / "ctl/denverctl"), "-s", str(sock), "--json",
                            "status"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr + (tmp_path / "stderr").read_text()
        status = json.loads(r.stdout)["result"]
        assert status["pid"] == act.pid          # it exec'd into denverd
        assert not (tmp_path / "configured.sock").exists()
        assert "using the socket passed by systemd" in (tmp_path / "stderr").read_text()
    finally:
        act.terminate()
        code = act.wait(30)
        log.close()
    assert code == 0, (tmp_path / "stderr").read_text()
    # denverd did not remove what it did not create.
    assert sock.exists()
