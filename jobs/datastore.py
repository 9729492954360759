"""The Parquet datastore's layout and its crash-safe month swap.

Layout (CONTRACTS.md section 3)::

    <datastore>/year=Y/month=M/part-*.parquet     the data, one directory per month
    <dirname(datastore)>/.txn/<dataset>/          transactions of that dataset:
        staging/<txn>/year=Y/month=M/             new months, written by Spark
        staging/input.<id>/part-*.csv             a big input cut for the parse (split.py)
        journal/<txn>.json                        the commit record
        trash/<txn>/year=Y/month=M/               old months, until the commit ends

    <datastore>/_denverd/commits/NNNNNNNN.json    provenance: one record per commit

The transaction directory sits next to the dataset, not inside it, so the
dataset directory holds nothing but ``year=*/month=*`` and ``_denverd/``
(any reader can glob ``year=*/month=*``; Spark, pyarrow and DuckDB skip
names starting with ``_``), and it is on the same file system (or in the
same bucket), so moving a month is a rename (a copy on an object store,
below).

Provenance (``_denverd/commits/``): every commit leaves one JSON file named
by its sequence number (1, 2, ... zero-padded to 8 digits, so names sort in
commit order): the convert run id, exec date, snapshot name, hash and size,
rows written and the months rewritten.  The record is part of the journal,
and the roll-forward writes it after the months are swapped and before the
journal is deleted (temp file + rename; skipped when it exists), so a
crash at any point after the commit point ends with exactly one record of
that commit, and a crash before it with none.  Records are never changed
or deleted: the highest sequence number names the state, and a reader
that remembers it can tell later how many commits came after.  A file per
commit rather than one appended file because neither pyarrow.fs nor an
object store (nor Hadoop's FileSystem) has an atomic append.

Fingerprint (``fingerprint``): a content digest of the data files as they
are now, independent of mtimes and of the order of directory listings;
the algorithm is in jobs/README.md and daemon/api/fingerprint.c computes
the same (tests/spark/test_report.py holds the two together).

Commit protocol (``commit_months``): Spark writes the new months under
staging (a crash there leaves the datastore untouched and the staging
directory is deleted on the next start).  Then the journal naming every
month of the transaction is written atomically (temp file + rename): that is
the commit point.  Then, month by month, the live directory is renamed into
trash and the staged one renamed into its place (a month that ends up with
no rows is only moved to trash).  Then the journal, trash and staging are
deleted.  ``recover`` runs before any read or write of the datastore and
rolls every journal it finds forward, idempotently, so a crash at any point
after the commit point ends in the new state and a crash before it in the
old state.  Old data is never deleted before its replacement is in place:
the datastore holds rows the city no longer publishes, so a lost month could
not be fetched again.

What a reader can see (locally; on an object store, below): each month
directory is always complete (it is renamed whole), but the months are
swapped one after the other, so a row that moved between two months may
be seen in both or in neither until the swap ends.  Between the two
renames of one month (microseconds on a local file system) or after a
crash inside the swap and before the next ``recover``, a listing may miss
that month.  The daemon never runs a report
while a convert of the same dataset runs, and both jobs call ``recover``
first.  Two converts of one dataset must not run at once (the daemon runs
one task per run and one run per dataset at a time); nothing here locks.

All file operations go through ``pyarrow.fs`` on the job's (the driver's or
the Connect client's) side, never through Spark's JVM, which a Spark
Connect client does not have (session.py).  The local file system is the
default; any ``pyarrow.fs.FileSystem`` may be passed (storage.py builds an
S3FileSystem for an ``s3a://`` datastore).  On the local file system every
step the protocol relies on is durable before the next one: the journal
and the commit record are written to a temp file and fsynced before they
are renamed into place, and every rename (those two and each of the swap)
fsyncs the directories it touched, so a power cut cannot undo a swap whose
journal is already gone.

On an object store (S3; ``Store.object_store``) there is no rename, no
fsync and no directory: a "directory" is the set of objects under a key
prefix (pyarrow may leave empty ``prefix/`` marker objects behind, and
SeaweedFS keeps its filer's directories: neither counts here, a month
exists when an object is under it).  What S3 does give: a PUT is atomic
(the object appears whole or not at all) and durable when it returns,
and a listing after a write sees it (strongly consistent on AWS since
December 2020, and on SeaweedFS).  So there the protocol becomes:

- the journal and the commit record are single PUTs (no temp file: an
  object is never visible half-written); the journal's PUT is the commit
  point, as the rename is locally;
- "rename a month" is: copy every object (server-side CopyObject) to the
  new prefix, then delete the sources.  Each month of the journal goes
  through two steps, each closed by a marker object under
  ``.txn/<dataset>/progress/<txn>/`` once it is complete: ``trashed``
  (the live month copied into trash, then its objects deleted) and
  ``live`` (the staged month copied into the live prefix).  The staged
  copy stays until the end, so every step can be redone from the start:
  the roll-forward skips the steps whose marker exists and redoes the
  others (copies overwrite identical copies; deletes of deleted objects
  do nothing).  Before ``trashed`` is written, the live prefix holds only
  old objects (the new ones are copied after it), so redoing the move
  never mixes the two; old objects are deleted only once their copy in
  trash and the new month in staging are complete.

A concurrent reader of an S3 datastore may therefore see, for a month
being swapped, all its old files, a subset of them, none, a subset of the
new ones, then all of them (never old and new together), for as long as
the month's objects take to copy and delete (jobs/README.md has a figure);
a crash leaves that until the next ``recover``.  Nothing is lost either way.
"""

