package logparse

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkParseEVE parses each sample event type in a loop (cache-hot):
// the parser's own cost per event.
func BenchmarkParseEVE(b *testing.B) {
	data, err := os.ReadFile("testdata/sample.eve.json")
	if err != nil {
		b.Fatal(err)
	}
	var ev Event
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if err := ParseEVE(line, &ev); err != nil {
			b.Fatal(err)
		}
		b.Run(string(ev.Type), func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				ParseEVE(line, &ev)
			}
		})
	}
}
