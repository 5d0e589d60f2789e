"""Parquet replay (docs/manifest-format.md §4.1) with pyarrow, byte-identical to the Swift reader.

An entry's locator is the Parquet row index of its first sample. The sample is the text column's value
(decoded, invalid UTF-8 replaced by U+FFFD; None for a null) when the dataset has a text field, else the
whole row as compact JSON bytes rendered like Swift's `ParquetJSON` (docs/parquet-support.md, "Value mapping
and JSON"). pyarrow is an optional dependency: without it, opening a Parquet file raises
UnsupportedFormatError.

Arrow types are mapped back to the Parquet types Swift sees: each Arrow leaf is paired (depth-first order)
with its Parquet leaf column so that annotations Arrow does not keep (INT96, ENUM/JSON strings, UUID, units
restored from an ARROW:schema) render as Swift renders them.
"""
from __future__ import annotations

import base64
import bisect
import json
import math
import os
import struct
from collections import OrderedDict
from decimal import Decimal
from typing import List, Optional

from ._json import json_string, text_str, utf8_replaced
from .errors import CorruptBlockError, RecordError, UnsupportedFormatError

try:  # optional dependency
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover - depends on the environment
    pa = pc = pq = None

PYARROW_VERSION = getattr(pa, "__version__", None)


PARQUET_FOOTER_PREFIX = "pqf:"


def parquet_footer_fingerprint_file(path: str) -> int:
    """ParquetFooterFingerprint of the file at `path` (docs/catalog-schema.md, "Fingerprints"): XXH3-64 of
    its last n + 8 bytes, n being the u32 LE footer length 8 bytes before the end; the whole file when it has
    fewer than 12 bytes or n > size - 12. Needs no pyarrow."""
    from . import _xxh3
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        start = 0
        if size >= 12:
            f.seek(size - 8)
            (n,) = struct.unpack("<I", f.read(4))
            if n <= size - 12:
                start = size - 8 - n
        f.seek(start)
        return _xxh3.xxh3_64(f.read(size - start))


def need_pyarrow(path: str):
    if pa is None:
        raise UnsupportedFormatError("replay of parquet files needs pyarrow (pip install pyarrow)", path)


# -- numbers as Swift's description prints them -------------------------------------------------------------
_pack_f = struct.Struct("<f").pack
_unpack_f = struct.Struct("<f").unpack


def _to_exp(r: str) -> str:
    """'123450000000000000.0' → '1.2345e+17' (Swift switches to exponent form above 2^53 / 2^24)."""
    neg = r.startswith("-")
    ip, _, fp = r.lstrip("-").partition(".")
    digits = (ip + fp).lstrip("0").rstrip("0") or "0"
    e = len(ip.lstrip("0")) - 1
    return ("-" if neg else "") + digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + "e+%02d" % e


def swift_double(x: float) -> bytes:
    """Swift `Double.description` (shortest round-trip; exponent form below 1e-4 or above 2^53); non-finite →
    null. Python's repr has the same digits and the same exponent syntax (`1e+20`, `1e-05`); only the range
    2^53 < |x| < 1e16 differs (Python writes it positionally)."""
    if x != x or x in (float("inf"), float("-inf")):
        return b"null"
    r = repr(x)
    if "e" not in r and "n" not in r and abs(x) > 9007199254740992.0:
        r = _to_exp(r)
    return r.encode()


_FLT_MAX = 3.4028234663852886e38


def _round_f32(v: float) -> float:
    """v rounded to float32 (struct refuses values just above FLT_MAX that round down to it)."""
    if abs(v) > _FLT_MAX:
        return math.copysign(_FLT_MAX if abs(v) < _FLT_MAX + 2.0 ** 103 else math.inf, v)
    return _unpack_f(_pack_f(v))[0]


def swift_float(x: float) -> bytes:
    """Swift `Float.description` of a float32 value (shortest digits that round-trip through float32;
    exponent form below 1e-4 or above 2^24); non-finite → null."""
    if x != x or x in (float("inf"), float("-inf")):
        return b"null"
    if x == 0:
        return b"-0.0" if str(x).startswith("-") else b"0.0"
    s = None
    for p in range(1, 10):
        s = "%.*e" % (p - 1, x)
        if _round_f32(float(s)) == x:
            break
    m, e = s.split("e")
    e = int(e)
    neg = m.startswith("-")
    digits = m.lstrip("-").replace(".", "").rstrip("0") or "0"
    if -4 <= e < 16:
        if e >= 0:
            r = digits[:e + 1].ljust(e + 1, "0") + "." + (digits[e + 1:] or "0")
        else:
            r = "0." + "0" * (-e - 1) + digits
    else:
        r = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + "e%+03d" % e
    if neg:
        r = "-" + r
    if "e" not in r and abs(x) > 16777216.0:
        r = _to_exp(r)
    return r.encode()


