"""JSONL record reading from a locator (docs/manifest-format.md §4)."""
from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import os

from . import _zstd
from .errors import RecordError, UnsupportedFormatError

_BLANK = frozenset(b" \t\r")
_FILE_ENDED = "file ended before row; it changed since the manifest was built"
_FILE_STARTS = "file starts before row; it changed since the manifest was built"
_STREAM_ENDED = "stream ended before the requested records; the file changed"
_STREAM_STARTS = "stream starts before the requested record; the file changed"


def _is_blank(line: bytes) -> bool:
    return not line.strip(b" \t\r")


def _records(buf, pos: int, count: int, path: str, ended: str):
    """`count` records of `buf` (bytes or a mapping) from byte `pos`: lines without their terminator (a CR before
    the LF dropped), blank lines skipped, the last line possibly unterminated; a `truncated` RecordError saying
    `ended` when `buf` ends first."""
    out = []
    append = out.append
    find = buf.find
    end = len(buf)
    while len(out) < count:
        if pos >= end:
            raise RecordError(ended, path, pos, kind="truncated")
        nl = find(b"\n", pos)
        stop = end if nl < 0 else nl
        line = buf[pos:stop]
        pos = stop + 1
        if line[-1:] == b"\r":
            line = line[:-1]
        if line and (line[0] not in _BLANK or not _is_blank(line)):
            append(line)
    return out


def _selected(buf, pos: int, skips, path: str, ended: str):
    """The records of a sparse or label entry from byte `pos` of `buf`: a record, then for each of `skips` that many
    records passed over and the next one kept (`len(skips) + 1` records). Passed-over records are found, not copied."""
    out = []
    append = out.append
    find = buf.find
    end = len(buf)
    want = len(skips) + 1
    drop = 0
    while True:
        if pos >= end:
            raise RecordError(ended, path, pos, kind="truncated")
        nl = find(b"\n", pos)
        stop = end if nl < 0 else nl
        if drop:
            if stop > pos and (buf[pos] not in _BLANK or not _is_blank(buf[pos:stop])):
                drop -= 1
            pos = stop + 1
            continue
        line = buf[pos:stop]
        pos = stop + 1
        if line[-1:] == b"\r":
            line = line[:-1]
        if line and (line[0] not in _BLANK or not _is_blank(line)):
            append(line)
            if len(out) == want:
                return out
            drop = skips[len(out) - 1]


def _lead(buf, pos: int, lead: int, path: str, ended: str, started: str) -> int:
    """Where an entry's first record starts: `lead` records after the record at byte `pos` of `buf`, or `-lead`
    before it when `lead` is negative (a label entry read back from the next checkpoint)."""
    if lead > 0:
        return _skip(buf, pos, lead, path, ended)
    if lead < 0:
        pos = _back(buf, pos, -lead)
        if pos < 0:
            raise RecordError(started, path, 0, kind="truncated")
    return pos


def _skip(buf, pos: int, n: int, path: str, ended: str) -> int:
    """The byte position after the next `n` records of `buf` from `pos`: `_records` without building the lines
    (label entries drop the records between their checkpoint and their first row, docs/manifest-format.md §3.3)."""
    find = buf.find
    end = len(buf)
    while n:
        if pos >= end:
            raise RecordError(ended, path, pos, kind="truncated")
        nl = find(b"\n", pos)
        stop = end if nl < 0 else nl
        if stop > pos and (buf[pos] not in _BLANK or not _is_blank(buf[pos:stop])):
            n -= 1
        pos = stop + 1
    return pos


def _back(buf, pos: int, n: int) -> int:
    """The start of the record `n` records before the one that starts at byte `pos` of `buf`, scanning lines
    backwards (blank lines are not records); -1 when `buf` starts first."""
    rfind = buf.rfind
    end = pos - 1  # the LF that ends the line before
    while end >= 0:
        start = rfind(b"\n", 0, end) + 1
        first = 3 if start == 0 and buf[:3] == b"\xef\xbb\xbf" else start  # the first line after a BOM
        if end > first and (buf[first] not in _BLANK or not _is_blank(buf[first:end])):
            n -= 1
            if not n:
                return first
        if not start:
            break
        end = start - 1
    return -1


