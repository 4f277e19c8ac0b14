package logparse

import (
	"bytes"
	"os"
	"testing"
)

func BenchmarkFloor(b *testing.B) {
	data, _ := os.ReadFile("testdata/sample.eve.json")
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	for _, k := range []int{0, 1, 5} {
		line := lines[k]
		b.Run("skip"+string(rune('0'+k)), func(b *testing.B) {
			for b.Loop() {
				skipValue(line, 0)
			}
		})
		b.Run("members"+string(rune('0'+k)), func(b *testing.B) {
			for b.Loop() {
				j, done := openValue(line, 0, '{')
				for !done {
					_, v := member(line, j)
					end := skipValue(line, v)
					j, done = nextItem(line, end, '}')
				}
			}
		})
	}
}
