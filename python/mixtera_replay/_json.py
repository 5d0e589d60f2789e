"""JSON helpers that match the Swift implementation byte for byte (docs/manifest-format.md §4).

* `json_string(b)`: the doc's JSON string encoding of UTF-8 bytes (NOT json.dumps: no \\uXXXX for
  non-ASCII, no escaping of '/' or 0x7F, lowercase hex for other control bytes).
* `TextExtractor`: the string at a JSON path of a record, decoded. A fast path uses the C json
  decoder; anything unusual (invalid UTF-8, NaN/Infinity, deep nesting, missing field, duplicate
  keys) falls back to `_ExactParser`, a port of the Swift validating parser, so results and errors
  agree with `mixtera replay`.
"""
from __future__ import annotations

import json
import re

_ESC_RE = re.compile(rb'[\x00-\x1f"\\]')
_ESC = {bytes([c]): b"\\u%04x" % c for c in range(0x20)}
_ESC.update({b'"': b'\\"', b"\\": b"\\\\", b"\n": b"\\n", b"\r": b"\\r", b"\t": b"\\t", b"\x08": b"\\b", b"\x0c": b"\\f"})
_esc_sub = _ESC_RE.sub
_esc_search = _ESC_RE.search


def _esc_one(m, _e=_ESC):
    return _e[m.group()]


def json_string(b: bytes) -> bytes:
    """Encodes UTF-8 bytes as a JSON string by the doc's rules."""
    if _esc_search(b) is None:
        return b'"' + b + b'"'
    return b'"' + _esc_sub(_esc_one, b) + b'"'


_SURR_RE = re.compile("[\ud800-\udfff]")


def fix_surrogates(s: str) -> str:
    """Lone UTF-16 surrogates (from \\u escapes) become U+FFFD, as in Swift."""
    return _SURR_RE.sub("\ufffd", s)


class PathError(ValueError):
    pass


def parse_path(text: str):
    """Parses a text-field path (Sources/MixteraFormats/JSONL/JSONPath.swift): `a.b`, `a\\.b`, `a[0]`,
    `a[*]`, `["a.b"]`. Returns a list of segments: ('key', bytes) | ('index', int) | ('wildcard', None)."""
    s = text.encode("utf-8")
    out = []
    i = 0
    key = bytearray()
    key_open = False

    def flush():
        nonlocal key, key_open
        if key_open:
            out.append(("key", bytes(key)))
        key = bytearray()
        key_open = False

    n = len(s)
    while i < n:
        c = s[i]
        if c == 0x5C:
            if i + 1 >= n:
                raise PathError("path ends with a backslash")
            key.append(s[i + 1])
            key_open = True
            i += 2
        elif c == 0x2E:
            if not key_open and (not out or i + 1 >= n):
                raise PathError('empty key in path "%s"' % text)
            flush()
            i += 1
            if i < n and s[i] == 0x2E:
                raise PathError('empty key in path "%s"' % text)
        elif c == 0x5B:
            flush()
            close = s.find(b"]", i)
            if close < 0:
                raise PathError('unclosed [ in path "%s"' % text)
            inner = s[i + 1:close]
            if inner == b"*":
                out.append(("wildcard", None))
            elif len(inner) >= 2 and inner[:1] == b'"' and inner[-1:] == b'"':
                out.append(("key", inner[1:-1]))
            elif inner and inner.isdigit() and len(inner) < 10:
                out.append(("index", int(inner)))
            else:
                raise PathError('bad index [%s] in path "%s"' % (inner.decode("utf-8", "replace"), text))
            i = close + 1
        else:
            key.append(c)
            key_open = True
            i += 1
    flush()
    if not out:
        raise PathError("empty path")
    return out


class LineError(Exception):
    def __init__(self, offset, message):
        super().__init__(message)
        self.offset = offset
        self.message = message


_HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}
_WS = b" \t\r\n"
_DIGITS = frozenset(b"0123456789")
_NUM_END = frozenset(b" \t\r\n,}]")


