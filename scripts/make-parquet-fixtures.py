#!/usr/bin/env python3
"""Writes the Parquet test fixtures (fixtures/parquet/) and hostile files (fixtures/bad/parquet/).

Every good file X.parquet gets X.expected.jsonl: one JSON object per row in mixtera's Parquet JSON mapping
(docs/parquet-support.md), computed from the Arrow data that was written (not read back). Content is pinned:
no randomness, so re-running reproduces the same values (byte layout may change with the writer version).

Requires pyarrow (and duckdb for the second-writer file): pip install pyarrow duckdb
"""
import base64
import datetime
import decimal
import json
import math
import os
import struct
import sys
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOD = os.path.join(ROOT, "fixtures", "parquet")
BAD = os.path.join(ROOT, "fixtures", "bad", "parquet")
N = 20

# ---------------------------------------------------------------------------------------------- JSON mapping


def fmt_frac(value, unit):
    per, digits = {"ms": (1000, 3), "us": (10**6, 6), "ns": (10**9, 9), "s": (1, 0)}[unit]
    secs, frac = divmod(value, per)
    return secs, str(frac).rjust(digits, "0")


def fmt_date(days):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=days)).isoformat()


def fmt_ts(value, unit, utc):
    secs, frac = fmt_frac(value, unit)
    days, sod = divmod(secs, 86400)
    return f"{fmt_date(days)}T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}.{frac}" + ("Z" if utc else "")


def fmt_time(value, unit):
    secs, frac = fmt_frac(value, unit)
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.{frac}"


def conv_array(arr):
    """Arrow array -> list of JSON-able Python values in mixtera's mapping."""
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        if str(t.extension_name) == "arrow.uuid":
            return [None if v is None else str(uuid.UUID(bytes=v)) for v in arr.storage.to_pylist()]
        return conv_array(arr.storage)
    if pa.types.is_struct(t):
        kids = [conv_array(arr.field(i)) for i in range(t.num_fields)]
        valid = arr.is_valid().to_pylist()
        return [
            {t.field(i).name: kids[i][r] for i in range(t.num_fields)} if valid[r] else None for r in range(len(arr))
        ]
    if pa.types.is_map(t):
        out = []
        for r in range(len(arr)):
            s = arr[r]
            if not s.is_valid:
                out.append(None)
                continue
            keys = conv_array(s.values.field(0))
            vals = conv_array(s.values.field(1))
            out.append([{"key": k, "value": v} for k, v in zip(keys, vals)])
        return out
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [None if not arr[r].is_valid else conv_array(arr[r].values) for r in range(len(arr))]
    if pa.types.is_dictionary(t):
        return conv_array(arr.dictionary_decode())
    if pa.types.is_timestamp(t):
        ints = arr.view(pa.int64()).to_pylist()
        return [None if v is None else fmt_ts(v, t.unit, t.tz is not None) for v in ints]
    if pa.types.is_time(t):
        ints = arr.view(pa.int32() if t.bit_width == 32 else pa.int64()).to_pylist()
        return [None if v is None else fmt_time(v, t.unit) for v in ints]
    if pa.types.is_date32(t):
        ints = arr.view(pa.int32()).to_pylist()
        return [None if v is None else fmt_date(v) for v in ints]
    if pa.types.is_decimal(t):
        return [None if v is None else str(v) for v in arr.to_pylist()]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return [None if v is None else base64.b64encode(v).decode() for v in arr.to_pylist()]
    if pa.types.is_floating(t):
        return [None if v is None or not math.isfinite(float(v)) else float(v) for v in arr.to_pylist()]
    return arr.to_pylist()


def write_expected(table, name):
    cols = {n: conv_array(table.column(n).combine_chunks()) for n in table.column_names}
    with open(os.path.join(GOOD, name + ".expected.jsonl"), "w") as f:
        for r in range(table.num_rows):
            f.write(json.dumps({n: cols[n][r] for n in table.column_names}, ensure_ascii=False) + "\n")


