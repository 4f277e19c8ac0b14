package export

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/iocfile"
	"github.com/hdnetwork/hdn/internal/model"
)

func live(inds []model.Indicator) []model.Indicator {
	var out []model.Indicator
	for _, ind := range inds {
		if ind.Live(testNow) {
			out = append(out, ind)
		}
	}
	return out
}

// TestDatasetFacts checks each dataset file against Suricata's dataset
// format: one value per line, each line ending in "\n", no comments;
// strings base64 (standard, padded) that decode back to the value, hashes
// lower-case hex, addresses in their text form.
func TestDatasetFacts(t *testing.T) {
	for name, dt := range datasetTypes {
		opt := testOptions()
		opt.DatasetType = name
		var buf bytes.Buffer
		if _, err := Write(&buf, SuricataDataset, seq(fixture()), opt); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, ind := range live(fixture()) {
			if slices.Contains(dt.types, ind.Type) {
				want = append(want, ind.Value)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: the fixture has no value for it", name)
		}
		if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			t.Errorf("%s: the last line does not end in a newline", name)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%s: %d lines for %d values", name, len(lines), len(want))
		}
		for i, line := range lines {
			var got string
			switch dt.suricata {
			case "string":
				b, err := base64.StdEncoding.Strict().DecodeString(line)
				if err != nil {
					t.Errorf("%s: line %q: %v", name, line, err)
				}
				got = string(b)
			case "md5", "sha256":
				if line != strings.ToLower(line) {
					t.Errorf("%s: %q is not lower case", name, line)
				}
				got = line
			case "ipv4", "ip":
				a, err := netip.ParseAddr(line)
				if err != nil || dt.suricata == "ipv4" && !a.Is4() {
					t.Errorf("%s: %q: %v", name, line, err)
				}
				got = a.String()
			}
			if got != want[i] {
				t.Errorf("%s: line %d is %q, want %q", name, i+1, got, want[i])
			}
		}
	}
}

// zeekUnescape undoes \xHH as Zeek's input reader does.
func zeekUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s)+0 && s[i+1] == 'x' && isHex(s[i+2:i+4], 2) {
			b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestZeekFacts(t *testing.T) {
	out, st := goldenCase{format: Zeek}.export(t)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	var data []string
	fieldsAt := -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "#fields"):
			fieldsAt = i
			if l != "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url" {
				t.Errorf("header %q", l)
			}
		case strings.HasPrefix(l, "#"):
			if fieldsAt >= 0 {
				t.Errorf("comment after the header: %q", l)
			}
		default:
			if fieldsAt < 0 {
				t.Fatalf("data before the #fields header: %q", l)
			}
			data = append(data, l)
		}
	}
	if len(data) != st.Records {
		t.Fatalf("%d lines, stats say %d", len(data), st.Records)
	}
	known := map[string]bool{"Intel::ADDR": true, "Intel::SUBNET": true, "Intel::DOMAIN": true, "Intel::URL": true, "Intel::EMAIL": true, "Intel::FILE_HASH": true, "Intel::CERT_HASH": true}
	i := 0
	for _, ind := range live(fixture()) {
		if _, ok := zeekTypes[ind.Type]; !ok {
			continue
		}
		f := strings.Split(data[i], "\t")
		i++
		if len(f) != 5 {
			t.Fatalf("%d fields: %q", len(f), data[i-1])
		}
		if !known[f[1]] {
			t.Errorf("type %q", f[1])
		}
		want := ind.Value
		if ind.Type == indicator.URL {
			// No scheme, and the target percent-decoded as Zeek logs it.
			tgt, _ := parseHTTPURL(ind.Value)
			host := tgt.host
			if tgt.port != "" {
				host += ":" + tgt.port
			}
			want = host + percentDecode(tgt.target)
			if strings.Contains(f[0], "://") {
				t.Errorf("URL with scheme: %q", f[0])
			}
		}
		if got := zeekUnescape(f[0]); got != want {
			t.Errorf("indicator %q, want %q", got, want)
		}
		if f[2] != "Z-CERT hub" || f[4] != "-" {
			t.Errorf("source %q url %q", f[2], f[4])
		}
		if desc := zeekUnescape(f[3]); !strings.Contains(desc, ind.Description) || !strings.Contains(desc, ind.ID) || !strings.Contains(desc, tlpName(string(ind.TLP))) {
			t.Errorf("desc %q for %+v", desc, ind)
		}
	}
	var b bytes.Buffer
	zeekField(&b, "-")
	zeekField(&b, "(empty)")
	zeekField(&b, "#x\\y")
	if b.String() != `\x2d\x28empty)\x23x\x5cy` {
		t.Errorf("zeekField escapes: %q", b.String())
	}
}

