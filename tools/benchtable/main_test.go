package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseAndRender(t *testing.T) {
	in := `goos: linux
BenchmarkAPIIngest-2   	       1	9876543210 ns/op	  123456 indicators/s
BenchmarkLookup-2      	     100	     5000 ns/op	       210.0 p50-µs	 950.0 p99-µs
PASS
`
	var rest bytes.Buffer
	rows, units := parse(strings.NewReader(in), &rest)
	if len(rows) != 2 || rows[0].name != "APIIngest" || rows[1].metrics["p99-µs"] != "950.0" {
		t.Fatalf("rows %+v", rows)
	}
	if !strings.Contains(rest.String(), "goos: linux") || !strings.Contains(rest.String(), "PASS") {
		t.Fatalf("other lines not passed through: %q", rest.String())
	}
	var out bytes.Buffer
	if err := render(&out, rows, units); err != nil {
		t.Fatal(err)
	}
	want := "| benchmark | indicators/s | p50-µs | p99-µs | ns/op |\n|---|---|---|---|---|\n| APIIngest | 123456 |  |  | 9876543210 |\n| Lookup |  | 210.0 | 950.0 | 5000 |\n"
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}
