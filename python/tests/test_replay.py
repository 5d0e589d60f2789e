"""Byte identity with `mixtera replay` for several manifests, every rank and all steps; step ranges,
worker split, resume, and the Python API."""
import json

import pytest

from conftest import fixture_manifest, run_py, run_swift
from mixtera_replay import ManifestReader, MixteraIterableDataset, read_header
from mixtera_replay import _jsonl


def loads(line):
    return json.loads(line.decode("utf-8", "surrogateescape"))

VARIANTS = {
    # name: kwargs for Env.manifest
    "samples-d3": dict(shuffle="samples", G=24, D=3, S=40),
    "none-d1": dict(shuffle="none", G=16, D=1, S=30),
    "files-d2": dict(shuffle="files", G=20, D=2, S=25),
    "blocks-d4": dict(shuffle="blocks", extra=", block_size: 8", G=32, D=4, S=20),
    "samples-raw-d2": dict(text=False, shuffle="samples", G=12, D=2, S=50, seed=11),
    "none-raw-d4": dict(text=False, shuffle="none", G=8, D=4, S=60),
    "blocks-bigb-d1": dict(shuffle="blocks", extra=", block_size: 3", G=3000, D=1, S=3, seed=3),
    "samples-kblocks": dict(shuffle="samples", G=4096, D=1, S=9, seed=5),
    # Label tables (format 1.2): checkpoints in plain and compressed files, backward reads in the tricky file.
    "none-labels-d1": dict(shuffle="none", G=16, D=1, S=30, labels="always"),
    "files-labels-d2": dict(shuffle="files", G=20, D=2, S=25, labels="always"),
    "blocks-labels-d4": dict(shuffle="blocks", extra=", block_size: 8", G=32, D=4, S=20, labels="always"),
    "none-raw-labels-d4": dict(text=False, shuffle="none", G=8, D=4, S=60, labels="always"),
    "blocks-bigb-labels-d1": dict(shuffle="blocks", extra=", block_size: 3", G=3000, D=1, S=3, seed=3, labels="always"),
}


def all_manifests(env):
    out = [("fixture", fixture_manifest(env))]
    for name, kw in VARIANTS.items():
        out.append((name, env.manifest(name, **kw)))
    return out


@pytest.mark.parametrize("name", ["fixture"] + list(VARIANTS))
def test_cli_identical_every_rank(env, name):
    m = fixture_manifest(env) if name == "fixture" else env.manifest(name, **VARIANTS[name])
    h = read_header(m)
    for r in range(h.data_parallel):
        want = run_swift("replay", "--manifest", m, "--rank", str(r)).stdout
        got = run_py("--manifest", m, "--rank", str(r))
        assert got.returncode == 0, got.stderr.decode()
        assert got.stdout == want, "rank %d of %s differs" % (r, name)
        assert want.count(b"\n") == h.steps * h.samples_per_rank


def test_label_variants_have_label_tables(env):
    for name, kw in VARIANTS.items():
        h = read_header(env.manifest(name, **kw))
        if kw.get("labels") == "always":
            assert h.labels == "labels.bin", name
        elif kw["shuffle"] == "samples":
            assert h.labels is None, name  # never with shuffle: samples


def test_variants_exercise_formats(env):
    h = read_header(env.manifest("samples-d3", **VARIANTS["samples-d3"]))
    assert {f.compression for f in h.files} == {"none", "zstd", "gzip", "xz", "bzip2"}
    assert any(f.zstd_frames for f in h.files), "expected a multi-frame zstd file"
    assert {d.text_field for d in h.datasets} == {"text", None, "meta.body"}
    raw = read_header(env.manifest("samples-raw-d2", **VARIANTS["samples-raw-d2"]))
    assert {d.text_field for d in raw.datasets} == {None}
    big = ManifestReader(env.manifest("samples-kblocks", **VARIANTS["samples-kblocks"]), 0)
    assert big.rank_file.steps_per_block == 4 and len(big.rank_file.blocks) == 3


@pytest.mark.parametrize("steps", ["0:5", "3:", "7", ":4", "10:10", "39", "0:40"])
def test_cli_step_ranges(env, steps):
    m = env.manifest("samples-d3", **VARIANTS["samples-d3"])
    want = run_swift("replay", "--manifest", m, "--rank", "1", "--steps", steps).stdout
    got = run_py("--manifest", m, "--rank", "1", "--steps", steps)
    assert got.returncode == 0 and got.stdout == want


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_cli_workers_identical_and_cover(env, workers):
    m = env.manifest("blocks-d4", **VARIANTS["blocks-d4"])
    full = run_swift("replay", "--manifest", m, "--rank", "2").stdout.splitlines()
    seen = []
    for w in range(workers):
        args = ["--manifest", m, "--rank", "2", "--steps", "3:", "--worker", str(w), "--workers", str(workers)]
        want = run_swift("replay", *args).stdout
        got = run_py(*args)
        assert got.returncode == 0 and got.stdout == want
        for line in want.splitlines():
            s = loads(line)["step"]
            assert s % workers == w
            seen.append(line)
    assert sorted(seen) == sorted(full[3 * 8:])


