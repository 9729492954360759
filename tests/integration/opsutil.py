"""Helpers shared by the operations tests: the build directory, a
`meson install` into a temporary DESTDIR, and the build's install paths.

Imported by the test modules (not a conftest.py, which belongs to the
lifecycle tests); fixtures defined here are used by importing them.
"""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    """The build the test suite runs against ($DENVERD_BUILD, as scripts/test
    sets it, or build/ in the source tree)."""
    return pathlib.Path(os.environ.get("DENVERD_BUILD", TOP / "build")).resolve()


def build_options():
    """{option name: value} of the configured build (meson introspect)."""
    out = subprocess.run(["meson", "introspect", "--buildoptions", str(build_dir())],
                         check=True, capture_output=True, text=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


def install_paths():
    """Absolute install paths of the configured build, keyed like meson's
    directory options (prefix, bindir, sbindir, sysconfdir, datadir, mandir)
    plus the systemd directories this project adds."""
    opts = build_options()
    prefix = opts["prefix"]
    paths = {"prefix": prefix}
    for name in ("bindir", "sbindir", "sysconfdir", "datadir", "mandir"):
        paths[name] = os.path.join(prefix, opts[name])
    out = subprocess.run(["meson", "introspect", "--installed", str(build_dir())],
                         check=True, capture_output=True, text=True).stdout
    paths["installed"] = sorted(json.loads(out).values())
    return paths


def meson_install(destdir):
    """Install the build into DESTDIR (no rebuild: scripts/test just built it)."""
    r = subprocess.run(["meson", "install", "-C", str(build_dir()), "--destdir",
                        str(destdir), "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"meson install failed:\n{r.stdout}\n{r.stderr}"


def under(destdir, path):
    """PATH (absolute) as it lies inside DESTDIR."""
    return pathlib.Path(str(destdir) + str(path))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh `meson install` into a temporary DESTDIR: (destdir, paths)."""
    destdir = tmp_path_factory.mktemp("destdir")
    meson_install(destdir)
    return destdir, install_paths()


def add_host_os(root):
    """Give an installed tree what systemd-analyze --root= needs from the
    operating system around the service: /bin/kill (ExecReload=) and the
    targets the units are ordered against.  They are copied from the host,
    the same files a real system would have."""
    (root / "bin").mkdir(exist_ok=True)
    shutil.copy2(shutil.which("kill", path="/bin:/usr/bin"), root / "bin" / "kill")
    host = pathlib.Path("/lib/systemd/system")
    dest = root / "usr/lib/systemd/system"
    dest.mkdir(parents=True, exist_ok=True)
    for unit in ("sysinit.target", "basic.target", "shutdown.target",
                 "network-online.target", "multi-user.target", "sockets.target",
                 "timers.target"):
        shutil.copy2(host / unit, dest / unit)