def _utf8(cp: int) -> bytes:
    return chr(cp).encode("utf-8", "surrogatepass") if cp < 0x110000 else b""


def unescape(s: bytes) -> bytes:
    """Decodes the escapes of a validated JSON string body (Swift JSONString.unescape)."""
    if b"\\" not in s:
        return s
    out = bytearray()
    i = 0
    n = len(s)
    while i < n:
        j = s.find(b"\\", i)
        if j < 0:
            out += s[i:]
            break
        out += s[i:j]
        e = s[j + 1]
        i = j + 2
        if e == 0x62:
            out.append(0x08)
        elif e == 0x66:
            out.append(0x0C)
        elif e == 0x6E:
            out.append(0x0A)
        elif e == 0x72:
            out.append(0x0D)
        elif e == 0x74:
            out.append(0x09)
        elif e == 0x75:
            cp = int(s[i:i + 4], 16)
            i += 4
            if 0xD800 <= cp < 0xDC00:
                if i + 6 <= n and s[i] == 0x5C and s[i + 1] == 0x75:
                    lo = int(s[i + 2:i + 6], 16)
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                    else:
                        cp = 0xFFFD
                else:
                    cp = 0xFFFD
            elif 0xDC00 <= cp < 0xE000:
                cp = 0xFFFD
            out += _utf8(cp)
        else:
            out.append(e)
    return bytes(out)


