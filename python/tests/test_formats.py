"""Parquet and WebDataset replay: byte identity with `mixtera replay` for every rank and step.

Manifests are built from fixtures/specs/datasets-parquet.yaml and datasets-wds.yaml with
fixtures/specs/build-formats.yaml (and shuffle / topology variants), from every Parquet and tar fixture
without text fields (whole rows / samples), and from generated "tricky" files (invalid UTF-8, float
formatting edges, dates before 1970, maps, UUIDs, binary members, odd extensions). Parquet needs pyarrow:
those tests are skipped with a message when it is not installed."""
import glob
import io
import json
import os
import struct
import tarfile

import pytest

from conftest import REPO, run_py, run_swift, needs_bin
from mixtera_replay import ManifestReader, read_header
from mixtera_replay import _wds
from mixtera_replay.errors import UnsupportedFormatError

try:
    import pyarrow  # noqa: F401
    HAVE_PYARROW = True
except ImportError:
    HAVE_PYARROW = False

needs_pyarrow = pytest.mark.skipif(not HAVE_PYARROW, reason="pyarrow is not installed: Parquet replay needs it "
                                                            "(pip install pyarrow)")

FIX = os.path.join(REPO, "fixtures")

RAW_BUILD = """
query: 'true'
mixture:
  unit: samples
  components:
{components}
training: {{global_batch: {G}, data_parallel: {D}, steps: {S}}}
order: {{shuffle: {shuffle}}}
seed: {seed}
on_exhausted: repeat
"""


def _fixture_spec(env, kind, text=True):
    """fixtures/specs/datasets-KIND.yaml with absolute roots (optionally without its text fields)."""
    with open(os.path.join(FIX, "specs", "datasets-%s.yaml" % kind)) as f:
        spec = f.read()
    spec = spec.replace("root: ../", "root: %s/" % FIX)
    if not text:
        spec = "\n".join(l for l in spec.splitlines() if not l.strip().startswith(("text:", "tokens:"))) + "\n"
    return spec


def _catalog(env, name, spec):
    key = ("fmt-cat", name)
    if key not in env.catalogs:
        path = os.path.join(env.base, "ds-%s.yaml" % name)
        with open(path, "w") as f:
            f.write(spec)
        cat = os.path.join(env.base, "c-%s.sqlite" % name)
        run_swift("scan", "--spec", path, "--catalog", cat)
        env.catalogs[key] = cat
    return env.catalogs[key]


def _manifest(env, name, catalog, build):
    if name not in env.manifests:
        path = os.path.join(env.base, "spec-%s.yaml" % name)
        with open(path, "w") as f:
            f.write(build)
        out = os.path.join(env.base, "m-" + name)
        run_swift("build-manifest", "--catalog", catalog, "--spec", path, "--out", out)
        env.manifests[name] = out
    return env.manifests[name]


def _formats_build(shuffle="samples", G=8, D=2, S=6, seed=11):
    with open(os.path.join(FIX, "specs", "build-formats.yaml")) as f:
        b = f.read()
    return (b.replace("shuffle: samples", "shuffle: %s" % shuffle)
            .replace("global_batch: 8, data_parallel: 2, steps: 6",
                     "global_batch: %d, data_parallel: %d, steps: %d" % (G, D, S))
            .replace("seed: 11", "seed: %d" % seed))


# -- generated tricky data ------------------------------------------------------------------------------------
TRICKY_DOUBLES = [0.0, -0.0, 1.0, 0.1, 1e15, 1e16, 9007199254740992.0, 9007199254740994.0, 1.8014398509481984e16,
                  1e20, 1e-4, 1e-5, 0.00012345, 5e-324, 1.7976931348623157e308, -2.5e-10, float("nan"), float("inf"),
                  float("-inf"), 123456.789, 1e300]
TRICKY_FLOATS = [0.0, 1.5, 0.1, 1e7, 16777216.0, 16777218.0, 33554432.0, 1e8, 1e-4, 1e-5, 3.4028234663852886e38,
                 1.401298464324817e-45, -3.25, 8388609.0, float("nan")]
