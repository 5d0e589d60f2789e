"""header.json, rank-file and label-table parsing (docs/manifest-format.md §2, §3)."""
from __future__ import annotations

import json
import os
import struct
from array import array
from collections import OrderedDict
from itertools import accumulate, compress
from typing import Dict, List, NamedTuple, Optional, Tuple

from . import _zstd
from ._xxh3 import xxh3_64
from .errors import (BadMagicError, ChecksumError, CorruptBlockError, HeaderMismatchError, ManifestError, UnsafePathError,
                     ManifestMissingError, RankFileError, RankFileVersionError, TruncatedError,
                     UnsupportedFlagsError, UnsupportedVersionError, UsageError)

MAGIC = b"MXTRRANK"
LABELS_FILE = "labels.bin"
MAJOR = 1
_FIXED = struct.Struct("<8sHHIIIQIIQQQ")
_ENTRY = struct.Struct("<QIIQ")


class FileInfo(NamedTuple):
    dataset: int
    path: str
    format: str
    compression: str
    size: int
    mtime_ns: int
    fingerprint: str
    samples: int
    zstd_frames: Tuple[Tuple[int, int], ...]


class DatasetInfo(NamedTuple):
    name: str
    root: str
    format: str
    text_field: Optional[str]


class Header:
    """Parsed header.json. `raw` keeps the decoded JSON object (unknown keys included)."""

    def __init__(self, path: str, data: bytes):
        self.path = path
        self.bytes = data
        self.hash = xxh3_64(data)
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise ManifestError("header.json is not valid JSON: %s" % e, path)
        if not isinstance(obj, dict) or "format_version" not in obj:
            raise ManifestError("header.json lacks format_version", path)
        fv = obj["format_version"]
        if not isinstance(fv, str) or fv.split(".")[0] != str(MAJOR):
            raise UnsupportedVersionError(
                "manifest format version %s is not supported (this reader supports %d.x)" % (fv, MAJOR), path)
        self.raw = obj
        try:
            topo = obj["topology"]
            self.global_batch = int(topo["global_batch"])
            self.data_parallel = int(topo["data_parallel"])
            self.samples_per_rank = int(topo["samples_per_rank"])
            self.steps = int(topo["steps"])
            self.datasets: List[DatasetInfo] = [
                DatasetInfo(d["name"], d["root"], d.get("format", "jsonl"), d.get("text_field")) for d in obj["datasets"]
            ]
            self.files: List[FileInfo] = []
            for f in obj["files"]:
                frames = tuple((int(a), int(b)) for a, b in f.get("zstd_frames", []) or [])
                self.files.append(FileInfo(int(f["dataset"]), f["path"], f["format"], f["compression"], int(f["size"]),
                                           int(f["mtime_ns"]), f["fingerprint"], int(f["samples"]), frames))
            self.components: List[str] = [c["name"] for c in obj["components"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ManifestError("header.json is malformed: %s" % e, path)
        #: the label table's file name, "labels.bin" (format 1.2, §3.3); None when the manifest has none
        self.labels: Optional[str] = None
        lab = obj.get("labels")
        if lab is not None:
            if lab != LABELS_FILE:
                raise ManifestError("header field labels must be %s, found %s"
                                    % (json.dumps(LABELS_FILE), json.dumps(lab)), path)
            self.labels = lab
        for i, f in enumerate(self.files):
            if not 0 <= f.dataset < len(self.datasets):
                raise ManifestError("files[%d].dataset is out of range" % i, path)
            parts = f.path.split("/")
            if not f.path or f.path.startswith("/") or "\0" in f.path or any(p in ("", ".", "..") for p in parts):
                raise UnsafePathError(
                    "files[%d].path %s must be relative to its dataset root without \"..\" components; "
                    "refusing to read outside the root" % (i, json.dumps(f.path)), path)


def read_header(manifest_dir: str) -> Header:
    if not os.path.isdir(manifest_dir):
        if os.path.exists(manifest_dir):
            raise ManifestError("not a manifest directory", manifest_dir, kind="not-a-manifest")
        raise ManifestMissingError("manifest directory does not exist", manifest_dir)
    p = os.path.join(manifest_dir, "header.json")
    try:
        with open(p, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ManifestMissingError("no header.json: not a mixtera manifest", manifest_dir, kind="not-a-manifest")
    return Header(p, data)


def rank_file_name(rank: int) -> str:
    return "rank-%05d.bin" % rank


SPARSE_FLAG = 1  # rank-file flag bit 0: counts carry a sparse bit, sparse entries their skips (format 1.1)
LABEL_FLAG = 2  # rank-file flag bit 1: entries of labelled files are label entries (format 1.2, with bit 0)


def _varints(buf: bytes, pos: int, end: int, n: int):
    """Decodes n LEB128 varints from buf[pos:end]; returns (values, new_pos)."""
    out = []
    append = out.append
    for _ in range(n):
        if pos >= end:
            raise IndexError
        b = buf[pos]
        pos += 1
        if b < 0x80:
            append(b)
            continue
        v = b & 0x7F
        shift = 7
        while True:
            if pos >= end or shift > 63:
                raise IndexError
            b = buf[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        append(v)
    return out, pos


_HIGH = bytes(range(0x80, 0x100))  # deleted by translate, they leave one byte per varint (its last)


def _varints_all(buf: bytes, pos: int, end: int) -> list:
    """Every LEB128 varint of buf[pos:end], which must end with a complete one (IndexError otherwise)."""
    seg = buf[pos:end]
    if not seg or max(seg) < 0x80:
        return list(seg)  # one byte each
    if seg[-1] >= 0x80:
        raise IndexError
    vals, p = _varints(buf, pos, end, len(seg.translate(None, _HIGH)))
    if p != end:
        raise IndexError
    return vals


LABELS_MAGIC = b"MXTRLABL"
_LFIXED = struct.Struct("<8sHHIIIIIQQ")
_LDIR = struct.Struct("<IIQQQ")
#: decoded label frames a LabelTable keeps (least recently used out first), counted in rows
LABEL_CACHE_ROWS = int(os.environ.get("MIXTERA_LABEL_CACHE_ROWS", 1 << 24))


def labels_per_byte(radix: int) -> int:
    """Labels packed to a byte for radix N: the largest p with N^p <= 256 (docs/manifest-format.md §3.3)."""
    p = 1
    while radix ** (p + 1) <= 256:
        p += 1
    return p


_DIGITS: Dict[Tuple[int, int], bytes] = {}


def _digit_table(radix: int, t: int) -> bytes:
    """bytes.translate table giving digit t (base radix) of each byte value."""
    table = _DIGITS.get((radix, t))
    if table is None:
        d = radix ** t
        table = _DIGITS[(radix, t)] = bytes((v // d) % radix for v in range(256))
    return table


def unpack_labels(packed: bytes, radix: int, samples: int) -> bytes:
    """One label per row from `packed` (p labels a byte, base `radix`, first label in the lowest digit)."""
    p = labels_per_byte(radix)
    if p == 1:
        return bytes(packed[:samples])
    out = bytearray(len(packed) * p)
    for t in range(p):
        out[t::p] = packed.translate(_digit_table(radix, t))
    del out[samples:]
    return bytes(out)


class LabelledFile:
    """One file's labels and checkpoints from labels.bin (docs/manifest-format.md §3.3), verified. The rows of a
    label are listed the first time an entry asks for them (at C speed: bytes.translate + itertools.compress)."""

    __slots__ = ("labels", "checkpoints", "g", "_members")

    def __init__(self, labels: bytes, checkpoints: array, g: int):
        self.labels = labels
        self.checkpoints = checkpoints
        self.g = g
        self._members: Dict[int, array] = {}

    def members(self, label: int) -> array:
        """The rows labelled `label`, in row order."""
        rows = self._members.get(label)
        if rows is None:
            n = len(self.labels)
            if not 0 <= label <= 255:
                rows = array("I")
            else:
                mask = bytes(label) + b"\x01" + bytes(255 - label)
                rows = array("I" if n <= 1 << 32 else "Q", compress(range(n), self.labels.translate(mask)))
            self._members[label] = rows
        return rows

    def entry(self, comp: int, fi: int, member: int, count: int):
        """Label entry (component comp, file fi, member, count) as RankFile.entries_full gives it: its rows are
        the member-th ..< (member + count)-th rows labelled comp + 1; its locator is the checkpoint at or before
        its first row, `lead` the records from there to that row. None when the file has too few such rows."""
        rows = self.members(comp + 1)
        end = member + count
        if end > len(rows):
            return None
        row = rows[member]
        k = row // self.g
        skips = None
        if rows[end - 1] - row + 1 != count:
            sel = rows[member:end]
            skips = [b - a - 1 for a, b in zip(sel, sel[1:])]
        return (comp, fi, row, count, self.checkpoints[k], skips, row - k * self.g)


class LabelTable:
    """labels.bin (docs/manifest-format.md §3.3). The fixed header and the directory are verified on open;
    a file's frame (checksum, size, packed labels and checkpoints) the first time an entry needs it."""

    def __init__(self, path: str, header: Header):
        self.path = path
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise ManifestMissingError("header.json names %s, which is missing" % os.path.basename(path), path,
                                       kind="missing-labels")
        self._fd = fd
        try:
            self._open(header)
        except BaseException:
            os.close(fd)
            self._fd = -1
            raise
        self._cache: "OrderedDict[int, LabelledFile]" = OrderedDict()
        self._cached_rows = 0

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._cache = OrderedDict()
        self._cached_rows = 0

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _pread(self, n, off):
        b = os.pread(self._fd, n, off)
        if len(b) != n:
            raise TruncatedError("label table is truncated", self.path, off)
        return b

    def _open(self, header: Header):
        path = self.path
        size = os.fstat(self._fd).st_size
        if size < 48:
            raise TruncatedError("label table is truncated (%d bytes)" % size, path)
        head = self._pread(48, 0)
        magic, major, minor, flags, g, n, radix, reserved, hhash, hsum = _LFIXED.unpack(head)
        if magic != LABELS_MAGIC:
            raise BadMagicError("not a mixtera label table (bad magic)", path, 0)
        if major != MAJOR:
            raise RankFileVersionError(
                "label table format version %d.%d is not supported (this reader supports %d.x)" % (major, minor, MAJOR),
                path, 8)
        if xxh3_64(head[:40]) != hsum:
            raise ChecksumError("label table header checksum mismatch; the file is corrupt", path, 40)
        if flags:
            raise UnsupportedFlagsError("label table has unknown flags 0x%x" % flags, path, 12)
        if reserved:
            raise UnsupportedFlagsError("label table has a reserved field of %d, not 0" % reserved, path, 28)
        if not 1 <= g <= 65536:
            raise CorruptBlockError("label table checkpoint interval %d is not between 1 and 65536" % g, path, 16)
        if not 2 <= radix <= 256:
            raise CorruptBlockError("label table radix %d is not between 2 and 256" % radix, path, 24)
        if hhash != header.hash:
            raise HeaderMismatchError("label table belongs to a different header.json (header checksum differs)", path,
                                      32)
        dbytes = 32 * n
        if 48 + dbytes + 8 > size:
            raise TruncatedError("label table is truncated (a directory of %d files needs %d bytes, found %d)"
                                 % (n, 48 + dbytes + 8, size), path, 48)
        d = self._pread(dbytes + 8, 48)
        if xxh3_64(d[:dbytes]) != int.from_bytes(d[dbytes:], "little"):
            raise ChecksumError("label table directory checksum mismatch; the file is corrupt", path, 48 + dbytes)
        files = {}
        prev = -1
        at = 48 + dbytes + 8
        for i in range(n):
            fi, cs, off, rs, h = _LDIR.unpack_from(d, 32 * i)
            where = 48 + 32 * i
            if fi <= prev:
                raise CorruptBlockError("label table directory is not strictly increasing (file %d after %d)"
                                        % (fi, prev), path, where)
            if fi >= len(header.files):
                raise CorruptBlockError("label table names file %d outside the file table" % fi, path, where)
            f = header.files[fi]
            if f.format != "jsonl":
                raise CorruptBlockError("label table names %s, whose format is %s, not jsonl" % (f.path, f.format),
                                        path, where)
            if off != at or off + cs > size:
                raise CorruptBlockError("label table frames do not tile the file (the frame of file %d is at %d..<%d, "
                                        "expected to start at %d within %d bytes)" % (fi, off, off + cs, at, size),
                                        path, where)
            at = off + cs
            files[fi] = (off, cs, rs, h, f.samples)
            prev = fi
        if at != size:
            raise CorruptBlockError("label table has %d bytes after its last frame" % (size - at), path, at)
        self.g = g
        self.radix = radix
        self.files = files

    def _load(self, fi: int) -> LabelledFile:
        off, cs, rs, h, samples = self.files[fi]
        path = self.path
        g = self.g
        radix = self.radix
        p = labels_per_byte(radix)
        npacked = (samples + p - 1) // p
        ncp = (samples + g - 1) // g
        comp = self._pread(cs, off)
        if xxh3_64(comp) != h:
            raise ChecksumError("label frame of file %d checksum mismatch; the file is corrupt" % fi, path, off)
        if not npacked + ncp <= rs <= npacked + 10 * ncp:
            raise CorruptBlockError("label frame of file %d is malformed (raw size %d cannot hold %d packed labels "
                                    "and %d checkpoints)" % (fi, rs, npacked, ncp), path, off)
        try:
            raw = _zstd.decompress_frame(comp, rs)
        except Exception:
            raise CorruptBlockError("label frame of file %d is malformed (does not decompress)" % fi, path, off)
        if len(raw) != rs:
            raise CorruptBlockError("label frame of file %d is malformed (decompressed size differs)" % fi, path, off)
        packed = raw[:npacked]
        limit = radix ** p
        if limit < 256 and npacked and max(packed) >= limit:
            raise CorruptBlockError("label frame of file %d has a packed byte of %d or more (radix %d)"
                                    % (fi, limit, radix), path, off)
        err = CorruptBlockError("label frame of file %d is malformed (not %d packed bytes and exactly %d checkpoint "
                                "varints)" % (fi, npacked, ncp), path, off)
        try:
            deltas, pos = _varints(raw, npacked, rs, ncp)
        except IndexError:
            raise err
        if pos != rs:
            raise err
        try:
            checkpoints = array("q", accumulate(deltas))
        except OverflowError:
            raise CorruptBlockError("label frame of file %d is malformed (checkpoints run past 2^63 - 1)" % fi, path,
                                    off)
        return LabelledFile(unpack_labels(packed, radix, samples), checkpoints, g)

    def file(self, fi: int) -> LabelledFile:
        """The verified labels and checkpoints of labelled file `fi` (a key of `files`)."""
        cache = self._cache
        lf = cache.get(fi)
        if lf is not None:
            cache.move_to_end(fi)
            return lf
        lf = self._load(fi)
        cache[fi] = lf
        self._cached_rows += len(lf.labels)
        while len(cache) > 1 and self._cached_rows > LABEL_CACHE_ROWS:
            _, old = cache.popitem(last=False)
            self._cached_rows -= len(old.labels)
        return lf


def open_labels(manifest_dir: str, header: Header) -> Optional[LabelTable]:
    """The manifest's label table, None when header.json names none."""
    if header.labels is None:
        return None
    return LabelTable(os.path.join(manifest_dir, header.labels), header)


class RankFile:
    """One rank file, validated on open; `entries(step)` decodes a step's entries.

    When header.json names a label table, the rank file opens it (docs/manifest-format.md §3.3) unless `labels`
    passes it one, and owns it: `close` closes both."""

    def __init__(self, path: str, header: Header, rank: int, labels: Optional[LabelTable] = None):
        self.path = path
        self.labels = labels
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise ManifestMissingError("rank file is missing", path, kind="missing-rank-file")
        self._fd = fd
        try:
            self._open(header, rank)
            if self.labels is None and header.labels is not None:
                self.labels = open_labels(os.path.dirname(path), header)
        except BaseException:
            os.close(fd)
            self._fd = -1
            raise
        self._cached = -1
        self._raw = b""
        self._steps = []

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self.labels is not None:
            self.labels.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _pread(self, n, off):
        b = os.pread(self._fd, n, off)
        if len(b) != n:
            raise TruncatedError("rank file is truncated", self.path, off)
        return b

    def _open(self, header: Header, rank: int):
        path = self.path
        size = os.fstat(self._fd).st_size
        if size < 72:
            raise TruncatedError("rank file is truncated (%d bytes)" % size, path)
        head = self._pread(64, 0)
        (magic, major, minor, flags, frank, dp, steps, b, k, hhash, table_off, hsum) = _FIXED.unpack(head)
        if magic != MAGIC:
            raise BadMagicError("not a mixtera rank file (bad magic)", path, 0)
        if major != MAJOR:
            raise RankFileVersionError(
                "rank file format version %d.%d is not supported (this reader supports %d.x)" % (major, minor, MAJOR), path, 8)
        if xxh3_64(head[:56]) != hsum:
            raise ChecksumError("rank file header checksum mismatch; the file is corrupt", path, 56)
        if flags & ~(SPARSE_FLAG | LABEL_FLAG):
            raise UnsupportedFlagsError("rank file has unknown flags 0x%x" % flags, path, 12)
        if flags & LABEL_FLAG and not flags & SPARSE_FLAG:
            raise UnsupportedFlagsError("rank file has flag bit 1 (label entries) without bit 0 (flags 0x%x)" % flags,
                                        path, 12)
        self.sparse = bool(flags & SPARSE_FLAG)
        #: entries of labelled files are label entries (format 1.2)
        self.labelled = bool(flags & LABEL_FLAG)
        if k <= 0:
            raise CorruptBlockError("rank file has zero steps per block", path)
        nblocks = (steps + k - 1) // k
        tbytes = nblocks * 24
        if table_off < 64 or table_off + tbytes + 8 != size:
            raise TruncatedError(
                "rank file is truncated or has trailing bytes (expected %d bytes, found %d)" % (table_off + tbytes + 8, size),
                path, min(size, table_off))
        table = self._pread(tbytes + 8, table_off)
        blocks = []
        for j in range(nblocks):
            off, cs, rs, h = _ENTRY.unpack_from(table, j * 24)
            if off < 64 or off + cs > table_off:
                raise CorruptBlockError("block table points outside the file", path, table_off)
            blocks.append((off, cs, rs, h))
        if xxh3_64(table[:tbytes]) != int.from_bytes(table[tbytes:], "little"):
            raise ChecksumError("block table checksum mismatch; the file is corrupt", path, table_off)
        if hhash != header.hash:
            raise HeaderMismatchError("rank file belongs to a different header.json (header checksum differs)", path, 40)
        if self.labelled and header.labels is None:
            raise HeaderMismatchError("rank file has label entries (flag bit 1) but header.json names no label table",
                                      path, 12)
        if frank != rank or dp != header.data_parallel or steps != header.steps or b != header.samples_per_rank:
            raise HeaderMismatchError(
                "rank file topology does not match header.json (rank %d, D %d, S %d, b %d; expected %d, %d, %d, %d)"
                % (frank, dp, steps, b, rank, header.data_parallel, header.steps, header.samples_per_rank), path)
        self.rank = frank
        self.data_parallel = dp
        self.steps = steps
        self.samples_per_step = b
        self.steps_per_block = k
        self.blocks = blocks
        self.components = len(header.components)
        self._files = header.files

    def _load(self, j: int):
        off, cs, rs, h = self.blocks[j]
        comp = self._pread(cs, off)
        if xxh3_64(comp) != h:
            raise ChecksumError("block %d checksum mismatch; the file is corrupt" % j, self.path, off)
        try:
            raw = _zstd.decompress_frame(comp, rs)
        except Exception:
            raise CorruptBlockError("block %d is malformed (does not decompress)" % j, self.path, off)
        if len(raw) != rs:
            raise CorruptBlockError("block %d is malformed (decompressed size differs)" % j, self.path, off)
        self._cached = -1
        if self.labelled:
            self._steps = self._columns(raw, j)
        else:
            self._raw = raw
        self._cached = j

    def _columns(self, raw: bytes, j: int):
        """Decodes a column block (flag bit 1, docs/manifest-format.md §3.1): per step of the block, its entries,
        label entries as (component, file, member, count), the others as `entries_full` gives them."""
        err = CorruptBlockError("block %d is malformed" % j, self.path, self.blocks[j][0])
        if len(raw) < 28:
            raise err
        bounds = []
        pos = 28
        for length in struct.unpack_from("<7I", raw, 0):
            bounds.append((pos, pos + length))
            pos += length
        if pos != len(raw):
            raise err
        k = self.steps_per_block
        in_block = min(k, self.steps - j * k)
        b = self.samples_per_step
        labelled = self.labels.files
        try:
            ns, comps, zfs, c3, c4, locs, skipcol = [_varints_all(raw, a, e) for a, e in bounds]
        except IndexError:
            raise err
        total = sum(ns)
        if len(ns) != in_block or (ns and max(ns) > b) or not len(comps) == len(zfs) == len(c3) == len(c4) == total:
            raise err
        steps = []
        first = 0  # the step's first entry
        li = 0  # next locator
        si = 0  # next skip
        for n in ns:
            out = []
            pf = 0
            prow_end = 0
            ploc = 0
            samples = 0
            for t in range(first, first + n):
                zf = zfs[t]
                f = pf + ((zf >> 1) ^ -(zf & 1))
                if f in labelled:
                    # A label entry: member and count; only prev_file changes (resolved by `entries_full`).
                    count = c4[t]
                    if count < 1:
                        raise err
                    out.append((comps[t], f, c3[t], count))
                    pf = f
                    samples += count
                    continue
                rc = c4[t]
                count = rc >> 1
                skips = None
                if li >= len(locs):
                    raise err
                zl = locs[li]
                li += 1
                if rc & 1:
                    if count < 2 or si + count - 1 > len(skipcol):
                        raise err
                    skips = skipcol[si:si + count - 1]
                    si += count - 1
                zr = c3[t]
                same = f == pf
                row = (prow_end if same else 0) + ((zr >> 1) ^ -(zr & 1))
                loc = (ploc if same else 0) + ((zl >> 1) ^ -(zl & 1))
                if f < 0 or row < 0 or loc < 0 or count < 1:
                    raise err
                out.append((comps[t], f, row, count, loc, skips, 0))
                pf, ploc = f, loc
                prow_end = row + count + (sum(skips) if skips else 0)
                samples += count
            if samples != b:
                raise err
            first += n
            steps.append(out)
        if li != len(locs) or si != len(skipcol):
            raise err
        return steps

    def entries(self, step: int):
        """The entries of `step`: a list of (component, file, row, count, locator). A label entry's locator is
        the checkpoint it is read from, before its first row (see `entries_full`)."""
        return [e[:5] for e in self.entries_full(step)]

    def entries_full(self, step: int):
        """The entries of `step`: (component, file, row, count, locator, skips, lead).

        `skips` is None when the entry's `count` rows are consecutive, else the records skipped after each row but
        the last (a sparse entry, docs/manifest-format.md §3.1, or a label entry whose rows are not adjacent).
        `lead` is the number of records before the first row that reading from `locator` passes: 0, except for a
        label entry (§3.3), whose locator is its file's checkpoint at or before `row`. So every entry is read the
        same way: `lead + count + sum(skips)` records from `locator`, dropping the first `lead`, keeping the rows."""
        if not 0 <= step < self.steps:
            raise UsageError("step %d is out of range (the manifest has %d steps)" % (step, self.steps), self.path,
                             kind="step-out-of-range")
        k = self.steps_per_block
        j = step // k
        if j != self._cached:
            self._load(j)
        i = step - j * k
        if self.labelled:
            label_entry = self._label_entry
            return [e if len(e) == 7 else label_entry(e[0], e[1], e[2], e[3], j) for e in self._steps[i]]
        raw = self._raw
        in_block = min(k, self.steps - j * k)
        base = (in_block + 1) * 4
        err = CorruptBlockError("block %d is malformed" % j, self.path, self.blocks[j][0])
        if len(raw) < base:
            raise err
        start, end = struct.unpack_from("<II", raw, i * 4)
        start += base
        end += base
        if start > end or end > len(raw):
            raise err
        b = self.samples_per_step
        sparse = self.sparse
        out = []
        pf = 0
        prow_end = 0
        ploc = 0
        try:
            (n,), pos = _varints(raw, start, end, 1)
            if n > b:
                raise err
            if not sparse:
                vals, pos = _varints(raw, pos, end, 5 * n)
            for t in range(n):
                if sparse:
                    (comp, zf, zr, rc, zl), pos = _varints(raw, pos, end, 5)
                    count = rc >> 1
                    skips = None
                    if rc & 1:
                        if count < 2:
                            raise err
                        skips, pos = _varints(raw, pos, end, count - 1)
                else:
                    comp, zf, zr, count, zl = vals[5 * t:5 * t + 5]
                    skips = None
                # Delta decoding within the step: file, row and locator are zigzag deltas against the
                # previous entry when it is in the same file.
                f = pf + ((zf >> 1) ^ -(zf & 1))
                same = f == pf
                row = (prow_end if same else 0) + ((zr >> 1) ^ -(zr & 1))
                loc = (ploc if same else 0) + ((zl >> 1) ^ -(zl & 1))
                if f < 0 or row < 0 or loc < 0 or count < 1:
                    raise err
                out.append((comp, f, row, count, loc, skips, 0))
                pf, ploc = f, loc
                prow_end = row + count + (sum(skips) if skips else 0)
        except IndexError:
            raise err
        if pos != end:
            raise err
        if sum(e[3] for e in out) != b:
            raise err
        return out

    def _label_entry(self, comp: int, fi: int, member: int, count: int, j: int):
        if comp >= self.components:
            raise CorruptBlockError("entry references component %d outside the component table" % comp, self.path,
                                    self.blocks[j][0])
        e = self.labels.file(fi).entry(comp, fi, member, count)
        if e is None:
            raise CorruptBlockError(
                "label entry rows %d..<%d of component %d exceed the %d rows of %s labelled %d"
                % (member, member + count, comp, len(self.labels.file(fi).members(comp + 1)), self._files[fi].path,
                   comp + 1), self.path, self.blocks[j][0])
        return e


def open_rank(manifest_dir: str, header: Header, rank: int) -> RankFile:
    if not 0 <= rank < header.data_parallel:
        raise UsageError("rank %d is out of range (data_parallel is %d)" % (rank, header.data_parallel), manifest_dir,
                         kind="rank-out-of-range")
    return RankFile(os.path.join(manifest_dir, rank_file_name(rank)), header, rank)
