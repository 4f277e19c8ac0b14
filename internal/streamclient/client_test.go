package streamclient

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := ": a comment\n" +
		"id: 7\nevent: snapshot\ndata: {\"kind\":\"snapshot\",\"cursor\":\"7\",\"indicator\":{\"id\":\"x\",\"type\":\"domain\",\"value\":\"evil.example\"}}\n\n" +
		"id: 9\nevent: removed\ndata: {\"kind\":\"removed\",\"cursor\":\"9\",\"id\":\"y\"}\n\n" +
		"event: heartbeat\ndata: {\"kind\":\"heartbeat\",\"cursor\":\"9\"}\n\n"
	var got []Event
	if err := Parse(strings.NewReader(in), func(ev Event) error { got = append(got, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(got), got)
	}
	if got[0].Kind != "snapshot" || got[0].Cursor != 7 || got[0].Indicator == nil || got[0].Indicator.Value != "evil.example" {
		t.Errorf("event 0: %+v", got[0])
	}
	if got[1].Kind != "removed" || got[1].ID != "y" || got[1].Cursor != 9 || got[1].Indicator != nil {
		t.Errorf("event 1: %+v", got[1])
	}
	if got[2].Kind != "heartbeat" || got[2].Cursor != 9 {
		t.Errorf("event 2: %+v", got[2])
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"id: 1\nevent: created\ndata: {not json}\n\n",
		"event: created\ndata: {\"kind\":\"created\"}\n\n",                           // no cursor anywhere
		"id: -4\nevent: created\ndata: {\"kind\":\"created\",\"cursor\":\"-4\"}\n\n", // negative
		"data: " + strings.Repeat("x", MaxLine+10) + "\n\n",
	} {
		err := Parse(strings.NewReader(in), func(Event) error { return nil })
		if err == nil {
			t.Errorf("Parse(%.60q) accepted bad input", in)
		}
	}
	stop := errors.New("stop")
	err := Parse(strings.NewReader("id: 1\nevent: heartbeat\ndata: {}\n\n"), func(Event) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("handler error not returned: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("id: 7\nevent: created\ndata: {\"kind\":\"created\",\"cursor\":\"7\"}\n\n")
	f.Add(": c\n\nid: 1\ndata: {\"cursor\":\"1\"}\ndata: x\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		Parse(strings.NewReader(in), func(ev Event) error {
			if ev.Cursor < 0 {
				t.Fatalf("negative cursor %d", ev.Cursor)
			}
			return nil
		})
	})
}

// endlessEvent is an event whose data lines never end: lines of half
// MaxLine, without the blank line that would end the event.
type endlessEvent struct{ read int }

func (e *endlessEvent) Read(p []byte) (int, error) {
	line := "data: " + strings.Repeat("x", MaxLine/2) + "\n"
	n := copy(p, line[e.read%len(line):])
	e.read += n
	if e.read > 64*MaxLine {
		return n, errors.New("the reader gathered 64 lines of one event without refusing it")
	}
	return n, nil
}

// TestParseBoundsAnEvent: an event made of many data lines is refused once
// its data passes MaxLine, instead of being gathered without end.
func TestParseBoundsAnEvent(t *testing.T) {
	err := Parse(&endlessEvent{}, func(Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "event's data is longer than") {
		t.Fatalf("Parse of an endless event: %v, want it refused", err)
	}
}
