#!/usr/bin/env bash
# The worked offline feedback loop of docs/offline-mixing.md, on the bundled fixtures.
#   scripts/offline-mixing-demo.sh [WORKDIR]      (default: a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MIXTERA:-.build/debug/mixtera}
W=${1:-$(mktemp -d)}
mkdir -p "$W"
set -x
# 0. A token-weighted variant of the fixture spec.
sed 's/unit: samples/unit: tokens/' fixtures/specs/build.yaml > "$W/build.yaml"
"$BIN" scan --spec fixtures/specs/datasets.yaml --catalog "$W/catalog.sqlite" --quiet
# 1. Plan the whole run; train on steps [0, 6) and log per-step, per-component losses.
"$BIN" build-manifest --catalog "$W/catalog.sqlite" --spec "$W/build.yaml" --out "$W/manifest" --quiet
python3 scripts/fake-train.py "$W/manifest" 6 "$W/losses.jsonl"
# 2. New weights from the feedback, as a spec with a schedule entry at step 6.
"$BIN" reweight --manifest "$W/manifest" --feedback "$W/losses.jsonl" --at-step 6 --method ado --out "$W/reweighted.yaml"
# 3. Continue the manifest from step 6 with the new weights; steps < 6 stay byte-identical.
"$BIN" build-manifest --catalog "$W/catalog.sqlite" --spec "$W/reweighted.yaml" --out "$W/manifest2" \
  --continue-from "$W/manifest" --at-step 6 --quiet
"$BIN" diff "$W/manifest" "$W/manifest2" | head -12 || true
# 4. Resume training at step 6 on the continued manifest.
"$BIN" replay --manifest "$W/manifest2" --rank 0 --steps 6:7 | head -2
