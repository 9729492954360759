"""denverctl's command line against the built denverctl and, where it takes
one, the built denverd: global options after the command (`status --json`,
`runs --dataset X --json -s SOCK`), the messages a bad command line gets
(exit 2, before any connection), and the usage and help text, which the
option tables generate (ctl/options.c) and the bash completion must know.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import DENVERCTL, base_config
from opsutil import TOP, build_dir, complete

FAILING = ('demo:\n  url: http://127.0.0.1:9/demo.csv\n  schedule: "15 6 * * *"\n'
           '  retries: 0\n')


def ctl(*args, timeout=60):
    """denverctl ARGS with no $DENVERD_SOCKET: the socket is only what the
    arguments say (else the default path, where no daemon listens)."""
    env = {k: v for k, v in os.environ.items() if k != "DENVERD_SOCKET"}
    return subprocess.run([str(DENVERCTL), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def commands():
    """The command names `denverctl --help` lists."""
    out = ctl("--help").stdout
    block = out[out.index("Commands:\n"):out.index("\n\n", out.index("Commands:\n"))]
    return [line.split()[0] for line in block.splitlines()[1:]]


def usage_of(cmd):
    """CMD's arguments from the first line of `denverctl CMD --help`."""
    r = ctl(cmd, "--help")
    assert r.returncode == 0 and r.stderr == "", (cmd, r.stderr)
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"usage: denverctl {cmd}"), first
    return first[len(f"usage: denverctl {cmd}"):].strip()


def own_long_options(cmd):
    """The --names `denverctl CMD --help` lists above the global options."""
    out = ctl(cmd, "--help").stdout
    own = out[:out.index("Global options")]
    return sorted(re.findall(r"^  (?:-\w, )?(--[a-z]+)", own, re.M))


# ---- with a daemon ----

def test_global_options_after_the_command(daemon, tmp):
    daemon.start(base_config(tmp, datasets=FAILING))
    s = daemon.socket

    r = ctl("status", "--json", "-s", s)
    assert r.returncode == 0, r.stderr
    after = json.loads(r.stdout)
    assert after["ok"] is True and after["result"]["pid"] == daemon.proc.pid
    before = json.loads(ctl("-s", s, "--json", "status").stdout)
    assert before["result"]["datasets"] == after["result"]["datasets"]

    r = ctl("status", "-s", s)
    assert r.returncode == 0, r.stderr
    assert re.match(r"denverd \S+, pid \d+, up \d+s\n", r.stdout), r.stdout

    # A run to list: the fetch fails at once (nothing listens on port 9).
    r = ctl("trigger", "demo", "--wait", "--socket", s)
    assert r.returncode == 5, r.stdout + r.stderr
    r = ctl("runs", "--dataset", "demo", "--json", "-s", s)
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)["result"]["runs"]
    assert [(x["target"], x["state"]) for x in runs] == [("demo", "failed")]

    # Global options among the command's options and operand, in any order.
    r = ctl("schedule", "-j", "demo", "--next", "2", f"--socket={s}")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["result"]["datasets"][0]["fires"]) == 2
    r = ctl("runs", "--limit", "1", "-js", s)
    assert r.returncode == 0 and len(json.loads(r.stdout)["result"]["runs"]) == 1, r.stderr


def test_an_unknown_option_is_refused_before_asking_the_daemon(daemon, tmp):
    daemon.start(base_config(tmp, datasets=FAILING))
    s = daemon.socket
    r = ctl("runs", "--bogus", "-s", s)
    assert r.returncode == 2
    assert r.stderr == ("runs: unrecognized option '--bogus'\n"
                        "usage: denverctl runs [--dataset D] [--state S] [--limit N]\n")
    assert r.stdout == ""
    r = ctl("status", "-x", "--json", "-s", s)
    assert (r.returncode, r.stderr) == (2, "status: invalid option -- 'x'\n"
                                           "usage: denverctl status\n")
    r = ctl("-s", s, "--bogus", "status")
    assert r.returncode == 2 and r.stderr.startswith(f"{DENVERCTL}: unrecognized option "
                                                     "'--bogus'\nusage: denverctl [-s SOCKET]")
    # Nothing of it reached the daemon: no run was ever made.
    assert json.loads(ctl("runs", "--json", "-s", s).stdout)["result"]["runs"] == []


# ---- the command line alone (exit 2 comes before connecting) ----

