#!/usr/bin/env bash
# make bench-catalog: catalog scaling on synthetic tiny-record shards (few bytes per sample, no text).
# For each size in BENCH_CATALOG_SIZES (default "1000000 10000000"): generates N samples in N/100000
# JSONL files of records like {"l":"en","s":"web","q":3}, then reports scan time, rescan time,
# `catalog stats` time, peak RSS of each (/usr/bin/time -f %M) and catalog bytes per sample, so
# linear scaling and bounded memory can be read off the rows. 10^8 takes ~10x the 10^7 row; add it
# with BENCH_CATALOG_SIZES="1000000 10000000 100000000" (needs ~2.6 GB of disk).
set -euo pipefail
BIN=$(realpath "${1:-.build/release/mixtera}")
cd "$(dirname "$0")/.."
B=$(pwd)/.bench/catalog
mkdir -p "$B"
SIZES=${BENCH_CATALOG_SIZES:-"1000000 10000000"}
PER_FILE=${BENCH_CATALOG_PER_FILE:-100000}
RESULTS=$B/results.md

gen() { # dir samples
  python3 - "$1" "$2" "$PER_FILE" <<'PY'
import os, sys
import numpy as np
out, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1)
langs = np.array(['{"l":"en","s":"', '{"l":"de","s":"', '{"l":"fr","s":"', '{"l":"zh","s":"', '{"l":"code","s":"'])
srcs = np.array(['web","q":', 'wiki","q":', 'books","q":'])
for f in range(0, (n + per - 1) // per):
    k = min(per, n - f * per)
    l = langs[rng.choice(5, size=k, p=[.5, .2, .1, .1, .1])]
    s = srcs[rng.choice(3, size=k, p=[.6, .2, .2])]
    q = rng.integers(0, 10, size=k).astype(str)
    lines = np.char.add(np.char.add(np.char.add(l, s), q), "}\n")
    with open(os.path.join(out, f"part-{f:06d}.jsonl"), "w") as fp:
        fp.write("".join(lines.tolist()))
PY
}

measure() { # label command… → "seconds peakKB"
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$B/rss" "$@" > /dev/null
  t1=$(date +%s.%N)
  echo "$(python3 -c "print(f'{$t1 - $t0:.2f}')") $(cat "$B/rss")"
}

echo "# catalog scaling (tiny records, $(nproc) cores, $(date -u +%Y-%m-%d))" | tee "$RESULTS"
echo | tee -a "$RESULTS"
echo "| samples | files | scan s | scan RSS MiB | rescan s | stats s | stats RSS MiB | index B/sample | file B/sample | scan µs/sample |" | tee -a "$RESULTS"
echo "|---|---|---|---|---|---|---|---|---|---|" | tee -a "$RESULTS"
for N in $SIZES; do
  C=$B/corpus-$N
  if [ ! -f "$C/.done" ]; then
    echo "generating $N tiny samples …" >&2
    rm -rf "$C"
    gen "$C" "$N"
    touch "$C/.done"
  fi
  cat > "$B/spec-$N.yaml" <<YAML
datasets:
  - name: tiny
    root: $C
    format: jsonl
    properties:
      language: {path: l, type: string}
      source:   {path: s, type: string}
      q:        {path: q, type: int}
YAML
  rm -f "$B/cat-$N.sqlite"*
  read -r TS RS <<< "$(measure "$BIN" scan --spec "$B/spec-$N.yaml" --catalog "$B/cat-$N.sqlite" --quiet)"
  read -r TR _ <<< "$(measure "$BIN" scan --spec "$B/spec-$N.yaml" --catalog "$B/cat-$N.sqlite" --quiet)"
  read -r TT RT <<< "$(measure "$BIN" catalog stats --catalog "$B/cat-$N.sqlite" --json)"
  IDX=$("$BIN" catalog stats --catalog "$B/cat-$N.sqlite" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['index_bytes'])")
  DB=$(stat -c %s "$B/cat-$N.sqlite")
  FILES=$(find "$C" -name '*.jsonl' | wc -l)
  python3 -c "print(f'| {$N:,} | {$FILES} | {$TS} | {$RS/1024:.0f} | {$TR} | {$TT} | {$RT/1024:.0f} | {$IDX/$N:.3f} | {$DB/$N:.3f} | {$TS*1e6/$N:.3f} |')" | tee -a "$RESULTS"
done
echo "results: $RESULTS" >&2