def write(table, name, **kw):
    pq.write_table(table, os.path.join(GOOD, name + ".parquet"), **kw)
    write_expected(table, name)


# ---------------------------------------------------------------------------------------------- tables


def basic_table(n=N):
    langs = ["en", "de", "fr", None, "ja"]
    texts = [
        None if i % 7 == 3 else ("héllo wörld " * (i % 4)) + f"doc {i} \"quoted\"\n\t" + ("日本語" if i % 5 == 0 else "")
        for i in range(n)
    ]
    return pa.table(
        {
            "id": pa.array(list(range(n)), pa.int64()),
            "text": pa.array(texts, pa.string()),
            "score": pa.array([None if i % 6 == 5 else (i * 0.25 - 1.5 if i != 4 else float("nan")) for i in range(n)]),
            "flag": pa.array([None if i % 9 == 8 else i % 3 == 0 for i in range(n)], pa.bool_()),
            "small": pa.array([(i * 37) % 11 - 5 for i in range(n)], pa.int32()),
            "meta": pa.array(
                [
                    None
                    if i % 8 == 7
                    else {"language": langs[i % 5], "source": "web" if i % 2 else "code", "quality": i % 4}
                    for i in range(n)
                ],
                pa.struct([("language", pa.string()), ("source", pa.string()), ("quality", pa.int16())]),
            ),
            "tags": pa.array(
                [None if i % 5 == 4 else [f"t{j}" for j in range(i % 4)] + ([None] if i % 6 == 1 else []) for i in range(n)],
                pa.list_(pa.string()),
            ),
        }
    )


def nested_table():
    n = 12
    return pa.table(
        {
            "doc": pa.array(
                [
                    None
                    if i == 3
                    else {
                        "title": f"title {i}",
                        "inner": None if i % 4 == 1 else {"x": i, "y": None if i % 3 == 0 else f"y{i}"},
                    }
                    for i in range(n)
                ],
                pa.struct([("title", pa.string()), ("inner", pa.struct([("x", pa.int32()), ("y", pa.string())]))]),
            ),
            "items": pa.array(
                [
                    None if i == 2 else [{"a": i * 10 + j, "b": None if j == 1 else f"b{j}"} for j in range(i % 3)]
                    for i in range(n)
                ],
                pa.list_(pa.struct([("a", pa.int64()), ("b", pa.string())])),
            ),
            "matrix": pa.array(
                [None if i == 5 else [[i, j] if j != 1 else None for j in range(i % 3)] for i in range(n)],
                pa.list_(pa.list_(pa.int32())),
            ),
            "attrs": pa.array(
                [None if i == 7 else [(f"k{j}", None if j == 2 else j * i) for j in range(i % 4)] for i in range(n)],
                pa.map_(pa.string(), pa.int64()),
            ),
            "nums": pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.field("item", pa.int64(), nullable=False))),
        }
    )