TRICKY_TEXT = [b"plain", "h\u00e9llo \u4e2d\U0001f680".encode(), b"bad \xff\xfe utf8", b"surrogate \xed\xa0\x80 x",
               b"trunc \xe4\xb8", b"ctl \x00\x01\x1f\x7f \" \\ / \n\r\t\x08\x0c", b"", b"overlong \xc0\xaf end",
               b"\xf4\x90\x80\x80 too big"]


def write_tricky_parquet(path):
    import datetime
    import decimal
    import pyarrow as pa
    import pyarrow.parquet as pq
    n = 45
    texts = [TRICKY_TEXT[i % len(TRICKY_TEXT)] if i % 11 != 10 else None for i in range(n)]
    offsets = [0]
    data = b""
    for t in texts:
        data += t or b""
        offsets.append(len(data))
    validity = [t is not None for t in texts]
    mask = pa.array(validity).buffers()[1]
    text = pa.Array.from_buffers(pa.string(), n, [mask, pa.py_buffer(struct.pack("<%di" % (n + 1), *offsets)),
                                                  pa.py_buffer(data)], null_count=validity.count(False))
    cols = {
        "source": pa.array(["web" if i % 3 == 0 else "code" if i % 3 == 1 else "x" for i in range(n)]),
        "text": text,
        "raw": pa.array([texts[i] if texts[i] is not None else b"\x00\xff" for i in range(n)], pa.binary()),
        "f64": pa.array([TRICKY_DOUBLES[i % len(TRICKY_DOUBLES)] for i in range(n)], pa.float64()),
        "f32": pa.array([TRICKY_FLOATS[i % len(TRICKY_FLOATS)] for i in range(n)], pa.float32()),
        "i64": pa.array([(-1) ** i * (2 ** 63 - 1 - i) if i % 5 else None for i in range(n)], pa.int64()),
        "u64": pa.array([2 ** 64 - 1 - i for i in range(n)], pa.uint64()),
        "day": pa.array([(-800000 + i * 40000) for i in range(n)], pa.int32()).cast(pa.date32()),
        "ts": pa.array([(-10 ** 12 + i * 7 * 10 ** 10 + 123) for i in range(n)], pa.int64()).cast(
            pa.timestamp("us", tz="UTC")),
        "ts_ns_local": pa.array([(-5 * 10 ** 17 + i * 10 ** 16 + 7) for i in range(n)], pa.int64()).cast(
            pa.timestamp("ns")),
        "t_ms": pa.array([(i * 3_700_123) % 86_400_000 for i in range(n)], pa.int32()).cast(pa.time32("ms")),
        "dec": pa.array([decimal.Decimal(i * 137 - 3000).scaleb(-3) for i in range(n)], pa.decimal128(10, 3)),
        "dec0": pa.array([decimal.Decimal(i - 20) for i in range(n)], pa.decimal128(5, 0)),
        "m": pa.array([[("k%d" % j, j if j % 2 else None) for j in range(i % 4)] if i % 7 else None
                       for i in range(n)], pa.map_(pa.string(), pa.int32())),
        "ll": pa.array([[[j, None] for j in range(i % 3)] if i % 6 else None for i in range(n)],
                       pa.list_(pa.list_(pa.int16()))),
        "st": pa.array([{"a": i, "b": {"c": "x\u00e9" * (i % 3), "d": [1.5, None]}} if i % 4 else None
                        for i in range(n)]),
        "fx": pa.array([bytes([i, 255 - i, 7]) for i in range(n)], pa.binary(3)),
        "flag": pa.array([None if i % 5 == 0 else i % 2 == 0 for i in range(n)]),
    }
    t = pa.table(cols)
    pq.write_table(t, path, row_group_size=10, data_page_size=64, write_page_index=True)
    assert datetime  # noqa


