package match

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
)

// The matching semantics as data: each testdata/match/*.txtar file holds
// indicators, log lines and the alerts they must raise.
//
//	-- indicators --      one per line: id type value [labels=a,b] [tlp=…] [conf=N]
//	                      [report="…"] [until=RFC3339]; values are canonicalised
//	                      as the hub does, so they may be given in any form
//	-- revoke --          (optional) ids revoked: the index is rebuilt without
//	                      them and swapped in before matching
//	-- now --             (optional) the matcher's clock, RFC 3339
//	-- input.FORMAT --    log lines (eve, zeek, squid, lines)
//	-- alerts --          expected alerts, one per line: line id field observed
//	-- alert.json --      (optional) the exact first alert, as JSON
//
// "#" starts a comment line in indicators and alerts.

func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/match/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Errorf("only %d cases", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			runCase(t, file)
		})
	}
}

type testCase struct {
	inds     []Indicator
	revoke   []string
	now      time.Time
	format   Format
	input    []byte
	alerts   []string
	alertRaw []byte
}

func readCase(t *testing.T, file string) testCase {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c testCase
	c.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range parseTxtar(data) {
		switch {
		case s.name == "indicators":
			for _, line := range contentLines(s.data) {
				c.inds = append(c.inds, parseIndicatorLine(t, line))
			}
		case s.name == "revoke":
			c.revoke = contentLines(s.data)
		case s.name == "now":
			c.now, err = time.Parse(time.RFC3339, strings.TrimSpace(string(s.data)))
			if err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(s.name, "input."):
			c.format, err = ParseFormat(strings.TrimPrefix(s.name, "input."))
			if err != nil {
				t.Fatal(err)
			}
			c.input = s.data
		case s.name == "alerts":
			for _, line := range contentLines(s.data) {
				c.alerts = append(c.alerts, strings.Join(strings.Fields(line), " "))
			}
		case s.name == "alert.json":
			c.alertRaw = s.data
		default:
			t.Fatalf("unknown section %q", s.name)
		}
	}
	if c.format == "" {
		t.Fatal("no input section")
	}
	return c
}

