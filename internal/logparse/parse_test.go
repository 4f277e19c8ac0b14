package logparse

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// parseFile parses every line of a sample file with the parser its name
// calls for, and renders events and observations as text.
func parseFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	var out strings.Builder
	var ev Event
	zh := NewZeekHeader()
	for n, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var err error
		switch {
		case strings.HasSuffix(name, ".eve.json"):
			err = ParseEVE(line, &ev)
		case strings.HasSuffix(name, ".zeek.json"):
			err = ParseZeekJSON(line, &ev)
		case strings.HasSuffix(name, ".zeek.log"):
			if IsHeader(line) {
				zh, err = zh.WithLine(line)
				if err == nil {
					continue
				}
			} else {
				err = ParseZeekTSV(line, zh, &ev)
			}
		case strings.HasSuffix(name, ".squid.log"):
			err = ParseSquid(line, &ev)
		case strings.HasSuffix(name, ".lines"):
			err = ParseLine(line, &ev)
		default:
			t.Fatalf("no parser for %s", name)
		}
		fmt.Fprintf(&out, "%d: ", n+1)
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			continue
		}
		checkEvent(t, line, &ev)
		fmt.Fprintf(&out, "type=%q time=%q/%d flow=%q uid=%q src=%v:%d dest=%v:%d proto=%q\n",
			ev.Type, ev.Time, ev.TimeFormat, ev.FlowID, ev.UID, ev.SrcIP, ev.SrcPort, ev.DestIP, ev.DestPort, ev.Proto)
		for _, o := range ev.Obs {
			fmt.Fprintf(&out, "   %-5s %-24s %q", o.Kind, o.Field, o.Value)
			if o.Kind == KindIP {
				fmt.Fprintf(&out, " %v", o.Addr)
			}
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// checkEvent checks the invariants every parse must keep: observation
// values point into the line or the event's scratch buffer, fields are
// named, addresses are valid and unmapped, kinds are known.
func checkEvent(t testing.TB, line []byte, ev *Event) {
	t.Helper()
	for _, o := range ev.Obs {
		if o.Field == "" || o.Kind < KindName || o.Kind > KindJA4 {
			t.Fatalf("observation %+v: no field or unknown kind", o)
		}
		if !within(o.Value, line) && !within(o.Value, ev.Scratch()) {
			t.Fatalf("observation %s %q is neither in the line nor in the scratch buffer", o.Field, o.Value)
		}
		if o.Kind == KindIP && (!o.Addr.IsValid() || o.Addr.Is4In6() || o.Addr.Zone() != "") {
			t.Fatalf("observation %s: address %v", o.Field, o.Addr)
		}
		if len(o.Value) == 0 {
			t.Fatalf("observation %s is empty", o.Field)
		}
	}
	for _, a := range []netip.Addr{ev.SrcIP, ev.DestIP} {
		if a.IsValid() && a.Is4In6() {
			t.Fatalf("mapped event address %v", a)
		}
	}
	if ev.SrcPort < -1 || ev.SrcPort > 65535 || ev.DestPort < -1 || ev.DestPort > 65535 {
		t.Fatalf("ports %d %d", ev.SrcPort, ev.DestPort)
	}
}

// within reports whether v is a sub-slice of b (by address; an empty v
// anywhere counts).
func within(v, b []byte) bool {
	if len(v) == 0 {
		return true
	}
	if cap(b) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	return p >= start && p+uintptr(len(v)) <= start+uintptr(cap(b))
}

// TestGolden parses every sample in testdata and compares the result with
// testdata/golden (go test -update rewrites them).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.*")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := parseFile(t, filepath.Base(f), data)
			golden := filepath.Join("testdata", "golden", filepath.Base(f)+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", f, golden, diff(string(want), got))
			}
		})
	}
	if n < 7 {
		t.Errorf("only %d sample files", n)
	}
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, a, c)
		}
	}
	return b.String()
}

