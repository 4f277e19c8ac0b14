package iocfile

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden reads every sample in testdata/golden and compares what comes
// out — the detected format, the entries and the problems with their
// messages — with the .golden file beside it. Run with -update to rewrite the
// golden files after a deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden") {
			continue
		}
		t.Run(filepath.Base(in), func(t *testing.T) {
			es, ps, f, err := ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			checkCanonical(t, es, ps)
			var b strings.Builder
			fmt.Fprintf(&b, "format: %s\n", f)
			for _, e := range es {
				fmt.Fprintln(&b, renderEntry(e))
			}
			for _, p := range ps {
				fmt.Fprintf(&b, "%s ! %s\n", p.Where, p.Err)
			}
			golden := in + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("output differs from %s (run with -update and review the diff)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}
