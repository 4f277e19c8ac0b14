package cli

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestImportSTIXBundle sends a real STIX bundle (the OASIS Poison Ivy
// report) through `hdn import`, in parts small enough that the bundle is
// split, and checks the summary: the same counts as one import in one part
// (see TestSTIXImportRealBundles), and nothing new the second time.
func TestImportSTIXBundle(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "hub", "testdata", "stix-bundles", "oasis-json-schemas--threat-report-poisonivy.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "poisonivy.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h := hubtest.Start(t, hub.Config{})
	t.Setenv("HDN_KEY", h.Key(h.Org("sector-cert", policy.Coordinator, ""), policy.Analyst))
	saved := importBatch
	importBatch = 40 // 155 objects: four parts
	t.Cleanup(func() { importBatch = saved })

	var sums [2]STIXImportSummary
	for i := range sums {
		code, out, stderr := run(t, "import", "--hub", h.URL, "--tlp", "green", file) // auto-detected as STIX
		if code != 0 {
			t.Fatalf("import: %d %s", code, stderr)
		}
		if err := json.Unmarshal([]byte(out), &sums[i]); err != nil {
			t.Fatalf("summary %q: %v", out, err)
		}
	}
	first, second := sums[0], sums[1]
	if first.Format != "stix" || first.Objects != 155 || first.Created != 44 || first.Patterns != 2 || first.Context != 130 ||
		first.Reports != 1 || first.Failed != 0 || first.Updated != 22 {
		t.Errorf("first import: %+v", first)
	}
	// Again: every indicator value is an update, no object is new.
	if second.Created != 0 || second.Updated != 44+22 || second.Context != 0 || second.Reports != 1 || second.Failed != 0 {
		t.Errorf("second import: %+v", second)
	}
	if code, _, stderr := run(t, "import", "--hub", h.URL, "--format", "stix", "--label", "x", file); code == 0 {
		t.Errorf("--label with a STIX bundle was accepted: %s", stderr)
	}
}
