"""The convert's spec file: what the daemon tells jobs/convert.py to do.

daemon/engine/tasks/task_convert.c writes it (write_spec, with the paths
and the storage object of engine/tasks/jobspec.c; one JSON object: the
dataset, exec date, input, columns with their types, aliases, formats and
null tokens, the key, the event-time column, the datastore and the
manifest's path, the storage; convert.py's docstring says what each
means), ``load_spec`` reads and validates it, and ``spark_pattern`` maps
the strptime-style timestamp formats it carries to Spark's.  A bad spec
is an ``InputError`` (convert exits 2 with its message).
"""

import datetime as dt
import json
import re

SPEC_VERSION = 1
ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "windows-1252": "windows-1252"}
TYPES = ("string", "int", "float", "timestamp", "date", "bool")


class InputError(Exception):
    """A bad spec or input file: reported on stderr, exit status 2."""


def load_spec(path):
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read spec {path}: {e}") from e
    need = ("version", "dataset", "exec_date", "timezone", "input", "encoding", "key",
            "event_time", "columns", "datastore", "manifest")
    missing = [k for k in need if k not in spec]
    if missing:
        raise InputError(f"spec {path}: missing {', '.join(missing)}")
    if spec["version"] != SPEC_VERSION:
        raise InputError(f"spec {path}: version {spec['version']!r}, this job reads {SPEC_VERSION}")
    if not re.fullmatch(r"[a-z0-9_]+", str(spec["dataset"])):
        raise InputError(f"spec {path}: bad dataset name {spec['dataset']!r}")
    try:
        dt.date.fromisoformat(spec["exec_date"])
    except (TypeError, ValueError) as e:
        raise InputError(f"spec {path}: bad exec_date {spec['exec_date']!r}") from e
    if spec["encoding"] not in ENCODINGS:
        raise InputError(f"spec {path}: encoding {spec['encoding']!r} not one of {', '.join(ENCODINGS)}")
    names = set()
    for c in spec["columns"]:
        if c.get("type") not in TYPES:
            raise InputError(f"spec {path}: column {c.get('name')!r}: type {c.get('type')!r} "
                             f"not one of {', '.join(TYPES)}")
        if not re.fullmatch(r"[a-z0-9_]+", str(c.get("name"))) or c["name"] in names:
            raise InputError(f"spec {path}: bad or repeated column name {c.get('name')!r}")
        if c["name"] in ("first_seen", "last_seen", "removed_on", "removal", "source_file", "year",
                         "month"):
            raise InputError(f"spec {path}: column name {c['name']!r} is reserved for the datastore")
        names.add(c["name"])
        c.setdefault("aliases", [])
        c.setdefault("formats", [])
        c.setdefault("nulls", [])
        c.setdefault("required", True)
    if not spec["key"] or any(k not in names for k in spec["key"]):
        raise InputError(f"spec {path}: key {spec['key']!r} must name columns")
    by_name = {c["name"]: c for c in spec["columns"]}
    if spec["event_time"] not in by_name or by_name[spec["event_time"]]["type"] not in ("timestamp", "date"):
        raise InputError(f"spec {path}: event_time {spec['event_time']!r} must name a timestamp or date column")
    spec.setdefault("timestamp_formats", [])
    w = spec.setdefault("window_seconds", None)
    if w is not None and (not isinstance(w, int) or isinstance(w, bool) or w < 0):
        raise InputError(f"spec {path}: window_seconds {w!r} must be null or a whole number >= 0")
    return spec


_STRPTIME = {"Y": "yyyy", "y": "yy", "m": "M", "d": "d", "H": "H", "I": "h", "M": "mm",
             "S": "ss", "p": "a", "f": "SSSSSSSSS", "b": "MMM", "B": "MMMM", "j": "DDD", "%": "'%'",
             "z": "XXX"}


def spark_pattern(fmt):
    """strptime-style format -> Spark datetime pattern.  %m %d %H %I map to
    one-letter fields, which Spark parses with one or two digits; %f to
    nine fraction letters, which accept 1-9 digits; %z to XXX (Z or
    +HH:MM, the form an ArcGIS source writes: "2018-11-11T15:44:00-07:00"),
    which Spark applies, so the value is the instant written; in the
    session time zone it reads as the daemon's checks read it, the
    wall-clock time, when the source's date_zone is the configured
    timezone; letters in the literal text are quoted."""
    out, lit, i = [], [], 0

    def flush():
        if lit:
            s = "".join(lit).replace("'", "''")
            out.append(f"'{s}'" if re.search(r"[A-Za-z']", s) else s)
            lit.clear()
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in _STRPTIME:
                raise InputError(f"timestamp format {fmt!r}: unsupported directive at {fmt[i:i + 2]!r}")
            flush()
            out.append(_STRPTIME[fmt[i + 1]])
            i += 2
        else:
            lit.append(ch)
            i += 1
    flush()
    return "".join(out)
