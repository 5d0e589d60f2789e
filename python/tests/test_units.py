"""XXH3-64 (pure Python vs known values, the system backend and Swift-computed hashes), the golden
manifest of docs/manifest-format.md §8, JSON string encoding and text extraction."""
import json
import os
import random

import pytest

from conftest import REPO, fixture_manifest
from mixtera_replay import ManifestReader, json_string, read_header, xxh3_64, xxh3_64_python, XXH3_BACKEND
from mixtera_replay._json import TextExtractor, FieldMissing, LineError, PathError, parse_path, unescape
from mixtera_replay.manifest import RankFile

GOLDEN = os.path.join(REPO, "Tests", "MixteraManifestTests", "Golden", "example")


def test_xxh3_known_values():
    assert xxh3_64_python(b"") == 0x2D06800538D394C2
    assert xxh3_64(b"") == 0x2D06800538D394C2
    # Values from the Swift writer, annotated in docs/manifest-format.md §8.
    with open(os.path.join(GOLDEN, "rank-00001.bin"), "rb") as f:
        rank1 = f.read()
    with open(os.path.join(GOLDEN, "header.json"), "rb") as f:
        header = f.read()
    assert xxh3_64_python(header) == int.from_bytes(bytes.fromhex("720dcc743e8c9e52"), "little")
    assert xxh3_64_python(rank1[:56]) == int.from_bytes(bytes.fromhex("d72da022dbeb77bc"), "little")
    assert xxh3_64_python(rank1[64:127]) == int.from_bytes(bytes.fromhex("5a9b563675c3dd16"), "little")
    assert xxh3_64_python(rank1[127:151]) == int.from_bytes(bytes.fromhex("4e5705d293ff43a2"), "little")


def test_xxh3_lengths_against_backend():
    r = random.Random(3)
    lengths = list(range(0, 260)) + [511, 512, 1023, 1024, 1025, 1087, 1088, 1089, 2048, 4096 + 65, 10000]
    for n in lengths:
        d = bytes(r.getrandbits(8) for _ in range(n))
        assert xxh3_64_python(d) == xxh3_64(d), (n, XXH3_BACKEND)


def test_xxh3_matches_swift_fingerprints(env):
    """Data-file fingerprints in header.json are computed by Swift; the pure-Python hash must agree
    (plain, zstd multi-frame, gzip multi-member, xz, bzip2 and the generated tricky file)."""
    m = env.manifest("samples-d3", shuffle="samples", G=24, D=3, S=40)
    r = ManifestReader(m, 0)
    assert len(r.header.files) >= 9
    for i, f in enumerate(r.header.files):
        with open(r.absolute_path(i), "rb") as fh:
            data = fh.read()
        assert "%016x" % xxh3_64_python(data) == f.fingerprint, f.path
    # header hash bound into every rank file, computed by Swift
    with open(os.path.join(m, "rank-00002.bin"), "rb") as fh:
        assert int.from_bytes(fh.read(48)[40:48], "little") == xxh3_64_python(r.header.bytes)


def test_golden_example_entries():
    h = read_header(GOLDEN)
    for r in range(2):
        rf = RankFile(os.path.join(GOLDEN, "rank-%05d.bin" % r), h, r)
        assert rf.steps_per_block == 4096
        for s in range(3):
            assert rf.entries(s) == [(0, 0, 3 * s + r, 1, 100 * (3 * s + r)), (1, 1, s, 1, 100 * s)]


def test_json_string_rules():
    assert json_string(b"") == b'""'
    assert json_string(b'a"b\\c') == b'"a\\"b\\\\c"'
    assert json_string(b"\n\r\t\x08\x0c") == b'"\\n\\r\\t\\b\\f"'
    assert json_string(b"\x00\x01\x1f") == b'"\\u0000\\u0001\\u001f"'
    assert json_string(b"\x1b") == b'"\\u001b"'  # lowercase hex
    assert json_string(b"/\x7f\xc3\xa9\xe2\x80\xa8\xff") == b'"/\x7f\xc3\xa9\xe2\x80\xa8\xff"'  # verbatim


