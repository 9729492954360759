"""Split a CSV file at record boundaries, so Spark parses it in parallel.

Spark parses a file with line breaks inside quoted fields (``multiLine``)
in ONE task: it cannot start reading in the middle of a file without
knowing whether a line break there ends a record.  This side can: in an
RFC 4180 file (``"`` opens and closes a quoted field, ``""`` inside one is
a quote) a line feed ends a record exactly when the number of ``"`` bytes
before it is even.  ``split_csv`` copies the input into `parts` files of
about equal size, each cut after such a line feed, and writes the header
record at the top of every part, so Spark (still ``multiLine``, header on)
reads N files as N tasks and sees the same records.

Only bytes are looked at: ``"`` (0x22) and line feed (0x0a) never occur
inside a multi-byte character of UTF-8 or Windows-1252, the encodings the
convert reads.  A file whose quote count is odd is not RFC 4180 (a stray
quote in an unquoted field shifts the parity); its parts are discarded
and it is read whole, as before, so the parser's own reading decides.  The caller
also compares the rows read with the check's count and re-reads the file
whole when they differ (convert.py).

I/O is through a pyarrow.fs file system (the datastore's), so the input
and the parts may be on an object store as well as on local disk.  The
parts go to a scratch directory the caller owns and deletes; nothing here
needs Spark.
"""

from datastore import fs_path

CHUNK = 16 << 20            # bytes read and written at a time
HEADER_MAX = 1 << 20        # a longer header record: the file is not split


def _record_end(buf, start, parity):
    """The offset just past the first line feed in `buf` at or after
    `start` with an even quote count before it, given the parity of the
    quote count before `start`; None if `buf` has none from there.
    Returns (offset or None, parity at the end of `buf` when None)."""
    pos = start
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return None, (parity + buf.count(b'"', pos)) & 1
        parity = (parity + buf.count(b'"', pos, nl)) & 1
        if not parity:
            return nl + 1, 0
        pos = nl + 1


def split_csv(fs, path, size, parts, out_dir):
    """Copy CSV file `path` (`size` bytes) on pyarrow.fs `fs` into about
    `parts` files ``out_dir/part-NNNNN.csv``, each cut at a record boundary
    and each starting with the header record.  Returns the number of parts
    written, or 0 when the file is not to be read split (an odd quote
    count, a header longer than HEADER_MAX, or no record boundary past the
    first cut); `out_dir` then holds nothing the caller needs.  One pass
    over the input."""
    if parts < 2:
        return 0
    target = -(-size // parts)
    fs.create_dir(fs_path(out_dir), recursive=True)
    written = 0
    with fs.open_input_stream(fs_path(path)) as src:
        buf = src.read(CHUNK)
        header_end, _ = _record_end(buf, 0, 0)
        if header_end is None or header_end > HEADER_MAX:
            return 0
        header = buf[:header_end]
        out, parity, cut_from = None, 0, target
        offset = 0                      # file offset of buf[0]
        while buf:
            pos = 0
            while pos < len(buf):
                if out is None:
                    out = fs.open_output_stream(fs_path(f"{out_dir}/part-{written:05d}.csv"))
                    if written:
                        out.write(header)
                    written += 1
                # the next cut: the first record end at or after file offset cut_from
                start = max(pos, cut_from - offset)
                if start >= len(buf):
                    parity = (parity + buf.count(b'"', pos)) & 1
                    out.write(buf[pos:])
                    break
                parity = (parity + buf.count(b'"', pos, start)) & 1
                end, end_parity = _record_end(buf, start, parity)
                if end is None:
                    parity = end_parity
                    out.write(buf[pos:])
                    cut_from = offset + len(buf)    # keep looking in the next chunk
                    break
                out.write(buf[pos:end])
                out.close()
                out, parity = None, 0
                pos = end
                cut_from = offset + end + target
            offset += len(buf)
            buf = src.read(CHUNK)
        if out is not None:
            out.close()
    # an odd quote count: not RFC 4180, the cuts may be inside records
    return written if written > 1 and parity == 0 else 0
