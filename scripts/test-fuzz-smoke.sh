#!/usr/bin/env bash
# Fuzz smoke pass for `make test` (well under 2 minutes, deterministic): replays the seed corpora
# and every crash file under fixtures/bad/fuzz/ through the fuzz harnesses, plus a seeded mutation
# fuzzer (MIXTERA_FUZZ_ITERATIONS per target, default 400), in the normal debug test build — no
# sanitizer build needed. With FUZZ_SMOKE_SECONDS=N set, the libFuzzer executables (rebuilt from
# the current sources, which costs about a minute) also run N seconds each; off by default so that
# the pass stays deterministic.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
$SWIFT build --build-tests >/dev/null
MIXTERA_FUZZ_ITERATIONS=${MIXTERA_FUZZ_ITERATIONS:-400} $SWIFT test --skip-build --filter FuzzReplayTests
BIN=Fuzz/.build/debug
if [ -n "${FUZZ_SMOKE_SECONDS:-}" ]; then
  (cd Fuzz && $SWIFT build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld >/dev/null)
  for t in JSONL Parquet Tar Manifest Query; do
    [ -x $BIN/Fuzz$t ] || continue
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 $BIN/Fuzz$t -max_total_time=$FUZZ_SMOKE_SECONDS \
      -timeout=10 -rss_limit_mb=2048 -artifact_prefix=/tmp/mixtera-fuzz-smoke- >/dev/null 2>&1 \
      || { echo "test-fuzz-smoke: Fuzz$t failed (see /tmp/mixtera-fuzz-smoke-*)" >&2; exit 1; }
  done
  echo "test-fuzz-smoke: libFuzzer targets ok"
fi
