#!/usr/bin/env bash
# Fuzz smoke pass for `make test` (well under 2 minutes, deterministic): replays the seed corpora
# and every crash file under fixtures/bad/fuzz/ through the fuzz harnesses, plus a seeded mutation
# fuzzer (MIXTERA_FUZZ_ITERATIONS per target, default 400), in the normal debug test build — no
# sanitizer build needed. When the libFuzzer executables are already built (scripts/fuzz.sh), each
# also runs for FUZZ_SMOKE_SECONDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
$SWIFT build --build-tests >/dev/null
MIXTERA_FUZZ_ITERATIONS=${MIXTERA_FUZZ_ITERATIONS:-400} $SWIFT test --skip-build --filter FuzzReplayTests
BIN=Fuzz/.build/debug
if [ -x $BIN/FuzzQuery ]; then
  for t in JSONL Parquet Tar Manifest Query; do
    [ -x $BIN/Fuzz$t ] || continue
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 $BIN/Fuzz$t -max_total_time=${FUZZ_SMOKE_SECONDS:-3} \
      -timeout=10 -rss_limit_mb=2048 -artifact_prefix=/tmp/mixtera-fuzz-smoke- >/dev/null 2>&1 \
      || { echo "test-fuzz-smoke: Fuzz$t failed (see /tmp/mixtera-fuzz-smoke-*)" >&2; exit 1; }
  done
  echo "test-fuzz-smoke: libFuzzer targets ok"
fi