def test_unescape_surrogates():
    assert unescape(b"\\ud83d\\ude80") == "\U0001f680".encode()
    assert unescape(b"\\ud800x") == "\ufffdx".encode()
    assert unescape(b"\\udc00") == "\ufffd".encode()
    assert unescape(b"\\ud800\\ud800\\udc00") == "\ufffd\U00010000".encode()
    assert unescape(b"\\/\\u00E9\\u00e9") == "/\u00e9\u00e9".encode()


def test_paths():
    assert parse_path("text") == [("key", b"text")]
    assert parse_path("meta.body") == [("key", b"meta"), ("key", b"body")]
    assert parse_path("a\\.b") == [("key", b"a.b")]
    assert parse_path('["a.b"].c[2][*]') == [("key", b"a.b"), ("key", b"c"), ("index", 2), ("wildcard", None)]
    assert parse_path("a.") == [("key", b"a")]  # as JSONPath.swift
    for bad in ("", ".a", "a..b", "a[", "a[x]", "a\\"):
        with pytest.raises(PathError):
            parse_path(bad)


def test_text_extractor():
    t = TextExtractor("meta.body")
    assert t.text(b'{"meta":{"body":"x"}}') == "x"
    assert t.text(b'{"meta":{"body":"first"},"meta":{"other":1}}') == "first"  # Swift: last value seen wins
    assert t.text(b'{"meta":{"body":"\\ud800"}}') == "\ufffd"
    assert t.text(b'{"meta":{"body":"\xff"}}').encode("utf-8", "surrogateescape") == b"\xff"
    for bad in (b'{"meta":{"body":"x"}', b'[1]', b'{"a":NaN,"meta":{"body":"x"}}', b'{"a":01}', b'{"a":"\x01"}',
                b"\xef\xbb\xbf{}", b'{"a":1} x'):
        with pytest.raises(LineError):
            t.text(bad)
    too_deep = b'{"a":' + b"[" * 300 + b"]" * 300 + b',"meta":{"body":"x"}}'
    with pytest.raises(LineError):
        TextExtractor("meta.body", strict=True).text(too_deep)
    with pytest.raises(LineError):
        t._slow(too_deep)
    for missing in (b"{}", b'{"meta":{"body":1}}', b'{"meta":"x"}', b'{"meta":{"body":null}}'):
        with pytest.raises(FieldMissing):
            t.text(missing)
    assert TextExtractor("a[1]").text(b'{"a":["x","y"]}') == "y"
    with pytest.raises(FieldMissing):
        TextExtractor("a[*]").text(b'{"a":["x"]}')  # wildcard paths never give a single text (as in Swift)
    deep = b'{"a":' + b"[" * 200 + b"]" * 200 + b',"t":"ok"}'
    assert TextExtractor("t").text(deep) == "ok"


def test_fallbacks_pure_python_xxh3_and_zstd_cli(env, monkeypatch):
    """Without xxhash/libxxhash (pure-Python XXH3) and without `zstandard` (zstd CLI) the output is the same."""
    import shutil
    from conftest import run_py, run_swift
    from mixtera_replay import _zstd, _jsonl
    m = env.manifest("samples-d3", shuffle="samples", G=24, D=3, S=40)
    want = run_swift("replay", "--manifest", m, "--rank", "1").stdout
    monkeypatch.setenv("MIXTERA_XXH3", "python")
    p = run_py("--manifest", m, "--rank", "1", "--deep")
    assert p.returncode == 0 and p.stdout == want
    if shutil.which("zstd") is None:
        pytest.skip("no zstd command")
    monkeypatch.setattr(_zstd, "_zs", None)
    monkeypatch.setattr(_zstd, "BACKEND", "zstd-cli")
    with ManifestReader(m, 1) as r:
        assert b"".join(r.replay_step_bytes()) == want
    monkeypatch.setattr(_jsonl, "INMEM_LIMIT", 0)
    with ManifestReader(m, 1) as r:
        assert b"".join(r.replay_step_bytes()) == want


