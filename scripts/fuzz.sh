#!/usr/bin/env bash
# Coverage-guided fuzzing of mixtera's decoders with libFuzzer + AddressSanitizer (Linux).
#
#   scripts/fuzz.sh                 # every target for FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="parquet tar" scripts/fuzz.sh
#   FUZZ_JOBS=2 scripts/fuzz.sh     # run that many targets at once
#
# Targets (Fuzz/Sources/Fuzz*/, harnesses in Fuzz/Sources/FuzzHarness/FuzzHarness.swift):
#   jsonl     JSONLScanner: line splitting, field extraction, numbers, UTF-8 (fail and skip modes)
#   parquet   ParquetFile + ParquetScanner: footer Thrift, page headers, codecs, decoders, assembly
#   tar       TarWalker + WebDatasetScanner: ustar/GNU/pax headers, member walk, grouping
#   manifest  ManifestHeader.decode + RankFileReader + LabelTable: header.json, rank files, labels.bin
#   query     CompiledQuery.compile: lexer, parser, checker, rendering, evaluation
#
# Seeds come from the fixtures (read-only); the growing corpus lives in .build/fuzz-corpus/<target>
# (not committed). Crashes, timeouts and OOMs are written to fixtures/bad/fuzz/<target>/, where
# FuzzReplayTests replays them on every `swift test`: commit them with the fix. Exit status is
# non-zero when any target found something.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_TARGETS=${FUZZ_TARGETS:-"jsonl parquet tar manifest query"}

if [ "$(uname -s)" != Linux ]; then
  echo "fuzz.sh: libFuzzer targets need Linux (swift build -sanitize=fuzzer)" >&2
  exit 2
fi

echo "building fuzz targets (debug, -sanitize=fuzzer,address)…"
# lld: gold crashes on these objects ("internal error in format_file_lineno").
(cd Fuzz && $SWIFT build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld) || { echo "fuzz.sh: build failed" >&2; exit 2; }
BIN=Fuzz/.build/debug

seeds() {
  case $1 in
    jsonl) echo fixtures/jsonl/corpus/web fixtures/jsonl/corpus/github fixtures/bad/jsonl ;;
    parquet) echo fixtures/parquet fixtures/bad/parquet ;;
    tar) echo fixtures/wds fixtures/bad/wds ;;
    manifest) echo Tests/MixteraManifestTests/Golden/example Tests/MixteraManifestTests/Golden/example-1.2 ;;
    query) echo fixtures/seeds/query ;;
  esac
}

exe() {
  case $1 in
    jsonl) echo $BIN/FuzzJSONL ;; parquet) echo $BIN/FuzzParquet ;; tar) echo $BIN/FuzzTar ;;
    manifest) echo $BIN/FuzzManifest ;; query) echo $BIN/FuzzQuery ;;
  esac
}

run_one() {
  local t=$1 corpus=.build/fuzz-corpus/$1 crashes=fixtures/bad/fuzz/$1 log=.build/fuzz-$1.log
  mkdir -p "$corpus" "$crashes"
  local before; before=$(ls "$crashes" | wc -l)
  # Swift runtime caches look like leaks to LeakSanitizer: leaks are not reported (ASan still is).
  # The Swift backtracer trips ASan after a fatal error: libFuzzer's own report is enough.
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    nice "$(exe "$t")" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" $(seeds "$t") >"$log" 2>&1
  local status=$? after; after=$(ls "$crashes" | wc -l)
  local execs; execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  local cov; cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  printf '%-9s %4ss  %10s execs  %-10s  new crash files: %d  (exit %d, log %s)\n' \
    "$t" "$FUZZ_SECONDS" "${execs:-?}" "${cov:-}" $((after - before)) $status "$log"
  [ $status -eq 0 ] && [ $after -eq $before ]
}

failed=0
running=0
for t in $FUZZ_TARGETS; do
  run_one "$t" &
  running=$((running + 1))
  if [ $running -ge "$FUZZ_JOBS" ]; then wait -n || failed=1; running=$((running - 1)); fi
done
while [ $running -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done
if [ $failed -ne 0 ]; then
  echo "fuzz.sh: findings under fixtures/bad/fuzz/ — reproduce with $BIN/Fuzz<Target> <file>, fix, commit the file" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
