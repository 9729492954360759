"""The tree keeps the shape docs/ARCHITECTURE.md gives it.

- scripts/check-layers passes on the tree, and fails on a copy of the tree
  with an upward include, a forbidden system header, a private header used
  outside its folder, an upward call inside engine/, and includes that would
  hide their layer (angle brackets, ../, a macro) planted (so each rule can
  fail at all);
- the "Files" section of docs/ARCHITECTURE.md lists every C file of the
  daemon, common/ and ctl/, and nothing that is gone;
- README's "What is where" names every layer folder;
- no C file is over the size the issue set (csv.c aside, on purpose).
"""
import re
import shutil
import subprocess
import sys

from opsutil import TOP

C_ROOTS = ("daemon", "common", "ctl")
MAX_LINES = 750                      # "at most ~700"
WHOLE_ON_PURPOSE = {"daemon/quality/csv.c"}


def c_files():
    return sorted(str(p.relative_to(TOP)) for root in C_ROOTS
                  for p in (TOP / root).rglob("*.[ch]"))


def layers():
    return sorted(p.name for p in (TOP / "daemon").iterdir() if p.is_dir())


def check_layers(top):
    return subprocess.run([sys.executable, str(top / "scripts" / "check-layers")],
                          capture_output=True, text=True)


def test_check_layers_passes_on_the_tree():
    r = check_layers(TOP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def test_check_layers_fails_on_a_planted_upward_include(tmp_path):
    for part in ("scripts", "daemon", "common", "ctl", "tests/unit"):
        shutil.copytree(TOP / part, tmp_path / part)
    victim = tmp_path / "daemon" / "store" / "store.h"
    victim.write_text(victim.read_text() + '\n#include "engine/engine.h"\n')
    base = tmp_path / "daemon" / "base" / "buf.c"
    base.write_text('#include <sqlite3.h>\n' + base.read_text())
    api = tmp_path / "daemon" / "api" / "cmd_sched.c"
    api.write_text(api.read_text() + '#include "engine/engine_int.h"\n')
    tx = tmp_path / "daemon" / "engine" / "tx.c"
    tx.write_text(tx.read_text() + "static void planted(struct denverd *d) { sched_start(d); }\n")
    clock = tmp_path / "daemon" / "base" / "clock.c"
    clock.write_text('#include <engine/engine.h>\n#include "base/../engine/engine_int.h"\n'
                     '#define H "notify/alerts.h"\n#include H\n' + clock.read_text())
    r = check_layers(tmp_path)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert "daemon/base/clock.c:1: #include <engine/engine.h>: engine/ is the project's: " \
        "include it with quotes" in lines
    assert any(ln.startswith("daemon/base/clock.c:2: ") and "without ../" in ln for ln in lines)
    assert any(ln.startswith("daemon/base/clock.c:4: ") and "through a macro" in ln for ln in lines)
    assert any(ln.startswith("daemon/store/store.h:") and "store/ may not include engine/" in ln
               for ln in lines)
    assert "daemon/base/buf.c:1: #include <sqlite3.h>: <sqlite3.h> is for store only" in lines
    assert any(ln.startswith("daemon/api/cmd_sched.c:") and "engine/engine_int.h is private" in ln
               for ln in lines)
    assert any(ln.startswith("daemon/engine/tx.c:") and "calls sched_start() of lifecycle.c" in ln
               for ln in lines)
    assert lines[-1] == "check-layers: 7 break(s) of the layer rules (scripts/layers)"


def test_architecture_lists_every_file():
    doc = (TOP / "docs" / "ARCHITECTURE.md").read_text()
    files = doc.split("\n## Files\n", 1)[1]
    listed = set(re.findall(r"`((?:daemon|common|ctl)/[^`]+\.[ch])`", files))
    have = set(c_files())
    assert sorted(have - listed) == [], "add these to docs/ARCHITECTURE.md's Files"
    assert sorted(listed - have) == [], "these are gone: drop them from docs/ARCHITECTURE.md"


def test_readme_names_every_layer():
    readme = (TOP / "README.md").read_text()
    where = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    missing = [d for d in layers() if f"`daemon/{d}/`" not in where]
    assert missing == []


def test_no_c_file_over_the_limit():
    over = {}
    for f in c_files():
        n = sum(1 for _ in open(TOP / f, encoding="utf-8", errors="replace"))
        if f.endswith(".c") and n > MAX_LINES and f not in WHOLE_ON_PURPOSE:
            over[f] = n
    assert over == {}
