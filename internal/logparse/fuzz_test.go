package logparse

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for every parser. Each checks that nothing panics, that the
// invariants of checkEvent hold, and, where a reference exists, agreement
// with it: a line that encoding/json finds valid must parse.

func addSamples(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			f.Add(line)
		}
	}
}

func FuzzEVE(f *testing.F) {
	addSamples(f, "*.eve.json")
	var ev Event
	f.Fuzz(func(t *testing.T, line []byte) {
		err := ParseEVE(line, &ev)
		if err == nil {
			checkEvent(t, line, &ev)
		}
		if err != nil && isJSONObject(line) {
			t.Fatalf("valid JSON object refused: %v", err)
		}
	})
}

func FuzzZeekJSON(f *testing.F) {
	addSamples(f, "*.zeek.json")
	var ev Event
	f.Fuzz(func(t *testing.T, line []byte) {
		err := ParseZeekJSON(line, &ev)
		if err == nil {
			checkEvent(t, line, &ev)
		}
		if err != nil && isJSONObject(line) {
			t.Fatalf("valid JSON object refused: %v", err)
		}
	})
}

// FuzzZeekTSV takes a header block and a data line.
func FuzzZeekTSV(f *testing.F) {
	data, err := os.ReadFile("testdata/sample.zeek.log")
	if err != nil {
		f.Fatal(err)
	}
	var header []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if IsHeader(line) {
			if bytes.HasPrefix(line, []byte("#separator")) {
				header = nil
			}
			header = append(header, line...)
			header = append(header, '\n')
			continue
		}
		f.Add(header, line)
	}
	var ev Event
	f.Fuzz(func(t *testing.T, header, line []byte) {
		h := NewZeekHeader()
		for _, l := range bytes.Split(header, []byte("\n")) {
			if IsHeader(l) {
				if n, err := h.WithLine(l); err == nil {
					h = n
				}
			}
		}
		if err := ParseZeekTSV(line, h, &ev); err == nil {
			checkEvent(t, line, &ev)
			if h.Fields() == 0 {
				t.Fatal("parsed without #fields")
			}
		}
	})
}

func FuzzSquid(f *testing.F) {
	addSamples(f, "*.squid.log")
	var ev Event
	f.Fuzz(func(t *testing.T, line []byte) {
		if err := ParseSquid(line, &ev); err == nil {
			checkEvent(t, line, &ev)
		}
	})
}

func FuzzLines(f *testing.F) {
	addSamples(f, "*.lines")
	var ev Event
	f.Fuzz(func(t *testing.T, line []byte) {
		err := ParseLine(line, &ev)
		if err == nil {
			checkEvent(t, line, &ev)
			if len(ev.Obs) == 0 {
				t.Fatal("a line parsed without an observation")
			}
		}
	})
}

// FuzzAddr holds the byte parser of addresses to netip.ParseAddr.
func FuzzAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::", "::1", "1::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "01.2.3.4", "256.1.1.1", "1.2.3", "fe80::1%eth0", "::ffff:0:0", "1:2:3:4:5:6:7::", "2a03:b0c0:0002:00d0:0000:0000:0bd3:4001"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseAddr(b)
		want, err := netip.ParseAddr(string(b))
		if err == nil && want.Zone() != "" {
			err = errZone // zones are refused on purpose
		}
		if ok != (err == nil) {
			t.Fatalf("parseAddr(%q) = %v, %v; netip: %v, %v", b, got, ok, want, err)
		}
		if ok && got != want.Unmap() {
			t.Fatalf("parseAddr(%q) = %v, want %v", b, got, want.Unmap())
		}
	})
}

var errZone = &json.UnsupportedValueError{Str: "zone"}

// isJSONObject reports whether b is one valid JSON object (with nothing but
// white space around it).
func isJSONObject(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// TestUnescape holds the string decoder to encoding/json. (Raw bytes that
// are not UTF-8 are kept as they are, where encoding/json writes U+FFFD; a
// name or address with such bytes matches nothing either way.)
func TestUnescape(t *testing.T) {
	for _, s := range []string{`plain`, `a\"b`, `\\`, `\/x\/y`, `\u00e9`, `\ud83d\ude00`, `\ud83d`, `\ude00x`, `\ud83d\u0041`, `\b\f\n\r\t`, `\u0000`, `\uD83D\uDE00`} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, ok := unescape(nil, []byte(s))
		if !ok || string(got) != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", s, got, ok, want)
		}
	}
	if got, ok := unescape(nil, []byte("\xff\xfe")); !ok || string(got) != "\xff\xfe" {
		t.Errorf("raw bytes: %q, %v", got, ok)
	}
	for _, bad := range []string{`\`, `\x`, `\u12`, `\u12g4`} {
		if _, ok := unescape(nil, []byte(bad)); ok {
			t.Errorf("unescape(%q) accepted", bad)
		}
	}
}