import hashlib
import json
import os
import posixpath
from urllib.parse import urlparse

import pyarrow.fs as pafs

JOURNAL_VERSION = 1
COMMIT_VERSION = 1
PROVENANCE_DIR = "_denverd/commits"
FOOTER_MAX = 64 << 20   # a bigger "footer" is not one: the file is hashed whole


def fs_path(location):
    """The pyarrow.fs path of a location as Spark names it: a plain or
    ``file:`` path as is, ``s3a://bucket/key`` (any scheme with a host) as
    ``bucket/key``."""
    u = urlparse(location)
    if u.scheme in ("", "file"):
        return u.path if u.scheme else location
    return f"{u.netloc}{u.path}"


class Store:
    """Paths and file operations for one dataset's datastore.  `root` is
    the dataset directory from the spec (``<state_dir>/datastore/<dataset>``)
    as Spark reads and writes it; `filesystem` the pyarrow.fs file system
    it lives on (default: the local one).  Every path a method takes or
    returns is in Spark's form; `fs_path` maps it to pyarrow's.  Nothing
    here needs a SparkSession."""

    def __init__(self, root, filesystem=None):
        self.fs = filesystem if filesystem is not None else pafs.LocalFileSystem()
        self._local = isinstance(self.fs, pafs.LocalFileSystem)
        # no rename, no directories: the month swap copies then deletes
        self.object_store = self.fs.type_name == "s3"
        root = root.rstrip("/")
        self.root = root
        self.name = posixpath.basename(root)
        self.txn_root = f"{posixpath.dirname(root)}/.txn/{self.name}"

    # -- small wrappers over pyarrow.fs.FileSystem ----------------------------
    def _info(self, p):
        return self.fs.get_file_info(fs_path(p))

    def exists(self, p):
        """Does file or directory `p` exist?  On an object store a
        directory exists when an object is under it (markers do not count)."""
        t = self._info(p).type
        if self.object_store and t == pafs.FileType.Directory:
            return bool(self.files(p))
        return t != pafs.FileType.NotFound

    def files(self, p):
        """Every file under directory `p` (recursively), sorted; [] when
        there is none."""
        sel = pafs.FileSelector(fs_path(p), recursive=True, allow_not_found=True)
        base = fs_path(p).rstrip("/")
        return sorted(f"{p}{i.path[len(base):]}" for i in self.fs.get_file_info(sel)
                      if i.type == pafs.FileType.File)

    def is_file(self, p):
        return self._info(p).type == pafs.FileType.File

    def size(self, p):
        """The size in bytes of file `p` (FileNotFoundError when absent)."""
        info = self._info(p)
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(f"{p}: not a file")
        return info.size

    def mkdirs(self, p):
        if not self.object_store:       # no directories there (a marker object is not needed)
            self.fs.create_dir(fs_path(p), recursive=True)

    def delete(self, p):
        """Delete file or directory tree `p`; nothing when it is absent."""
        info = self._info(p)
        if info.type == pafs.FileType.Directory:
            if self.object_store:
                for f in self.files(p):
                    self._remove(f)
            try:
                self.fs.delete_dir(fs_path(p))      # on an object store: the markers left
            except FileNotFoundError:
                pass
        elif info.type != pafs.FileType.NotFound:
            self.fs.delete_file(fs_path(p))

    def rename(self, src, dst):
        """Rename, creating dst's parent; dst must not exist (POSIX rename
        would replace an empty directory, Hadoop's would move src *into*
        an existing one: neither is wanted).  Durable on return on the
        local file system (both parents fsynced)."""
        if self.exists(dst):
            raise OSError(f"rename {src} -> {dst}: the target exists")
        if self.object_store:       # not atomic: copy every object, then delete the sources
            self._copy_tree(src, dst)
            self.delete(src)
            return
        parent = posixpath.dirname(dst)
        self.mkdirs(parent)
        try:
            self.fs.move(fs_path(src), fs_path(dst))
        except OSError as e:
            raise OSError(f"rename {src} -> {dst} failed: {e}") from e
        self._sync_dir(parent)
        self._sync_dir(posixpath.dirname(src))

    def _sync_dir(self, p):
        if self._local:
            fd = os.open(fs_path(p), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def list_names(self, p):
        """The names in directory `p`, sorted; [] when it does not exist.
        On an object store: the names with an object at or under them."""
        if self.object_store:
            return sorted({f[len(p) + 1:].split("/", 1)[0] for f in self.files(p)})
        info = self._info(p)
        if info.type != pafs.FileType.Directory:
            return []
        return sorted(i.base_name for i in self.fs.get_file_info(pafs.FileSelector(fs_path(p))))

    def write_atomic(self, p, text):
        """Write `text` to `p` whole or not at all: a temp file next to it,
        made durable, then renamed over `p`.  On an object store one PUT,
        which is atomic and durable when it returns."""
        if self.object_store:
            with self.fs.open_output_stream(fs_path(p)) as out:
                out.write(text.encode("utf-8"))
            return
        tmp = p + ".tmp"
        self.mkdirs(posixpath.dirname(p))
        data = text.encode("utf-8")
        if self._local:
            fd = os.open(fs_path(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            with self.fs.open_output_stream(fs_path(tmp)) as out:
                out.write(data)
        if self.exists(p):
            self.delete(p)
        self.rename(tmp, p)

    def read_text(self, p):
        with self.fs.open_input_stream(fs_path(p)) as f:
            return f.read().decode("utf-8")

    def open_input(self, p):
        """A readable binary stream of file `p` (the caller closes it)."""
        return self.fs.open_input_stream(fs_path(p))

    # -- object store: copy and delete, one object per call (the crash tests
    # -- fail the Nth of them, tests/spark/crashjob.py) ----------------------
    def _copy(self, src, dst):
        """Server-side copy of one object (CopyObject: up to 5 GB)."""
        self.fs.copy_file(fs_path(src), fs_path(dst))

    def _remove(self, p):
        self.fs.delete_file(fs_path(p))

    def _copy_tree(self, src, dst):
        """Copy every object under `src` to the same name under `dst`
        (overwriting: a redone copy puts the same bytes again)."""
        for f in self.files(src):
            self._copy(f, dst + f[len(src):])

    def _step(self, txn, month, step):
        """The marker object closing `step` of `month` in `txn`."""
        return f"{self.txn_root}/progress/{txn}/{month.replace('/', '.')}.{step}"

    # -- layout ---------------------------------------------------------------
    def staging(self, txn):
        return f"{self.txn_root}/staging/{txn}"

    def journal(self, txn):
        return f"{self.txn_root}/journal/{txn}.json"

    def trash(self, txn):
        return f"{self.txn_root}/trash/{txn}"

    def months(self):
        """Live month directories, as 'year=Y/month=M' strings."""
        out = []
        for y in self.list_names(self.root):
            if y.startswith("year="):
                out += [f"{y}/{m}" for m in self.list_names(f"{self.root}/{y}") if m.startswith("month=")]
        return out

    def month_path(self, month):
        return f"{self.root}/{month}"

    def commits_dir(self):
        return f"{self.root}/{PROVENANCE_DIR}"

    def commit_path(self, seq):
        return f"{self.commits_dir()}/{seq:08d}.json"

    def last_seq(self):
        """The sequence number of the newest commit record (0: none yet)."""
        seqs = [int(n[:-5]) for n in self.list_names(self.commits_dir()) if is_commit_name(n)]
        return max(seqs, default=0)

    def commits(self):
        """Every commit record, oldest first."""
        return [json.loads(self.read_text(f"{self.commits_dir()}/{n}"))
                for n in self.list_names(self.commits_dir()) if is_commit_name(n)]

    # -- the commit protocol --------------------------------------------------
    def commit_months(self, txn, months, staged, provenance=None):
        """Swap `months` ('year=Y/month=M') into the datastore from staging
        `txn`.  `staged` is the subset that has new data; the others are
        emptied.  `provenance` (a dict: run_id, exec_date, snapshot, ...)
        becomes this commit's record under _denverd/commits, with its
        sequence number, txn and months added.  Returns after the journal,
        trash and staging are gone."""
        record = {"version": JOURNAL_VERSION, "txn": txn,
                  "months": [{"month": m, "new": m in staged} for m in sorted(months)]}
        if provenance is not None:
            record["commit"] = {"version": COMMIT_VERSION, "seq": self.last_seq() + 1, "txn": txn,
                                **provenance, "months": sorted(months, key=month_order)}
        self.write_atomic(self.journal(txn), json.dumps(record, indent=1))
        self._roll_forward(record)

    def _roll_forward(self, record):
        txn = record["txn"]
        if self.object_store:
            self._swap_objects(record)
        else:
            self._swap_renames(record)
        commit = record.get("commit")
        if commit is not None and not self.exists(self.commit_path(commit["seq"])):
            self.write_atomic(self.commit_path(commit["seq"]), json.dumps(commit, sort_keys=True) + "\n")
        self.delete(self.journal(txn))
        self.delete(self.trash(txn))
        self.delete(self.staging(txn))
        self.delete(f"{self.txn_root}/progress/{txn}")

    def _swap_renames(self, record):
        """The month swap on a file system: two renames per month."""
        txn = record["txn"]
        for item in record["months"]:
            m = item["month"]
            live, new, old = self.month_path(m), f"{self.staging(txn)}/{m}", f"{self.trash(txn)}/{m}"
            if item["new"]:
                if self.exists(new):
                    if self.exists(live):
                        self.rename(live, old)
                    self.rename(new, live)
            elif self.exists(live) and not self.exists(old):
                self.rename(live, old)
        self._drop_empty_years()

    def _swap_objects(self, record):
        """The month swap on an object store (module docstring): per
        month, step ``trashed`` (live copied to trash, then deleted) and
        step ``live`` (staged copied to live), each skipped when its marker
        exists and otherwise redone whole."""
        txn = record["txn"]
        for item in record["months"]:
            m = item["month"]
            live, new, old = self.month_path(m), f"{self.staging(txn)}/{m}", f"{self.trash(txn)}/{m}"
            if not self.exists(self._step(txn, m, "trashed")):
                self._copy_tree(live, old)
                self.delete(live)
                self.write_atomic(self._step(txn, m, "trashed"), "")
            if item["new"] and not self.exists(self._step(txn, m, "live")):
                self._copy_tree(new, live)
                self.write_atomic(self._step(txn, m, "live"), "")

    def _drop_empty_years(self):
        for y in self.list_names(self.root):
            if y.startswith("year=") and not self.list_names(f"{self.root}/{y}"):
                self.delete(f"{self.root}/{y}")

    def recover(self):
        """Finish what a crashed job left: roll committed transactions
        forward, delete uncommitted staging and leftover trash.  Returns the
        transaction ids rolled forward (for the job's log)."""
        done = []
        for name in self.list_names(f"{self.txn_root}/journal"):
            path = f"{self.txn_root}/journal/{name}"
            if name.endswith(".json.tmp"):
                self.delete(path)       # crashed before the commit point
                continue
            if not name.endswith(".json"):
                continue
            record = json.loads(self.read_text(path))
            if record.get("version") != JOURNAL_VERSION:
                raise ValueError(f"{path}: unknown journal version {record.get('version')!r}")
            self._roll_forward(record)
            done.append(record["txn"])
        for kind in ("staging", "trash", "progress"):
            for name in self.list_names(f"{self.txn_root}/{kind}"):
                self.delete(f"{self.txn_root}/{kind}/{name}")
        return done


def is_commit_name(name):
    """Is `name` a commit record's file name (8 digits + .json)?"""
    return len(name) == 13 and name.endswith(".json") and name[:8].isdigit()


def month_order(m):
    """Sort key of 'year=Y/month=M': by year, then month, as numbers."""
    y, mo = m.split("/")
    return int(y.split("=")[1]), int(mo.split("=")[1])


# ---------------------------------------------------------------------------
# The fingerprint (jobs/README.md, "The fingerprint"; daemon/api/fingerprint.c)
def data_files(root, filesystem=None):
    """The data files of the dataset directory `root` (a local path, or a
    Store path on `filesystem`), as sorted relative paths
    'year=Y/month=M/NAME': regular files in year=*/month=* directories
    whose names start with neither '.' nor '_' (what Spark reads; Hadoop's
    .crc files and _SUCCESS are not data)."""
    if filesystem is not None:
        root = root.rstrip("/")
        rel = [f[len(root) + 1:].split("/") for f in Store(root, filesystem).files(root)]
        return sorted(("/".join(r) for r in rel if len(r) == 3 and r[0].startswith("year=")
                       and r[1].startswith("month=") and r[2][0] not in "._"),
                      key=lambda p: p.encode("utf-8"))
    out = []
    for y in _names(root):
        if not y.startswith("year=") or not os.path.isdir(os.path.join(root, y)):
            continue
        for m in _names(os.path.join(root, y)):
            mdir = os.path.join(root, y, m)
            if not m.startswith("month=") or not os.path.isdir(mdir):
                continue
            out += [f"{y}/{m}/{f}" for f in _names(mdir)
                    if f[0] not in "._" and os.path.isfile(os.path.join(mdir, f))]
    return sorted(out, key=lambda p: p.encode("utf-8"))


def pending_commits(root, filesystem=None):
    """The transactions of the dataset directory `root` (a local path)
    whose journal is still there: being swapped in by a running convert,
    or left by a crashed one for the next `Store.recover`.  Their ids,
    sorted; reads only (a reader that must not write, like the notebook,
    warns instead of recovering).  `filesystem` as for data_files."""
    root = root.rstrip("/")
    if filesystem is not None:
        store = Store(root, filesystem)
        return sorted(n[:-5] for n in store.list_names(f"{store.txn_root}/journal") if n.endswith(".json"))
    journal = os.path.join(os.path.dirname(root), ".txn", os.path.basename(root), "journal")
    return sorted(n[:-5] for n in _names(journal) if n.endswith(".json"))


def _names(d):
    try:
        return os.listdir(d)
    except FileNotFoundError:
        return []


def footer_digest(path, filesystem=None):
    """(size, sha256 hex) of the Parquet footer of `path` (its last 8 +
    footer-length bytes), or of the whole file when it does not end like
    a Parquet file.  `path`: local, or a Store path on `filesystem`."""
    if filesystem is None:
        f = open(path, "rb")
        size = os.fstat(f.fileno()).st_size
    else:
        f = filesystem.open_input_file(fs_path(path))     # random access: ranged GETs on S3
        size = f.size()
    with f:
        start = 0
        if size >= 12:
            f.seek(size - 8)
            tail = f.read(8)
            n = int.from_bytes(tail[:4], "little")
            if tail[4:] == b"PAR1" and n + 12 <= size and n <= FOOTER_MAX:
                start = size - 8 - n
        f.seek(start)
        h = hashlib.sha256()
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
        return size, h.hexdigest()


def fingerprint(root, filesystem=None):
    """The content fingerprint of the dataset directory `root` (a local
    path, or a Store path on `filesystem`): {"fingerprint":
    "sha256:<hex>", "files": N, "bytes": total}.
    The digest is SHA-256 over one line per data file, in byte order of
    the relative paths: "<relative path>\\t<size>\\t<footer sha256 hex>\\n"."""
    h = hashlib.sha256()
    total = 0
    files = data_files(root, filesystem)
    for rel in files:
        size, digest = footer_digest(f"{root.rstrip('/')}/{rel}" if filesystem else os.path.join(root, rel),
                                     filesystem)
        total += size
        h.update(f"{rel}\t{size}\t{digest}\n".encode())
    return {"fingerprint": "sha256:" + h.hexdigest(), "files": len(files), "bytes": total}
