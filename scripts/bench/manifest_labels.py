#!/usr/bin/env python3
"""Sizes a manifest layout that replaces per-rank membership skips by one shared row → component table.

    python3 scripts/bench/manifest_labels.py MANIFEST_DIR

An analysis for docs/benchmarks.md ("Manifest size"), not a format mixtera writes. From a manifest built
over plain JSONL files (format 1.1, sparse entries) it derives, and zstd-compresses (level 19) the way a
writer would:

* labels: per file, one byte per row, the component that planned it (0: none), one zstd frame per file;
* checkpoints: per file, the byte offset of every 64th row (delta varints), so that entries need no byte
  locator (a reader scans at most 63 lines forward from a checkpoint);
* entries: per rank-step, (component, file delta, index of the first row among the file's rows of that
  component, count) varints, consecutive entries of one component merged, K = 128 steps per zstd frame,
  plus one byte per step for the step offsets and 24 bytes per frame for the block table.

It prints each part in bytes per planned sample. Needs the dataset files (for the checkpoints) and the
`zstandard` package (`make pydeps`).
"""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(__file__))
from manifest_floor import varint, zigzag  # noqa: E402
from mixtera_replay.manifest import open_rank, read_header  # noqa: E402

import zstandard  # noqa: E402


def main(path):
    h = read_header(path)
    steps, planned = h.steps, h.steps * h.global_batch
    labels = [bytearray(f.samples) for f in h.files]
    plan = []
    for rank in range(h.data_parallel):
        rf = open_rank(path, h, rank)
        per_step = []
        for s in range(steps):
            out = []
            for (c, f, r, n, loc, sk, _lead) in rf.entries_full(s):
                rows = [r]
                for k in sk or ():
                    rows.append(rows[-1] + 1 + k)
                for x in rows:
                    labels[f][x] = c + 1
                out.append((c, f, rows))
            per_step.append(out)
        plan.append(per_step)
    member = []
    for lab in labels:
        seen = collections.Counter()
        idx = [0] * len(lab)
        for i, c in enumerate(lab):
            idx[i] = seen[c]
            seen[c] += 1
        member.append(idx)
    cc = zstandard.ZstdCompressor(level=19)
    label_bytes = sum(len(cc.compress(bytes(lab))) for lab in labels)
    checkpoint_bytes = 0
    for i, f in enumerate(h.files):
        root = h.datasets[f.dataset].root
        raw = bytearray()
        prev = offset = 0
        with open(os.path.join(root, f.path), "rb") as fh:
            for k, line in enumerate(fh):
                if k % 64 == 0:
                    varint(offset - prev, raw)
                    prev = offset
                offset += len(line)
        checkpoint_bytes += len(cc.compress(bytes(raw)))
    entry_bytes = 0
    entries = 0
    for per_step in plan:
        for j in range(0, steps, 128):
            raw = bytearray()
            for s in range(j, min(steps, j + 128)):
                merged = []
                for (c, f, rows) in per_step[s]:
                    m0 = member[f][rows[0]]
                    assert all(member[f][x] == m0 + i for i, x in enumerate(rows)), "rows are not consecutive members"
                    if merged and merged[-1][0] == c and merged[-1][1] == f and merged[-1][2] + merged[-1][3] == m0:
                        merged[-1][3] += len(rows)
                    else:
                        merged.append([c, f, m0, len(rows)])
                entries += len(merged)
                varint(len(merged), raw)
                pf = 0
                for (c, f, m, n) in merged:
                    for v in (c, zigzag(f - pf), m, n):
                        varint(v, raw)
                    pf = f
            entry_bytes += len(cc.compress(bytes(raw))) + min(128, steps - j) + 24
    per = lambda b: f"{b / planned:.3f}"
    print(f"manifest: {path}; planned samples {planned}; entries per rank-step {entries / steps / h.data_parallel:.2f}")
    print(f"labels {per(label_bytes)} + checkpoints {per(checkpoint_bytes)} + entries {per(entry_bytes)} "
          f"= {per(label_bytes + checkpoint_bytes + entry_bytes)} bytes per planned sample (header.json not counted)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