func runCase(t *testing.T, file string) {
	c := readCase(t, file)
	idx, err := Build(c.inds)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(idx, WithClock(func() time.Time { return c.now }))
	if len(c.revoke) > 0 {
		var kept []Indicator
		for _, ind := range c.inds {
			if !slices.Contains(c.revoke, ind.ID) {
				kept = append(kept, ind)
			}
		}
		idx2, err := Build(kept)
		if err != nil {
			t.Fatal(err)
		}
		if old := m.Swap(idx2); old != idx {
			t.Fatal("Swap did not return the previous index")
		}
	}

	// Line by line, through a Session.
	s := m.NewSession(c.format)
	var got []string
	var first []byte
	for n, line := range bytes.Split(c.input, []byte("\n")) {
		out, err := s.Match(nil, line)
		if err != nil {
			t.Errorf("line %d: %v", n+1, err)
		}
		for _, a := range splitLines(out) {
			if first == nil {
				first = a
			}
			got = append(got, fmt.Sprintf("%d %s", n+1, checkAlert(t, a)))
		}
	}
	want := slices.Clone(c.alerts)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("alerts:\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// The whole input through Run: the same alerts, in some order.
	var out bytes.Buffer
	st, err := Run(context.Background(), bytes.NewReader(c.input), c.format, m, &out, 2)
	if err != nil {
		t.Fatal(err)
	}
	var gotRun, wantRun []string
	for _, a := range splitLines(out.Bytes()) {
		gotRun = append(gotRun, checkAlert(t, a))
	}
	for _, a := range want {
		wantRun = append(wantRun, a[strings.IndexByte(a, ' ')+1:])
	}
	slices.Sort(gotRun)
	slices.Sort(wantRun)
	if !slices.Equal(gotRun, wantRun) {
		t.Errorf("Run alerts:\ngot:\n  %s\nwant:\n  %s", strings.Join(gotRun, "\n  "), strings.Join(wantRun, "\n  "))
	}
	if st.Alerts != int64(len(want)) || st.Errors != 0 {
		t.Errorf("Run stats %+v, want %d alerts and no errors", st, len(want))
	}

	if c.alertRaw != nil {
		var gotJSON, wantJSON any
		if err := json.Unmarshal(first, &gotJSON); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(c.alertRaw, &wantJSON); err != nil {
			t.Fatalf("alert.json: %v", err)
		}
		if !reflect.DeepEqual(gotJSON, wantJSON) {
			t.Errorf("first alert:\ngot:  %s\nwant: %s", first, bytes.TrimSpace(c.alertRaw))
		}
	}
}

// checkAlert checks the shape of an alert line and returns "id field observed".
func checkAlert(t *testing.T, line []byte) string {
	t.Helper()
	var a struct {
		Timestamp string  `json:"timestamp"`
		EventType string  `json:"event_type"`
		SrcIP     *string `json:"src_ip"`
		Alert     struct {
			Signature string `json:"signature"`
			Category  string `json:"category"`
			Severity  int    `json:"severity"`
		} `json:"alert"`
		HDN struct {
			ID       string   `json:"id"`
			Type     string   `json:"type"`
			Value    string   `json:"value"`
			Labels   []string `json:"labels"`
			Observed string   `json:"observed"`
			Field    string   `json:"field"`
		} `json:"hdn"`
	}
	if err := json.Unmarshal(line, &a); err != nil {
		t.Fatalf("alert is not JSON: %v\n%s", err, line)
	}
	if a.EventType != "alert" || a.Alert.Signature == "" || a.Alert.Category == "" ||
		a.Alert.Severity < 1 || a.Alert.Severity > 3 || a.HDN.ID == "" || a.HDN.Value == "" ||
		a.HDN.Labels == nil || a.HDN.Field == "" || a.Timestamp == "" {
		t.Errorf("alert lacks fields: %s", line)
	}
	if _, err := indicator.ParseType(a.HDN.Type); err != nil {
		t.Errorf("alert type: %v", err)
	}
	return a.HDN.ID + " " + a.HDN.Field + " " + a.HDN.Observed
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func contentLines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// parseIndicatorLine reads "id type value [key=value…]" and canonicalises
// the value as the hub does.
func parseIndicatorLine(t *testing.T, line string) Indicator {
	t.Helper()
	f := splitQuoted(line)
	if len(f) < 3 {
		t.Fatalf("indicator line %q: want id type value", line)
	}
	typ, err := indicator.ParseType(f[1])
	if err != nil {
		t.Fatal(err)
	}
	v, err := indicator.Canonicalize(typ, f[2])
	if err != nil {
		t.Fatal(err)
	}
	if typ == indicator.IPv6 && !strings.Contains(v, ":") {
		typ = indicator.IPv4
	}
	ind := Indicator{ID: f[0], Type: typ, Value: v, TLP: "amber", Labels: []string{}}
	for _, kv := range f[3:] {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "labels":
			ind.Labels = strings.Split(val, ",")
		case "tlp":
			ind.TLP = val
		case "conf":
			ind.Confidence, err = strconv.Atoi(val)
		case "report":
			ind.Report = val
		case "until":
			ind.ValidUntil, err = time.Parse(time.RFC3339, val)
		default:
			t.Fatalf("indicator line %q: unknown key %q", line, k)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return ind
}

// splitQuoted splits on white space, keeping key="a b" together (quotes
// removed).
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, any, esc := false, false, false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quoted:
			esc = true
		case r == '"':
			quoted, any = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if any {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		out = append(out, cur.String())
	}
	return out
}

// txtar: a comment, then sections "-- name --" each followed by its lines.
type txtarFile struct {
	name string
	data []byte
}

func parseTxtar(data []byte) []txtarFile {
	var files []txtarFile
	var cur *txtarFile
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		l := bytes.TrimRight(line, "\r\n")
		if bytes.HasPrefix(l, []byte("-- ")) && bytes.HasSuffix(l, []byte(" --")) && len(l) >= 7 {
			files = append(files, txtarFile{name: string(bytes.TrimSpace(l[3 : len(l)-3]))})
			cur = &files[len(files)-1]
			continue
		}
		if cur != nil {
			cur.data = append(cur.data, line...)
		}
	}
	for i := range files {
		files[i].data = bytes.TrimRight(files[i].data, "\n")
	}
	return files
}