@pytest.mark.parametrize("args, message", [
    (["status", "extra"], "denverctl: status takes no arguments"),
    (["status", "--socket"], "status: option '--socket' requires an argument"),
    (["runs", "x"], "denverctl: runs: unexpected argument 'x'"),
    (["runs", "--limit", "0"], "denverctl: runs: --limit wants a number from 1 to 1000, not '0'"),
    (["runs", "--s", "x"],
     "runs: option '--s' is ambiguous; possibilities: '--state' '--socket'"),
    (["alerts", "--limit", "5x"],
     "denverctl: alerts: --limit wants a number from 1 to 1000, not '5x'"),
    (["show"], "denverctl: show: want exactly one run id"),
    (["show", "1", "2"], "denverctl: show: want exactly one run id"),
    (["retry", "x"], "denverctl: retry: RUN wants a number from 1 to 9223372036854775807, not 'x'"),
    (["trigger"], "denverctl: trigger: missing DATASET"),
    (["trigger", "demo", "--date"], "trigger: option '--date' requires an argument"),
    (["trigger", "demo", "--force=yes"], "trigger: option '--force' doesn't allow an argument"),
    (["backfill", "demo", "--from", "2026-11-01"],
     "denverctl: backfill: --from and --to are required"),
    (["pause", "demo", "x"], "denverctl: pause: unexpected argument 'x'"),
    (["schedule", "--next", "101"],
     "denverctl: schedule: --next wants a number from 1 to 100, not '101'"),
    (["dq", "demo", "--runs", "0"], "denverctl: dq: --runs wants a number from 1 to 1000, not '0'"),
    (["diff", "demo", "--bogus"], "diff: unrecognized option '--bogus'"),
    (["metrics", "-o"], "metrics: option requires an argument -- 'o'"),
])
def test_bad_command_lines_say_why_and_show_the_usage(args, message):
    r = ctl(*args)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    usage = usage_of(args[0])
    assert r.stderr.splitlines() == [message, f"usage: denverctl {args[0]} {usage}".rstrip()]


def test_text_sent_to_the_daemon_must_be_utf8():
    r = subprocess.run([bytes(DENVERCTL), b"promote", b"4", b"--reason", b"\xff"],
                       capture_output=True)
    assert r.returncode == 2
    assert r.stderr.decode() == ("denverctl: promote: --reason must be UTF-8 text\n"
                                 "usage: denverctl promote RUN [--reason TEXT]\n")


def test_unknown_command_and_no_command():
    r = ctl("nosuch")
    assert (r.returncode, r.stderr) == (2, "denverctl: unknown command 'nosuch'\n"
                                           "Try 'denverctl --help'.\n")
    r = ctl("--json")
    assert (r.returncode, r.stderr) == (2, "denverctl: no command given\n"
                                           "Try 'denverctl --help'.\n")


def test_help_and_version_anywhere():
    version = ctl("--version")
    assert version.returncode == 0 and re.fullmatch(r"denverctl \S+\n", version.stdout)
    assert ctl("status", "-V").stdout == version.stdout
    assert ctl("-h").stdout == ctl("--help").stdout
    # After a command, its own help, and nothing else is checked.
    r = ctl("dq", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: denverctl dq DATASET [--runs N]\n")
    assert "--runs N" in r.stdout and "-s, --socket PATH" in r.stdout


def test_the_usage_lines_are_the_ones_users_know():
    # denverctl --help lists each command with the usage its own --help
    # and its error messages show.
    out = ctl("--help").stdout
    names = commands()
    assert names == ["status", "version", "reload", "watch", "metrics", "alerts", "runs",
                     "show", "trigger", "backfill", "retry", "cancel", "pause", "resume",
                     "schedule", "dq", "diff", "promote", "purge", "report", "source"]
    for name in names:
        row = f"  {name:<10} {usage_of(name):<28} "
        assert re.search("^" + re.escape(row) + r"\S", out, re.M), name
    assert usage_of("trigger") == "DATASET [--date D] [--force] [--wait]"
    assert usage_of("backfill") == "DATASET --from D1 --to D2"
    assert usage_of("metrics") == "[-o FILE]"
    assert usage_of("schedule") == "[DATASET] [--next N]"
    assert usage_of("report") == "[--date D]"
    assert usage_of("purge") == "DATASET --before D [--yes]"


@pytest.mark.skipif(not os.path.exists("/usr/share/bash-completion/bash_completion"),
                    reason="bash-completion is not installed")
def test_bash_completion_knows_every_option_of_every_command():
    script = TOP / "shell/denverctl.bash"
    for name in commands():
        assert complete(script, f"denverctl {name} --") == own_long_options(name), name
    assert own_long_options("runs") == ["--dataset", "--limit", "--state"]


@pytest.mark.skipif(not os.path.exists("/usr/share/bash-completion/bash_completion"),
                    reason="bash-completion is not installed")
def test_bash_completion_asks_the_socket_given_after_the_command(daemon, tmp):
    daemon.start(base_config(tmp, datasets=FAILING))
    script, ctl_dir, s = TOP / "shell/denverctl.bash", build_dir() / "ctl", daemon.socket
    assert complete(script, f"denverctl pause -s {s} ", ctl_dir) == ["demo"]
    assert complete(script, f"denverctl trigger --socket {s} d", ctl_dir) == ["demo"]
    assert complete(script, f"denverctl dq --json --socket={s} ", ctl_dir) == ["demo"]
    assert complete(script, f"denverctl pause -s {tmp}/none.sock ", ctl_dir) == []
