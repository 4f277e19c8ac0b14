package stixpattern

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestCanonicalGolden pins the canonical text of every valid validator
// pattern: each line of testdata/canonical.golden is "input\tcanonical".
// Run go test -update to rewrite it after an intended change.
func TestCanonicalGolden(t *testing.T) {
	var f struct {
		Cases []validatorCase `json:"cases"`
	}
	readJSON(t, "testdata/stix2-pattern-validator-cases.json", &f)
	var b strings.Builder
	seen := map[string]bool{}
	for _, c := range f.Cases {
		if !c.Valid || seen[c.Pattern] {
			continue
		}
		seen[c.Pattern] = true
		p, err := Parse(c.Pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.Pattern, err)
		}
		b.WriteString(c.Pattern + "\t" + p.String() + "\n")
	}
	const path = "testdata/canonical.golden"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s line %d:\n got  %s\n want %s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d", path, len(gl), len(wl))
	}
}