// sharedLog opens a file of ../shared/data/logs, or skips the test.
func sharedLog(t *testing.T, name string) io.ReadCloser {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "data", "logs", name))
	if err != nil {
		t.Skipf("%s not present (../shared/data/logs): %v", name, err)
	}
	if !strings.HasSuffix(name, ".gz") {
		return f
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}
}

// TestRealEVE parses a real Suricata capture (Stratosphere, GPL-2.0; read
// from ../shared when present, never copied): every line parses, and the
// observations found per event type are plausible.
func TestRealEVE(t *testing.T) {
	r := sharedLog(t, "slips_test6_malicious.eve.json")
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<24)
	var ev Event
	lines, kinds := 0, map[string]int{}
	for sc.Scan() {
		lines++
		if err := ParseEVE(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		checkEvent(t, sc.Bytes(), &ev)
		if !ev.SrcIP.IsValid() || !ev.DestIP.IsValid() || len(ev.Time) == 0 {
			t.Fatalf("line %d: metadata missing: %+v", lines, ev)
		}
		for _, o := range ev.Obs {
			kinds[o.Field]++
		}
	}
	if lines != 5000 {
		t.Errorf("%d lines", lines)
	}
	// The capture has 680 dns, 56 http, 1 tls (with ja3/ja3s) events (its
	// 3 fileinfo events carry no hashes).
	for _, f := range []string{"dns.rrname", "dns.answers.rdata", "http.hostname", "http.url", "tls.ja3.hash", "tls.ja3s.hash"} {
		if kinds[f] == 0 {
			t.Errorf("no %s observations", f)
		}
	}
	t.Logf("%d events, observations by field: %v", lines, kinds)
}

// TestRealZeek parses real Zeek logs: Stratosphere's JSON logs (GPL-2.0)
// and WRCCDC 2018's TSV logs (CC BY-SA 4.0), from ../shared when present.
func TestRealZeek(t *testing.T) {
	for _, name := range []string{"conn", "dns", "http", "files", "ssl", "x509"} {
		t.Run("json/"+name, func(t *testing.T) {
			r := sharedLog(t, "slips_test9_zeek/"+name+".log")
			defer r.Close()
			n, fields := zeekLines(t, r)
			if n == 0 {
				t.Fatal("no lines")
			}
			t.Logf("%d lines, %v", n, fields)
			want := map[string]string{"conn": "id.resp_h", "dns": "dns.query", "http": "http.host", "files": "files.md5", "ssl": "ssl.server_name", "x509": "x509.san.dns"}[name]
			if fields[want] == 0 {
				t.Errorf("no %s observations", want)
			}
		})
	}
	for _, name := range []string{"dns", "ssl", "smtp", "x509"} {
		t.Run("tsv/"+name, func(t *testing.T) {
			r := sharedLog(t, "zeek_wrccdc2018_"+name+".log.gz")
			defer r.Close()
			n, fields := zeekLines(t, r)
			t.Logf("%d lines, %v", n, fields)
			want := map[string]string{"dns": "dns.query", "ssl": "ssl.cert_chain_fps", "smtp": "id.orig_h", "x509": "x509.fingerprint"}[name]
			if fields[want] == 0 {
				t.Errorf("no %s observations", want)
			}
		})
	}
}

func zeekLines(t *testing.T, r io.Reader) (int, map[string]int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<24)
	var ev Event
	zh := NewZeekHeader()
	n, fields := 0, map[string]int{}
	for sc.Scan() {
		line := sc.Bytes()
		var err error
		switch {
		case IsHeader(line):
			zh, err = zh.WithLine(line)
			if err != nil {
				t.Fatalf("header %q: %v", line, err)
			}
			continue
		case len(line) > 0 && line[0] == '{':
			err = ParseZeekJSON(line, &ev)
		default:
			err = ParseZeekTSV(line, zh, &ev)
		}
		n++
		if err != nil {
			t.Fatalf("line %d: %v: %q", n, err, line)
		}
		checkEvent(t, line, &ev)
		for _, o := range ev.Obs {
			fields[o.Field]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n, fields
}