def test_cli_usage_errors_match(env):
    m = env.manifest("samples-d3", **VARIANTS["samples-d3"])
    for args in (["--steps", "41"], ["--steps", "5:3"], ["--steps", "0:41"], ["--steps", "x"], ["--worker", "1"],
                 ["--worker", "2", "--workers", "2"], ["--rank", "3"], ["--root", "=x"]):
        argv = ["--manifest", m] + (["--rank", "0"] if "--rank" not in args else []) + args
        s = run_swift("replay", *argv, check=False)
        p = run_py(*argv)
        # Usage errors exit 64. (mixtera 0.1.0 exits 70, "internal error", for a bad --steps because
        # parseSteps throws a ValidationError inside ExitStatus.run; the Python CLI reports 64.)
        assert s.returncode == 64 and p.returncode == 64, (args, s.returncode, p.returncode, p.stderr)
        assert p.stdout == b"" and s.stdout == b""


def test_api_matches_replay_lines(env):
    m = env.manifest("samples-d3", **VARIANTS["samples-d3"])
    want = run_swift("replay", "--manifest", m, "--rank", "0").stdout
    with ManifestReader(m, 0) as r:
        assert b"".join(r.replay_lines()) == want
    with ManifestReader(m, 0) as r:
        samples = list(r)
    lines = want.splitlines()
    assert len(samples) == len(lines)
    for s, line in zip(samples, lines):
        j = loads(line)
        assert (s.step, s.rank, s.slot, s.component, s.dataset, s.file, s.row) == (
            j["step"], j["rank"], j["slot"], j["component"], j["dataset"], j["file"], j["row"])
        if isinstance(s.sample, bytes):
            assert s.dataset == "multi"
            assert json.loads(s.sample) == j["sample"]
            assert line.endswith(b',"sample":' + s.sample + b"}")
        else:
            assert ManifestReader.sample_json(s) in line
            if "\udcff" not in s.sample and "\udced" not in s.sample:
                assert s.sample == j["sample"]


def test_resume_equals_suffix(env):
    m = env.manifest("files-d2", **VARIANTS["files-d2"])
    full = list(ManifestReader(m, 1))
    b = 10
    for k in (0, 1, 7, 24, 25):
        assert list(ManifestReader(m, 1, start_step=k)) == full[k * b:]
        ds = MixteraIterableDataset(m, 1).resume(k)
        assert list(ds) == full[k * b:]
        assert len(ds) == (25 - k) * b


def test_dataset_worker_split(env):
    m = env.manifest("none-raw-d4", **VARIANTS["none-raw-d4"])
    full = list(ManifestReader(m, 3))
    for n in (1, 2, 4, 7):
        parts = [list(MixteraIterableDataset(m, 3, start_step=5, worker=w, num_workers=n)) for w in range(n)]
        flat = [x for p in parts for x in p]
        assert sorted(flat) == sorted(full[5 * 2:])
        for w, p in enumerate(parts):
            assert all(x.step % n == w for x in p)
        # interleaving the workers' steps round-robin gives back the step order
        steps = sorted({x.step for x in flat})
        assert steps == list(range(5, 60))
    batched = list(MixteraIterableDataset(m, 3, batched=True, text_only=True))
    assert [b for batch in batched for b in batch] == [x.sample for x in full]
    d = list(MixteraIterableDataset(m, 3, end_step=2, as_dict=True))
    assert d[0]["step"] == 0 and set(d[0]) == {"step", "rank", "slot", "component", "dataset", "file", "row", "sample"}


def test_streaming_path_identical(env, monkeypatch):
    """Compressed files above the in-memory limit are streamed (reopened on backward jumps, zstd from frames)."""
    m = env.manifest("samples-d3", **VARIANTS["samples-d3"])
    want = run_swift("replay", "--manifest", m, "--rank", "2").stdout
    monkeypatch.setattr(_jsonl, "INMEM_LIMIT", 0)
    with ManifestReader(m, 2) as r:
        assert b"".join(r.replay_step_bytes()) == want
        assert any(not x.whole for x in r._readers.values() if isinstance(x, _jsonl.StreamReader))


def test_text_only_iteration(env):
    m = fixture_manifest(env)
    r = ManifestReader(m, 0, start_step=2, end_step=5)
    texts = list(r.iter_texts())
    assert texts == [s.sample for s in ManifestReader(m, 0, start_step=2, end_step=5)]
    assert all(isinstance(t, str) for t in texts)


def test_dataloader_order_with_worker_info(env, monkeypatch):
    """Simulates torch DataLoader workers (get_worker_info) and its round-robin over worker batches:
    batches come out in step order from any resume step."""
    import types
    from mixtera_replay import dataset as dsmod
    m = env.manifest("none-raw-d4", **VARIANTS["none-raw-d4"])
    b = read_header(m).samples_per_rank
    full = list(ManifestReader(m, 1))
    for start in (0, 1, 5, 58):
        for W in (1, 2, 3):
            per_worker = []
            for i in range(W):
                monkeypatch.setattr(dsmod, "_get_worker_info", lambda i=i: types.SimpleNamespace(id=i, num_workers=W))
                items = list(MixteraIterableDataset(m, 1, start_step=start))
                per_worker.append([items[k:k + b] for k in range(0, len(items), b)])
                assert all(x.step % W == (start + i) % W for x in items)
            merged = []
            for k in range(max(len(p) for p in per_worker)):
                for p in per_worker:
                    if k < len(p):
                        merged += p[k]
            assert merged == full[start * b:], (start, W)
