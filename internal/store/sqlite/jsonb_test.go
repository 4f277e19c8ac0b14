package sqlite

import (
	"database/sql"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestJSONB reads what the JSONB builder writes back through SQLite, with
// texts and numbers of every header size.
func TestJSONB(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	texts := []string{"", "a", "eleven byte", "twelve bytes", strings.Repeat("x", 255), strings.Repeat("y", 256),
		strings.Repeat("z", 70000), "quote \" backslash \\ nul \x00 tab \t é"}
	ints := []int64{0, -1, 7, math.MaxInt64, math.MinInt64 + 1, 1234567890123456789}
	var j jsonb
	for _, s := range texts {
		j.text(s)
		j.int(int64(len(s)))
		j.endRow()
	}
	for _, n := range ints {
		j.addInt(n)
	}
	var got string
	if err := db.QueryRow(`SELECT json(?)`, j.blob()).Scan(&got); err != nil {
		t.Fatal(err)
	}
	var want []any
	for _, s := range texts {
		want = append(want, []any{s, len(s)})
	}
	for _, n := range ints {
		want = append(want, n)
	}
	wantJSON, _ := json.Marshal(want)
	var a, b any
	dec := json.NewDecoder(strings.NewReader(got))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("%v: %.200s", err, got)
	}
	dec = json.NewDecoder(strings.NewReader(string(wantJSON)))
	dec.UseNumber()
	_ = dec.Decode(&b)
	ga, _ := json.Marshal(a)
	gb, _ := json.Marshal(b)
	if string(ga) != string(gb) {
		t.Errorf("SQLite read back\n%.300s\nwant\n%.300s", ga, gb)
	}
	// The statements read elements with ->> and jsonb_each: the exact bytes.
	var s string
	if err := db.QueryRow(`SELECT value->>0 FROM jsonb_each(?) WHERE key = 7`, j.blob()).Scan(&s); err == nil {
		t.Errorf("blob was not reset")
	}
	for _, x := range texts {
		j.text(x)
		j.endRow()
	}
	blob := j.blob()
	for i, x := range texts {
		if err := db.QueryRow(`SELECT value->>0 FROM jsonb_each(?) WHERE key = ?`, blob, i).Scan(&s); err != nil || s != x {
			t.Errorf("text %d: %q, %v", i, clipTest(s), err)
		}
	}
}

func clipTest(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
