package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// FuzzWrite writes arbitrary values of every type, with arbitrary ids,
// descriptions, labels and TLPs, through every format. No export may panic
// or fail, and every line-based export keeps one record per line: a value
// can never add or end a rule, zone record, intel line or list entry.
func FuzzWrite(f *testing.F) {
	for _, ind := range fixture() {
		f.Add(uint8(typeIndex(ind.Type)), ind.Value, ind.Description, strings.Join(ind.Labels, "\x00"), ind.ID, string(ind.TLP))
	}
	for _, v := range []string{"evil\n.example", "a\";b)\n alert ip any any -> any any (sid:1;)", "x\x00y", "ünïcode.example", "-", "(empty)",
		"#comment", "http://h/\r\nX: y", "1.2.3.4/33", "::ffff:1.2.3.4", "http://[::1]:0/", "http://a:99999/", "*.wild.example", "a..b", ""} {
		f.Add(uint8(0), v, "d\te\nf", "l;1\x00l\"2", "id\n1", "amber")
	}
	f.Fuzz(func(t *testing.T, typ uint8, value, desc, labels, id, tlp string) {
		ind := model.Indicator{
			ID: id, Type: indicator.Types[int(typ)%len(indicator.Types)], Value: value,
			TLP: policy.TLP(tlp), Description: desc, Confidence: len(desc) - 5,
			ValidFrom: testNow.AddDate(0, 0, -1), Created: testNow.AddDate(0, 0, -1),
		}
		if labels != "" {
			ind.Labels = strings.Split(labels, "\x00")
		}
		inds := []model.Indicator{ind, fixture()[0], ind}
		for _, fm := range Formats() {
			opts := []Options{testOptions()}
			if fm == SuricataDataset {
				opts = nil
				for name := range datasetTypes {
					o := testOptions()
					o.DatasetType = name
					opts = append(opts, o)
				}
			}
			for _, opt := range opts {
				var buf bytes.Buffer
				st, err := Write(&buf, fm, seq(inds), opt)
				if err != nil {
					t.Fatalf("%s: %v", fm, err)
				}
				if st.Written+st.Skipped+st.Inactive != len(inds) {
					t.Fatalf("%s: stats %+v for %d indicators", fm, st, len(inds))
				}
				checkRecords(t, fm, buf.Bytes(), st)
			}
		}
	})
}

func typeIndex(t indicator.Type) int {
	for i, k := range indicator.Types {
		if k == t {
			return i
		}
	}
	return 0
}

// checkRecords checks that an export has as many records as its stats say,
// each where it belongs.
func checkRecords(t *testing.T, f Format, out []byte, st Stats) {
	t.Helper()
	lines := func() []string {
		if len(out) == 0 {
			return nil
		}
		if out[len(out)-1] != '\n' {
			t.Fatalf("%s: does not end in a newline", f)
		}
		return strings.Split(string(out[:len(out)-1]), "\n")
	}
	var data []string
	switch f {
	case Suricata, Snort:
		for _, l := range lines() {
			if strings.HasPrefix(l, "#") {
				continue
			}
			if _, err := parseRule(l); err != nil || !strings.HasPrefix(l, "alert ") {
				t.Fatalf("%s: %v: %q", f, err, l)
			}
			data = append(data, l)
		}
	case Zeek:
		for _, l := range lines() {
			if strings.HasPrefix(l, "#") {
				continue
			}
			if n := strings.Count(l, "\t"); n != 4 {
				t.Fatalf("zeek: %d tabs in %q", n, l)
			}
			data = append(data, l)
		}
	case RPZ:
		zone, _ := parseZone(t, out, DefaultRPZOrigin)
		n := 0
		for _, rrs := range zone {
			n += len(rrs)
		}
		if n != st.Records+2 {
			t.Fatalf("rpz: %d records, stats say %d + SOA and NS\n%s", n, st.Records, out)
		}
		for _, l := range lines() {
			if !strings.HasPrefix(l, ";") && !strings.HasPrefix(l, "$") && !strings.HasPrefix(l, "@") {
				data = append(data, l)
			}
		}
	case List, SuricataDataset:
		data = lines()
	case CSV:
		recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v", err)
		}
		for _, r := range recs[1:] {
			if len(r) != len(CSVHeader) {
				t.Fatalf("csv: %d fields", len(r))
			}
			data = append(data, r[0])
		}
	case STIX:
		var b struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("stix: %v\n%s", err, out)
		}
		if len(b.Objects) != st.Records {
			t.Fatalf("stix: %d objects, stats say %d", len(b.Objects), st.Records)
		}
		return
	case Bloom:
		if _, err := readBloomFilter(bytes.NewReader(out)); err != nil {
			t.Fatalf("bloom: %v", err)
		}
		return
	}
	if len(data) != st.Records {
		t.Fatalf("%s: %d records, stats say %d:\n%s", f, len(data), st.Records, out)
	}
}

// TestFuzzSeeds runs the line checks on the fixture, so that they run in
// every go test and not only under -fuzz.
func TestFuzzSeeds(t *testing.T) {
	for _, c := range goldenCases() {
		out, st := c.export(t)
		checkRecords(t, c.format, out, st)
	}
	if _, err := Write(io.Discard, Suricata, seq(fixture()), testOptions()); err != nil {
		t.Fatal(err)
	}
}
