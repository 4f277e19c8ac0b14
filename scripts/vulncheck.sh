#!/usr/bin/env bash
# govulncheck, with the Go vulnerability database built here.
#
# vuln.go.dev is not reachable from the machines hdn is developed and tested
# on; the Go module proxy is. The database's source, golang.org/x/vulndb, is a
# module on the proxy and carries every advisory as an OSV file: this script
# fetches its newest version, indexes it with the module's own indexdb into a
# v1 database (cached per version), and runs govulncheck against it.
#
# The scan runs with the newest Go 1.26 patch release (a toolchain the proxy
# serves, as `GOTOOLCHAIN=go1.26.N` fetches it): the standard library it
# checks is the one a release build gets (deploy/Dockerfile builds with the
# newest golang:1.26). HDN_VULNCHECK_GO=local checks the machine's own Go
# instead, and any other value names a toolchain (go1.26.11).
#
# Exit status: 0 when no vulnerable code is called, non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
govulncheck_version=v1.9.0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { sed -nE 's/^[[:space:]]*"'"$1"'": "([^"]*)",?$/\1/p' | head -1; }

# The newest advisories, through the module proxy.
info=$(cd "$tmp" && go mod download -json golang.org/x/vulndb@latest)
version=$(field Version <<<"$info")
src=$(field Dir <<<"$info")
[ -n "$version" ] && [ -d "$src/data/osv" ] || { echo "vulncheck: golang.org/x/vulndb has no data/osv: $info" >&2; exit 1; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/hdn/vulndb-$version"
if [ ! -f "$cache/index/db.json" ]; then
  echo "vulncheck: indexing $(ls "$src/data/osv" | wc -l) advisories of golang.org/x/vulndb@$version"
  rm -rf "$cache.tmp"
  mkdir -p "$(dirname "$cache")"
  (cd "$tmp" && go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$cache.tmp")
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
fi

toolchain="${HDN_VULNCHECK_GO:-}"
if [ -z "$toolchain" ]; then
  platform="$(go env GOOS)-$(go env GOARCH)"
  toolchain=$(cd "$tmp" && go list -m -versions golang.org/toolchain | tr ' ' '\n' |
    sed -nE "s/^v0\.0\.1-(go1\.26\.[0-9]+)\.${platform}$/\1/p" | sort -t. -k3 -n | tail -1)
  [ -n "$toolchain" ] || { echo "vulncheck: no Go 1.26 toolchain for $platform on the module proxy" >&2; exit 1; }
fi
echo "vulncheck: golang.org/x/vulndb@$version, standard library of $toolchain"
GOTOOLCHAIN="$toolchain" go run "golang.org/x/vuln/cmd/govulncheck@$govulncheck_version" -db "file://$cache" ./...
