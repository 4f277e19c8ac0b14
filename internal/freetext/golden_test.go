package freetext

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden extracts the candidates of every testdata/*.txt and compares
// them with the .golden file beside it, one candidate a line:
//
//	line:offset  type  value  raw  ×count
//
// Run with -update to rewrite the golden files after a deliberate change,
// and review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.txt")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			text, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := Extract(string(text), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkCandidates(t, string(text), cs)
			got := renderGolden(cs)
			golden := strings.TrimSuffix(in, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update and review the diff)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func renderGolden(cs []Candidate) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%d:%d\t%s\t%s\t%q\t×%d\n", c.Line, c.Offset, c.Type, c.Value, c.Raw, c.Count)
	}
	return b.String()
}
