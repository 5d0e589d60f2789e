"""Format 1.2: the label table (labels.bin, packed labels) and label entries in column blocks (rank-file flag
bit 1), docs/manifest-format.md §3.1, §3.3, §6 and the worked example of §8.1. Manifests are written byte by byte
here from the spec (header.json, labels.bin, rank files, JSONL data with BOMs, CRLFs and blank lines, one zstd
file); the expected samples are computed from the labels by brute force, independently of the reader."""
import json
import os
import random
import shutil
import struct

import pytest

from conftest import REPO, run_py
from mixtera_replay import ManifestReader, MixteraReplayError, xxh3_64
from mixtera_replay.manifest import RankFile, read_header

zstandard = pytest.importorskip("zstandard")


# -- encoding ----------------------------------------------------------------------------------
def uv(v, out):
    """Unsigned LEB128 varint."""
    assert v >= 0
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)


def zz(v):
    return 2 * v if v >= 0 else -2 * v - 1


def zcompress(raw):
    return zstandard.ZstdCompressor(level=3).compress(raw)


def jsonl(lines, bom=False):
    """File bytes from `lines` (bytes, None for a blank line) and the (offset, line) of each record (§4)."""
    out = bytearray(b"\xef\xbb\xbf" if bom else b"")
    recs = []
    blanks = [b"", b"  \t", b"\r", b" "]
    for i, line in enumerate(lines):
        if line is None:
            out += blanks[i % len(blanks)] + b"\n"
            continue
        recs.append((len(out), line))
        out += line
        if i < len(lines) - 1:  # the last record has no terminator
            out += b"\r\n" if i % 7 == 3 else b"\n"
    return bytes(out), recs


def per_byte(radix):
    p = 1
    while radix ** (p + 1) <= 256:
        p += 1
    return p


def pack(labels, radix):
    """Labels packed p to a byte in base `radix`, the first in the lowest digit; the last byte padded with 0s."""
    p = per_byte(radix)
    out = bytearray()
    for i in range(0, len(labels), p):
        v = 0
        for t, l in enumerate(labels[i:i + p]):
            assert l < radix
            v += l * radix ** t
        out.append(v)
    return bytes(out)


def label_raw(labels, checkpoints, radix=4):
    raw = bytearray(pack(labels, radix))
    prev = 0
    for c in checkpoints:
        uv(c - prev, raw)
        prev = c
    return bytes(raw)


def labels_bin(header_bytes, g, frames, radix=4, magic=b"MXTRLABL", major=1, minor=0, flags=0, reserved=0,
               g_field=None, hhash=None, offsets=None, raw_sizes=None, trailing=b""):
    """labels.bin from frames [(file, raw)]; keyword arguments break single fields (checksums stay valid)."""
    comps = [zcompress(raw) for _, raw in frames]
    n = len(frames)
    head = struct.pack("<8sHHIIIIIQ", magic, major, minor, flags, g if g_field is None else g_field, n, radix, reserved,
                       xxh3_64(header_bytes) if hhash is None else hhash)
    head += struct.pack("<Q", xxh3_64(head))
    at = 48 + 32 * n + 8
    d = bytearray()
    for i, ((fi, raw), c) in enumerate(zip(frames, comps)):
        off = at if offsets is None else offsets[i]
        rs = len(raw) if raw_sizes is None else raw_sizes[i]
        d += struct.pack("<IIQQQ", fi, len(c), off, rs, xxh3_64(c))
        at += len(c)
    return head + bytes(d) + struct.pack("<Q", xxh3_64(bytes(d))) + b"".join(comps) + trailing


