"""XXH3-64 (xxhash 0.8, seed 0).

Backends, fastest first:
  1. the `xxhash` PyPI package, if importable;
  2. the system libxxhash (libxxhash.so.0, Debian package libxxhash0) through ctypes;
  3. a pure-Python implementation written from doc/xxhash_spec.md (slow: ~MB/s; fine for
     manifest checksums, slow for rehashing large data files).

`MIXTERA_XXH3=python` forces the pure-Python backend (used by the tests).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct

M64 = 0xFFFFFFFFFFFFFFFF

P32_1 = 0x9E3779B1
P32_2 = 0x85EBCA77
P32_3 = 0xC2B2AE3D
P64_1 = 0x9E3779B185EBCA87
P64_2 = 0xC2B2AE3D27D4EB4F
P64_3 = 0x165667B19E3779F9
P64_4 = 0x85EBCA77C2B2AE63
P64_5 = 0x27D4EB2F165667C5
MX1 = 0x165667919E3779F9
MX2 = 0x9FB21C651E98DF25

SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
    "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
)
assert len(SECRET) == 192


def _u32(b, i):
    return int.from_bytes(b[i:i + 4], "little")


def _u64(b, i):
    return int.from_bytes(b[i:i + 8], "little")


def _avalanche(x):
    x ^= x >> 37
    x = (x * MX1) & M64
    return x ^ (x >> 32)


def _avalanche_xxh64(x):
    x ^= x >> 33
    x = (x * P64_2) & M64
    x ^= x >> 29
    x = (x * P64_3) & M64
    return x ^ (x >> 32)


def _rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _bswap64(x):
    return int.from_bytes(x.to_bytes(8, "little"), "big")


def _bswap32(x):
    return int.from_bytes(x.to_bytes(4, "little"), "big")


def _mul128_fold64(a, b):
    p = a * b
    return (p & M64) ^ (p >> 64)


def _mix16(data, off, soff):
    lo = _u64(data, off) ^ _u64(SECRET, soff)
    hi = _u64(data, off + 8) ^ _u64(SECRET, soff + 8)
    return _mul128_fold64(lo, hi)


def _small(data, n):
    s = SECRET
    if n == 0:
        return _avalanche_xxh64(_u64(s, 56) ^ _u64(s, 64))
    if n <= 3:
        combined = data[n - 1] | (n << 8) | (data[0] << 16) | (data[n >> 1] << 24)
        value = (_u32(s, 0) ^ _u32(s, 4)) ^ combined
        return _avalanche_xxh64(value)
    if n <= 8:
        first = _u32(data, 0)
        last = _u32(data, n - 4)
        combined = last | (first << 32)
        value = (_u64(s, 8) ^ _u64(s, 16)) ^ combined
        value ^= _rotl64(value, 49) ^ _rotl64(value, 24)
        value = (value * MX2) & M64
        value ^= (value >> 35) + n
        value = (value * MX2) & M64
        return value ^ (value >> 28)
    first = _u64(data, 0)
    last = _u64(data, n - 8)
    lo = (_u64(s, 24) ^ _u64(s, 32)) ^ first
    hi = (_u64(s, 40) ^ _u64(s, 48)) ^ last
    value = (n + _bswap64(lo) + hi + _mul128_fold64(lo, hi)) & M64
    return _avalanche(value)


def _medium(data, n):
    acc = (n * P64_1) & M64
    if n <= 128:
        rounds = ((n - 1) >> 5) + 1
        for i in range(rounds - 1, -1, -1):
            acc += _mix16(data, i * 16, i * 32)
            acc += _mix16(data, n - i * 16 - 16, i * 32 + 16)
        return _avalanche(acc & M64)
    chunks = n >> 4
    for i in range(8):
        acc += _mix16(data, i * 16, i * 16)
    acc = _avalanche(acc & M64)
    for i in range(8, chunks):
        acc += _mix16(data, i * 16, (i - 8) * 16 + 3)
    acc += _mix16(data, n - 16, 119)
    return _avalanche(acc & M64)


_SECRET_WORDS = [struct.unpack_from("<8Q", SECRET, o) for o in range(0, 129, 8)]
_SCRAMBLE = struct.unpack_from("<8Q", SECRET, 192 - 64)
_LAST = struct.unpack_from("<8Q", SECRET, 192 - 71)
_STRIPES = 16
_BLOCK = 64 * _STRIPES


def _accumulate(acc, stripe, sw):
    for i in range(8):
        v = stripe[i] ^ sw[i]
        acc[i ^ 1] += stripe[i]
        acc[i] += (v & 0xFFFFFFFF) * (v >> 32)


def _large(data, n):
    acc = [P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1]
    nblocks = (n - 1) // _BLOCK
    for b in range(nblocks):
        base = b * _BLOCK
        words = struct.unpack_from("<128Q", data, base)
        for s in range(_STRIPES):
            _accumulate(acc, words[s * 8:s * 8 + 8], _SECRET_WORDS[s])
        for i in range(8):
            a = acc[i] & M64
            a ^= a >> 47
            a ^= _SCRAMBLE[i]
            acc[i] = (a * P32_1) & M64
        acc = [a & M64 for a in acc]
    base = nblocks * _BLOCK
    rem = n - base
    for s in range((rem - 1) // 64):
        _accumulate(acc, struct.unpack_from("<8Q", data, base + s * 64), _SECRET_WORDS[s])
    _accumulate(acc, struct.unpack_from("<8Q", data, n - 64), _LAST)
    acc = [a & M64 for a in acc]
    result = (n * P64_1) & M64
    for i in range(4):
        result += _mul128_fold64(acc[2 * i] ^ _u64(SECRET, 11 + 16 * i), acc[2 * i + 1] ^ _u64(SECRET, 11 + 16 * i + 8))
    return _avalanche(result & M64)


def xxh3_64_python(data) -> int:
    """Pure-Python XXH3-64 with seed 0."""
    data = bytes(data)
    n = len(data)
    if n <= 16:
        return _small(data, n)
    if n <= 240:
        return _medium(data, n)
    return _large(data, n)


class _PythonStream:
    """Streaming fallback: buffers the whole input (the pure-Python path is for small data)."""

    def __init__(self):
        self._parts = []

    def update(self, b):
        self._parts.append(bytes(b))

    def intdigest(self):
        return xxh3_64_python(b"".join(self._parts))


def _load_backend():
    forced = os.environ.get("MIXTERA_XXH3", "")
    if forced != "python":
        try:
            import xxhash  # type: ignore

            return "xxhash", xxhash.xxh3_64_intdigest, lambda: xxhash.xxh3_64()
        except ImportError:
            pass
        for name in ("libxxhash.so.0", ctypes.util.find_library("xxhash"), "libxxhash.so"):
            if not name:
                continue
            try:
                lib = ctypes.CDLL(name)
                fn = lib.XXH3_64bits
            except (OSError, AttributeError):
                continue
            fn.restype = ctypes.c_uint64
            fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
            try:
                create = lib.XXH3_createState
                create.restype = ctypes.c_void_p
                reset = lib.XXH3_64bits_reset
                reset.argtypes = [ctypes.c_void_p]
                upd = lib.XXH3_64bits_update
                upd.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
                dig = lib.XXH3_64bits_digest
                dig.restype = ctypes.c_uint64
                dig.argtypes = [ctypes.c_void_p]
                free = lib.XXH3_freeState
                free.argtypes = [ctypes.c_void_p]
            except AttributeError:
                create = None

            def one(b, fn=fn):
                b = bytes(b)
                return fn(b, len(b))

            if create is None:
                return "libxxhash", one, _PythonStream

            class _CStream:
                def __init__(self):
                    self._st = create()
                    reset(self._st)

                def update(self, b):
                    b = bytes(b)
                    upd(self._st, b, len(b))

                def intdigest(self):
                    return dig(self._st)

                def __del__(self):
                    if getattr(self, "_st", None):
                        free(self._st)
                        self._st = None

            return "libxxhash", one, _CStream
    return "python", xxh3_64_python, _PythonStream


BACKEND, xxh3_64, _new_stream = _load_backend()


def xxh3_64_file(path: str, chunk: int = 1 << 22) -> int:
    """XXH3-64 of a whole file's bytes."""
    if BACKEND == "python":
        with open(path, "rb") as f:
            return xxh3_64_python(f.read())
    h = _new_stream()
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.intdigest()


def hex64(v: int) -> str:
    return "%016x" % v


def file_fingerprint(path: str, expected: str) -> str:
    """The fingerprint string of `path` computed the way `expected` (a manifest's fingerprint) was: a
    `tarh:` prefix means the plain-tar header fingerprint (_wds.tar_header_fingerprint_file), `pqf:` the
    Parquet footer fingerprint (_parquet.parquet_footer_fingerprint_file)."""
    from ._parquet import PARQUET_FOOTER_PREFIX, parquet_footer_fingerprint_file
    from ._wds import TAR_HEADERS_PREFIX, tar_header_fingerprint_file
    if expected.startswith(TAR_HEADERS_PREFIX):
        return TAR_HEADERS_PREFIX + hex64(tar_header_fingerprint_file(path))
    if expected.startswith(PARQUET_FOOTER_PREFIX):
        return PARQUET_FOOTER_PREFIX + hex64(parquet_footer_fingerprint_file(path))
    return hex64(xxh3_64_file(path))
