"""header.json and rank-file parsing (docs/manifest-format.md §2, §3)."""
from __future__ import annotations

import json
import os
import struct
from typing import List, NamedTuple, Optional, Tuple

from . import _zstd
from ._xxh3 import xxh3_64
from .errors import (BadMagicError, ChecksumError, CorruptBlockError, HeaderMismatchError, ManifestError, UnsafePathError,
                     ManifestMissingError, RankFileError, RankFileVersionError, TruncatedError,
                     UnsupportedFlagsError, UnsupportedVersionError, UsageError)

MAGIC = b"MXTRRANK"
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


class RankFile:
    """One rank file, validated on open; `entries(step)` decodes a step's entries."""

    def __init__(self, path: str, header: Header, rank: int):
        self.path = path
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise ManifestMissingError("rank file is missing", path, kind="missing-rank-file")
        self._fd = fd
        try:
            self._open(header, rank)
        except BaseException:
            os.close(fd)
            self._fd = -1
            raise
        self._cached = -1
        self._raw = b""

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

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
        if flags & ~SPARSE_FLAG:
            raise UnsupportedFlagsError("rank file has unknown flags 0x%x" % flags, path, 12)
        self.sparse = bool(flags & SPARSE_FLAG)
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
        self._raw = raw
        self._cached = j

    def entries(self, step: int):
        """The entries of `step`: a list of (component, file, row, count, locator)."""
        return [e[:5] for e in self.entries_full(step)]

    def entries_full(self, step: int):
        """The entries of `step`: (component, file, row, count, locator, skips) with `skips` None for a
        plain entry, else the records skipped after each row but the last (docs/manifest-format.md §3.1)."""
        if not 0 <= step < self.steps:
            raise UsageError("step %d is out of range (the manifest has %d steps)" % (step, self.steps), self.path,
                             kind="step-out-of-range")
        k = self.steps_per_block
        j = step // k
        if j != self._cached:
            self._load(j)
        raw = self._raw
        i = step - j * k
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
                out.append((comp, f, row, count, loc, skips))
                pf, ploc = f, loc
                prow_end = row + count + (sum(skips) if skips else 0)
        except IndexError:
            raise err
        if pos != end:
            raise err
        if sum(e[3] for e in out) != b:
            raise err
        return out


def open_rank(manifest_dir: str, header: Header, rank: int) -> RankFile:
    if not 0 <= rank < header.data_parallel:
        raise UsageError("rank %d is out of range (data_parallel is %d)" % (rank, header.data_parallel), manifest_dir,
                         kind="rank-out-of-range")
    return RankFile(os.path.join(manifest_dir, rank_file_name(rank)), header, rank)