func TestCSVFacts(t *testing.T) {
	out, st := goldenCase{format: CSV}.export(t)
	if !bytes.Contains(out, []byte("\r\n")) || bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
		t.Error("records are not CRLF-terminated (RFC 4180)")
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], CSVHeader) || strings.Join(CSVHeader, ",") != "id,type,value,tlp,labels,confidence,valid_from,valid_until,first_seen,last_seen,description,report" {
		t.Fatalf("header %q", recs[0])
	}
	inds := live(fixture())
	if len(recs)-1 != len(inds) || st.Written != len(inds) {
		t.Fatalf("%d rows for %d indicators", len(recs)-1, len(inds))
	}
	for i, ind := range inds {
		r := recs[i+1]
		if r[0] != ind.ID || r[1] != string(ind.Type) || r[2] != ind.Value || r[3] != string(ind.TLP) || r[4] != strings.Join(ind.Labels, "|") {
			t.Errorf("row %d: %q", i+1, r)
		}
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("row %d: cell %q would run as a formula", i+1, c)
			}
		}
		desc := ind.Description
		if desc != "" && strings.ContainsRune("=+-@", rune(desc[0])) {
			desc = "'" + desc
		}
		if r[10] != desc {
			t.Errorf("row %d: description %q, want %q", i+1, r[10], desc)
		}
	}

	// What the hub writes, its own importer reads back.
	es, ps, err := iocfile.Read(bytes.NewReader(out), iocfile.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 || len(es) != len(inds) {
		t.Fatalf("re-import: %d entries, problems %v", len(es), ps)
	}
	for i, e := range es {
		if e.Value != inds[i].Value || e.Type != inds[i].Type {
			t.Errorf("re-import %d: %s %q, want %s %q", i, e.Type, e.Value, inds[i].Type, inds[i].Value)
		}
	}
}

func TestListFacts(t *testing.T) {
	for _, lt := range append([]indicator.Type{""}, indicator.Types...) {
		opt := testOptions()
		opt.ListType = lt
		var buf bytes.Buffer
		st, err := Write(&buf, List, seq(fixture()), opt)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, ind := range live(fixture()) {
			if lt == "" || ind.Type == lt {
				want = append(want, ind.Value+"\n")
			}
		}
		if buf.String() != strings.Join(want, "") || st.Written != len(want) {
			t.Errorf("list %q: %q", lt, buf.String())
		}
	}
}

// A stored value with a Unicode line break — an email whose local part was
// accepted before the canonical form refused such characters — is skipped
// and counted by the one-value-a-line formats, so that a loader that splits
// on every line break (Python's str.splitlines) never reads "0.0.0.0/0" from
// "x\u20290.0.0.0/0\u2029y@mail-phish.xyz".
func TestLineFormatsSkipUnicodeLineBreaks(t *testing.T) {
	for _, sep := range []string{"\u2029", "\u2028", "\u0085", "\x1c", "\x1d", "\x1e", "\v", "\f"} {
		bad := model.Indicator{ID: "0195f3c0-7a00-7000-8000-0000000000fe", Type: indicator.Email, Value: "x" + sep + "0.0.0.0/0" + sep + "y@mail-phish.xyz", TLP: "clear", ValidFrom: testNow.Add(-1)}
		good := model.Indicator{ID: "0195f3c0-7a00-7000-8000-0000000000ff", Type: indicator.Email, Value: "ok@mail-phish.xyz", TLP: "clear", ValidFrom: testNow.Add(-1)}
		for _, f := range []Format{List, Bloom} {
			var buf bytes.Buffer
			st, err := Write(&buf, f, seq([]model.Indicator{bad, good}), testOptions())
			if err != nil {
				t.Fatal(err)
			}
			if st.Written != 1 || st.Skipped != 1 {
				t.Errorf("%s, separator %q: written %d, skipped %d; want 1 and 1", f, sep, st.Written, st.Skipped)
			}
			if f == List && buf.String() != "ok@mail-phish.xyz\n" {
				t.Errorf("list, separator %q: wrote %q", sep, buf.String())
			}
		}
	}
}
