package hub_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// sseEvent is one server-sent event as read off the wire.
type sseEvent struct {
	id, kind string
	data     struct {
		ID        string `json:"id"`
		Indicator *struct {
			ID, Value, TLP string
		} `json:"indicator"`
	}
}

// readSSE reads the next event of a stream.
func readSSE(t *testing.T, br *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read the stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev.kind != "":
			return ev
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
				t.Fatalf("event data: %v", err)
			}
		}
	}
}

// TestStreamSnapshotNarrowedWhileRead: an indicator the snapshot already
// sent is narrowed (green to red for another organisation) while the rest
// of the snapshot is still being read, and another indicator is created
// after it. The subscriber must be told "removed": the snapshot's end
// cursor used to be the newest indicator it listed, past the narrowing.
// narrowedMidSnapshot starts hospital-a's stream over a snapshot too large
// to be written while nobody reads it (the hub lists a page, then blocks
// writing it), reads its first event (x, green, of hospital-b), then
// narrows x to red for the national CERT and creates y: both while the
// snapshot is being read.
func narrowedMidSnapshot(t *testing.T) (h *hubtest.Hub, ka, x string, resp *http.Response, br *bufio.Reader) {
	h = hubtest.Start(t, hub.Config{})
	a := h.Org("hospital-a", policy.Member, "")
	b := h.Org("hospital-b", policy.Member, "")
	h.Org("national-cert", policy.NationalCERT, "")
	ka, kb := h.Key(a, policy.Analyst), h.Key(b, policy.Analyst)
	x = submit(t, h, kb, map[string]any{"value": "x-narrowed.example.org", "tlp": "green"})[0].ID
	desc := strings.Repeat("d", 4000)
	for batch := range 12 {
		var its []map[string]any
		for i := range 500 {
			its = append(its, map[string]any{"value": fmt.Sprintf("f%d-%d.example.org", batch, i), "tlp": "green", "description": desc})
		}
		submit(t, h, kb, its...)
	}
	req, err := http.NewRequest("GET", h.URL+"/api/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ka)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	br = bufio.NewReaderSize(resp.Body, 4096)
	if ev := readSSE(t, br); ev.kind != "snapshot" || ev.data.Indicator == nil || ev.data.Indicator.ID != x {
		t.Fatalf("first event %s %+v, want the snapshot of x", ev.kind, ev.data)
	}
	submit(t, h, kb, map[string]any{"value": "x-narrowed.example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"national-cert"}}})
	submit(t, h, kb, map[string]any{"value": "y-after.example.org", "tlp": "green"})
	return h, ka, x, resp, br
}

func TestStreamSnapshotNarrowedWhileRead(t *testing.T) {
	h, ka, x, _, br := narrowedMidSnapshot(t)
	removed, ended, gotY := false, false, false
	for !(removed && gotY) {
		ev := readSSE(t, br)
		switch {
		case ev.kind == "snapshot-end":
			ended = true
		case ev.kind == "removed" && ev.data.ID == x:
			removed = true
		case ev.data.Indicator != nil && ev.data.Indicator.Value == "y-after.example.org":
			gotY = true
		case ev.data.Indicator != nil && ev.data.Indicator.ID == x:
			t.Fatalf("x sent again as %s with TLP %s: hospital-a may not see it", ev.kind, ev.data.Indicator.TLP)
		case ev.kind == "heartbeat" && ended:
			t.Fatalf("the stream is idle after its snapshot and hospital-a was never told x was narrowed (removed %t, y %t)", removed, gotY)
		}
	}
	if r := h.Do("GET", "/api/v1/indicators/"+x, ka, nil); r.Status != 404 {
		t.Fatalf("hospital-a reads x: %d, want 404", r.Status)
	}
}

// streamUntilCurrent opens a stream (from cursor when resume) and reads it
// until the first heartbeat, returning the events and the last cursor.
func streamUntilCurrent(t *testing.T, h *hubtest.Hub, key string, resume bool, cursor string) ([]sseEvent, string) {
	t.Helper()
	url := h.URL + "/api/v1/stream"
	if resume {
		url += "?cursor=" + cursor
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	var evs []sseEvent
	for {
		ev := readSSE(t, br)
		if ev.kind == "heartbeat" {
			return evs, ev.id
		}
		evs = append(evs, ev)
	}
}

// holds says what a subscriber holds after applying events.
func holds(evs []sseEvent, held map[string]bool) map[string]bool {
	for _, ev := range evs {
		switch {
		case ev.kind == "reset":
			clear(held)
		case ev.kind == "removed" || ev.kind == "revoked" || ev.kind == "expired":
			delete(held, ev.data.ID)
			if ev.data.Indicator != nil {
				delete(held, ev.data.Indicator.ID)
			}
		case ev.data.Indicator != nil:
			held[ev.data.Indicator.ID] = true
		}
	}
	return held
}

// TestStreamCustomerMovedToAnotherPartner: when a customer moves to another
// partner, what each partner may see changes without a change entry per
// indicator. Streams resuming from a cursor of before the move start again
// from a snapshot: the old partner drops the customer's indicators, the new
// one receives them (they used to resume as if nothing had changed).
func TestStreamCustomerMovedToAnotherPartner(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("cert", policy.Coordinator, "")
	p1 := h.Org("mssp-one", policy.Partner, "")
	p2 := h.Org("mssp-two", policy.Partner, "")
	c := h.Org("clinic", policy.Customer, "mssp-one")
	kc, k1, k2 := h.Key(c, policy.Analyst), h.Key(p1, policy.Analyst), h.Key(p2, policy.Analyst)
	x := submit(t, h, kc, map[string]any{"value": "clinic-only.example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"clinic"}}})[0].ID
	evs1, cur1 := streamUntilCurrent(t, h, k1, false, "")
	held1 := holds(evs1, map[string]bool{})
	evs2, cur2 := streamUntilCurrent(t, h, k2, false, "")
	held2 := holds(evs2, map[string]bool{})
	if !held1[x] || held2[x] {
		t.Fatalf("before the move: mssp-one holds x %t, mssp-two %t; want true, false", held1[x], held2[x])
	}
	if r := h.Do("POST", "/api/v1/orgs/clinic/move", h.Key(coord, policy.Admin), map[string]any{"partner": "mssp-two"}); r.Status != 200 {
		t.Fatalf("move: %d %s", r.Status, r.Body)
	}
	evs1, _ = streamUntilCurrent(t, h, k1, true, cur1)
	if held1 = holds(evs1, held1); held1[x] {
		t.Errorf("mssp-one still holds the clinic's indicator after the move (events %d)", len(evs1))
	}
	evs2, _ = streamUntilCurrent(t, h, k2, true, cur2)
	if held2 = holds(evs2, held2); !held2[x] {
		t.Errorf("mssp-two did not receive the clinic's indicator after the move (events %d)", len(evs2))
	}
	if r := h.Do("GET", "/api/v1/indicators/"+x, k1, nil); r.Status != 404 {
		t.Errorf("mssp-one reads x after the move: %d, want 404", r.Status)
	}
}

// TestStreamSnapshotCutAfterANarrowing: as TestStreamSnapshotNarrowedWhileRead,
// but the subscriber is cut off right after the indicator created during the
// snapshot, and resumes from its cursor: it must still be told x was
// narrowed (the snapshot's events of changed indicators used to carry their
// own, later, cursor).
func TestStreamSnapshotCutAfterANarrowing(t *testing.T) {
	h, ka, x, resp, br := narrowedMidSnapshot(t)
	cursor := ""
	for cursor == "" {
		ev := readSSE(t, br)
		if ev.data.Indicator != nil && ev.data.Indicator.Value == "y-after.example.org" {
			cursor = ev.id
		}
		if ev.kind == "removed" && ev.data.ID == x {
			t.Fatalf("x removed before y arrived: the cut would not show anything")
		}
	}
	resp.Body.Close() // cut off right after y
	evs, _ := streamUntilCurrent(t, h, ka, true, cursor)
	for _, ev := range evs {
		if ev.kind == "removed" && ev.data.ID == x {
			return
		}
	}
	t.Fatalf("resumed from y's cursor %s: %d events and no removal of x: hospital-a keeps what it may no longer see", cursor, len(evs))
}

// TestStreamOpenAcrossACustomerMove: a partner's stream that is open when
// its customer moves away, and goes on receiving changes until it is ended,
// must still leave the partner without the customer's indicators: it ends
// with "reset" from cursor 0, and resuming from there takes a snapshot of
// the new view (resuming from a cursor the other changes had moved past the
// move's floor kept them).
func TestStreamOpenAcrossACustomerMove(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	coord := h.Org("cert", policy.Coordinator, "")
	p1 := h.Org("mssp-one", policy.Partner, "")
	p2 := h.Org("mssp-two", policy.Partner, "")
	c := h.Org("clinic", policy.Customer, "mssp-one")
	kc, k1, kcoord := h.Key(c, policy.Analyst), h.Key(p1, policy.Analyst), h.Key(coord, policy.Admin)
	x := submit(t, h, kc, map[string]any{"value": "clinic-only.example.org", "tlp": "red", "audience": map[string]any{"orgs": []string{"clinic"}}})[0].ID
	req, err := http.NewRequestWithContext(t.Context(), "GET", h.URL+"/api/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+k1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var evs []sseEvent
	for {
		ev := readSSE(t, br)
		evs = append(evs, ev)
		if ev.kind == "heartbeat" {
			break
		}
	}
	// The move goes straight to the store (as hdn admin org move does), so
	// that the stream learns of it only from the watcher; changes meanwhile
	// move its cursor on.
	if err := h.Store.SetOrgPartner(t.Context(), c.ID, p2.ID); err != nil {
		t.Fatal(err)
	}
	submit(t, h, kcoord, map[string]any{"value": "network-wide.example.org", "tlp": "green"})
	cursor := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break // the stream ended
		}
		if strings.HasPrefix(line, "event: ") {
			evs = append(evs, sseEvent{kind: strings.TrimSpace(line[7:])})
		}
		if strings.HasPrefix(line, "id: ") {
			cursor = strings.TrimSpace(line[4:])
		}
	}
	if last := evs[len(evs)-1]; last.kind != "reset" || cursor != "0" {
		t.Fatalf("the stream ended with %q at cursor %s, want reset at 0", last.kind, cursor)
	}
	held := holds(evs, map[string]bool{})
	more, _ := streamUntilCurrent(t, h, k1, true, cursor)
	if held = holds(more, held); held[x] {
		t.Fatalf("mssp-one holds the clinic's indicator after the move")
	}
}