class _ExactParser:
    """Port of the Swift JSONFieldExtractor for one path (single value; last one seen wins)."""

    MAX_DEPTH = 256

    def __init__(self, segments):
        self.segments = segments
        self.multi = any(k == "wildcard" for k, _ in segments)

    def extract(self, line: bytes):
        """Returns (kind, start, end, escaped) of the value at the path, kind None when missing."""
        self.b = line
        self.n = len(line)
        self.i = 0
        self.found = None
        self._ws()
        if self.i >= self.n:
            raise LineError(0, "empty line")
        if line[self.i] != 0x7B:
            raise LineError(self.i, "record is not a JSON object")
        self._value(0, 0)
        self._ws()
        if self.i != self.n:
            raise LineError(self.i, "unexpected content after the JSON object")
        return self.found

    def _ws(self):
        b, n, i = self.b, self.n, self.i
        while i < n and b[i] in (0x20, 0x0A, 0x0D, 0x09):
            i += 1
        self.i = i

    def _record(self, level, kind, start, end, esc):
        # `level` is the number of segments matched; a value at the full path is recorded.
        if level == len(self.segments) and not self.multi:
            self.found = (kind, start, end, esc)

    def _value(self, level, depth):
        b = self.b
        if self.i >= self.n:
            raise LineError(self.i, "unexpected end of line, expected a value")
        c = b[self.i]
        start = self.i
        if c == 0x22:
            esc = self._string()
            if level is not None:
                self._record(level, "string", start + 1, self.i - 1, esc)
        elif c == 0x7B:
            if depth >= self.MAX_DEPTH:
                raise LineError(start, "nesting deeper than %d" % self.MAX_DEPTH)
            self._object(level, depth + 1)
            if level is not None:
                self._record(level, "object", start, self.i, False)
        elif c == 0x5B:
            if depth >= self.MAX_DEPTH:
                raise LineError(start, "nesting deeper than %d" % self.MAX_DEPTH)
            self._array(level, depth + 1)
            if level is not None:
                self._record(level, "array", start, self.i, False)
        elif c == 0x74:
            self._literal(b"true")
            if level is not None:
                self._record(level, "true", start, self.i, False)
        elif c == 0x66:
            self._literal(b"false")
            if level is not None:
                self._record(level, "false", start, self.i, False)
        elif c == 0x6E:
            self._literal(b"null")
            if level is not None:
                self._record(level, "null", start, self.i, False)
        elif c == 0x2D or c in _DIGITS:
            self._number()
            if level is not None:
                self._record(level, "number", start, self.i, False)
        else:
            raise LineError(start, "unexpected character, expected a value")

    def _child_key(self, level, key_bytes):
        if level is None or level >= len(self.segments):
            return None
        kind, v = self.segments[level]
        if kind == "key" and v == key_bytes:
            return level + 1
        return None

    def _object(self, level, depth):
        b = self.b
        self.i += 1
        self._ws()
        if self.i < self.n and b[self.i] == 0x7D:
            self.i += 1
            return
        while True:
            if self.i >= self.n or b[self.i] != 0x22:
                raise LineError(self.i, "expected a string key" if self.i < self.n else "unexpected end of line in object")
            ks = self.i + 1
            esc = self._string()
            ke = self.i - 1
            key = b[ks:ke]
            if esc:
                key = unescape(key)
            child = self._child_key(level, key)
            self._ws()
            if self.i >= self.n or b[self.i] != 0x3A:
                raise LineError(self.i, "expected ':' after object key")
            self.i += 1
            self._ws()
            self._value(child, depth)
            self._ws()
            if self.i >= self.n:
                raise LineError(self.i, "unexpected end of line in object")
            c = b[self.i]
            self.i += 1
            if c == 0x7D:
                return
            if c != 0x2C:
                raise LineError(self.i - 1, "expected ',' or '}' in object")
            self._ws()

    def _array(self, level, depth):
        b = self.b
        self.i += 1
        self._ws()
        if self.i < self.n and b[self.i] == 0x5D:
            self.i += 1
            return
        index = 0
        while True:
            child = None
            if level is not None and level < len(self.segments):
                kind, v = self.segments[level]
                if kind == "wildcard" or (kind == "index" and v == index):
                    child = level + 1
            self._value(child, depth)
            self._ws()
            if self.i >= self.n:
                raise LineError(self.i, "unexpected end of line in array")
            c = b[self.i]
            self.i += 1
            if c == 0x5D:
                return
            if c != 0x2C:
                raise LineError(self.i - 1, "expected ',' or ']' in array")
            self._ws()
            index += 1

    def _literal(self, lit):
        if self.b[self.i:self.i + len(lit)] != lit:
            raise LineError(self.i, "invalid literal, expected %s" % lit.decode())
        self.i += len(lit)

    def _string(self):
        b, n = self.b, self.n
        opening = self.i
        i = self.i + 1
        escaped = False
        while True:
            if i >= n:
                raise LineError(opening, "unterminated string")
            c = b[i]
            if c == 0x22:
                self.i = i + 1
                return escaped
            if c == 0x5C:
                escaped = True
                if i + 1 >= n:
                    raise LineError(i, "unterminated string")
                e = b[i + 1]
                if e in b'"\\/bfnrt':
                    i += 2
                elif e == 0x75:
                    if i + 6 > n:
                        raise LineError(i, "truncated \\u escape")
                    for j in range(2, 6):
                        if b[i + j] not in _HEX:
                            raise LineError(i, "invalid \\u escape")
                    i += 6
                else:
                    raise LineError(i, "invalid escape")
                continue
            if c < 0x20:
                raise LineError(i, "unescaped control character in string")
            i += 1

    def _number(self):
        b, n = self.b, self.n
        start = i = self.i
        if b[i] == 0x2D:
            i += 1
        if not (i < n and b[i] in _DIGITS):
            raise LineError(start, "invalid number")
        if b[i] == 0x30:
            i += 1
        else:
            while i < n and b[i] in _DIGITS:
                i += 1
        if i < n and b[i] == 0x2E:
            i += 1
            if not (i < n and b[i] in _DIGITS):
                raise LineError(start, "invalid number")
            while i < n and b[i] in _DIGITS:
                i += 1
        if i < n and b[i] | 0x20 == 0x65:
            i += 1
            if i < n and b[i] in (0x2B, 0x2D):
                i += 1
            if not (i < n and b[i] in _DIGITS):
                raise LineError(start, "invalid number")
            while i < n and b[i] in _DIGITS:
                i += 1
        if i < n and b[i] not in _NUM_END:
            raise LineError(i, "invalid number")
        self.i = i