class PlainReader:
    """Uncompressed JSONL: records read in place from a read-only mapping of the file (a page fault maps a
    whole window of pages, where a positioned read is one system call per record), or with positioned reads
    (os.pread) when the file cannot be mapped; no shared file offset."""

    def __init__(self, path: str, size: int, samples: int):
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        self.avg = max(64, size // max(1, samples))
        self.want1 = 4096
        while self.want1 < 2 * self.avg and self.want1 < 1 << 20:
            self.want1 *= 2
        self.map = None
        try:
            if os.fstat(self.fd).st_size > 0:
                self.map = mmap.mmap(self.fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            self.map = None

    @property
    def backward(self) -> bool:
        """`read` takes a negative `lead` (records before the offset)."""
        return self.map is not None

    def close(self):
        if self.map is not None:
            self.map.close()
            self.map = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def read(self, offset: int, count: int, lead: int = 0):
        """Returns `count` record lines (bytes, without terminator) starting at byte `offset`, after dropping the
        `lead` records there first; a negative `lead` (only when `backward`) starts `-lead` records before it."""
        m = self.map
        if m is not None:
            offset = _lead(m, offset, lead, self.path, _FILE_ENDED, _FILE_STARTS)
            return self._read_mapped(m, offset, count)
        if lead:
            return self.read(offset, lead + count)[lead:]
        fd = self.fd
        if count == 1:
            # Fast path: one record, usually a single pread.
            buf = os.pread(fd, self.want1, offset)
            nl = buf.find(b"\n")
            if nl > 0:
                line = buf[:nl] if buf[nl - 1] != 0x0D else buf[:nl - 1]
                if line and line[0] not in _BLANK:
                    return [line]
        want = self.avg * count + (self.avg >> 1) + 512
        buf = os.pread(fd, want, offset)
        out = []
        append = out.append
        pos = 0
        find = buf.find
        while True:
            nl = find(b"\n", pos)
            if nl < 0:
                more = os.pread(fd, max(len(buf) - pos, 1 << 16), offset + len(buf))
                if not more:
                    if pos < len(buf):
                        line = buf[pos:]
                        if line[-1:] == b"\r":
                            line = line[:-1]
                        if line and (line[0] not in _BLANK or not _is_blank(line)):
                            append(line)
                    if len(out) < count:
                        raise RecordError("file ended before row; it changed since the manifest was built",
                                          self.path, offset + len(buf), kind="truncated")
                    break
                offset += pos
                buf = buf[pos:] + more
                find = buf.find
                pos = 0
                continue
            line = buf[pos:nl]
            pos = nl + 1
            if line[-1:] == b"\r":
                line = line[:-1]
            if line and (line[0] not in _BLANK or not _is_blank(line)):
                append(line)
                if len(out) == count:
                    break
        got = sum(len(x) for x in out) + len(out)
        self.avg = (self.avg * 7 + got // len(out)) >> 3 if out else self.avg
        return out

    def read_selected(self, offset: int, skips, lead: int = 0):
        """The records of a sparse or label entry: from byte `offset`, after `lead` records (negative: before, as
        in `read`), a record, then for each of `skips` that many records dropped and the next kept. Needs
        `backward` (a mapping); the records dropped are found but not copied."""
        m = self.map
        return _selected(m, _lead(m, offset, lead, self.path, _FILE_ENDED, _FILE_STARTS), skips, self.path, _FILE_ENDED)

    def _read_mapped(self, m, offset: int, count: int):
        """`read` from the mapping: the same records, blank lines skipped, a final line without terminator."""
        if count == 1:
            nl = m.find(b"\n", offset)
            if nl > offset:
                line = m[offset:nl] if m[nl - 1] != 0x0D else m[offset:nl - 1]
                if line and line[0] not in _BLANK:
                    return [line]
        return _records(m, offset, count, self.path, "file ended before row; it changed since the manifest was built")


def _open_stream(path: str, compression: str, start: int):
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "xz":
        return lzma.open(path, "rb")
    if compression == "bzip2":
        return bz2.open(path, "rb")
    if compression == "zstd":
        return _zstd.open_stream(path, start)
    raise UnsupportedFormatError("compression %s is not supported" % compression, path)


# Compressed files up to this many compressed bytes are decompressed once and kept in memory
# (random access without re-decompressing); larger ones are streamed like the Swift reader.
INMEM_LIMIT = int(os.environ.get("MIXTERA_INMEM_LIMIT", 64 << 20))


class StreamReader:
    """Compressed JSONL read through its decompressed stream. Forward reads continue the stream; a
    backward jump reopens it (for zstd: at the last frame starting at or before the target)."""

    CHUNK = 1 << 18

    def __init__(self, path: str, compression: str, frames, compressed_size: int):
        self.path = path
        self.compression = compression
        self.frames = list(frames)
        self.stream = None
        self.buf = b""
        self.buf_start = 0  # stream offset of buf[0]
        self.eof = False
        if compressed_size <= INMEM_LIMIT:
            s = _open_stream(path, compression, 0)
            try:
                parts = []
                while True:
                    b = s.read(1 << 22)
                    if not b:
                        break
                    parts.append(b)
            except (OSError, EOFError, ValueError, lzma.LZMAError) as e:
                raise RecordError("cannot decompress: %s" % e, path, kind="io")
            finally:
                s.close()
            self.buf = b"".join(parts)
            self.eof = True
            self.whole = True
        else:
            self.whole = False

    def close(self):
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def _open(self, target: int):
        self.close()
        start = (0, 0)
        if self.compression == "zstd":
            for f in self.frames:
                if f[1] <= target:
                    start = f
        self.stream = _open_stream(self.path, self.compression, start[0])
        self.buf = b""
        self.buf_start = start[1]
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            b = self.stream.read(self.CHUNK)
        except (OSError, EOFError, ValueError, lzma.LZMAError) as e:
            raise RecordError("cannot decompress: %s" % e, self.path, kind="io")
        if not b:
            self.eof = True
            return False
        self.buf += b
        return True

    @property
    def backward(self) -> bool:
        """`read` takes a negative `lead` (records before the offset): the stream is decompressed in memory."""
        return self.whole

    def read(self, offset: int, count: int, lead: int = 0):
        """`count` record lines from stream offset `offset`, after dropping the `lead` records there first; a
        negative `lead` (only when `backward`) starts `-lead` records before it."""
        if self.whole:
            return self._read_mem(offset, count, lead)
        if lead:
            return self.read(offset, lead + count)[lead:]
        if self.stream is None or offset < self.buf_start:
            self._open(offset)
        while self.buf_start + len(self.buf) < offset:
            self.buf_start += len(self.buf)
            self.buf = b""
            if not self._fill():
                raise RecordError("stream ended before the requested record; the file changed", self.path, offset,
                                  kind="truncated")
        self.buf = self.buf[offset - self.buf_start:]
        self.buf_start = offset
        out = []
        pos = 0
        while len(out) < count:
            nl = self.buf.find(b"\n", pos)
            if nl >= 0:
                line = self.buf[pos:nl]
                pos = nl + 1
                if line[-1:] == b"\r":
                    line = line[:-1]
                if line and (line[0] not in _BLANK or not _is_blank(line)):
                    out.append(line)
                continue
            if pos:
                self.buf = self.buf[pos:]
                self.buf_start += pos
                pos = 0
            if not self._fill():
                if self.buf:
                    line = self.buf
                    if line[-1:] == b"\r":
                        line = line[:-1]
                    if not _is_blank(line):
                        out.append(line)
                    self.buf_start += len(self.buf)
                    self.buf = b""
                if len(out) < count:
                    raise RecordError("stream ended before the requested records; the file changed", self.path,
                                      self.buf_start, kind="truncated")
        if pos:
            self.buf = self.buf[pos:]
            self.buf_start += pos
        return out

    def read_selected(self, offset: int, skips, lead: int = 0):
        """`PlainReader.read_selected` on the decompressed stream kept in memory (needs `backward`)."""
        buf = self.buf
        if offset > len(buf):
            raise RecordError("stream ended before the requested record; the file changed", self.path, offset,
                              kind="truncated")
        offset = _lead(buf, offset, lead, self.path, _STREAM_ENDED, _STREAM_STARTS)
        return _selected(buf, offset, skips, self.path, "stream ended before the requested records; the file changed")

    def _read_mem(self, offset: int, count: int, lead: int = 0):
        buf = self.buf
        n = len(buf)
        if offset > n:
            raise RecordError("stream ended before the requested record; the file changed", self.path, offset,
                              kind="truncated")
        offset = _lead(buf, offset, lead, self.path, _STREAM_ENDED, _STREAM_STARTS)
        return _records(buf, offset, count, self.path, "stream ended before the requested records; the file changed")