def test_fast_tar_walk_matches_tarfile():
    """The in-place ustar walk gives `tarfile`'s sample table, or declines (None) so that `tarfile` runs."""
    import glob
    import mmap
    import tarfile
    from mixtera_replay._wds import build_table, fast_table

    def rows(table):
        return [(s.key, s.header, s.members) for s in table]

    taken = 0
    paths = sorted(glob.glob(os.path.join(REPO, "fixtures", "wds", "*.tar")) +
                   glob.glob(os.path.join(REPO, "fixtures", "bad", "wds", "*.tar")))
    assert len(paths) >= 20
    for path in paths:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mm:
                fast = fast_table(mm, size)
        if fast is None:
            continue
        taken += 1
        with open(path, "rb") as f:
            with tarfile.open(fileobj=f, mode="r:") as tf:
                assert rows(fast) == rows(build_table(tf)), path
    # ustar, v7, webdataset-writer, dotted dirs, edge names, no EOF blocks, non-adjacent, duplicate ext.
    assert taken >= 8


def test_fast_tar_walk_checks_header_checksums():
    """The walk's checksum (byte sums from Adler-32 halves) accepts every field form tar writers use and
    declines (None) a header whose bytes do not match it."""
    from mixtera_replay._wds import fast_table
    data = bytearray(open(os.path.join(REPO, "fixtures", "wds", "python-ustar.tar"), "rb").read())
    base = fast_table(bytes(data), len(data))
    assert base
    # The same checksum written as 7 digits + NUL, and as spaces + digits + NUL + space.
    chk = int(bytes(data[148:154]), 8)
    for field in (b"%07o\0" % chk, b"  %04o\0 " % chk if chk < 0o10000 else b" %05o\0 " % chk):
        edited = bytearray(data)
        edited[148:148 + len(field)] = field
        assert len(edited) == len(data)
        got = fast_table(bytes(edited), len(edited))
        assert got is not None and [s.key for s in got] == [s.key for s in base]
    # Any other changed header byte breaks the checksum.
    for at in (0, 100, 300, 511):
        edited = bytearray(data)
        edited[at] ^= 0x01
        assert fast_table(bytes(edited), len(edited)) is None, at


def test_plain_reader_mapped_and_pread_agree(tmp_path):
    """JSONL records read from the mapping and with positioned reads: blank lines skipped, CRLF endings, a last
    line without terminator, runs from every record, and a run past the end is a truncation error."""
    from mixtera_replay._jsonl import PlainReader
    from mixtera_replay.errors import RecordError
    lines = [b'{"a":1}', b"", b"  \t", b'{"b":"x\\ny"}\r', b'{"c":' + b"7" * 5000 + b"}", b"\r", b'{"d":4}']
    data = b"\n".join(lines)  # the last record has no terminator
    p = tmp_path / "f.jsonl"
    p.write_bytes(data)
    records = [b'{"a":1}', b'{"b":"x\\ny"}', b'{"c":' + b"7" * 5000 + b"}", b'{"d":4}']
    offsets = [0, data.index(b'{"b"'), data.index(b'{"c"'), data.index(b'{"d"')]
    mapped = PlainReader(str(p), len(data), len(records))
    plain = PlainReader(str(p), len(data), len(records))
    assert mapped.map is not None
    plain.map.close()
    plain.map = None
    for k, off in enumerate(offsets):
        for n in range(1, len(records) - k + 1):
            assert mapped.read(off, n) == plain.read(off, n) == records[k:k + n], (k, n)
        for r in (mapped, plain):
            with pytest.raises(RecordError):
                r.read(off, len(records) - k + 1)
    mapped.close()
    plain.close()