# -- dates and times (proleptic Gregorian, UTC), as ParquetDateTime --------------------------------------------
def _pad(v: int, width: int) -> str:
    s = str(abs(v)).rjust(width, "0")
    return "-" + s if v < 0 else s


def _civil(z0: int):
    # Howard Hinnant's civil_from_days with C (truncating) division, as in Swift.
    def tdiv(a, b):
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b > 0) else -q
    z = z0 + 719468
    era = tdiv(z if z >= 0 else z - 146096, 146097)
    doe = z - era * 146097
    yoe = tdiv(doe - tdiv(doe, 1460) + tdiv(doe, 36524) - tdiv(doe, 146096), 365)
    y = yoe + era * 400
    doy = doe - (365 * yoe + tdiv(yoe, 4) - tdiv(yoe, 100))
    mp = tdiv(5 * doy + 2, 153)
    d = doy - tdiv(153 * mp + 2, 5) + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def fmt_date(days: int) -> str:
    y, m, d = _civil(days)
    return _pad(y, 4) + "-" + _pad(m, 2) + "-" + _pad(d, 2)


_SCALE = {"ms": (1000, 3), "us": (1000000, 6), "ns": (1000000000, 9)}


def fmt_time(v: int, unit: str) -> str:
    per, digits = _SCALE[unit]
    secs, frac = divmod(v, per)
    h, rem = divmod(secs, 3600)
    # Swift: rem / 60 and rem % 60 with rem >= 0
    return _pad(h, 2) + ":" + _pad(rem // 60, 2) + ":" + _pad(rem % 60, 2) + "." + _pad(frac, digits)


def fmt_timestamp(v: int, unit: str, utc: bool) -> str:
    per, digits = _SCALE[unit]
    secs, frac = divmod(v, per)
    days, sod = divmod(secs, 86400)
    return (fmt_date(days) + "T" + _pad(sod // 3600, 2) + ":" + _pad(sod // 60 % 60, 2) + ":" + _pad(sod % 60, 2)
            + "." + _pad(frac, digits) + ("Z" if utc else ""))


def fmt_uuid(b: bytes) -> str:
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def _string_json(b: Optional[bytes]) -> bytes:
    return b"null" if b is None else json_string(utf8_replaced(b))


def _b64_json(b: Optional[bytes]) -> bytes:
    return b"null" if b is None else b'"' + base64.b64encode(b) + b'"'


# -- Arrow arrays → per-element JSON bytes ------------------------------------------------------------------
class _Leaf:
    """What Swift knows about a Parquet leaf column."""
    __slots__ = ("physical", "logical")

    def __init__(self, col):
        self.physical = col.physical_type if col is not None else None
        lt = {}
        if col is not None:
            try:
                lt = json.loads(col.logical_type.to_json())
            except Exception:
                lt = {}
            if lt.get("Type") in (None, "None"):
                ct = col.converted_type
                lt = {"UTF8": {"Type": "String"}, "ENUM": {"Type": "Enum"}, "JSON": {"Type": "JSON"},
                      "BSON": {"Type": "BSON"}, "TIMESTAMP_MILLIS": {"Type": "Timestamp", "isAdjustedToUTC": True,
                                                                    "timeUnit": "milliseconds"},
                      "TIMESTAMP_MICROS": {"Type": "Timestamp", "isAdjustedToUTC": True, "timeUnit": "microseconds"},
                      "TIME_MILLIS": {"Type": "Time", "timeUnit": "milliseconds"},
                      "TIME_MICROS": {"Type": "Time", "timeUnit": "microseconds"}}.get(ct, lt)
        self.logical = lt


_UNITS = {"milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}


def _leaf_count(t) -> int:
    if pa.types.is_struct(t):
        return sum(_leaf_count(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_map(t):
        return _leaf_count(t.key_type) + _leaf_count(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or _is_list_view(t):
        return _leaf_count(t.value_type)
    if pa.types.is_dictionary(t):
        return _leaf_count(t.value_type)
    return 1


def _is_list_view(t) -> bool:
    f = getattr(pa.types, "is_list_view", None)
    g = getattr(pa.types, "is_large_list_view", None)
    return bool((f and f(t)) or (g and g(t)))


class Renderer:
    """Renders arrays of one Arrow type (paired with its Parquet leaves) to lists of JSON bytes."""

    def __init__(self, t, leaves: List[_Leaf], pos: int = 0):
        self.t = t
        self.kind = None
        self.children = []
        self.names = []
        self.leaf = None
        if pa.types.is_dictionary(t):
            self.kind = "dict"
            self.children = [Renderer(t.value_type, leaves, pos)]
        elif pa.types.is_struct(t):
            self.kind = "struct"
            p = pos
            for i in range(t.num_fields):
                f = t.field(i)
                self.names.append(json_string(f.name.encode("utf-8", "surrogateescape")))
                self.children.append(Renderer(f.type, leaves, p))
                p += _leaf_count(f.type)
        elif pa.types.is_map(t):
            self.kind = "map"
            self.names = [json_string(t.key_field.name.encode()), json_string(t.item_field.name.encode())]
            self.children = [Renderer(t.key_type, leaves, pos),
                             Renderer(t.item_type, leaves, pos + _leaf_count(t.key_type))]
        elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or _is_list_view(t):
            self.kind = "list"
            self.children = [Renderer(t.value_type, leaves, pos)]
        else:
            self.kind = "leaf"
            self.leaf = leaves[pos] if pos < len(leaves) else _Leaf(None)

    def render(self, arr) -> List[bytes]:
        k = self.kind
        if k == "leaf":
            return self._leaf(arr)
        if k == "dict":
            return self.children[0].render(arr.dictionary_decode())
        valid = arr.is_valid().to_pylist() if arr.null_count else None
        if k == "struct":
            cols = [c.render(arr.field(i)) for i, c in enumerate(self.children)]
            names = self.names
            out = []
            for r in range(len(arr)):
                if valid is not None and not valid[r]:
                    out.append(b"null")
                    continue
                out.append(b"{" + b",".join(n + b":" + c[r] for n, c in zip(names, cols)) + b"}")
            return out
        if k in ("list", "map"):
            t = arr.type
            if pa.types.is_fixed_size_list(t) or _is_list_view(t):
                arr = arr.cast(pa.large_list(t.value_type)) if not pa.types.is_fixed_size_list(t) else arr
            if pa.types.is_fixed_size_list(t):
                size = t.list_size
                values = arr.values
                offs = [(arr.offset + r) * size for r in range(len(arr) + 1)]
            else:
                values = arr.values
                offs = arr.offsets.to_pylist()
            if k == "map":
                keys = self.children[0].render(values.field(0))
                items = self.children[1].render(values.field(1))
                kn, vn = self.names
                elems = [b"{" + kn + b":" + a + b"," + vn + b":" + b + b"}" for a, b in zip(keys, items)]
            else:
                elems = self.children[0].render(values)
            out = []
            for r in range(len(arr)):
                if valid is not None and not valid[r]:
                    out.append(b"null")
                    continue
                out.append(b"[" + b",".join(elems[offs[r]:offs[r + 1]]) + b"]")
            return out
        raise UnsupportedFormatError("cannot render Arrow type %s" % self.t)

    def _leaf(self, arr) -> List[bytes]:
        t = arr.type
        lt = self.leaf.logical
        ltype = lt.get("Type")
        physical = self.leaf.physical
        if isinstance(arr, pa.ExtensionArray):
            arr = arr.storage
            t = arr.type
        if pa.types.is_null(t):
            return [b"null"] * len(arr)
        if pa.types.is_boolean(t):
            return [b"null" if v is None else (b"true" if v else b"false") for v in arr.to_pylist()]
        if pa.types.is_integer(t):
            return [b"null" if v is None else b"%d" % v for v in arr.to_pylist()]
        if pa.types.is_float16(t):
            return [b"null" if v is None else swift_float(v) for v in arr.cast(pa.float32()).to_pylist()]
        if pa.types.is_float32(t):
            return [b"null" if v is None else swift_float(v) for v in arr.to_pylist()]
        if pa.types.is_float64(t):
            return [b"null" if v is None else swift_double(v) for v in arr.to_pylist()]
        if pa.types.is_decimal(t):
            return [b"null" if v is None else json_string(format(v, "f").encode()) for v in arr.to_pylist()]
        if pa.types.is_date(t):
            days = (arr.cast(pa.date32()) if pa.types.is_date64(t) else arr).view(pa.int32()).to_pylist()
            return [b"null" if v is None else json_string(fmt_date(v).encode()) for v in days]
        if pa.types.is_time(t):
            unit = _UNITS.get(lt.get("timeUnit")) if ltype == "Time" else None
            if unit is None:
                unit = "ms" if t.unit == "s" else t.unit
            if unit != t.unit:
                arr = arr.cast(pa.time32(unit) if unit == "ms" else pa.time64(unit))
            ints = arr.view(pa.int32() if pa.types.is_time32(arr.type) else pa.int64()).to_pylist()
            return [b"null" if v is None else json_string(fmt_time(v, unit).encode()) for v in ints]
        if pa.types.is_timestamp(t):
            if physical == "INT96":
                unit, utc = "ns", True
            elif ltype == "Timestamp":
                unit = _UNITS.get(lt.get("timeUnit"), t.unit)
                utc = bool(lt.get("isAdjustedToUTC"))
            else:
                unit, utc = ("ms" if t.unit == "s" else t.unit), t.tz is not None
            if unit != t.unit:
                arr = arr.cast(pa.timestamp(unit, t.tz))
            ints = arr.view(pa.int32() if pa.types.is_time32(arr.type) else pa.int64()).to_pylist()
            return [b"null" if v is None else json_string(fmt_timestamp(v, unit, utc).encode()) for v in ints]
        if pa.types.is_duration(t):
            return [b"null" if v is None else b"%d" % v for v in arr.view(pa.int64()).to_pylist()]
        if (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
                or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
                or getattr(pa.types, "is_string_view", lambda t: False)(t)
                or getattr(pa.types, "is_binary_view", lambda t: False)(t)):
            vals = _bytes_list(arr)
            if ltype == "UUID" and pa.types.is_fixed_size_binary(t):
                return [b"null" if v is None else json_string(fmt_uuid(v).encode()) for v in vals]
            if ltype in ("String", "Enum", "JSON"):
                return [_string_json(v) for v in vals]
            if ltype is None and (pa.types.is_string(t) or pa.types.is_large_string(t)):
                return [_string_json(v) for v in vals]
            return [_b64_json(v) for v in vals]
        # Anything else: fall back to the Python values.
        return [_py_json(v) for v in arr.to_pylist()]


class _Texts(list):
    """A row group's text values as bytes (None for null), converted to str as they are read."""
    __slots__ = ()


def _bytes_list(arr) -> list:
    """Python bytes (or None) of a string/binary array, without UTF-8 validation."""
    t = arr.type
    if pa.types.is_string(t):
        arr = arr.cast(pa.binary())
    elif pa.types.is_large_string(t):
        arr = arr.cast(pa.large_binary())
    elif getattr(pa.types, "is_string_view", lambda t: False)(t):
        arr = arr.cast(pa.binary_view())
    return arr.to_pylist()


def _py_json(v) -> bytes:
    if v is None:
        return b"null"
    if v is True:
        return b"true"
    if v is False:
        return b"false"
    if isinstance(v, int):
        return b"%d" % v
    if isinstance(v, float):
        return swift_double(v)
    if isinstance(v, Decimal):
        return json_string(format(v, "f").encode())
    if isinstance(v, bytes):
        return _b64_json(v)
    if isinstance(v, str):
        return json_string(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, (list, tuple)):
        return b"[" + b",".join(_py_json(x) for x in v) + b"]"
    if isinstance(v, dict):
        return b"{" + b",".join(json_string(str(k).encode()) + b":" + _py_json(x) for k, x in v.items()) + b"}"
    return json_string(str(v).encode())


# Decoded row groups kept per open file (LRU). Shuffled manifests jump between row groups; keeping them
# avoids decoding a row group again for every entry. Memory: up to this many row groups' samples per file.
ROW_GROUP_CACHE = int(os.environ.get("MIXTERA_PARQUET_ROW_GROUPS", 8))


class ParquetReplayFile:
    """One Parquet file of a manifest. `read(locator, count)` returns the samples of rows
    locator ..< locator + count: text (str, or None for a null; JSON bytes for a non-string text column) when
    `text_field` is set, else whole rows as JSON bytes. Up to ROW_GROUP_CACHE decoded row groups are kept."""

    def __init__(self, path: str, text_field: Optional[str]):
        need_pyarrow(path)
        self.path = path
        self.text_field = text_field
        try:
            self.pf = pq.ParquetFile(path)
        except FileNotFoundError:
            raise
        except Exception as e:
            raise RecordError("cannot read parquet file: %s" % e, path, kind="corrupt-footer")
        md = self.pf.metadata
        self.rows = md.num_rows
        self.groups = []  # (first row, row count, index) of the non-empty row groups
        first = 0
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if n > 0:
                self.groups.append((first, n, g))
            first += n
        self.starts = [g[0] for g in self.groups]
        self.cache = None  # the row group last used: rows, first row, end row
        self.cache_lo = self.cache_hi = 0
        self.decoded = OrderedDict()  # group position → decoded rows, LRU, at most ROW_GROUP_CACHE
        self._plan = None

    def close(self):
        self.cache = None
        self.decoded.clear()
        self.pf = None

    def _prepare(self):
        schema = self.pf.schema_arrow
        pschema = self.pf.schema
        leaves = [_Leaf(pschema.column(i)) for i in range(len(pschema))]
        tf = self.text_field
        if tf is None:
            pos = 0
            cols = []
            for f in schema:
                cols.append((json_string(f.name.encode("utf-8", "surrogateescape")), Renderer(f.type, leaves, pos)))
                pos += _leaf_count(f.type)
            self._plan = ("rows", None, cols)
            return
        parts = tf.split(".")
        # The leaf position of the text column (for its Parquet annotation) and the Arrow path to it.
        t = None
        pos = 0
        fields = schema
        names = []
        for depth, name in enumerate(parts):
            idx = fields.get_field_index(name) if hasattr(fields, "get_field_index") else -1
            if idx < 0:
                raise RecordError('no column "%s" in the file' % tf, self.path, kind="no-such-column")
            for i in range(idx):
                pos += _leaf_count(fields.field(i).type if hasattr(fields, "field") else fields[i].type)
            f = fields.field(idx) if hasattr(fields, "field") else fields[idx]
            names.append(name)
            t = f.type
            if depth + 1 < len(parts):
                if not pa.types.is_struct(t):
                    raise UnsupportedFormatError('text column "%s" below a non-struct column is not supported' % tf,
                                                 self.path)
                fields = t
        self._plan = ("text", names, Renderer(t, leaves, pos))

    def _decode(self, gi: int) -> list:
        if self._plan is None:
            self._prepare()
        kind, names, r = self._plan
        g = self.groups[gi][2]
        try:
            if kind == "rows":
                tbl = self.pf.read_row_group(g, use_threads=False)
                n = tbl.num_rows
                cols = [(name, ren.render(tbl.column(i).combine_chunks())) for i, (name, ren) in enumerate(r)]
                if not cols:
                    return [b"{}"] * n
                return [b"{" + b",".join(name + b":" + c[i] for name, c in cols) + b"}" for i in range(n)]
            tbl = self.pf.read_row_group(g, columns=[self.text_field], use_threads=False)
            arr = tbl.column(0).combine_chunks()
            for name in names[1:]:
                arr = pc.struct_field(arr, [name])
            t = arr.type
            # Text values stay bytes here (a _Texts list) and become str only when read: an entry reads a few
            # rows of the row group.
            if (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
                    or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)):
                return _Texts(_bytes_list(arr))
            if isinstance(t, pa.ExtensionType) and pa.types.is_fixed_size_binary(t.storage_type):
                return _Texts(arr.storage.to_pylist())
            return r.render(arr)
        except (UnsupportedFormatError, RecordError):
            raise
        except Exception as e:  # pyarrow errors on damaged data
            raise RecordError("cannot decode row group %d: %s" % (g, e), self.path, kind="corrupt-page")

    def read(self, locator: int, count: int) -> list:
        if locator < 0 or count < 0 or locator + count > self.rows:
            raise CorruptBlockError("entry rows %d..<%d exceed the %d rows of the file"
                                    % (locator, locator + count, self.rows), self.path)
        out = []
        row = locator
        end = locator + count
        while row < end:
            if self.cache is not None and self.cache_lo <= row < self.cache_hi:
                rows = self.cache
            else:
                gi = bisect.bisect_right(self.starts, row) - 1
                first, n, _ = self.groups[gi]
                if not first <= row < first + n:
                    raise CorruptBlockError("row %d is in no row group" % row, self.path)
                rows = self.decoded.get(gi)
                if rows is None:
                    rows = self._decode(gi)
                    self.decoded[gi] = rows
                    while len(self.decoded) > ROW_GROUP_CACHE:
                        self.decoded.popitem(last=False)
                else:
                    self.decoded.move_to_end(gi)
                self.cache, self.cache_lo, self.cache_hi = rows, first, first + n
            hi = min(end, self.cache_hi)
            lo = self.cache_lo
            if type(rows) is _Texts:
                out += [None if b is None else text_str(b) for b in rows[row - lo:hi - lo]]
            elif count == 1:
                out.append(rows[row - lo])
            else:
                out += rows[row - lo:hi - lo]
            row = hi
        return out
