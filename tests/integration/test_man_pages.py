"""The man pages: each one meson built from man/*.scd renders with
`man --warnings -l` without a single warning, and the pages say what the
code does (every protocol error code, every command, the environment)."""
import os
import re
import subprocess

import pytest

from opsutil import TOP, build_dir

PAGES = sorted(p.name[:-len(".scd")] for p in (TOP / "man").glob("*.scd"))


def built(page):
    path = build_dir() / "man" / page
    assert path.is_file(), f"meson did not build {page} (is scdoc installed?)"
    return path


def render(path, warnings="w"):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    return subprocess.run(["man", f"--warnings={warnings}", "-l", str(path)],
                          capture_output=True, text=True, env=env)


def text(page):
    r = render(built(page))
    assert r.returncode == 0, r.stderr
    return re.sub(".\b", "", r.stdout)    # drop the overstrike of bold and underline


@pytest.mark.parametrize("page", PAGES)
def test_renders_without_warnings(page):
    # --warnings=w turns on every groff warning, a superset of --warnings.
    for level in ("mac", "w"):
        r = render(built(page), level)
        assert r.returncode == 0 and r.stderr == "", f"{page} ({level}):\n{r.stderr}"
        assert len(r.stdout.splitlines()) > 20


def test_warnings_would_be_seen(tmp_path):
    # The check above is worth something only if man reports a broken page.
    bad = tmp_path / "bad.8"
    bad.write_text(".TH BAD 8\n.SH NAME\nbad \\- page\n.XQ unknown macro\n")
    assert "XQ" in render(bad).stderr


def test_denverd_page_documents_every_error_code():
    header = (TOP / "include/denverd/protocol.h").read_text()
    codes = re.findall(r'#define PROTO_\w+\s+"(E[A-Z]+)"', header)
    assert len(codes) >= 10
    page = text("denverd.8")
    protocol = page[page.index("CONTROL PROTOCOL"):]
    for code in codes:
        assert re.search(rf"^\s+{code}$", protocol, re.M), f"{code} is not described"


def commands_in(page, start):
    """Command names of the entries (lines "*name*...") from heading START to
    the next top-level heading of a page's scdoc source."""
    src = (TOP / "man" / f"{page}.scd").read_text()
    begin = src.index(start)
    section = src[begin:src.index("\n# ", begin + 1)]
    entries = re.findall(r"^\*[a-z].*$", section, re.M)
    return {name for line in entries for name in re.findall(r"\*([a-z]+)\*", line)}


def test_both_pages_list_the_same_commands():
    ctl = commands_in("denverctl.1", "\n# COMMANDS")
    daemon = commands_in("denverd.8", "\n## Commands")
    contract = {"status", "reload", "version", "runs", "show", "trigger", "backfill",
                "retry", "cancel", "pause", "resume", "schedule", "watch", "dq",
                "diff", "promote", "purge", "metrics", "alerts"}
    assert contract <= ctl, contract - ctl
    assert ctl == daemon, (ctl ^ daemon)


def test_denverd_page_documents_environment_and_journal_fields():
    page = text("denverd.8")
    for word in ("DENVERD_NOW", "DENVERD_SOCKET", "NOTIFY_SOCKET", "DENVERD_LOG",
                 "DATASET=", "RUN_ID=", "EXEC_DATE=", "TASK=", "SIGHUP", "SIGTERM",
                 "78", "--check-data"):
        assert word in page, word
