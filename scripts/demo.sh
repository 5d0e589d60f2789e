#!/usr/bin/env bash
# The main job on the bundled fixtures: scan → explain → build-manifest → verify → replay.
set -euo pipefail
BIN=${1:-.build/release/mixtera}
cd "$(dirname "$0")/.."
OUT=.demo
rm -rf "$OUT" && mkdir -p "$OUT"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "mixtera scan: index the fixture shards (plain, .zst, .gz, .xz, .bz2 JSONL) into a SQLite catalog"
"$BIN" scan --spec fixtures/specs/datasets.yaml --catalog "$OUT/catalog.sqlite"

say "mixtera catalog stats: what the catalog knows"
"$BIN" catalog stats --catalog "$OUT/catalog.sqlite"

say "mixtera build-manifest: 50% web / 20% code / 30% rest, ramping to more rest after step 8"
sed -n '/^query/,$p' fixtures/specs/build.yaml | sed 's/^/  /'
"$BIN" build-manifest --catalog "$OUT/catalog.sqlite" --spec fixtures/specs/build.yaml --out "$OUT/manifest"

say "mixtera verify: checksums and data files"
"$BIN" verify --manifest "$OUT/manifest"

say "mixtera replay: the first 3 samples of rank 0, step 0"
"$BIN" replay --manifest "$OUT/manifest" --rank 0 --steps 0:1 | head -n 3 | cut -c 1-160

say "determinism: a second build is byte-identical"
"$BIN" build-manifest --catalog "$OUT/catalog.sqlite" --spec fixtures/specs/build.yaml --out "$OUT/manifest2" --quiet
if diff -r "$OUT/manifest" "$OUT/manifest2" >/dev/null; then echo "identical: $(ls "$OUT/manifest" | tr '\n' ' ')"; else echo "MANIFESTS DIFFER"; exit 1; fi
say "format 1.2: the same plan with a label table (labels.bin) reads the same samples"
"$BIN" build-manifest --catalog "$OUT/catalog.sqlite" --spec fixtures/specs/build.yaml --out "$OUT/manifest-labels" --labels always \
  | tail -n 1
if cmp -s <("$BIN" replay --manifest "$OUT/manifest" --rank 2) <("$BIN" replay --manifest "$OUT/manifest-labels" --rank 2); then
  echo "rank 2 replays identically from both"
else
  echo "REPLAYS DIFFER"; exit 1
fi
say "the same flow over Parquet (pyarrow, duckdb) and WebDataset tars (webdataset TarWriter, tarfile)"
"$BIN" scan --spec fixtures/specs/datasets-parquet.yaml --catalog "$OUT/formats.sqlite" --quiet
"$BIN" scan --spec fixtures/specs/datasets-wds.yaml --catalog "$OUT/formats.sqlite"
"$BIN" build-manifest --catalog "$OUT/formats.sqlite" --spec fixtures/specs/build-formats.yaml --out "$OUT/formats-manifest" --quiet
"$BIN" replay --manifest "$OUT/formats-manifest" --rank 1 --steps 0:1 | cut -c 1-160

echo
echo "demo outputs are in $OUT/"
