#!/usr/bin/env python3
# Used by docs/offline-mixing.md and scripts/offline-mixing-demo.sh:
#   scripts/fake-train.py MANIFEST S LOSSES.jsonl   (run from the repository root)
# Stand-in for training: reads steps [0, S) of every rank with the Python reader and logs, per step
# and component, a mean loss (here from known power laws), the samples and the tokens it saw.
import json, sys
sys.path.insert(0, "python")
from mixtera_replay import ManifestReader

manifest, stop, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
laws = {"web": (1.5, 8.0, 0.4), "code": (2.0, 2.0, 0.4), "rest": (3.0, 0.5, 0.3)}  # eps, beta, alpha
counts = {}
for rank in range(4):
    with ManifestReader(manifest, rank, start_step=0, end_step=stop) as r:
        for s in r:
            c = counts.setdefault((s.step, s.component), [0, 0])
            c[0] += 1
            c[1] += len(s.sample.split())  # a real job logs its tokenizer's count
seen = {k: 0 for k in laws}
with open(out, "w") as f:
    for step in range(stop):
        for name, (eps, beta, alpha) in laws.items():
            n, tokens = counts.get((step, name), (0, 0))
            if n == 0:
                continue
            seen[name] += n
            loss = round(eps + beta * seen[name] ** -alpha, 6)
            f.write(json.dumps({"step": step, "component": name, "loss": loss, "samples": n, "tokens": tokens}) + "\n")
