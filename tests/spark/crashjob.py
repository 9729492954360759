"""Simulated crashes of convert.py's commit, for the crash tests in both
modes: `install` patches datastore.Store in this process (the classic
tests' in-process convert), and run as a script it patches and then runs
convert.py's main, as the daemon would start it in Connect mode::

    SPARK_REMOTE=sc://... python crashjob.py rename:6 --spec convert.json
    SPARK_REMOTE=sc://... python crashjob.py commit --spec convert.json
    SPARK_REMOTE=sc://... python crashjob.py op:5 --spec convert.json   # S3

The crash is an OSError("simulated crash ...") out of the patched call:
the job dies with a traceback, exit status 1."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(os.path.dirname(os.path.dirname(HERE)), "jobs")]

import datastore  # noqa: E402


def install(crash):
    """Patch datastore.Store for `crash`: "rename:N" fails the Nth rename
    of the commit (rename 1 publishes the journal, the commit point),
    "commit" fails commit_months before it writes the journal, "op:N"
    fails the Nth object-store write (a PUT by write_atomic, a copy or a
    delete of one object; PUT 1 is the journal, the commit point).
    Returns a function that undoes the patch."""
    kind, _, n = crash.partition(":")
    if kind == "op":
        return install_ops(int(n))
    name = {"rename": "rename", "commit": "commit_months"}[kind]
    real = getattr(datastore.Store, name)
    calls = []

    def crashing_rename(self, src, dst):
        calls.append(dst)
        if len(calls) == int(n):
            raise OSError("simulated crash")
        return real(self, src, dst)

    def crashing_commit(self, txn, months, staged, provenance=None):
        raise OSError("simulated crash before the journal")
    setattr(datastore.Store, name, crashing_rename if kind == "rename" else crashing_commit)
    return lambda: setattr(datastore.Store, name, real)


OPS = ("write_atomic", "_copy", "_remove")     # the object store's mutating calls


def install_ops(n):
    """Fail the `n`th call of any of OPS (before it acts); the calls made
    are counted in the returned undo function's `calls` list (n = 0:
    count only, fail none)."""
    real = {name: getattr(datastore.Store, name) for name in OPS}
    calls = []

    def wrap(name):
        def op(self, *args):
            calls.append((name, args[0]))
            if len(calls) == n:
                raise OSError(f"simulated crash at {name} {args[0]}")
            return real[name](self, *args)
        return op
    for name in OPS:
        setattr(datastore.Store, name, wrap(name))

    def undo():
        for name, f in real.items():
            setattr(datastore.Store, name, f)
    undo.calls = calls
    return undo


if __name__ == "__main__":
    import convert
    install(sys.argv[1])
    sys.exit(convert.main(sys.argv[2:]))
