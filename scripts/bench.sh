#!/usr/bin/env bash
# make bench: the benchmarks recorded in docs/BENCHMARKS.md, printed as a table.
# Sizes follow the issues' "Must show" lists; override them for a quick run:
#   HDN_BENCH_INGEST_N=100000 HDN_BENCH_LOOKUP_N=200000 HDN_BENCH_UI_INDICATORS=100000 make bench
set -euo pipefail
cd "$(dirname "$0")/.."
export HDN_BENCH_INGEST_N="${HDN_BENCH_INGEST_N:-1000000}"
export HDN_BENCH_LOOKUP_N="${HDN_BENCH_LOOKUP_N:-5000000}"
export HDN_BENCH_UI_INDICATORS="${HDN_BENCH_UI_INDICATORS:-1000000}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
  go test -run '^$' -bench '^BenchmarkAPIIngest$' -benchtime 1x -timeout 60m ./internal/hub/
  go test -run '^$' -bench '^BenchmarkAPILookupByValue$' -benchtime 5000x -timeout 60m ./internal/hub/
  # The same on PostgreSQL (issue 12) where HDN_TEST_POSTGRES_DSN names a server
  # (a fresh schema each, dropped afterwards); rows named …Postgres.
  if [ -n "${HDN_TEST_POSTGRES_DSN:-}" ]; then
    HDN_BENCH_STORE=postgres go test -run '^$' -bench '^BenchmarkAPIIngest$' -benchtime 1x -timeout 90m ./internal/hub/ \
      | sed -E 's/^BenchmarkAPIIngest-/BenchmarkAPIIngestPostgres-/'
    HDN_BENCH_STORE=postgres go test -run '^$' -bench '^BenchmarkAPILookupByValue$' -benchtime 5000x -timeout 90m ./internal/hub/ \
      | sed -E 's/^BenchmarkAPILookupByValue-/BenchmarkAPILookupByValuePostgres-/'
    go test -run '^$' -bench . -benchtime 1x -timeout 30m ./internal/store/postgres/ | sed -E 's/^Benchmark([A-Za-z]+)/BenchmarkPostgres\1/'
    # Propagation across two replicas on PostgreSQL and NATS (and on a shared SQLite
    # file with an embedded NATS); the external NATS of HDN_TEST_NATS_URL.
    go test -run '^$' -bench '^BenchmarkReplicaPropagation$' -benchtime 200x -timeout 30m ./internal/hub/
  else
    echo "--- SKIP: PostgreSQL benchmarks: HDN_TEST_POSTGRES_DSN not set"
  fi
  go test -run '^$' -bench '^BenchmarkStreamPropagation$' -benchtime 50x -timeout 30m ./internal/hub/
  go test -run '^$' -bench '^BenchmarkStreamIdleSubscriberMemory$' -benchtime 1x -timeout 30m ./internal/hub/
  # Federation (issue 11): central hub -> partner hub -> a sensor's stream there.
  go test -run '^$' -bench '^BenchmarkFederationPropagation$' -benchtime 200x -timeout 30m ./internal/hub/
  go test -run '^$' -bench '^BenchmarkFederationCatchUp$' -benchtime 1x -timeout 30m ./internal/hub/
  go test -run '^$' -bench '^BenchmarkMISPSearch$' -benchtime 3x -timeout 30m ./internal/hub/
  go test -run '^$' -bench '^BenchmarkSTIXImport$' -benchtime 5x -timeout 30m ./internal/hub/
  # Storing the TAXII status of a request of 100,000 objects (gzipped JSON).
  go test -run '^$' -bench '^BenchmarkTAXIIStatusEncode$' -benchtime 5x -timeout 30m ./internal/api/
  # The matcher on 1,000,000 generated EVE events, with 200,000 and 5,000,000
  # indicators, and DCSO FEVER on the same corpus and domains in the same run
  # (skipped, with a message, where Debian's fever and bloom are not installed).
  go test -run '^$' -bench '^(BenchmarkMatchEVE|BenchmarkFEVERPeer)$' -benchtime 1x -timeout 30m ./internal/match/
  HDN_BENCH_MATCH_INDICATORS=5000000 go test -run '^$' -bench '^(BenchmarkMatchEVE|BenchmarkFEVERPeer)$' -benchtime 1x -timeout 30m ./internal/match/
  # Pattern indicators on the sensor: 100 observable patterns over the EVE mix.
  go test -run '^$' -bench '^BenchmarkMatchPatterns$' -benchtime 20000x -timeout 30m ./internal/match/
  # The sensor saving the most it holds unsent (100,000 counts), as each flush
  # does while the hub is out of reach.
  go test -run '^$' -bench '^BenchmarkStateSaveSightings$' -benchtime 5x -timeout 30m ./internal/sensor/
  # Web UI pages, server time in process, with 1,000,000 indicators.
  go test -run '^$' -bench '^BenchmarkUIPages$' -benchtime 20x -timeout 60m ./internal/web/
  go test -run '^$' -bench . -benchtime 1s -timeout 30m ./internal/indicator/ ./internal/bus/ ./internal/warninglist/ ./internal/export/ ./internal/freetext/ ./internal/stixpattern/ ./internal/stix/
} 2>&1 | tee "$out" >/dev/null
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3-)"
go run ./tools/benchtable < "$out" 2>/dev/null
# Say what was skipped (e.g. the FEVER peer where Debian's fever is absent).
grep -A1 -- '--- SKIP' "$out" | grep -v -- '^--$' || true
# The hub under load (issue 13): `hdn bench load` with the issue's target
# profile (20 clients × 1,000 indicators at 50 submissions/s, 1,000 stream
# subscribers, 100 sightings/s; the flags' defaults) for a short time, against
# a hub it starts in-process, in both profiles: every subscriber receiving
# everything (network) and each a tenth (spread, 10 groups).
# HDN_BENCH_LOAD_ARGS replaces the arguments (one run), e.g. "--duration 60s"
# or "--profile spread --groups 100".
echo
if [ -n "${HDN_BENCH_LOAD_ARGS:-}" ]; then
  go run ./cmd/hdn bench load $HDN_BENCH_LOAD_ARGS
else
  go run ./cmd/hdn bench load --duration 20s --drain 20s
  echo
  go run ./cmd/hdn bench load --duration 20s --drain 20s --profile spread --groups 10
fi
