"""The file system a job's datastore and input live on: the one place that
builds it, for convert.py and the report.

The spec's ``storage`` (s3a contract, section 2) is ``null`` or absent for
the local file system, or for an S3-compatible object store::

    {"type": "s3", "endpoint": "http://127.0.0.1:8333", "region": "us-east-1", "path_style": true}

The credentials are never in the spec: they come from this process's
environment only (contract section 3), ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY`` and, when there is one, ``AWS_SESSION_TOKEN``,
passed explicitly to ``pyarrow.fs.S3FileSystem`` (so no shared config
file or instance profile is consulted behind the spec's back).  Errors
name what is wrong (a missing variable by its name, a refused request by
the endpoint and bucket) and never carry a secret's value: every message
leaving this module is scrubbed of the secret key and session token.

Paths: Spark names an object ``s3a://bucket/key``; pyarrow ``bucket/key``
(datastore.fs_path maps one to the other).
"""

import os
from urllib.parse import urlparse

import pyarrow.fs as pafs

ENV_KEY, ENV_SECRET, ENV_TOKEN = "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"


class StorageError(Exception):
    """A bad ``storage`` object, missing credentials, or an object store
    that refuses us; the message is safe to print."""


def secrets(env=None):
    """The secret values of the environment (to scrub from messages)."""
    env = os.environ if env is None else env
    return [v for v in (env.get(ENV_SECRET), env.get(ENV_TOKEN)) if v]


def scrub(text, env=None):
    """`text` with every secret value of the environment replaced by ***."""
    for s in secrets(env):
        text = text.replace(s, "***")
    return text


def describe(storage):
    """A one-line, secret-free name of `storage` for log lines."""
    if not storage or storage.get("type", "local") == "local":
        return "local file system"
    return f"s3 {storage.get('endpoint')} ({storage.get('region')})"


def filesystem(storage, env=None):
    """The ``pyarrow.fs.FileSystem`` of the spec's `storage` (None or
    absent: None, meaning the local one).  `env`: the environment to read
    the credentials from (default os.environ).  Raises StorageError."""
    if storage is None:
        return None
    if not isinstance(storage, dict):
        raise StorageError(f"storage must be null or an object, not {type(storage).__name__}")
    kind = storage.get("type", "local")
    if kind == "local":
        return None
    if kind != "s3":
        raise StorageError(f"storage type {kind!r} is not one of local, s3")
    endpoint = storage.get("endpoint")
    u = urlparse(endpoint) if isinstance(endpoint, str) else None
    if u is None or u.scheme not in ("http", "https") or not u.netloc or u.path not in ("", "/"):
        raise StorageError(f"storage endpoint {endpoint!r} must be http(s)://host[:port]")
    region = storage.get("region")
    if not isinstance(region, str) or not region:
        raise StorageError(f"storage region {region!r} must be a non-empty string")
    path_style = storage.get("path_style", True)
    if not isinstance(path_style, bool):
        raise StorageError(f"storage path_style {path_style!r} must be true or false")
    env = os.environ if env is None else env
    for var in (ENV_KEY, ENV_SECRET):
        if not env.get(var):
            raise StorageError(f"storage {endpoint}: the environment variable {var} is not set "
                               "(the daemon passes the S3 credentials to the job in its environment)")
    try:
        return pafs.S3FileSystem(access_key=env[ENV_KEY], secret_key=env[ENV_SECRET],
                                 session_token=env.get(ENV_TOKEN) or None, region=region,
                                 scheme=u.scheme, endpoint_override=u.netloc,
                                 force_virtual_addressing=not path_style,
                                 connect_timeout=10, request_timeout=60)
    except Exception as e:      # noqa: BLE001 - pyarrow's errors vary; ours names the endpoint
        raise StorageError(f"storage {endpoint}: {scrub(str(e), env)}") from None


def require_url(fs, location, what):
    """On S3 (`fs` not None) `location` must be an ``s3a://bucket/key``
    URL; StorageError naming `what` otherwise."""
    if fs is not None and not (isinstance(location, str) and location.startswith("s3a://")
                               and len(location) > len("s3a://") and location[6] != "/"):
        raise StorageError(f"storage is s3 but {what} {location!r} is not an s3a://bucket/key URL")


def check_access(fs, location, storage):
    """Fail early and in words when the object store refuses `location`
    (a wrong secret, a missing bucket, an unreachable endpoint): a listing
    and a bucket lookup.  Nothing for the local file system."""
    if fs is None:
        return
    from datastore import fs_path
    bucket = fs_path(location).split("/", 1)[0]
    try:
        fs.get_file_info(pafs.FileSelector(fs_path(location), allow_not_found=True))
        missing = fs.get_file_info(bucket).type == pafs.FileType.NotFound
    except OSError as e:
        msg = scrub(str(e))
        hint = ""
        if any(w in msg for w in ("ACCESS_DENIED", "SIGNATURE_DOES_NOT_MATCH", "INVALID_ACCESS_KEY")):
            hint = f" (access denied: check {ENV_KEY} / {ENV_SECRET})"
        elif "NO_SUCH_BUCKET" in msg:
            hint = " (no such bucket)"
        raise StorageError(f"{describe(storage)}: cannot list {location}{hint}: {msg}") from None
    if missing:
        raise StorageError(f"{describe(storage)}: no such bucket {bucket!r} (for {location})")
