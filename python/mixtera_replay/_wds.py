"""WebDataset replay (docs/manifest-format.md §4.2, docs/webdataset.md "Replay"), matching the Swift reader.

Per file, the tar headers are walked once (in place in a mapping of a plain tar when every header is plain
ustar/GNU/v7, else with stdlib `tarfile`; payloads are never read in a plain tar) and
the sample table is kept: per sample its key, the header offset of its first member and (extension, data
offset, size) of each member. An entry's locator must be the first header offset of a sample.

* plain tars: one `os.pread` per member (only the text member when the dataset has a text field);
* compressed tars up to `INMEM_LIMIT` compressed bytes: decompressed once and kept in memory;
* larger compressed tars: each entry streams the archive from the start up to its last sample.

The sample is the text member's text (str; None when the sample lacks it) with a text field, else the
sample's JSON object as bytes: `{"__key__":KEY,EXT:VALUE,...}` (text-like extensions as strings, others base64).
"""
from __future__ import annotations

import base64
import bisect
import bz2
import gzip
import io
import lzma
import mmap
import os
import tarfile
import zlib
from zlib import adler32 as _adler32
from typing import List, Optional

from . import _xxh3, _zstd
from ._json import json_string, text_str, utf8_replaced
from .errors import CorruptBlockError, RecordError, UnsupportedFormatError

INMEM_LIMIT = int(os.environ.get("MIXTERA_INMEM_LIMIT", 64 << 20))

TEXT_EXTENSIONS = frozenset(["txt", "text", "json", "jsonl", "cls", "cls2", "id", "index", "inx", "md", "html", "htm",
                             "csv", "tsv", "xml", "yaml", "yml", "caption"])

_LOWER = bytes(c + 32 if 65 <= c <= 90 else c for c in range(256))


def is_text_extension(ext: str) -> bool:
    last = ext.rsplit(".", 1)[-1]
    return last.encode("utf-8", "surrogateescape").translate(_LOWER).decode("utf-8", "surrogateescape") \
        in TEXT_EXTENSIONS


def split_name(name: str):
    """(key, extension) of a member name, or None when WebDataset grouping skips it (docs/webdataset.md)."""
    slash = name.find("/")
    first = name if slash < 0 else name[:slash]
    if len(first.encode("utf-8", "surrogateescape")) >= 4 and first.startswith("__") and first.endswith("__"):
        return None
    base_start = name.rfind("/") + 1
    dot = name.find(".", base_start)
    if dot < 0 or dot == base_start:
        return None
    return name[:dot], name[dot + 1:]


