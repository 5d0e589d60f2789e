#!/usr/bin/env bash
# Writes docs/cli.md from the `--help` output of every mixtera command and subcommand.
#   scripts/gen-cli-doc.sh [--stdout] [BIN]      (BIN defaults to .build/debug/mixtera)
# Tests/MixteraCLITests checks that docs/cli.md equals this script's output for the current binary.
set -euo pipefail
cd "$(dirname "$0")/.."
to_stdout=0
if [ "${1:-}" = "--stdout" ]; then to_stdout=1; shift; fi
BIN=${1:-.build/debug/mixtera}
[ -x "$BIN" ] || { echo "gen-cli-doc: $BIN is not built (swift build)" >&2; exit 66; }
export COLUMNS=100 NO_COLOR=1

# The subcommand names listed in a help text's SUBCOMMANDS section.
subcommands() {
  awk '/^SUBCOMMANDS:/ {on=1; next} on && /^$/ {exit} on && /^  [a-z]/ {print $1}'
}

section() {
  local help
  help=$("$BIN" "$@" --help)
  printf '\n## mixtera%s\n\n```text\n%s\n```\n' "$(printf ' %s' "$@")" "$help"
  local sub
  for sub in $(printf '%s\n' "$help" | subcommands); do
    section "$@" "$sub"
  done
}

generate() {
  printf '# mixtera command-line reference\n\n'
  printf 'Generated from `--help` by `scripts/gen-cli-doc.sh`; do not edit by hand. A test\n'
  printf '(`CLITests.cliReferenceMatchesHelp`) fails when this file drifts from the binary; regenerate with\n'
  printf '`swift build && scripts/gen-cli-doc.sh`. Exit codes are in [errors.md](errors.md).\n'
  # `section` with no arguments documents the top-level command.
  local help
  help=$("$BIN" --help)
  printf '\n## mixtera\n\n```text\n%s\n```\n' "$help"
  local sub
  for sub in $(printf '%s\n' "$help" | subcommands); do section "$sub"; done
}

if [ $to_stdout = 1 ]; then generate; else generate > docs/cli.md && echo "wrote docs/cli.md"; fi