def steps_per_block(b):
    return max(1, min(4096, 16384 // b))


def rank_bin(header_bytes, rank, D, b, S, blocks, flags, minor=None):
    """A rank file (§3) of S steps from the raw bytes of each block."""
    K = steps_per_block(b)
    assert len(blocks) == (S + K - 1) // K
    body = bytearray()
    table = bytearray()
    off = 64
    for raw in blocks:
        c = zcompress(raw)
        table += struct.pack("<QIIQ", off, len(c), len(raw), xxh3_64(c))
        body += c
        off += len(c)
    if minor is None:
        minor = 2 if flags & 2 else (1 if flags & 1 else 0)
    head = struct.pack("<8sHHIIIQIIQQ", b"MXTRRANK", 1, minor, flags, rank, D, S, b, K, xxh3_64(header_bytes), off)
    head += struct.pack("<Q", xxh3_64(head))
    return head + bytes(body) + bytes(table) + struct.pack("<Q", xxh3_64(bytes(table)))


# -- a manifest --------------------------------------------------------------------------------
class DataFile:
    def __init__(self, dataset, path, lines, bom=False, compression="none", fmt="jsonl"):
        self.dataset, self.path, self.compression, self.format = dataset, path, compression, fmt
        self.data, recs = jsonl(lines, bom)
        self.offsets = [o for o, _ in recs]
        self.records = [l for _, l in recs]
        self.labels = None


class Manifest:
    """Data files, label tables and per-rank step plans, written to `root` by `write` per the spec.

    Plans are per rank lists of steps; a step is a list of entries ("L", comp, file, member, count) (label
    entries) or ("R", comp, file, rows) (1.0/1.1 entries: plain when the rows are consecutive, else sparse)."""

    def __init__(self, root, g=4, D=2, b=8, radix=4):
        self.root = root
        self.g = g
        self.radix = radix
        self.column_edit = None  # f(block, columns) edits a column block's columns before it is written
        self.D = D
        self.b = b
        self.datasets = [("texts", os.path.join(root, "data", "texts"), "t"),
                         ("raw", os.path.join(root, "data", "raw"), None)]
        self.components = ["x", "y", "z"]
        self.files = []
        self.plans = []
        self.flags = 3
        self.header_labels = "labels.bin"

    def add(self, f, labels=None):
        f.labels = labels
        self.files.append(f)
        return len(self.files) - 1

    def members(self, fi, comp):
        return [r for r, l in enumerate(self.files[fi].labels) if l == comp + 1]

    def checkpoints(self, fi, g=None):
        g = g or self.g
        f = self.files[fi]
        return [f.offsets[k] for k in range(0, len(f.records), g)]

    def labelled(self):
        return [i for i, f in enumerate(self.files) if f.labels is not None]

    def frames(self, g=None, radix=None):
        return [(i, label_raw(self.files[i].labels, self.checkpoints(i, g), radix or self.radix))
                for i in self.labelled()]

    def rows_of(self, e):
        if e[0] == "L":
            _, c, fi, m, n = e
            return self.members(fi, c)[m:m + n]
        return list(e[3])

    def encode_block(self, j, steps, flags):
        """A raw block (§3.1): with flag bit 1 the 7 columns, else step offsets and the steps' entries."""
        columns = flags & 2
        cols = [bytearray() for _ in range(7)]
        data = []
        for entries in steps:
            if columns:
                uv(len(entries), cols[0])
            else:
                cols = [bytearray()] * 7  # every field in one stream
                uv(len(entries), cols[0])
            pf = prow_end = ploc = 0
            for e in entries:
                if e[0] == "L":
                    _, c, fi, m, n = e
                    for col, v in zip(cols[1:5], (c, zz(fi - pf), m, n)):
                        uv(v, col)
                    pf = fi
                    continue
                _, c, fi, rows = e
                row, count, span = rows[0], len(rows), rows[-1] - rows[0] + 1
                loc = self.files[fi].offsets[row]
                same = fi == pf
                uv(c, cols[1])
                uv(zz(fi - pf), cols[2])
                uv(zz(row - (prow_end if same else 0)), cols[3])
                if flags & 1:
                    uv(count << 1 | (span != count), cols[4])
                else:
                    assert span == count
                    uv(count, cols[4])
                uv(zz(loc - (ploc if same else 0)), cols[5])
                if span != count:
                    for a, b in zip(rows, rows[1:]):
                        uv(b - a - 1, cols[6])
                pf, prow_end, ploc = fi, row + span, loc
            if not columns:
                data.append(bytes(cols[0]))
        if columns:
            if self.column_edit:
                self.column_edit(j, cols)
            return struct.pack("<7I", *map(len, cols)) + b"".join(cols)
        offs = [0]
        for st in data:
            offs.append(offs[-1] + len(st))
        return b"".join(struct.pack("<I", o) for o in offs) + b"".join(data)

    def write(self):
        os.makedirs(self.root, exist_ok=True)
        table = []
        for f in self.files:
            root = self.datasets[f.dataset][1]
            p = os.path.join(root, f.path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            data = zcompress(f.data) if f.compression == "zstd" else f.data
            with open(p, "wb") as fh:
                fh.write(data)
            st = os.stat(p)
            table.append({"dataset": f.dataset, "path": f.path, "format": f.format, "compression": f.compression,
                          "size": st.st_size, "mtime_ns": st.st_mtime_ns, "fingerprint": "%016x" % xxh3_64(data),
                          "samples": len(f.records)})
        S = len(self.plans[0])
        h = {"format_version": "1.2", "tool_version": "test", "seed": 1, "catalog_fingerprint": "0" * 16,
             "topology": {"global_batch": self.b * self.D, "data_parallel": self.D, "samples_per_rank": self.b,
                          "steps": S},
             "datasets": [{"name": n, "root": r, "format": "jsonl", "text_field": t} for n, r, t in self.datasets],
             "files": table,
             "components": [{"name": c, "filter": "true", "selected": 0, "on_exhausted": "repeat"}
                            for c in self.components],
             "mixture_log": []}
        if self.header_labels is not None:
            h["labels"] = self.header_labels
        h.update({"continued_from": None, "spec_path": "build.yaml", "spec": ""})
        self.header = (json.dumps(h, indent=2) + "\n").encode()
        with open(os.path.join(self.root, "header.json"), "wb") as fh:
            fh.write(self.header)
        if self.header_labels is not None:
            self.write_labels(labels_bin(self.header, self.g, self.frames(), self.radix))
        K = steps_per_block(self.b)
        for r in range(self.D):
            plan = self.plans[r]
            blocks = [self.encode_block(j // K, plan[j:j + K], self.flags) for j in range(0, S, K)]
            with open(os.path.join(self.root, "rank-%05d.bin" % r), "wb") as fh:
                fh.write(rank_bin(self.header, r, self.D, self.b, S, blocks, self.flags))
        return self.root

    def write_labels(self, data):
        with open(os.path.join(self.root, "labels.bin"), "wb") as fh:
            fh.write(data)

    def expected(self, rank):
        out = []
        for s, st in enumerate(self.plans[rank]):
            slot = 0
            for e in st:
                c, fi = e[1], e[2]
                f = self.files[fi]
                name, _, text = self.datasets[f.dataset]
                for row in self.rows_of(e):
                    line = f.records[row]
                    v = json.loads(line)[text] if text else line
                    out.append((s, rank, slot, self.components[c], name, f.path, row, v))
                    slot += 1
        return out


def text_lines(tag, n, rng, blank=0.1):
    out = []
    for i in range(n):
        while rng.random() < blank:
            out.append(None)
        out.append(json.dumps({"t": "%s-%d %s" % (tag, i, "\u00fc" * rng.randint(0, 40)), "i": i},
                              ensure_ascii=bool(i % 2)).encode())
    return out


def raw_lines(tag, n, rng, blank=0.1):
    out = []
    for i in range(n):
        while rng.random() < blank:
            out.append(None)
        out.append(b'{"i":%d,"r":"%s-%s"}' % (i, tag.encode(), b"x" * rng.randint(0, 300)))
    return out


def standard(root, g=4, seed=5, S=24, flags=3, D=2, b=8):
    """Two labelled plain files (one with a BOM), a labelled zstd file, two unlabelled files; every step mixes
    label entries of several components and files with plain and sparse 1.1 entries."""
    rng = random.Random(seed)
    m = Manifest(root, g=g, D=D, b=b)
    m.flags = flags
    a = m.add(DataFile(0, "a/a.jsonl", text_lines("a", 200, rng), bom=True),
              [rng.choice([0, 1, 1, 2, 2, 2, 3]) for _ in range(200)])
    u = m.add(DataFile(1, "u/b.jsonl", raw_lines("b", 60, rng)))
    c = m.add(DataFile(0, "c/c.jsonl.zst", text_lines("c", 150, rng), compression="zstd"),
              [rng.choice([0, 1, 2, 3]) for _ in range(150)])
    d = m.add(DataFile(1, "d/d.jsonl", raw_lines("d", 90, rng, blank=0.3)), [rng.choice([1, 3]) for _ in range(90)])
    e = m.add(DataFile(1, "e/e.jsonl", raw_lines("e", 40, rng, blank=0)))
    cursor = {}
    for r in range(D):
        plan = []
        for s in range(S):
            st = []
            left = b
            while left:
                kind = rng.random()
                n = rng.randint(1, min(3, left))
                if kind < 0.6:
                    fi = rng.choice([a, c, d])
                    comp = rng.choice([x for x in range(3) if m.members(fi, x)])
                    total = len(m.members(fi, comp))
                    n = min(n, total)
                    mem = cursor.get((fi, comp), 0)
                    if mem + n > total:
                        mem = 0
                    cursor[(fi, comp)] = mem + n
                    st.append(("L", comp, fi, mem, n))
                else:
                    fi = rng.choice([u, e])
                    recs = len(m.files[fi].records)
                    if n >= 2 and flags & 1 and rng.random() < 0.5:
                        rows = sorted(rng.sample(range(recs), n))
                    else:
                        start = rng.randrange(recs - n + 1)
                        rows = list(range(start, start + n))
                    st.append(("R", rng.randrange(3), fi, rows))
                left -= n
            plan.append(st)
        m.plans.append(plan)
    return m


def read_all(path, **kw):
    h = read_header(path)
    out = []
    for r in range(h.data_parallel):
        with ManifestReader(path, r, **kw) as rd:
            out += [tuple(x) for x in rd]
    return out


def expected_all(m):
    return [x for r in range(m.D) for x in m.expected(r)]


# -- the worked example of docs/manifest-format.md §8.1 (written by mixtera) ------------------
GOLDEN = os.path.join(REPO, "Tests", "MixteraManifestTests", "Golden", "example-1.2")


def test_golden_example_entries():
    h = read_header(GOLDEN)
    with open(os.path.join(GOLDEN, "labels.bin"), "rb") as f:
        lb = f.read()
    assert len(lb) == 107
    assert xxh3_64(h.bytes) == int.from_bytes(bytes.fromhex("9bc623f1fc97c340"), "little")
    assert xxh3_64(lb[:40]) == int.from_bytes(bytes.fromhex("4d49efc35a85d1c9"), "little")
    want = {
        (0, 0): [(0, 0, 0, 2, 0, [1], 0)],  # a0-a1: rows 0 and 2, one record skipped
        (0, 1): [(1, 0, 4, 2, 400, [2], 0)],  # b1-b2: rows 4 and 7 from checkpoint 1
        (1, 0): [(0, 0, 3, 1, 0, None, 3), (1, 0, 1, 1, 0, None, 1)],  # a2 (row 3), b0 (row 1)
        (1, 1): [(0, 0, 6, 1, 400, None, 2), (1, 1, 0, 1, 0, None, 0)],  # a3 (row 6), then a 1.1 entry of b.jsonl
    }
    for r in range(2):
        rf = RankFile(os.path.join(GOLDEN, "rank-%05d.bin" % r), h, r)
        assert rf.labelled and rf.labels.g == 4 and rf.labels.radix == 3
        for s in range(2):
            assert rf.entries_full(s) == want[(r, s)]
        lf = rf.labels.file(0)
        assert list(lf.labels) == [1, 2, 1, 1, 2, 0, 1, 2, 1, 2] and list(lf.checkpoints) == [0, 400, 800]
        rf.close()


def test_golden_example_replay(tmp_path):
    """The example's rows, read from data files whose records are 100 bytes apart (as its locators say)."""
    root = tmp_path / "web"
    root.mkdir()
    for name, n in (("a", 10), ("b", 5)):
        lines = [(b'{"text":"%s%d"}' % (name.encode(), i)).ljust(99) + b"\n" for i in range(n)]
        (root / ("%s.jsonl" % name)).write_bytes(b"".join(lines))
    got = {}
    for r in range(2):
        with ManifestReader(GOLDEN, r, roots={"/data/web": str(root)}, verify="none") as rd:
            got[r] = [(x.step, x.component, x.file, x.row, x.sample) for x in rd]
    assert got[0] == [(0, "a", "a.jsonl", 0, "a0"), (0, "a", "a.jsonl", 2, "a2"),
                      (1, "b", "a.jsonl", 4, "a4"), (1, "b", "a.jsonl", 7, "a7")]
    assert got[1] == [(0, "a", "a.jsonl", 3, "a3"), (0, "b", "a.jsonl", 1, "a1"),
                      (1, "a", "a.jsonl", 6, "a6"), (1, "b", "b.jsonl", 0, "b0")]


# -- reading -------------------------------------------------------------------------------------
@pytest.mark.parametrize("g", [1, 4, 7, 64, 65536])
def test_label_entries_read_the_planned_rows(tmp_path, g):
    m = standard(str(tmp_path / "m"), g=g)
    path = m.write()
    assert read_all(path) == expected_all(m)


def test_plan_covers_the_cases(tmp_path):
    """The standard plan has label entries with lead > 0, spanning checkpoint groups, with non-adjacent rows, in
    the zstd file, several components of one file in one step, and plain and sparse 1.1 entries besides."""
    m = standard(str(tmp_path / "m"))
    m.write()
    g = m.g
    seen = set()
    for plan in m.plans:
        for st in plan:
            comps_per_file = {}
            for e in st:
                rows = m.rows_of(e)
                if e[0] == "L":
                    seen.add("label")
                    if rows[0] % g:
                        seen.add("lead")
                    if rows[0] // g != rows[-1] // g:
                        seen.add("spans-groups")
                    if rows[-1] - rows[0] + 1 != len(rows):
                        seen.add("gaps")
                    if m.files[e[2]].compression == "zstd":
                        seen.add("zstd")
                    comps_per_file.setdefault(e[2], set()).add(e[1])
                elif rows[-1] - rows[0] + 1 != len(rows):
                    seen.add("sparse")
                else:
                    seen.add("plain")
            if any(len(v) > 1 for v in comps_per_file.values()):
                seen.add("interleaved")
    assert seen == {"label", "lead", "spans-groups", "gaps", "zstd", "interleaved", "sparse", "plain"}
    for fi in m.labelled():  # blank lines among the records
        f = m.files[fi]
        assert f.data.count(b"\n") + 1 > len(f.records)


def test_entries_full_of_label_entries(tmp_path):
    """A label entry resolves to its first row, count, the checkpoint at or before the row, the skips between its
    rows and the records to drop (lead = row mod g) before the first one."""
    m = standard(str(tmp_path / "m"))
    path = m.write()
    h = read_header(path)
    for r in range(m.D):
        rf = RankFile(os.path.join(path, "rank-%05d.bin" % r), h, r)
        for s, st in enumerate(m.plans[r]):
            got = rf.entries_full(s)
            assert len(got) == len(st)
            for e, (comp, fi, row, count, loc, skips, lead) in zip(st, got):
                rows = m.rows_of(e)
                assert (comp, fi, row, count) == (e[1], e[2], rows[0], len(rows))
                gaps = [b - a - 1 for a, b in zip(rows, rows[1:])]
                assert skips == (gaps if any(gaps) else None)
                if e[0] == "L":
                    assert lead == row % m.g
                    assert loc == m.files[fi].offsets[row - lead]
                else:
                    assert lead == 0 and loc == m.files[fi].offsets[row]
            assert [x[:5] for x in got] == rf.entries(s)
        rf.close()


def test_texts_replay_lines_workers_and_cli(tmp_path):
    m = standard(str(tmp_path / "m"))
    path = m.write()
    want = m.expected(1)
    with ManifestReader(path, 1) as r:
        assert list(r.iter_texts()) == [x[7] for x in want]
        lines = list(r.replay_lines())
    assert [(d["step"], d["slot"], d["component"], d["file"], d["row"]) for d in map(json.loads, lines)] == \
        [(x[0], x[2], x[3], x[5], x[6]) for x in want]
    with ManifestReader(path, 1, worker=1, num_workers=3) as r:
        assert [tuple(x) for x in r] == [x for x in want if x[0] % 3 == 1]
    p = run_py("--manifest", path, "--rank", "1")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"".join(lines)


def test_streaming_zstd(tmp_path, monkeypatch):
    """The labelled zstd file read through the streaming decompressor (backward jumps reopen it)."""
    from mixtera_replay import _jsonl
    monkeypatch.setattr(_jsonl, "INMEM_LIMIT", 0)
    m = standard(str(tmp_path / "m"))
    path = m.write()
    assert read_all(path) == expected_all(m)


def test_one_component_runs_and_whole_files(tmp_path):
    """Label entries covering all rows of a component, g larger than the file, and a file whose every row has
    the entry's label (rows adjacent: no skips)."""
    rng = random.Random(2)
    m = Manifest(str(tmp_path / "m"), g=16, D=1, b=10)
    f0 = m.add(DataFile(0, "a.jsonl", text_lines("a", 10, rng, blank=0.4)), [1] * 10)
    f1 = m.add(DataFile(1, "b.jsonl", raw_lines("b", 30, rng, blank=0.4)), [2, 0, 3] * 10)
    m.plans = [[[("L", 0, f0, 0, 10)], [("L", 1, f1, 0, 10)], [("L", 2, f1, 3, 7), ("L", 0, f0, 7, 3)],
                [("L", 0, f0, 9, 1), ("L", 1, f1, 9, 1), ("L", 2, f1, 0, 8)]]]
    path = m.write()
    assert read_all(path) == expected_all(m)


def test_labelled_manifest_with_1_1_rank_files(tmp_path):
    """Rank files without flag bit 1 in a manifest with a label table hold only 1.1 entries; they read as such."""
    m = standard(str(tmp_path / "m"), flags=1)
    for plan in m.plans:
        for st in plan:
            st[:] = [("R", e[1], e[2], m.rows_of(e)) if e[0] == "L" else e for e in st]
    path = m.write()
    assert read_all(path) == expected_all(m)


def test_labels_header_key_absent_reads_1_1(tmp_path):
    m = standard(str(tmp_path / "m"), flags=1)
    for plan in m.plans:
        for st in plan:
            st[:] = [("R", e[1], e[2], m.rows_of(e)) if e[0] == "L" else e for e in st]
    m.header_labels = None
    path = m.write()
    assert not os.path.exists(os.path.join(path, "labels.bin"))
    assert read_all(path) == expected_all(m)


def test_label_cache_eviction(tmp_path, monkeypatch):
    from mixtera_replay import manifest
    monkeypatch.setattr(manifest, "LABEL_CACHE_ROWS", 1)
    m = standard(str(tmp_path / "m"))
    path = m.write()
    assert read_all(path) == expected_all(m)


# -- rejections (§6) -------------------------------------------------------------------------
def kind_of(path, **kw):
    with pytest.raises(MixteraReplayError) as e:
        read_all(path, **kw)
    return e.value.kind


@pytest.fixture
def m(tmp_path):
    m = standard(str(tmp_path / "m"), S=6)
    m.write()
    return m


def relabel(m, **kw):
    frames = kw.pop("frames") if "frames" in kw else m.frames()
    m.write_labels(labels_bin(m.header, kw.pop("g", m.g), frames, kw.pop("radix", m.radix), **kw))
    return m.root


def test_intact(m):
    assert read_all(m.root) == expected_all(m)


def test_missing_labels(m):
    os.remove(os.path.join(m.root, "labels.bin"))
    assert kind_of(m.root) == "missing-labels"
    p = run_py("--manifest", m.root, "--rank", "0")
    assert p.returncode == 66 and b"[missing-labels]" in p.stderr


def test_missing_labels_with_1_1_rank_files(tmp_path):
    m = standard(str(tmp_path / "m"), flags=1, S=4)
    for plan in m.plans:
        for st in plan:
            st[:] = [("R", e[1], e[2], m.rows_of(e)) if e[0] == "L" else e for e in st]
    m.write()
    os.remove(os.path.join(m.root, "labels.bin"))
    assert kind_of(m.root) == "missing-labels"


@pytest.mark.parametrize("kw,kind", [
    (dict(magic=b"MXTRLABX"), "bad-magic"),
    (dict(magic=b"MXTRRANK"), "bad-magic"),
    (dict(major=2), "unsupported-version"),
    (dict(major=0), "unsupported-version"),
    (dict(flags=1), "unsupported-flags"),
    (dict(flags=0x80000000), "unsupported-flags"),
    (dict(hhash=12345), "header-mismatch"),
    (dict(reserved=1), "unsupported-flags"),
    (dict(g_field=0), "corrupt"),
    (dict(g_field=65537), "corrupt"),
    (dict(radix=0), "corrupt"),
    (dict(radix=1), "corrupt"),
    (dict(radix=257), "corrupt"),
])
def test_labels_fixed_header(m, kw, kind):
    if kw.get("radix", 2) < 2:
        kw["frames"] = m.frames(radix=256)  # packing needs a valid radix; the header gets the bad one
    elif "radix" in kw:
        kw["frames"] = m.frames(radix=kw["radix"] - 1)
    relabel(m, **kw)
    assert kind_of(m.root) == kind


def test_minor_version_accepted(m):
    relabel(m, minor=3)
    assert read_all(m.root) == expected_all(m)


def test_g_65536_accepted(m):
    relabel(m, g=65536, frames=m.frames(65536))
    assert read_all(m.root) == expected_all(m)


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


@pytest.mark.parametrize("where", ["header", "header-sum", "directory", "directory-sum", "frame"])
def test_labels_checksums(m, where):
    lp = os.path.join(m.root, "labels.bin")
    n = len(m.labelled())
    offset = {"header": 20, "header-sum": 41, "directory": 48 + 32 + 9, "directory-sum": 48 + 32 * n + 3,
              "frame": 48 + 32 * n + 8 + 5}[where]
    flip(lp, offset)
    assert kind_of(m.root) == "checksum-mismatch"


def test_frame_checksum_is_checked_when_the_file_is_first_used(m):
    """Frames are verified lazily: opening succeeds, the first entry of a broken frame's file fails."""
    flip(os.path.join(m.root, "labels.bin"), 48 + 32 * len(m.labelled()) + 8 + 5)
    r = ManifestReader(m.root, 0)
    with pytest.raises(MixteraReplayError) as e:
        list(r)
    r.close()
    assert e.value.kind == "checksum-mismatch" and e.value.path.endswith("labels.bin")


def test_directory_not_increasing(m):
    frames = m.frames()
    assert len(frames) == 3
    relabel(m, frames=[frames[1], frames[0], frames[2]])
    assert kind_of(m.root) == "corrupt"
    relabel(m, frames=[frames[0], frames[0], frames[2]])
    assert kind_of(m.root) == "corrupt"


def test_directory_file_out_of_range(m):
    frames = m.frames()
    relabel(m, frames=frames[:2] + [(len(m.files), frames[2][1])])
    assert kind_of(m.root) == "corrupt"


def test_directory_names_non_jsonl_file(tmp_path):
    m = standard(str(tmp_path / "m"), S=4)
    rng = random.Random(1)
    # A file table entry of another format (never read: its data file is not needed to open the manifest).
    pq = m.add(DataFile(1, "p.parquet", raw_lines("p", 8, rng, blank=0), fmt="parquet"))
    m.write()
    relabel(m, frames=m.frames() + [(pq, label_raw([1] * 8, [0, 10]))])
    assert kind_of(m.root) == "corrupt"


def test_frames_do_not_tile(m):
    frames = m.frames()
    n = len(frames)
    lens = [len(zcompress(raw)) for _, raw in frames]
    first = 48 + 32 * n + 8
    good = [first, first + lens[0], first + lens[0] + lens[1]]
    # A gap before the second frame (the directory still matches its checksum).
    relabel(m, offsets=[good[0], good[1] + 1, good[2] + 1])
    assert kind_of(m.root) == "corrupt"
    relabel(m, offsets=[good[0] + 1, good[1] + 1, good[2] + 1])
    assert kind_of(m.root) == "corrupt"
    relabel(m, offsets=[good[0], good[2], good[1]])
    assert kind_of(m.root) == "corrupt"
    relabel(m, trailing=b"\0")
    assert kind_of(m.root) == "corrupt"
    relabel(m)
    lp = os.path.join(m.root, "labels.bin")
    os.truncate(lp, os.path.getsize(lp) - 1)
    assert kind_of(m.root) == "corrupt"
    # Too short for the directory, or for the fixed header.
    os.truncate(lp, 48 + 32 * n)
    assert kind_of(m.root) == "truncated"
    os.truncate(lp, 30)
    assert kind_of(m.root) == "truncated"


def test_no_labelled_files(tmp_path):
    """n = 0: an empty directory and no frames; flag bit 1 rank files then hold only 1.1 entries."""
    m = standard(str(tmp_path / "m"), S=4)
    for plan in m.plans:
        for st in plan:
            st[:] = [("R", e[1], e[2], m.rows_of(e)) if e[0] == "L" else e for e in st]
    m.write()
    relabel(m, frames=[])
    with open(os.path.join(m.root, "labels.bin"), "rb") as f:
        assert len(f.read()) == 48 + 8
    assert read_all(m.root) == expected_all(m)


@pytest.mark.parametrize("delta", [-1, 1, 1000])
def test_raw_size_mismatch(m, delta):
    frames = m.frames()
    relabel(m, raw_sizes=[len(frames[0][1]) + delta] + [len(r) for _, r in frames[1:]])
    assert kind_of(m.root) == "corrupt"


@pytest.mark.parametrize("edit", ["extra-varint", "missing-varint", "short-labels", "unterminated", "long-varint"])
def test_raw_section_size(m, edit):
    frames = m.frames()
    fi, raw = frames[0]
    npacked = -(-len(m.files[fi].records) // per_byte(m.radix))
    if edit == "extra-varint":
        raw = raw + b"\x05"
    elif edit == "missing-varint":
        raw = raw[:npacked] + label_raw([], m.checkpoints(fi)[:-1])
    elif edit == "short-labels":
        raw = raw[1:]
    elif edit == "unterminated":
        raw = raw + b"\x80"
    else:  # an 11-byte varint for the last delta
        cps = m.checkpoints(fi)
        raw = label_raw(m.files[fi].labels, cps[:-1]) + b"\x80" * 10 + b"\x00"
    relabel(m, frames=[(fi, raw)] + frames[1:])
    with pytest.raises(MixteraReplayError) as e:
        read_all(m.root)
    assert e.value.kind == "corrupt" and "exactly 50 checkpoint varints" in e.value.message


@pytest.mark.parametrize("big", [1 << 63, (1 << 64) - 1])
def test_checkpoints_past_int64(m, big):
    """Deltas are unsigned, so checkpoints can only "decrease" by wrapping: a sum past 2^63 - 1 is rejected."""
    frames = m.frames()
    fi, _ = frames[0]
    cps = m.checkpoints(fi)
    raw = bytearray(pack(m.files[fi].labels, m.radix))
    uv(0, raw)
    uv(big, raw)
    for _ in cps[2:]:
        uv(1, raw)
    relabel(m, frames=[(fi, bytes(raw))] + frames[1:])
    with pytest.raises(MixteraReplayError) as e:
        read_all(m.root)
    assert e.value.kind == "corrupt" and "2^63" in e.value.message


@pytest.mark.parametrize("count,over", [(1, 1), (2, 1), (8, 1), (1, 6), (3, 3)])
def test_too_few_labelled_rows(m, count, over):
    """member + count `over` past the number of rows labelled component + 1."""
    fi = m.labelled()[0]
    total = len(m.members(fi, 0))
    member = total - count + over
    step = [("L", 0, fi, member, count)]
    if count < m.b:
        step.append(("R", 0, 1, list(range(m.b - count))))
    m.plans[0][0] = step
    m.write()
    with pytest.raises(MixteraReplayError) as e:
        with ManifestReader(m.root, 0) as r:
            r.step_texts(0)
    assert e.value.kind == "corrupt" and "labelled" in e.value.message, e.value
    # Up to the last such row reads.
    if member >= over:
        m.plans[0][0] = [("L", 0, fi, member - over, count)] + step[1:]
        m.write()
        assert read_all(m.root) == expected_all(m)


def test_label_entry_component_out_of_range(m):
    st = m.plans[0][0]
    i = next(k for k, e in enumerate(st) if e[0] == "L")
    st[i] = ("L", 3) + st[i][2:]
    m.write()
    assert kind_of(m.root) == "corrupt"


def test_label_entry_count_zero(m):
    st = m.plans[0][0]
    fi = m.labelled()[0]
    st.insert(0, ("L", 0, fi, 0, 0))
    m.write()
    assert kind_of(m.root) == "corrupt"


def set_flags(path, flags):
    with open(path, "r+b") as f:
        f.seek(12)
        f.write(struct.pack("<I", flags))
        f.seek(0)
        head = f.read(56)
        f.write(struct.pack("<Q", xxh3_64(head)))


@pytest.mark.parametrize("flags", [2, 6, 7, 0x83])
def test_flag_bit_1_without_bit_0_or_unknown_bits(m, flags):
    for r in range(m.D):
        set_flags(os.path.join(m.root, "rank-%05d.bin" % r), flags)
    assert kind_of(m.root) == "unsupported-flags"


def test_flag_bit_1_without_labels_in_header(m):
    m.header_labels = None
    m.write()
    assert kind_of(m.root) == "header-mismatch"


def test_labels_of_another_header(m, tmp_path):
    """labels.bin and the rank files must be bound to the same header.json."""
    other = standard(str(tmp_path / "other"), S=6, seed=6)
    other.write()
    shutil.copy(os.path.join(other.root, "labels.bin"), os.path.join(m.root, "labels.bin"))
    assert kind_of(m.root) == "header-mismatch"


@pytest.mark.parametrize("value", [7, "", "../labels.bin", "labels.bin/", "other.bin", ["labels.bin"]])
def test_labels_header_key(m, value):
    """The key names "labels.bin" or is absent (null reads as absent)."""
    hp = os.path.join(m.root, "header.json")
    h = json.loads(open(hp, "rb").read())
    h["labels"] = value
    with open(hp, "w") as f:
        f.write(json.dumps(h, indent=2) + "\n")
    with pytest.raises(MixteraReplayError) as e:
        read_header(m.root)
    assert e.value.kind == "bad-header"
    h["labels"] = None
    with open(hp, "w") as f:
        f.write(json.dumps(h, indent=2) + "\n")
    assert read_header(m.root).labels is None


def test_readers_drop_leading_records(tmp_path, monkeypatch):
    """read(offset, count, lead) of every JSONL reader (mapped, positioned reads, in memory, streaming) equals
    read(offset, lead + count)[lead:]: blank lines are not records, a run past the end is a truncation."""
    from mixtera_replay import _jsonl
    from mixtera_replay.errors import RecordError
    rng = random.Random(4)
    data, recs = jsonl(raw_lines("q", 40, rng, blank=0.4), bom=True)
    plain = tmp_path / "q.jsonl"
    plain.write_bytes(data)
    packed = tmp_path / "q.jsonl.zst"
    packed.write_bytes(zcompress(data))
    offsets = [o for o, _ in recs]
    lines = [l for _, l in recs]

    def readers():
        mapped = _jsonl.PlainReader(str(plain), len(data), len(recs))
        assert mapped.map is not None
        yield mapped
        pread = _jsonl.PlainReader(str(plain), len(data), len(recs))
        pread.map.close()
        pread.map = None
        yield pread
        yield _jsonl.StreamReader(str(packed), "zstd", (), packed.stat().st_size)
        monkeypatch.setattr(_jsonl, "INMEM_LIMIT", 0)
        yield _jsonl.StreamReader(str(packed), "zstd", (), packed.stat().st_size)

    backward = 0
    for r in readers():
        for k in range(0, len(lines), 3):
            for lead in (0, 1, 2, 5):
                for n in (1, 2, 4):
                    if k + lead + n <= len(lines):
                        assert r.read(offsets[k], n, lead) == lines[k + lead:k + lead + n], (r, k, lead, n)
                    else:
                        with pytest.raises(RecordError):
                            r.read(offsets[k], n, lead)
            if r.backward:
                # A negative lead: the records start -lead records before the offset.
                for back in (1, 2, 7):
                    for n in (1, 3):
                        if k - back >= 0 and k - back + n <= len(lines):
                            assert r.read(offsets[k], n, -back) == lines[k - back:k - back + n], (r, k, back, n)
                        elif k - back < 0:
                            with pytest.raises(RecordError):
                                r.read(offsets[k], n, -back)
                backward += 1
        r.close()
    assert backward


# -- packed labels and column blocks (§3.1, §3.3) ----------------------------------------------
def test_unpack_labels_every_radix():
    from mixtera_replay.manifest import labels_per_byte, unpack_labels
    rng = random.Random(9)
    assert [labels_per_byte(n) for n in (2, 3, 4, 5, 6, 7, 16, 17, 255, 256)] == [8, 5, 4, 3, 3, 2, 2, 1, 1, 1]
    for radix in range(2, 257):
        assert per_byte(radix) == labels_per_byte(radix)
        for samples in (0, 1, per_byte(radix) - 1, 37, 1000):
            labels = bytes(rng.randrange(radix) for _ in range(samples))
            assert unpack_labels(pack(labels, radix), radix, samples) == labels, (radix, samples)


@pytest.mark.parametrize("radix", [4, 5, 7, 16, 17, 255, 256])
def test_radix(tmp_path, radix):
    """mixtera writes N = components + 1 (4 here); any larger N up to 256 reads the same."""
    m = standard(str(tmp_path / "m"), S=8)
    m.radix = radix
    path = m.write()
    assert read_all(path) == expected_all(m)


@pytest.mark.parametrize("radix,labels", [(2, [0, 1]), (3, [0, 1, 2]), (3, [2])])
def test_small_radix(tmp_path, radix, labels):
    """8 and 5 labels a byte, files whose sizes are not multiples of p (the last byte padded)."""
    rng = random.Random(radix)
    m = Manifest(str(tmp_path / "m"), g=5, D=1, b=6, radix=radix)
    f0 = m.add(DataFile(0, "a.jsonl", text_lines("a", 61, rng)), [rng.choice(labels) for _ in range(61)])
    f1 = m.add(DataFile(1, "b.jsonl", raw_lines("b", 13, rng)), [rng.choice(labels) for _ in range(13)])
    plan = []
    cursor = {}
    for s in range(12):
        st = []
        left = m.b
        while left:
            fi = rng.choice([f0, f1])
            comp = rng.choice([c for c in range(3) if m.members(fi, c)])
            total = len(m.members(fi, comp))
            n = min(rng.randint(1, left), total)
            mem = cursor.get((fi, comp), 0)
            if mem + n > total:
                mem = 0
            cursor[(fi, comp)] = mem + n
            st.append(("L", comp, fi, mem, n))
            left -= n
        plan.append(st)
    m.plans = [plan]
    path = m.write()
    assert read_all(path) == expected_all(m)


@pytest.mark.parametrize("radix,bad", [(3, 243), (3, 255), (5, 125), (17, 17), (200, 255)])
def test_packed_byte_out_of_range(m, radix, bad):
    """A packed byte of N^p or more (in every frame, so that the first one read fails)."""
    frames = []
    for fi in m.labelled():
        raw = bytearray(label_raw([min(l, radix - 1) for l in m.files[fi].labels], m.checkpoints(fi), radix))
        raw[3] = bad
        frames.append((fi, bytes(raw)))
    relabel(m, radix=radix, frames=frames)
    with pytest.raises(MixteraReplayError) as e:
        read_all(m.root)
    assert e.value.kind == "corrupt" and "packed byte" in e.value.message


def test_padding_labels_are_ignored(m):
    """Labels past the last row (padding of the last packed byte) are written as 0; a reader only looks at the
    file's `samples` labels (as mixtera's reader does)."""
    frames = m.frames()
    out = []
    assert any(len(m.files[fi].records) % 4 for fi, _ in frames), "the test needs a padded last byte"
    for fi, raw in frames:
        samples = len(m.files[fi].records)
        raw = bytearray(raw)
        last = samples // 4
        if samples % 4:
            for t in range(samples % 4, 4):
                raw[last] += 1 * 4 ** t  # label 1 (component 0) in every padding slot
        out.append((fi, bytes(raw)))
    relabel(m, frames=out)
    assert read_all(m.root) == expected_all(m)


def columns_edit(m, edit):
    def f(j, cols):
        if j == 0:
            edit(cols)
    m.column_edit = f
    m.write()
    return m.root


@pytest.mark.parametrize("column", range(7))
def test_column_with_an_extra_value(m, column):
    assert kind_of(columns_edit(m, lambda cols: uv(1, cols[column]))) == "corrupt"


@pytest.mark.parametrize("column", range(7))
def test_column_missing_its_last_value(m, column):
    def edit(cols):
        c = cols[column]
        assert c, "the plan's first block has values in every column"
        del c[-1]
        while c and c[-1] >= 0x80:  # the rest of a multi-byte varint
            del c[-1]
    assert kind_of(columns_edit(m, edit)) == "corrupt"


@pytest.mark.parametrize("column", range(7))
def test_column_ending_inside_a_varint(m, column):
    assert kind_of(columns_edit(m, lambda cols: cols[column].append(0x80))) == "corrupt"


def test_column_lengths_do_not_add_up(m):
    K = steps_per_block(m.b)
    blocks = [m.encode_block(j // K, m.plans[0][j:j + K], m.flags) for j in range(0, len(m.plans[0]), K)]
    for raw in (blocks[0] + b"\0", blocks[0][:-1], blocks[0][:27],
                struct.pack("<I", struct.unpack_from("<I", blocks[0])[0] + 1) + blocks[0][4:]):
        with open(os.path.join(m.root, "rank-00000.bin"), "wb") as fh:
            fh.write(rank_bin(m.header, 0, m.D, m.b, len(m.plans[0]), [raw] + blocks[1:], m.flags))
        assert kind_of(m.root) == "corrupt"


def test_column_step_counts_not_summing_to_b(m):
    m.plans[0][1] = m.plans[0][1][:-1]
    m.write()
    assert kind_of(m.root) == "corrupt"


def test_many_blocks(tmp_path):
    """b = 4096: K = 4 steps a block (the last one partial); entries resolved from every block."""
    m = standard(str(tmp_path / "m"), S=11, D=1, b=4096)
    assert steps_per_block(m.b) == 4
    path = m.write()
    assert read_all(path) == expected_all(m)
