package export

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCase is one export of the fixture.
type goldenCase struct {
	file   string
	format Format
	opt    func(*Options)
}

func goldenCases() []goldenCase {
	cases := []goldenCase{
		{"suricata.rules", Suricata, nil},
		{"snort.rules", Snort, nil},
		{"zeek.intel", Zeek, nil},
		{"rpz.zone", RPZ, nil},
		{"rpz-drop.zone", RPZ, func(o *Options) { o.RPZAction = "drop"; o.RPZOrigin = "rpz.z-cert.example." }},
		{"csv.csv", CSV, nil},
		{"list.txt", List, nil},
		{"list-md5.txt", List, func(o *Options) { o.ListType = indicator.MD5 }},
		{"list-domain.txt", List, func(o *Options) { o.ListType = indicator.Domain }},
		{"stix.json", STIX, nil},
		{"bloom.bloom", Bloom, nil},
	}
	for _, dt := range []string{"domain", "md5", "sha256", "ipv4", "ip", "ja3", "ja3s", "ja4"} {
		cases = append(cases, goldenCase{"suricata-dataset-" + dt + ".lst", SuricataDataset, func(o *Options) { o.DatasetType = dt }})
	}
	return cases
}

func (c goldenCase) options() Options {
	opt := testOptions()
	if c.opt != nil {
		c.opt(&opt)
	}
	return opt
}

// export writes the fixture in the case's format.
func (c goldenCase) export(t testing.TB) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(&buf, c.format, seq(fixture()), c.options())
	if err != nil {
		t.Fatalf("%s: %v", c.file, err)
	}
	return buf.Bytes(), st
}

// TestGolden compares every export of the fixture with its golden file, and
// the counts of every export with golden/stats.txt. go test -update
// rewrites them.
func TestGolden(t *testing.T) {
	var stats strings.Builder
	for _, c := range goldenCases() {
		got, st := c.export(t)
		fmt.Fprintf(&stats, "%-32s written %2d  skipped %2d  inactive %d  records %2d\n", c.file, st.Written, st.Skipped, st.Inactive, st.Records)
		golden(t, c.file, got)
	}
	golden(t, "stats.txt", []byte(stats.String()))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/export -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/export -update rewrites it):\n%s", name, firstDiff(want, got))
	}
}

// firstDiff shows the first differing line.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, w, g)
		}
	}
	return "(same lines, different bytes)"
}
