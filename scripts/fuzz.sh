#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each.
# Usage: scripts/fuzz.sh [duration]   (default 10s; long runs: docs/FUZZING.md)
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-10s}"
[ -n "$t" ] || t=10s
n=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz $dir $target ($t)"
    if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "./$dir" 2>&1); then
      echo "$out"
      exit 1
    fi
    n=$((n+1))
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort)
echo "$n fuzz targets ran for $t each"
