"""Convert specs for the tests, built from the shipped configuration
(etc/denverd.yaml) the way the daemon builds them (CONTRACTS.md section 4),
so the jobs are tested against the schemas the daemon will really send."""

import hashlib
import json
import os

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(TOP, "etc", "denverd.yaml")
# config.c's default when a schema gives no timestamp_formats
DEFAULT_TIMESTAMP_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d"]


def load_schemas(path=CONFIG):
    """dataset name -> {key, event_time, timestamp_formats, columns} with
    every column's defaults filled in as config.c fills them."""
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    out = {}
    for name, ds in cfg["datasets"].items():
        s = ds["schema"]
        out[name] = {
            "key": list(s["key"]), "event_time": s.get("event_time"),
            "timestamp_formats": list(s.get("timestamp_formats") or DEFAULT_TIMESTAMP_FORMATS),
            "columns": [{"name": c["name"], "type": c.get("type", "string"),
                         "aliases": list(c.get("aliases", [])), "formats": list(c.get("formats", [])),
                         "required": bool(c.get("required", True)),
                         "nulls": [str(x) for x in c.get("nulls", [])]} for c in s["columns"]],
        }
    return out


SCHEMAS = load_schemas()


def make_spec(dataset, state_dir, exec_date, input_path, encoding, run_id=1, rows_checked=None,
              line_ending="crlf"):
    """A spec dict for one convert, with the datastore and work paths of
    CONTRACTS.md section 3 under `state_dir`."""
    schema = SCHEMAS[dataset]
    work = os.path.join(state_dir, "work", f"run-{run_id}")
    os.makedirs(work, exist_ok=True)
    return {
        "version": 1, "dataset": dataset, "exec_date": exec_date, "run_id": run_id,
        "timezone": "America/Denver", "input": input_path, "encoding": encoding,
        "line_ending": line_ending, "rows_checked": rows_checked,
        "key": schema["key"], "event_time": schema["event_time"],
        "timestamp_formats": schema["timestamp_formats"],
        "columns": json.loads(json.dumps(schema["columns"])),
        "datastore": os.path.join(state_dir, "datastore", dataset),
        "manifest": os.path.join(work, "manifest.json"),
        # what task_convert.c adds from the store's snapshot row
        "snapshot_id": run_id, "snapshot_hash": snapshot_hash(input_path),
        "snapshot_bytes": os.path.getsize(input_path) if os.path.exists(input_path) else 0,
    }


def snapshot_hash(path):
    """A stand-in for the fetch's xxh3-128 hex of the file (32 hex digits:
    the first half of its SHA-256; the jobs only copy it)."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:32]


def write_spec(spec):
    path = os.path.join(os.path.dirname(spec["manifest"]), "convert.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    return path
