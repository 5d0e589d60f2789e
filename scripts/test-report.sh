#!/usr/bin/env bash
# Browser test of `mixtera report`: builds the demo manifest from the fixtures, renders report.html in
# headless Chromium (installed from Debian when missing) and checks the screenshot with
# scripts/check-report-png.py (size, not blank, chart colours in the realized proportions).
#   scripts/test-report.sh [BIN]            BIN defaults to .build/debug/mixtera (built when missing)
#   scripts/test-report.sh --update-doc     also refreshes docs/report.png (the screenshot in docs/report.md)
set -euo pipefail
cd "$(dirname "$0")/.."
update_doc=0
if [ "${1:-}" = "--update-doc" ]; then update_doc=1; shift; fi
BIN=${1:-.build/debug/mixtera}
OUT=.build/report-test
PYTHON=${PYTHON:-python3}

chromium_bin() {
  for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}

if ! CHROMIUM=$(chromium_bin); then
  echo "test-report: installing chromium from Debian"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then $SUDO apt-get update -qq; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  CHROMIUM=$(chromium_bin) || { echo "test-report: chromium is not available" >&2; exit 1; }
fi
[ -x "$BIN" ] || swift build --product mixtera

rm -rf "$OUT" && mkdir -p "$OUT"
"$BIN" scan --spec fixtures/specs/datasets.yaml --catalog "$OUT/catalog.sqlite" --quiet
"$BIN" build-manifest --catalog "$OUT/catalog.sqlite" --spec fixtures/specs/build.yaml --out "$OUT/manifest" --quiet
"$BIN" report --manifest "$OUT/manifest" --catalog "$OUT/catalog.sqlite" --out "$OUT/report.html" --quiet

shot() {  # shot PNG HEIGHT
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --force-device-scale-factor=1 --force-color-profile=srgb --user-data-dir="$OUT/profile" \
    --screenshot="$1" --window-size="1200,$2" "file://$PWD/$OUT/report.html" >"$OUT/chromium.log" 2>&1 \
    || { cat "$OUT/chromium.log" >&2; echo "test-report: chromium failed" >&2; exit 1; }
  [ -s "$1" ] || { cat "$OUT/chromium.log" >&2; echo "test-report: no screenshot" >&2; exit 1; }
}
shot "$OUT/report.png" 1600
echo "test-report: $OUT/report.html rendered by $("$CHROMIUM" --version 2>/dev/null | head -n1)"
"$PYTHON" scripts/check-report-png.py "$OUT/report.png" "$OUT/report.html" "$OUT/manifest/header.json" --width 1200 --height 1600

if [ $update_doc = 1 ]; then
  shot docs/report.png 940
  echo "test-report: wrote docs/report.png"
fi
