package hub_test

import (
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/policy"
)

// TestMISPSearchSlotsNotHeldBySlowClients: clients of one organisation that
// send a search's headers and then trickle its body (here: "{" and
// nothing more) hold none of the shared search slots, so another
// organisation's searches still answer, and at once rather than with 503
// after waiting for a slot.
func TestMISPSearchSlotsNotHeldBySlowClients(t *testing.T) {
	h := hubtest.Start(t, hub.Config{})
	slow := h.Org("slow-hospital", policy.Member, "")
	other := h.Org("other-hospital", policy.Member, "")
	slowKey, otherKey := h.Key(slow, policy.Sensor), h.Key(other, policy.Analyst)
	u, err := url.Parse(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	// More slow searches than there are slots, on every search endpoint.
	paths := []string{"/events/restSearch", "/attributes/restSearch", "/events/index", "/attributes/restSearch",
		"/events/restSearch", "/events/index"}
	for _, path := range paths {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: " + slowKey +
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
		if _, err := c.Write([]byte(head)); err != nil {
			t.Fatalf("slow client on %s: %v", path, err)
		}
	}
	// Let the hub take up the slow requests (the old hub took a slot for
	// each here, before reading its body).
	time.Sleep(500 * time.Millisecond)
	for _, path := range []string{"/attributes/restSearch", "/events/restSearch", "/events/index"} {
		if r := mispCall(h, "POST", path, otherKey, map[string]any{"value": "x.example.org"}); r.Status != 200 {
			t.Errorf("another organisation's %s while slow clients wait: %d %s, want 200", path, r.Status, r.Body)
		}
	}
	// The slow organisation's own complete searches are served too.
	if r := mispCall(h, "POST", "/attributes/restSearch", slowKey, map[string]any{}); r.Status != 200 {
		t.Errorf("the slow organisation's own complete search: %d %s, want 200", r.Status, r.Body)
	}
}
