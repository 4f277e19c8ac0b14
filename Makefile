# The commands a newcomer needs. Nothing but Go is required; the race
# detector is used where a C compiler is present (it needs cgo).
GO    ?= go
RACE  ?= $(shell command -v gcc >/dev/null 2>&1 && echo -race)
PKGS  ?= ./...

.PHONY: demo test bench lint build fuzz vulncheck

## demo: play the network's story on this machine
demo:
	$(GO) run ./cmd/hdn demo

## test: every test (race detector where available)
test:
	$(GO) test $(RACE) -count=1 -timeout 30m $(PKGS)

## build: the hdn binary in ./bin
build:
	$(GO) build -o bin/hdn ./cmd/hdn

## bench: the benchmark table recorded in docs/BENCHMARKS.md
bench:
	./scripts/bench.sh

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## fuzz: every fuzz target for a short time (FUZZTIME=10s)
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## vulncheck: govulncheck against the Go vulnerability database, built from
## golang.org/x/vulndb through the module proxy (SECURITY.md)
vulncheck:
	./scripts/vulncheck.sh
