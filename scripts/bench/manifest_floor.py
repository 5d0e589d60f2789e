#!/usr/bin/env python3
"""Where a manifest's bytes go, next to the information they must carry.

    python3 scripts/bench/manifest_floor.py MANIFEST_DIR

For every rank file: entries per step, the zstd-compressed size of the rank files as they are, and two
lower bounds for what a catalog-free reader needs on top of the entries' positions:

* skips: the order-0 entropy of the sparse-entry skip values (what describing each component's rows
  within its entries costs when components are described separately, as format 1.1 does);
* labels: the order-0 entropy of one component label per planned sample (what a row → component
  table shared by all ranks would cost at least, if it replaced the skips).

It also prints the compressed size of the entry headers alone (component, file, row, count, locator,
without skips), which no layout of the skips can remove. Uses the stdlib reader in python/ and the
`zstandard` package (installed by `make pydeps`).
"""
import collections
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
from mixtera_replay.manifest import open_rank, read_header  # noqa: E402

import zstandard  # noqa: E402


def varint(v, out):
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def entropy(counter):
    n = sum(counter.values())
    return -sum(c / n * math.log2(c / n) for c in counter.values()) * n if n else 0.0


def main(path):
    h = read_header(path)
    steps = h.steps
    planned = steps * h.global_batch
    rank_bytes = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.startswith("rank-"))
    header_bytes = os.path.getsize(os.path.join(path, "header.json"))
    skips = collections.Counter()
    labels = collections.Counter()
    entries = 0
    header_only = 0
    cctx = zstandard.ZstdCompressor(level=3)
    for rank in range(h.data_parallel):
        rf = open_rank(path, h, rank)
        k = rf.steps_per_block
        for j in range(0, steps, k):
            raw = bytearray()
            for s in range(j, min(steps, j + k)):
                ents = rf.entries_full(s)
                varint(len(ents), raw)
                pf = prow = ploc = 0
                for (c, f, r, n, loc, sk, _lead) in ents:
                    entries += 1
                    labels[c] += n
                    span = n + (sum(sk) if sk else 0)
                    for x in sk or ():
                        skips[x] += 1
                    same = f == pf
                    for v in (c, zigzag(f - pf), zigzag(r - (prow if same else 0)), n,
                              zigzag(loc - (ploc if same else 0))):
                        varint(v, raw)
                    pf, prow, ploc = f, r + span, loc
            header_only += len(cctx.compress(bytes(raw)))
    per = lambda b: f"{b / planned:.3f}"
    print(f"manifest: {path}")
    print(f"planned samples: {planned}; steps: {steps}; entries per rank-step: {entries / steps / h.data_parallel:.2f}")
    print(f"bytes/sample as written: {per(rank_bytes + header_bytes)} (rank files {per(rank_bytes)}, header {per(header_bytes)})")
    print(f"entry headers alone, zstd -3: {per(header_only)}")
    print(f"skip values, order-0 entropy: {per(entropy(skips) / 8)}")
    print(f"one component label per sample, order-0 entropy: {per(entropy(labels) / 8)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