def _fix_name(name: str) -> str:
    """tarfile keeps invalid UTF-8 as surrogate escapes; Swift decodes it to U+FFFD."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _Sample:
    __slots__ = ("key", "header", "members")

    def __init__(self, key, header, members):
        self.key = key
        self.header = header
        self.members = members  # [(extension, data offset, size, header offset)]


def build_table(tf: "tarfile.TarFile") -> List[_Sample]:
    """The samples of an archive in order. A damaged archive yields the samples completed before the damage."""
    out = []
    pending = None
    exts = None
    try:
        for ti in tf:
            if not (ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)):
                continue
            sp = split_name(_fix_name(ti.name))
            if sp is None:
                continue
            key, ext = sp
            if pending is not None and pending.key == key:
                if ext in exts:  # duplicate extension: the archive is bad from here on
                    pending = None
                    break
                exts.add(ext)
                pending.members.append((ext, ti.offset_data, ti.size, ti.offset))
                continue
            if pending is not None:
                out.append(pending)
            pending = _Sample(key, ti.offset, [(ext, ti.offset_data, ti.size, ti.offset)])
            exts = {ext}
        else:
            if pending is not None:
                out.append(pending)
    except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError, zlib.error):
        pass  # damage: keep the completed samples
    return out


_ZERO_BLOCK = bytes(512)
_REGULAR = (b"0", b"\0", b"7")
_OTHER_KNOWN = (b"1", b"2", b"3", b"4", b"5", b"6")


def _octal(field: bytes) -> int:
    """A numeric header field as `tarfile` reads it (octal up to the first NUL); ValueError otherwise."""
    if field[:1] and field[0] & 0x80:
        raise ValueError("base-256 number")
    text = field.split(b"\0", 1)[0].strip()
    return int(text or b"0", 8)


def fast_table(data, size: int) -> Optional[List[_Sample]]:
    """`build_table` for an archive of plain ustar/GNU/v7 headers, read in place from `data` (a buffer or
    mmap of the whole plain tar). Returns None, so that the caller falls back to `tarfile`, at anything
    `tarfile` treats specially: pax or GNU long-name headers, base-256 numbers, a bad checksum, data of a
    non-regular member, unknown member types, or damage (a cut-off header or member)."""
    out = []
    pending = None
    pending_kb = None  # the pending sample's key bytes, when its name was ASCII
    ext_names = {}
    exts = None
    off = 0
    while off < size:
        if off + 512 > size:
            return None
        h = data[off:off + 512]
        if h == _ZERO_BLOCK:
            break
        try:
            chk_field = h[148:156]
            # The common forms directly (6 digits + NUL checksum, 11 digits + NUL/space size), anything else the
            # general way.
            digits = h[148:154]
            chk = int(digits, 8) if h[154] == 0 and digits.isdigit() else _octal(chk_field)
            length = int(h[124:135], 8) if h[135] in (0, 32) and h[124] != 0 else _octal(h[124:136])
        except ValueError:
            return None
        # The byte sum of the header, from Adler-32 of each half: its low half is 1 + the sum mod 65521, exact
        # for 256 bytes (at most 65280).
        if chk != (_adler32(h[:256]) & 0xFFFF) + (_adler32(h[256:]) & 0xFFFF) - 2 - sum(chk_field) + 256:
            return None
        flag = h[156:157]
        name = h[0:100]
        nul = name.find(b"\0")
        if nul >= 0:
            name = name[:nul]
        if h[257:263] == b"ustar\0":
            prefix = h[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        data_off = off + 512
        off = data_off + ((length + 511) // 512) * 512
        if off > size:  # the member or its padding is cut off
            return None
        if flag not in _REGULAR:
            if flag in _OTHER_KNOWN and length == 0:
                continue
            return None
        if flag == b"\0" and name.endswith(b"/"):
            if length:
                return None
            continue  # a v7 directory
        if name.isascii():
            # split_name on the bytes: the key is decoded once per sample, extensions once per archive.
            slash = name.find(b"/")
            first = name if slash < 0 else name[:slash]
            if len(first) >= 4 and first.startswith(b"__") and first.endswith(b"__"):
                continue
            base_start = name.rfind(b"/") + 1
            dot = name.find(b".", base_start)
            if dot < 0 or dot == base_start:
                continue
            kb = name[:dot]
            ext = ext_names.get(name[dot + 1:])
            if ext is None:
                ext = ext_names[name[dot + 1:]] = name[dot + 1:].decode("ascii")
            key = pending.key if pending is not None and kb == pending_kb else kb.decode("ascii")
            pending_name = kb
        else:
            sp = split_name(_fix_name(name.decode("utf-8", "surrogateescape")))
            if sp is None:
                continue
            key, ext = sp
            pending_name = None
        if pending is not None and pending.key == key:
            if ext in exts:  # duplicate extension: the archive is bad from here on
                return out
            exts.add(ext)
            pending.members.append((ext, data_off, length, data_off - 512))
            continue
        if pending is not None:
            out.append(pending)
        pending = _Sample(key, data_off - 512, [(ext, data_off, length, data_off - 512)])
        pending_kb = pending_name
        exts = {ext}
    if pending is not None:
        out.append(pending)
    return out


TAR_HEADERS_PREFIX = "tarh:"


def _tar_number(f: bytes) -> Optional[int]:
    """A tar numeric field as docs/catalog-schema.md "Fingerprints" reads it (octal, or base-256)."""
    if not f:
        return 0
    if f[0] & 0x80:
        if f[0] & 0x40:
            return None
        v = f[0] & 0x3F
        for b in f[1:]:
            v = (v << 8) | b
        return v if v < (1 << 63) else None
    i = 0
    while i < len(f) and f[i] == 0x20:
        i += 1
    v = 0
    while i < len(f) and f[i] not in (0, 0x20):
        d = f[i] - 0x30
        if not 0 <= d < 8:
            return None
        v = (v << 3) | d
        i += 1
    return v if v < (1 << 63) else None


def _pax_size(d: bytes) -> Optional[int]:
    """The `size` record of pax extended-header data, if any and well formed (the last one wins)."""
    pos = 0
    found = None
    n = len(d)
    while pos < n:
        i = pos
        length = 0
        while i < n and 0x30 <= d[i] <= 0x39:
            length = length * 10 + d[i] - 0x30
            i += 1
        if i >= n or d[i] != 0x20 or length <= 0 or length > n - pos:
            return found
        record = d[i + 1:pos + length]
        if 6 < len(record) <= 24 and record.startswith(b"size=") and record.endswith(b"\n") and record[5:-1].isdigit():
            found = int(record[5:-1])
        pos += length
    return found


def tar_header_ranges(data, n: int):
    """The byte ranges a plain tar's header fingerprint covers: everything but the data areas of regular
    members (types 0, NUL, 7), walking headers exactly as TarHeaderFingerprint.swift does."""
    ranges = []
    o = 0
    hashed_to = 0
    pax_size = None
    zero = bytes(512)
    while o + 512 <= n:
        h = data[o:o + 512]
        if h == zero:
            break
        size = _tar_number(h[124:136])
        if size is None:
            break
        flag = h[156]
        regular = flag in (0x30, 0, 0x37)
        data_size = pax_size if (regular and pax_size is not None) else size
        start = o + 512
        padded = (1 << 62) if data_size > n else (data_size + 511) // 512 * 512
        if flag == 0x78:  # 'x'
            pax_size = _pax_size(data[start:min(n, start + size)])
        elif flag != 0x67:  # 'g'
            pax_size = None
        if regular:
            ranges.append((hashed_to, start))
            hashed_to = min(n, start + padded)
        if padded > n - start:
            break
        o = start + padded
    if hashed_to < n:
        ranges.append((hashed_to, n))
    return ranges


def tar_header_fingerprint_file(path: str) -> int:
    """TarHeaderFingerprint of the plain tar at `path` (docs/catalog-schema.md, "Fingerprints")."""
    with open(path, "rb") as f:
        n = os.fstat(f.fileno()).st_size
        if n == 0:
            return _xxh3.xxh3_64(b"")
        with mmap.mmap(f.fileno(), n, access=mmap.ACCESS_READ) as mm:
            ranges = tar_header_ranges(mm, n)
            if _xxh3.BACKEND == "python":
                return _xxh3.xxh3_64_python(b"".join(mm[a:b] for a, b in ranges))
            h = _xxh3._new_stream()
            for a, b in ranges:
                if b > a:
                    h.update(mm[a:b])
            return h.intdigest()


def _open_stream(path: str, compression: str):
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "xz":
        return lzma.open(path, "rb")
    if compression == "bzip2":
        return bz2.open(path, "rb")
    if compression == "zstd":
        return _zstd.open_stream(path, 0)
    raise UnsupportedFormatError("compression %s is not supported" % compression, path)


def sample_json(key: str, members, datas) -> bytes:
    parts = [b'{"__key__":', json_string(key.encode("utf-8"))]
    for (ext, _, _, _), data in zip(members, datas):
        parts.append(b"," + json_string(ext.encode("utf-8")) + b":")
        if is_text_extension(ext):
            parts.append(json_string(utf8_replaced(data)))
        else:
            parts.append(b'"' + base64.b64encode(data) + b'"')
    parts.append(b"}")
    return b"".join(parts)


class TarReplayFile:
    """One WebDataset tar of a manifest; `read(locator, count)` returns `count` samples from the sample
    whose first member header is at `locator`."""

    def __init__(self, path: str, compression: str, text_field: Optional[str]):
        self.path = path
        self.compression = compression
        self.text_field = text_field
        self.fd = None
        self.buf = None
        if compression == "none":
            self.fd = os.open(path, os.O_RDONLY)
            size = os.fstat(self.fd).st_size
            table = None
            if size > 0:
                with mmap.mmap(self.fd, size, access=mmap.ACCESS_READ) as mm:
                    table = fast_table(mm, size)
            if table is None:
                with open(path, "rb") as f:
                    with tarfile.open(fileobj=f, mode="r:") as tf:
                        table = build_table(tf)
            self.table = table
        else:
            if os.path.getsize(path) <= INMEM_LIMIT:
                s = _open_stream(path, compression)
                try:
                    parts = []
                    while True:
                        b = s.read(1 << 22)
                        if not b:
                            break
                        parts.append(b)
                except (OSError, EOFError, ValueError, lzma.LZMAError) as e:
                    # Keep what decompressed: the walk stops at the damage like the Swift reader.
                    pass
                finally:
                    s.close()
                self.buf = b"".join(parts)
                with tarfile.open(fileobj=io.BytesIO(self.buf), mode="r:") as tf:
                    self.table = build_table(tf)
            else:
                s = _open_stream(path, compression)
                try:
                    with tarfile.open(fileobj=s, mode="r|") as tf:
                        self.table = build_table(tf)
                except tarfile.TarError:
                    self.table = []
                finally:
                    s.close()
        self.starts = [s.header for s in self.table]

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.buf = None

    def _find(self, locator: int, count: int) -> int:
        i = bisect.bisect_left(self.starts, locator)
        if i >= len(self.starts) or self.starts[i] != locator or i + count > len(self.starts):
            raise CorruptBlockError("no run of %d samples starts at header offset %d" % (count, locator), self.path)
        return i

    def _data(self, members) -> list:
        """Bytes of each (ext, offset, size, header) member (plain or in-memory archives)."""
        out = []
        if self.buf is not None:
            buf = self.buf
            for _, off, size, hdr in members:
                b = buf[off:off + size]
                if len(b) != size:
                    raise RecordError("member data of %d bytes is cut off after %d bytes" % (size, len(b)), self.path,
                                      off, kind="truncated")
                out.append(b)
            return out
        fd = self.fd
        for _, off, size, hdr in members:
            b = os.pread(fd, size, off) if size else b""
            if len(b) != size:
                raise RecordError("member data of %d bytes is cut off after %d bytes" % (size, len(b)), self.path,
                                  off, kind="truncated")
            out.append(b)
        return out

    def _stream_data(self, samples) -> dict:
        """{data offset: bytes} of the wanted members, streaming the archive from the start."""
        wanted = {}
        for s in samples:
            for m in s.members:
                if self.text_field is None or m[0] == self.text_field:
                    wanted[m[3]] = m
        last = max(m[3] for s in samples for m in s.members)
        got = {}
        s = _open_stream(self.path, self.compression)
        try:
            with tarfile.open(fileobj=s, mode="r|") as tf:
                for ti in tf:
                    if ti.offset in wanted:
                        f = tf.extractfile(ti)
                        got[ti.offset_data] = f.read() if f is not None else b""
                    if ti.offset >= last:
                        break
        except (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError) as e:
            raise RecordError("cannot read archive: %s" % e, self.path, kind="decompression")
        finally:
            s.close()
        if len(got) != len(wanted):
            raise RecordError("archive holds %d of the %d members wanted" % (len(got), len(wanted)), self.path,
                              kind="data-changed")
        return got

    def read(self, locator: int, count: int) -> list:
        i = self._find(locator, count)
        samples = self.table[i:i + count]
        tf = self.text_field
        streamed = None
        if self.fd is None and self.buf is None:
            streamed = self._stream_data(samples)
        out = []
        for s in samples:
            if tf is not None:
                m = [m for m in s.members if m[0] == tf]
                if not m:
                    out.append(None)
                    continue
                data = streamed[m[0][1]] if streamed is not None else self._data(m)[0]
                out.append(text_str(data))
            else:
                datas = [streamed[m[1]] for m in s.members] if streamed is not None else self._data(s.members)
                out.append(sample_json(s.key, s.members, datas))
        return out