def _reject_constant(name):
    raise ValueError("invalid literal " + name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_scan_once = _DECODER.scan_once


class FieldMissing(Exception):
    pass


class TextExtractor:
    """Extracts the text field of a record. `text(line)` returns a str (lone surrogates → U+FFFD;
    bytes that are not valid UTF-8 are kept as surrogate escapes, see `to_utf8`)."""

    def __init__(self, path: str, strict: bool = False):
        self.path = path
        self.strict = strict
        self.segments = parse_path(path)
        self._exact = _ExactParser(self.segments)
        self._wild = self._exact.multi
        simple = [v for k, v in self.segments if k == "key"]
        if len(simple) == len(self.segments):
            try:
                self._keys = [k.decode("utf-8") for k in simple]
            except UnicodeDecodeError:
                self._keys = None
        else:
            self._keys = None
        try:
            self._lookup = [(k, v.decode("utf-8") if k == "key" else v) for k, v in self.segments]
        except UnicodeDecodeError:
            self._wild = True  # keys that are not UTF-8: exact parser only
        self._single = self._keys[0] if self._keys is not None and len(self._keys) == 1 else None

    def text(self, line: bytes) -> str:
        """Raises LineError (invalid JSON) or FieldMissing."""
        # Fast path: the C scanner, then the path lookup. Anything odd goes to the exact parser:
        # invalid UTF-8, leading/trailing garbage, NaN/Infinity, a missing or non-string value (which
        # may come from an earlier duplicate key). One difference is not re-checked here: nesting
        # deeper than 256 (Swift rejects it; such records never pass `mixtera scan`, and fingerprints
        # guarantee the data is the scanned data). `strict=True` checks it too (costs ~1 us/KB).
        if self._wild or (self.strict and line.count(b"{") + line.count(b"[") > 256):
            return self._slow(line)
        try:
            u = line.decode("utf-8")
            obj, end = _scan_once(u, 0)
        except (ValueError, UnicodeDecodeError, RecursionError, StopIteration):
            return self._slow(line)
        if end != len(u) and u[end:].strip(" \t\r\n"):
            return self._slow(line)
        if type(obj) is not dict:
            return self._slow(line)
        single = self._single
        if single is not None:
            v = obj.get(single)
        else:
            v = obj
            for kind, seg in self._lookup:
                if kind == "key":
                    v = v.get(seg) if type(v) is dict else None
                else:
                    v = v[seg] if type(v) is list and seg < len(v) else None
                if v is None:
                    break
        if type(v) is str:
            # A lone surrogate can only come from a \\uD8xx..\\uDFxx escape.
            if v.isascii() or (b"\\ud" not in line and b"\\uD" not in line) or _SURR_RE.search(v) is None:
                return v
            return fix_surrogates(v)
        return self._slow(line)

    def _slow(self, line: bytes) -> str:
        found = self._exact.extract(line)
        if found is None or found[0] != "string":
            raise FieldMissing('text field "%s" is missing or not a string' % self.path)
        _, s, e, esc = found
        body = line[s:e]
        if esc:
            body = unescape(body)
        return body.decode("utf-8", "surrogateescape")


def to_utf8(text: str) -> bytes:
    """The UTF-8 bytes of an extracted text (surrogate escapes restore invalid input bytes)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def utf8_replaced(b: bytes) -> bytes:
    """The bytes with invalid UTF-8 replaced by U+FFFD (as Swift's String(decoding:as:UTF8.self))."""
    if b.isascii():
        return b
    try:
        b.decode("utf-8")
        return b
    except UnicodeDecodeError:
        return b.decode("utf-8", "replace").encode("utf-8")


def text_str(b: bytes) -> str:
    if b.isascii():
        return b.decode("ascii")
    return b.decode("utf-8", "replace")