def logical_table():
    n = 10
    epoch_us = [1_700_000_000_123_456 + i * 86_400_123_457 for i in range(n)]
    cols = {
        "i8": pa.array([(-128 + i * 28) if i != 2 else None for i in range(n)], pa.int8()),
        "i16": pa.array([-32768 + i * 7000 if i < 9 else 32767 for i in range(n)], pa.int16()),
        "u8": pa.array([255 - i for i in range(n)], pa.uint8()),
        "u16": pa.array([65535 - i for i in range(n)], pa.uint16()),
        "u32": pa.array([4294967295 - i for i in range(n)], pa.uint32()),
        "u64": pa.array([18446744073709551615 - i for i in range(n)], pa.uint64()),
        "i64": pa.array([-(2**63) + i for i in range(n)], pa.int64()),
        "f32": pa.array([i * 1.5 - 3.25 for i in range(n)], pa.float32()),
        "dec9": pa.array([decimal.Decimal(f"{i * 137 - 500}.{i:02d}") for i in range(n)], pa.decimal128(9, 2)),
        "dec18": pa.array([decimal.Decimal(f"-{i}.{i:05d}") for i in range(n)], pa.decimal128(18, 5)),
        "dec38": pa.array(
            [decimal.Decimal(f"{'-' if i % 2 else ''}{i}2345678901234567890.{i:010d}") for i in range(n)],
            pa.decimal128(38, 10),
        ),
        "day": pa.array([-800 + i * 4000 for i in range(n)], pa.date32()),
        "t_ms": pa.array([i * 3_723_001 for i in range(n)], pa.time32("ms")),
        "t_us": pa.array([i * 3_723_000_001 for i in range(n)], pa.time64("us")),
        "t_ns": pa.array([i * 3_723_000_000_001 for i in range(n)], pa.time64("ns")),
        "ts_ms": pa.array([v // 1000 for v in epoch_us], pa.timestamp("ms")),
        "ts_us_utc": pa.array(epoch_us, pa.timestamp("us", tz="UTC")),
        "ts_ns_utc": pa.array([v * 1000 + 789 for v in epoch_us], pa.timestamp("ns", tz="UTC")),
        "ts_old": pa.array([-86_400_000_000 * 366 * (i + 1) + 1 for i in range(n)], pa.timestamp("us")),
        "bin": pa.array([bytes(range(i)) if i != 1 else None for i in range(n)], pa.binary()),
        "fixed": pa.array([bytes([i, 255 - i, 7]) for i in range(n)], pa.binary(3)),
        "large": pa.array([f"large {i}" for i in range(n)], pa.large_string()),
        "enum_like": pa.array([["a", "b", "c"][i % 3] for i in range(n)], pa.string()).dictionary_encode(),
    }
    try:
        import numpy as np

        cols["half"] = pa.array(np.array([i * 0.5 - 1 for i in range(n)], dtype=np.float16), pa.float16())
    except Exception:
        pass
    try:
        cols["uid"] = pa.array([uuid.UUID(int=i * 0x0123456789ABCDEF0123456789ABCDEF % 2**128).bytes for i in range(n)], pa.uuid())
    except Exception:
        pass
    return pa.table(cols)


def numeric_table(n=N):
    return pa.table(
        {
            "i32": pa.array([None if i % 7 == 2 else (i * i * 31) - 1000 for i in range(n)], pa.int32()),
            "i64": pa.array([(-1) ** i * i * 10**12 for i in range(n)], pa.int64()),
            "f32": pa.array([None if i == 3 else i * 0.75 for i in range(n)], pa.float32()),
            "f64": pa.array([i / 7 if i != 5 else float("inf") for i in range(n)], pa.float64()),
            "s": pa.array([None if i % 5 == 1 else f"prefix-{i // 3}-suffix-{i}" for i in range(n)], pa.string()),
            "s2": pa.array([f"common/prefix/{i // 4}/{i}" for i in range(n)], pa.string()),
            "fx": pa.array([bytes([i, i + 1, i + 2, i + 3]) for i in range(n)], pa.binary(4)),
        }
    )


def snappy_text():
    """Compressible texts (many snappy copies, overlapping runs, a row over 64 KiB), nulls and empty strings; the
    dictionary falls back to PLAIN early; several pages per row group, no page index (pages found from headers)."""
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "é", "日本"]
    texts = []
    state = 12345
    for i in range(600):
        state = (state * 1103515245 + 12345) % (1 << 31)
        if i % 37 == 5:
            texts.append(None)
        elif i % 53 == 7:
            texts.append("")
        elif i == 300:
            texts.append("x" * 70000 + " tail")
        elif i % 29 == 11:
            texts.append("a" * (state % 300) + "b" * (state % 17))
        else:
            n = 5 + state % 90
            texts.append(" ".join(words[(state >> (j % 20)) % len(words)] for j in range(n)) + f" #{i}")
    table = pa.table({"id": pa.array(list(range(600)), pa.int64()), "text": pa.array(texts, pa.string())})
    write(
        table, "snappy_text", compression="snappy", dictionary_pagesize_limit=2048, data_page_size=8192,
        write_batch_size=16, row_group_size=400,
    )


def synced_text():
    """Text pages of several 64 KiB snappy fragments without nulls, as replay reads from scan-time sync points: a
    nullable column with no nulls (`text`) and a required one (`body`); rows of a few bytes to over 64 KiB (some
    fragments hold no row start); the dictionary falls back to PLAIN after the first page; two row groups."""
    words = ["north", "south", "east", "west", "river", "stone", "field", "ü", "雪", "light", "wind", "salt"]
    texts = []
    state = 777
    for i in range(360):
        state = (state * 1103515245 + 12345) % (1 << 31)
        if i in (120, 300):
            texts.append("y" * 70000 + f" long #{i}")
        elif i % 41 == 3:
            texts.append("")
        else:
            n = 10 + state % 160
            texts.append(" ".join(words[(state >> (j % 23)) % len(words)] for j in range(n)) + f" #{i}")
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("text", pa.string()), pa.field("body", pa.string(), False)])
    table = pa.table(
        {"id": list(range(360)), "text": texts, "body": [t[::-1] if i % 3 == 0 else f"b#{i}" for i, t in enumerate(texts)]},
        schema=schema)
    write(
        table, "synced_text", compression="snappy", dictionary_pagesize_limit=4096, data_page_size=70_000,
        write_batch_size=8, row_group_size=180,
    )


