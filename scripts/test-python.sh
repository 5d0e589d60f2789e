#!/usr/bin/env bash
# Runs the Python reader's tests (python/tests). Needs the Swift binary at .build/debug/mixtera
# (or MIXTERA_BIN) for the byte-identity tests; they are skipped with a message if it is missing.
# Installs pytest with pip when it is not importable. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import pytest" 2>/dev/null; then
  echo "installing pytest" >&2
  "$PYTHON" -m pip install -q pytest
fi
exec "$PYTHON" -m pytest -q python/tests "$@"
