package loadtest

import (
	"bytes"
	"testing"
)

// TestRunEvent: the subscribers' quick look at an event counts exactly the
// indicators tagged with the run's tag and finds the batches' latency
// markers, whatever the other fields hold.
func TestRunEvent(t *testing.T) {
	tag := []byte("hdn-load:abc")
	for _, c := range []struct {
		name       string
		data       string
		ok         bool
		wantMarker string
	}{
		{"tagged", `{"id":"i","value":"d1.abc.hdn-load.net","tags":["hdn-load:abc"],"seq":1}`, true, ""},
		{"tagged among others", `{"id":"i","value":"x.net","tags":["a","hdn-load:abc","b"],"seq":1}`, true, ""},
		{"marker", `{"id":"i","value":"lat-3.abc.hdn-load.net","tags":["hdn-load:abc"],"seq":1}`, true, "lat-3.abc.hdn-load.net"},
		{"marker of another run", `{"id":"i","value":"lat-3.xyz.hdn-load.net","tags":["hdn-load:xyz"],"seq":1}`, false, ""},
		{"no tags", `{"id":"i","value":"x.net","tags":[],"seq":1}`, false, ""},
		{"tag only in the description", `{"id":"i","value":"x.net","description":"hdn-load:abc","tags":["other"],"seq":1}`, false, ""},
		{"a description that quotes a tags field", `{"id":"i","value":"x.net","description":"\"tags\":[\"hdn-load:abc\"]","tags":["other"],"seq":1}`, false, ""},
		{"a description that quotes a tags field, then the real one", `{"id":"i","value":"lat-1.abc","description":"\"tags\":[\"zzz\"]","tags":["hdn-load:abc"],"seq":1}`, true, "lat-1.abc"},
		{"no tags field", `{"id":"i","value":"x.net"}`, false, ""},
	} {
		ok, marker := runEvent([]byte(c.data), tag)
		if ok != c.ok || string(marker) != c.wantMarker {
			t.Errorf("%s: runEvent = %v, %q; want %v, %q", c.name, ok, marker, c.ok, c.wantMarker)
		}
	}
}

// FuzzLastField: the walk back finds what bytes.LastIndex finds.
func FuzzLastField(f *testing.F) {
	f.Add([]byte(`{"value":"x","tags":["a"],"seq":1}`))
	f.Add([]byte(`"tags":["tags":[`))
	f.Add([]byte(`[[["tags":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := lastField(data, keyTags), bytes.LastIndex(data, keyTags); got != want {
			t.Fatalf("lastField(%q) = %d, bytes.LastIndex = %d", data, got, want)
		}
	})
}