def main():
    os.makedirs(GOOD, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    basic = basic_table()
    for codec in ["none", "snappy", "gzip", "zstd", "lz4", "brotli"]:
        for version in ["1.0", "2.0"]:
            v = version[0]
            write(basic, f"basic_{codec}_v{v}", compression=codec, data_page_version=version, row_group_size=8)
    # Plain (no dictionary), tiny pages, offset index and page checksums, several row groups.
    write(
        basic, "plain_pages", use_dictionary=False, compression="snappy", data_page_size=64, row_group_size=12,
        write_page_index=True, write_page_checksum=True, write_batch_size=4,
    )
    big = basic_table(300)
    write(
        big, "paged_index", compression="zstd", data_page_size=512, row_group_size=120, write_page_index=True,
        write_batch_size=16, data_page_version="2.0",
    )
    # Dictionary falls back to PLAIN mid-chunk (tiny dictionary page limit).
    write(big, "dict_fallback", compression="none", dictionary_pagesize_limit=256, write_batch_size=16, data_page_size=1024)
    snappy_text()
    synced_text()
    numeric = numeric_table()
    write(
        numeric, "delta", use_dictionary=False, compression="none",
        column_encoding={"i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED", "s": "DELTA_LENGTH_BYTE_ARRAY",
                         "s2": "DELTA_BYTE_ARRAY", "fx": "DELTA_BYTE_ARRAY"},
    )
    write(numeric, "delta_v2", use_dictionary=False, compression="zstd", data_page_version="2.0",
          column_encoding={"i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED", "s": "DELTA_LENGTH_BYTE_ARRAY",
                           "s2": "DELTA_BYTE_ARRAY"})
    write(
        numeric.select(["i32", "i64", "f32", "f64", "fx"]), "byte_stream_split", use_dictionary=False,
        compression="snappy", column_encoding={c: "BYTE_STREAM_SPLIT" for c in ["i32", "i64", "f32", "f64", "fx"]},
    )
    write(nested_table(), "nested", compression="snappy", row_group_size=5)
    write(nested_table(), "nested_v2", compression="zstd", data_page_version="2.0", use_dictionary=False)
    write(logical_table(), "logical", compression="zstd", store_schema=False)
    ts = pa.table({"ts": pa.array([1_600_000_000_000_000 + i * 3_600_000_001 for i in range(5)], pa.timestamp("us"))})
    pq.write_table(ts, os.path.join(GOOD, "int96.parquet"), use_deprecated_int96_timestamps=True, store_schema=False)
    t96 = pa.table({"ts": ts.column("ts").cast(pa.timestamp("ns", tz="UTC"))})
    write_expected(t96, "int96")
    empty = basic.slice(0, 0)
    write(empty, "empty")
    two = pa.concat_tables([basic.slice(0, 3), basic.slice(3, 0), basic.slice(3, 2)])
    with pq.ParquetWriter(os.path.join(GOOD, "zero_row_group.parquet"), basic.schema) as w:
        w.write_table(basic.slice(0, 3))
        w.write_table(basic.slice(3, 0))
        w.write_table(basic.slice(3, 2))
    write_expected(two, "zero_row_group")
    booleans = pa.table({"b": pa.array([i % 3 != 0 for i in range(100)], pa.bool_())})
    write(booleans, "bool_rle", use_dictionary=False, data_page_version="2.0", column_encoding={"b": "RLE"}, compression="none")
    # Required columns with one distinct value: dictionary indices of bit width 0 (a long RLE run in few bytes).
    const_schema = pa.schema([pa.field("c", pa.string(), nullable=False), pa.field("k", pa.int64(), nullable=False)])
    constant = pa.table({"c": ["same"] * 5000, "k": [7] * 5000}, schema=const_schema)
    write(constant, "constant_required", compression="snappy")
    duck()
    bad_files()


def duck():
    try:
        import duckdb
    except ImportError:
        print("duckdb missing: skipping the second-writer fixture", file=sys.stderr)
        return
    path = os.path.join(GOOD, "duckdb.parquet")
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT i::BIGINT AS id, CASE WHEN i % 4 = 1 THEN NULL ELSE 'row ' || i::VARCHAR END AS text,
                 {{'lang': CASE WHEN i % 2 = 0 THEN 'en' ELSE 'de' END, 'n': i * 3}} AS meta,
                 [('x' || (i % 3)::VARCHAR), 'y'] AS tags, i / 4 AS ratio, (i % 2 = 0) AS even
           FROM range(30) t(i)) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16)"""
    )
    table = pq.read_table(path)  # second writer: expected values come from its own Arrow view
    write_expected(table, "duckdb")


# ---------------------------------------------------------------------------------------------- hostile files


def skip_thrift_struct(b, pos, spans=None, prefix=()):
    """Skips one compact-protocol struct starting at pos; returns the end. Records (path, start, end) of ints."""
    last = 0
    while True:
        h = b[pos]
        pos += 1
        t = h & 0x0F
        if t == 0:
            return pos
        d = h >> 4
        if d == 0:
            fid, pos = read_varint(b, pos)
            fid = (fid >> 1) ^ -(fid & 1)
        else:
            fid = last + d
        last = fid
        start = pos
        pos = skip_value(b, pos, t, spans, prefix + (fid,))
        if spans is not None:
            spans.append((prefix + (fid,), t, start, pos))


def read_varint(b, pos):
    v = s = 0
    while True:
        x = b[pos]
        pos += 1
        v |= (x & 0x7F) << s
        s += 7
        if not x & 0x80:
            return v, pos


def skip_value(b, pos, t, spans, prefix):
    if t in (1, 2):
        return pos
    if t == 3:
        return pos + 1
    if t in (4, 5, 6):
        return read_varint(b, pos)[1]
    if t == 7:
        return pos + 8
    if t == 8:
        n, pos = read_varint(b, pos)
        return pos + n
    if t in (9, 10):
        h = b[pos]
        pos += 1
        n = h >> 4
        if n == 15:
            n, pos = read_varint(b, pos)
        for i in range(n):
            if (h & 0x0F) in (1, 2):
                pos += 1
            else:
                pos = skip_value(b, pos, h & 0x0F, spans, prefix + (i,))
        return pos
    if t == 11:
        n, pos = read_varint(b, pos)
        if n:
            kv = b[pos]
            pos += 1
            for _ in range(n):
                pos = skip_value(b, pos, kv >> 4, spans, prefix)
                pos = skip_value(b, pos, kv & 0x0F, spans, prefix)
        return pos
    if t == 12:
        return skip_thrift_struct(b, pos, spans, prefix)
    raise ValueError(t)


def zigzag_same_width(value, width):
    z = (value << 1) ^ (value >> 63)
    out = bytearray()
    for i in range(width):
        byte = z & 0x7F
        z >>= 7
        out.append(byte | (0x80 if i < width - 1 else 0))
    return bytes(out)


def bad_files():
    tiny = pa.table({"id": pa.array(range(10), pa.int64()), "text": pa.array([f"t{i}" for i in range(10)])})
    src = os.path.join(BAD, "_tmp.parquet")
    pq.write_table(tiny, src, compression="none", use_dictionary=False, write_page_checksum=True, store_schema=False)
    good = open(src, "rb").read()
    os.remove(src)
    meta = pq.ParquetFile(pa.BufferReader(good)).metadata
    flen = struct.unpack("<I", good[-8:-4])[0]
    footer_start = len(good) - 8 - flen

    def out(name, data):
        with open(os.path.join(BAD, name), "wb") as f:
            f.write(data)

    out("bad_magic.parquet", good[:-4] + b"PAR2")
    out("bad_head_magic.parquet", b"XXXX" + good[4:])
    out("footer_length_past_end.parquet", good[:-8] + struct.pack("<I", len(good) * 2) + b"PAR1")
    out("too_small.parquet", b"PAR1PAR1")
    out("encrypted_magic.parquet", b"PARE" + bytes(40) + struct.pack("<I", 20) + b"PARE")
    # Corrupt thrift: the footer's first field header gets type 15 (unknown).
    corrupt = bytearray(good)
    corrupt[footer_start] = (corrupt[footer_start] & 0xF0) | 0x0F
    out("corrupt_thrift.parquet", bytes(corrupt))
    # Column 1 ("text"), page 0: header and body offsets.
    col = meta.row_group(0).column(1)
    page_start = col.data_page_offset
    spans = []
    body_start = skip_thrift_struct(good, page_start, spans)
    # CRC mismatch: flip one body byte.
    flipped = bytearray(good)
    flipped[body_start + 2] ^= 0xFF
    out("crc_mismatch.parquet", bytes(flipped))
    # Truncated page: compressed_page_size (field 3) grows past the chunk, same varint width.
    (_, _, s3, e3) = [s for s in spans if s[0] == (3,)][0]
    trunc = bytearray(good)
    trunc[s3:e3] = zigzag_same_width((1 << (7 * (e3 - s3) - 2)) - 1, e3 - s3)
    out("truncated_page.parquet", bytes(trunc))
    # Unsupported codec: ColumnMetaData.codec (row_groups[0].columns[1].meta_data.codec) set to LZO (3).
    fspans = []
    skip_thrift_struct(good, footer_start, fspans)
    target = [s for s in fspans if s[0] == (4, 0, 1, 1, 3, 4)]
    lzo = bytearray(good)
    (_, _, s4, e4) = target[0]
    lzo[s4:e4] = zigzag_same_width(3, e4 - s4)
    out("unsupported_codec.parquet", bytes(lzo))
    # Value count mismatch: ColumnMetaData.num_values of column 0 (field 5) set to 11 (same width).
    vspans = [s for s in fspans if s[0] == (4, 0, 1, 0, 3, 5)]
    vc = bytearray(good)
    (_, _, s5, e5) = vspans[0]
    vc[s5:e5] = zigzag_same_width(11, e5 - s5)
    out("value_count_mismatch.parquet", bytes(vc))
    # Chunk past the footer: data_page_offset of column 1 points into the footer.
    dspans = [s for s in fspans if s[0] == (4, 0, 1, 1, 3, 9)]
    dp = bytearray(good)
    (_, _, s9, e9) = dspans[0]
    dp[s9:e9] = zigzag_same_width(footer_start - 4, e9 - s9)
    out("chunk_past_footer.parquet", bytes(dp))


if __name__ == "__main__":
    main()