def write_tricky_tar(path, gz=False):
    members = []
    for i in range(30):
        key = "s%03d" % i if i % 9 else "d\u00e9r/s\u00e9%03d" % i
        members.append((key + ".json", ('{"source":"%s","i":%d}' % (["web", "code", "x"][i % 3], i)).encode()))
        if i % 4 != 3:
            members.append((key + ".txt", TRICKY_TEXT[i % len(TRICKY_TEXT)] + b" #%d" % i))
        members.append((key + ".jpg", bytes(range(i % 7 + (i * 13) % 256))[: i % 7 + 1]))
        if i % 5 == 0:
            members.append((key + ".seg.0001.TXT", b"upper \xff"))
            members.append((key + ".Caption", b"cap"))
            members.append((key + ".bin", b""))
            members.append((".hidden.txt", b"skipped"))
        if i % 6 == 0:
            members.append(("__meta__/x%d.json" % i, b"{}"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for i, (name, data) in enumerate(members):
            if i == 5:
                d = tarfile.TarInfo("a.dir")
                d.type = tarfile.DIRTYPE
                tf.addfile(d)
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1700000000
            tf.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    if gz:
        import gzip
        raw = gzip.compress(raw, mtime=0)
    with open(path, "wb") as f:
        f.write(raw)


def _tricky_dir(env):
    d = os.path.join(env.base, "tricky-formats")
    if not os.path.isdir(d):
        os.makedirs(os.path.join(d, "tars"))
        os.makedirs(os.path.join(d, "pq"))
        write_tricky_tar(os.path.join(d, "tars", "t0.tar"))
        write_tricky_tar(os.path.join(d, "tars", "t1.tar.gz"), gz=True)
        if HAVE_PYARROW:
            write_tricky_parquet(os.path.join(d, "pq", "p0.parquet"))
    return d


def tricky_spec(env, text):
    d = _tricky_dir(env)
    spec = """
datasets:
  - name: tars
    root: {d}/tars
    format: webdataset
    include: ["*.tar", "*.tar.gz"]
    {tt}
    on_error: skip
    properties:
      source: {{path: "json:source", type: string}}
""".format(d=d, tt="text: txt" if text else "")
    if HAVE_PYARROW:
        spec += """
  - name: pq
    root: {d}/pq
    format: parquet
    include: ["*.parquet"]
    {pt}
    on_error: skip
    properties:
      source: {{path: source, type: string}}
""".format(d=d, pt="text: text" if text else "")
    return spec


# -- manifests ----------------------------------------------------------------------------------------------
def _raw_all_build(G, D, S, shuffle, seed):
    comps = ["    - {name: pq,   where: 'dataset == \"pq\"',   weight: 0.5, on_exhausted: repeat}",
             "    - {name: tars, where: 'dataset == \"tars\"', weight: 0.5, on_exhausted: repeat}"]
    return RAW_BUILD.format(components="\n".join(comps), G=G, D=D, S=S, shuffle=shuffle, seed=seed)


def manifest_for(env, name):
    kind, _, variant = name.partition(":")
    if kind in ("parquet", "wds", "parquet-raw", "wds-raw"):
        base = kind.split("-")[0]
        cat = _catalog(env, kind, _fixture_spec(env, base, text=not kind.endswith("-raw")))
        kw = {"samples": {}, "none": dict(shuffle="none"), "files": dict(shuffle="files", G=6, D=3, S=9),
              "big": dict(G=24, D=4, S=20, seed=3)}[variant]
        return _manifest(env, name, cat, _formats_build(**kw))
    if kind == "all-raw":
        spec = ("datasets:\n  - name: pq\n    root: %s/parquet\n    format: parquet\n    include: [\"*.parquet\"]\n"
                "    properties:\n      source: {from_path: \"{source}.parquet\"}\n"
                "  - name: tars\n    root: %s/wds\n    format: webdataset\n"
                "    include: [\"*.tar\", \"*.tar.gz\", \"*.tar.zst\"]\n"
                "    properties:\n      source: {from_path: \"{source}.tar*\"}\n") % (FIX, FIX)
        cat = _catalog(env, kind, spec)
        kw = {"samples": dict(shuffle="samples", G=64, D=2, S=120, seed=5),
              "none": dict(shuffle="none", G=32, D=1, S=220, seed=1)}[variant]
        return _manifest(env, name, cat, _raw_all_build(**kw))
    if kind in ("tricky", "tricky-raw"):
        cat = _catalog(env, kind, tricky_spec(env, text=kind == "tricky"))
        kw = {"samples": dict(G=12, D=3, S=15), "none": dict(shuffle="none", G=10, D=2, S=12)}[variant]
        return _manifest(env, name, cat, _formats_build(**kw))
    raise KeyError(name)


PARQUET = ["parquet:samples", "parquet:none", "parquet:files", "parquet:big", "parquet-raw:samples",
           "parquet-raw:none", "all-raw:samples", "all-raw:none"]
WDS = ["wds:samples", "wds:none", "wds:files", "wds:big", "wds-raw:samples", "wds-raw:none"]
TRICKY = ["tricky:samples", "tricky:none", "tricky-raw:samples", "tricky-raw:none"]


def _params():
    out = []
    for n in PARQUET:
        out.append(pytest.param(n, marks=needs_pyarrow))
    out += WDS + TRICKY
    return out


def _compare_all_ranks(m, name):
    h = read_header(m)
    for r in range(h.data_parallel):
        want = run_swift("replay", "--manifest", m, "--rank", str(r)).stdout
        got = run_py("--manifest", m, "--rank", str(r))
        assert got.returncode == 0, got.stderr.decode()
        if got.stdout != want:
            for i, (a, b) in enumerate(zip(got.stdout.splitlines(), want.splitlines())):
                assert a == b, "%s rank %d line %d differs:\n py    %r\n swift %r" % (name, r, i, a[:400], b[:400])
        assert got.stdout == want, "rank %d of %s differs" % (r, name)
        assert want.count(b"\n") == h.steps * h.samples_per_rank
    return h


@needs_bin
@pytest.mark.parametrize("name", _params())
def test_cli_identical_every_rank(env, name):
    m = manifest_for(env, name)
    _compare_all_ranks(m, name)


@needs_bin
def test_manifests_cover_formats(env):
    wanted = {"parquet", "webdataset"} if HAVE_PYARROW else {"webdataset"}
    if HAVE_PYARROW:
        m = manifest_for(env, "all-raw:samples")
        h = read_header(m)
        assert {f.format for f in h.files} == {"parquet", "webdataset"}
        assert {f.compression for f in h.files if f.format == "webdataset"} == {"none", "gzip", "zstd"}
        # every fixture file is read by some entry
        used = set()
        for rank in range(h.data_parallel):
            with ManifestReader(m, rank) as r:
                for s in r.steps():
                    used.update(e[1] for e in r.rank_file.entries(s))
        assert used == {i for i, f in enumerate(h.files) if f.samples > 0}
    h = read_header(manifest_for(env, "tricky:samples"))
    assert {f.format for f in h.files} == wanted
    assert all(d.text_field for d in h.datasets)
    h = read_header(manifest_for(env, "wds-raw:samples"))
    assert all(d.text_field is None for d in h.datasets)


@needs_bin
@pytest.mark.parametrize("name", ["wds:samples", "tricky-raw:samples", "all-raw:samples"])
def test_streaming_compressed_tars(env, name, monkeypatch):
    """Compressed tars above the in-memory limit are streamed per entry; same bytes."""
    if name == "all-raw:samples" and not HAVE_PYARROW:
        pytest.skip("pyarrow is not installed")
    m = manifest_for(env, name)
    want = run_swift("replay", "--manifest", m, "--rank", "1").stdout
    monkeypatch.setattr(_wds, "INMEM_LIMIT", 0)
    with ManifestReader(m, 1) as r:
        assert b"".join(r.replay_step_bytes()) == want
        assert any(x.buf is None and x.fd is None for x in r._readers.values() if isinstance(x, _wds.TarReplayFile))


@needs_bin
def test_api_values(env):
    """Sample values: str (or None) with a text field, JSON bytes of the row / tar sample without."""
    names = ["tricky:samples", "tricky-raw:samples"]
    for name in names:
        m = manifest_for(env, name)
        want = run_swift("replay", "--manifest", m, "--rank", "0").stdout.splitlines()
        with ManifestReader(m, 0) as r:
            samples = list(r)
        assert len(samples) == len(want)
        for s, line in zip(samples, want):
            assert line.endswith(b',"sample":' + ManifestReader.sample_json(s) + b"}")
            if name == "tricky:samples":
                assert s.sample is None or isinstance(s.sample, str)
                j = json.loads(line)["sample"]
                assert s.sample == j
            else:
                assert isinstance(s.sample, bytes)
                json.loads(s.sample)
        with ManifestReader(m, 0) as r:
            assert list(r.iter_texts()) == [s.sample for s in samples]


@needs_pyarrow
def test_parquet_whole_rows_match_expected():
    """Every row of every Parquet fixture renders to the JSON of its .expected.jsonl (values compared)."""
    from mixtera_replay._parquet import ParquetReplayFile
    for p in sorted(glob.glob(os.path.join(FIX, "parquet", "*.parquet"))):
        f = ParquetReplayFile(p, None)
        got = f.read(0, f.rows) if f.rows else []
        with open(p[:-len(".parquet")] + ".expected.jsonl") as e:
            exp = [json.loads(l) for l in e]
        assert [json.loads(g) for g in got] == exp, p


def test_swift_number_formatting():
    """Outputs of Swift's Double/Float.description (recorded with swiftc 6)."""
    from mixtera_replay._parquet import swift_double, swift_float
    doubles = {0.0: "0.0", 1.0: "1.0", 0.1: "0.1", 1e15: "1000000000000000.0", 1e16: "1e+16",
               9007199254740992.0: "9007199254740992.0", 18014398509481984.0: "1.8014398509481984e+16",
               36028797018963968.0: "3.602879701896397e+16", 0.001: "0.001", 0.0001: "0.0001", 0.00001: "1e-05",
               1e-7: "1e-07", 1e20: "1e+20", 1.5e300: "1.5e+300", 5e-324: "5e-324",
               1.7976931348623157e308: "1.7976931348623157e+308", 2.5e-05: "2.5e-05", 100.0: "100.0",
               -2.5e-10: "-2.5e-10", 33554436.0: "33554436.0", float("nan"): "null", float("inf"): "null"}
    for v, s in doubles.items():
        assert swift_double(v) == s.encode(), v
    assert swift_double(-0.0) == b"-0.0" and swift_float(-0.0) == b"-0.0"
    f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]  # noqa: E731
    floats = {0.0: "0.0", 1.5: "1.5", 0.1: "0.1", 1e7: "10000000.0", 16777216.0: "16777216.0",
              33554432.0: "3.3554432e+07", 33554436.0: "3.3554436e+07", 1e8: "1e+08", 1e10: "1e+10",
              0.0001: "0.0001", 0.00001: "1e-05", 1e-7: "1e-07", 3.4028235e38: "3.4028235e+38", 1e-45: "1e-45",
              -3.25: "-3.25", 8388608.0: "8388608.0", 16777218.0: "1.6777218e+07", 2e-5: "2e-05"}
    for v, s in floats.items():
        assert swift_float(f32(v)) == s.encode(), v


def test_wds_names():
    assert _wds.split_name("a.b/c.0001.txt") == ("a.b/c", "0001.txt")
    assert _wds.split_name("a..b") == ("a", ".b")
    assert _wds.split_name("empty.") == ("empty", "")
    assert _wds.split_name("README") is None
    assert _wds.split_name("dir/.x.txt") is None
    assert _wds.split_name("__meta__/x.json") is None
    assert _wds.split_name("__x.json") == ("__x", "json")
    assert _wds.is_text_extension("seg.0001.TXT") and _wds.is_text_extension("Caption")
    assert not _wds.is_text_extension("txt.jpg") and not _wds.is_text_extension("")


@needs_bin
def test_missing_pyarrow_is_a_clear_error(env, monkeypatch):
    if not HAVE_PYARROW:
        m = None
    else:
        m = manifest_for(env, "parquet:samples")
    from mixtera_replay import _parquet
    monkeypatch.setattr(_parquet, "pa", None)
    if m is None:
        pytest.skip("pyarrow is not installed (no Parquet manifest to build)")
    with ManifestReader(m, 0) as r:
        with pytest.raises(UnsupportedFormatError, match="pyarrow"):
            list(r.replay_lines())


@needs_bin
def test_partial_fingerprints_match_swift(env):
    """Plain tars carry `tarh:` fingerprints (headers only) and Parquet files `pqf:` (footer only); Python
    recomputes every one the way Swift did, and a deep verify (which rehashes every file) passes."""
    from mixtera_replay._xxh3 import file_fingerprint
    names = ["tricky:samples"] + (["all-raw:samples"] if HAVE_PYARROW else ["wds:samples"])
    seen = {"tarh:": 0, "pqf:": 0}
    for name in names:
        m = manifest_for(env, name)
        with ManifestReader(m, 0) as r:
            for i, f in enumerate(r.header.files):
                if f.format == "webdataset" and f.compression == "none":
                    prefix = "tarh:"
                elif f.format == "parquet":
                    prefix = "pqf:"
                else:
                    prefix = None
                if prefix:
                    assert f.fingerprint.startswith(prefix), f.path
                    seen[prefix] += 1
                else:
                    assert ":" not in f.fingerprint, f.path
                assert file_fingerprint(r.absolute_path(i), f.fingerprint) == f.fingerprint, f.path
                r.verify_file(i, "deep")
    assert seen["tarh:"] >= 2
    assert seen["pqf:"] >= (2 if HAVE_PYARROW else 0)


def test_parquet_footer_fingerprint_covers_the_footer_only(tmp_path):
    from mixtera_replay._parquet import parquet_footer_fingerprint_file
    from mixtera_replay._xxh3 import xxh3_64
    src = os.path.join(FIX, "parquet", "basic_snappy_v1.parquet")
    data = bytearray(open(src, "rb").read())
    n = int.from_bytes(data[-8:-4], "little")
    base = parquet_footer_fingerprint_file(src)
    assert base == xxh3_64(bytes(data[len(data) - n - 8:]))
    page = tmp_path / "page.parquet"
    edited = bytearray(data)
    edited[8] ^= 0xFF  # a page byte: not covered
    page.write_bytes(bytes(edited))
    assert parquet_footer_fingerprint_file(str(page)) == base
    foot = tmp_path / "foot.parquet"
    edited = bytearray(data)
    edited[len(data) - 12] ^= 0xFF  # a footer byte: covered
    foot.write_bytes(bytes(edited))
    assert parquet_footer_fingerprint_file(str(foot)) != base
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1" + b"\xff\xff\xff\x7f" + b"PAR1")  # footer length past the file: whole file
    assert parquet_footer_fingerprint_file(str(bad)) == xxh3_64(open(bad, "rb").read())


def test_tar_header_fingerprint_ignores_payload_bytes(tmp_path):
    from mixtera_replay._wds import fast_table
    from mixtera_replay._wds import tar_header_fingerprint_file
    src = os.path.join(FIX, "wds", "webdataset-writer.tar")
    data = bytearray(open(src, "rb").read())
    base = tar_header_fingerprint_file(src)
    table = fast_table(bytes(data), len(data))
    assert table
    for s in table:
        for (_, off, size, _) in s.members:
            if size:
                data[off] ^= 0x5A
    p = tmp_path / "edited.tar"
    p.write_bytes(bytes(data))
    assert tar_header_fingerprint_file(str(p)) == base
    data[table[0].header] ^= 1
    p.write_bytes(bytes(data))
    assert tar_header_fingerprint_file(str(p)) != base
