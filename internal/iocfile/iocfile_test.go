package iocfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		name, head string
		want       Format
	}{
		{"empty", "", FormatLines},
		{"one value", "evil.example.com\n", FormatLines},
		{"comments then values", "# a, b, c\n\n1.2.3.4\n", FormatLines},
		{"ipsum", "# IPsum Threat Intelligence Feed\n#\n1.2.3.4\t3\n", FormatLines},
		{"URL with commas", "http://a.example.com/x,y,z,w\n", FormatLines},
		{"hash list csv", "d41d8cd98f00b204e9800998ecf8427e,fbd854da-9574-5fb6-b297-c483f9d5daf0\n", FormatLines},
		{"csv header", "type,value\ndomain,a.example.com\n", FormatCSV},
		{"csv header, value only", "value,description\na.example.com,x\n", FormatCSV},
		{"csv quoted header after comments and BOM", "\uFEFF# export\r\n\r\n\"Indicator type\",\"Indicator\"\r\n", FormatCSV},
		{"csv header cut off", "date,attribute_type,val", FormatCSV},
		{"headerless TweetFeed", "2026-07-23 01:31:00,masaomi346,domain,biglobemailsjp.vercel.app,#phishing,https://x.com/1\n", FormatCSV},
		{"headerless, unknown third field", "2026-07-23,masaomi346,thing,biglobemailsjp.vercel.app\n", FormatLines},
		{"stix bundle", `{"type": "bundle", "id": "bundle--1", "objects": []}`, FormatSTIX},
		{"stix bundle, objects first", `{"id": "bundle--1", "objects": [{"type": "indicator"}], "type": "bundle"}`, FormatSTIX},
		{"stix bundle, cut off", `{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indic`, FormatSTIX},
		{"stix, long id first, cut off", `{"id": "bundle--1", "spec_version": {"a": [1, {"b": "c"}]}, "type": "bundle"`, FormatSTIX},
		{"taxii envelope", `{"more": false, "objects": []}`, FormatSTIX},
		{"stix object, not a bundle", `{"type": "indicator", "id": "indicator--1"}`, FormatLines},
		{"misp event", "\uFEFF {\"Event\": {\"Attribute\": []}}", FormatMISP},
		{"misp event, other members first", `{"x": {"Event": 1}, "y": [1,2,{"z":null}], "Event": {}}`, FormatMISP},
		{"misp response", `{"response": [{"Event": {}}]}`, FormatMISP},
		{"misp array", "[\n  {\"Event\": {\"info\": \"x\"}}]", FormatMISP},
		{"array of stix objects", `[{"type": "indicator"}]`, FormatLines},
		{"nested response", `[{"response": []}]`, FormatLines},
		{"json cut before any member", `{"id": "`, FormatLines},
		{"not json", "{evil.example.com}", FormatLines},
		{"json scalar", `"x"`, FormatLines},
	} {
		if got := Detect([]byte(c.head)); got != c.want {
			t.Errorf("%s: Detect = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(" " + strings.ToUpper(string(f)) + " "); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) succeeded")
	}
	if _, _, err := Read(strings.NewReader("a.example.com"), "xml"); err == nil {
		t.Error("Read with an unknown format succeeded")
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, content string
		format        Format
		entries       int
	}{
		{"list.txt", "# list\nevil.example.com\n1.2.3.4\n", FormatLines, 2},
		{"list.csv", "type,value\ndomain,evil.example.com\n", FormatCSV, 1},
		{"bundle.json", stixBundleOf(stixInd("1", `[domain-name:value = 'a.example.com']`, "")), FormatSTIX, 1},
		{"event.json", mispEventOf(`{"type":"domain","value":"a.example.com"}`), FormatMISP, 1},
		{"big.txt", strings.Repeat("evil.example.com\n", SniffLen/10), FormatLines, SniffLen / 10},
	} {
		es, ps, f, err := ReadFile(write(c.name, c.content))
		if err != nil || f != c.format || len(es) != c.entries || len(ps) != 0 {
			t.Errorf("%s: %d entries, %d problems, format %q, err %v", c.name, len(es), len(ps), f, err)
		}
	}

	if _, _, _, err := ReadFile(write("other.json", `{"type":"campaign","id":"campaign--1"}`)); err == nil || !strings.Contains(err.Error(), "neither a STIX bundle nor a MISP event") {
		t.Errorf("unrecognised JSON: err = %v", err)
	}
	if _, _, _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if _, _, _, err := ReadFile(dir); err == nil {
		t.Error("directory: no error")
	}
	p := write("broken.csv", "type,value\ndomain,\"x\n")
	if _, _, f, err := ReadFile(p); err == nil || f != FormatCSV || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("broken CSV: format %q, err %v", f, err)
	}

	defer func(n int64) { maxFileSize = n }(maxFileSize)
	maxFileSize = 10
	if _, _, _, err := ReadFile(write("large.txt", "evil.example.com\n")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large file: err = %v", err)
	}
}
