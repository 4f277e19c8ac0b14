package hub_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/hub"
)

// mispAttr is an attribute of the events these tests send.
func mispAttr(uuid, value string, toIDS, deleted bool) map[string]any {
	return map[string]any{"type": "domain", "category": "Network activity", "value": value, "to_ids": toIDS,
		"deleted": deleted, "uuid": uuid, "distribution": "5", "timestamp": "1763632800"}
}

// mispEventOf is an event with the given attributes, shared with the whole
// network at tlp:green.
func mispEventOf(uuid, timestamp string, attrs ...map[string]any) map[string]any {
	if attrs == nil {
		attrs = []map[string]any{}
	}
	return map[string]any{"Event": map[string]any{
		"uuid": uuid, "info": "Re-imported event " + uuid, "date": "2026-11-20", "timestamp": timestamp,
		"threat_level_id": "2", "analysis": "1", "distribution": "3",
		"Tag": []map[string]any{{"name": "tlp:green"}}, "Attribute": attrs,
	}}
}

// indicatorRevoked says whether an indicator the member may see is revoked,
// through the native API.
func indicatorRevoked(t *testing.T, n *mispNet, id string) bool {
	t.Helper()
	return getIndicator(t, n.h, n.member, id).Revoked
}

// TestMISPEventAgainRevokesWithdrawnAttributes: an event imported again
// whose new version no longer carries an attribute as a detection
// attribute (deleted, as hdn's own MISP export writes a revoked indicator;
// to_ids false; or gone from the event) revokes the indicator it gave,
// so that a revocation crosses a MISP feed; the attribute it still carries
// stays live.
func TestMISPEventAgainRevokesWithdrawnAttributes(t *testing.T) {
	n := newMISPNet(t, hub.Config{})
	for i, tc := range []struct {
		name string
		gone func(uuid, value string) map[string]any // nil: left out of the event
	}{
		{"deleted", func(u, v string) map[string]any { return mispAttr(u, v, false, true) }},
		{"to_ids false", func(u, v string) map[string]any { return mispAttr(u, v, false, false) }},
		{"missing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := fmt.Sprintf("7c1e0b9a-2d4f-4e6a-8b1c-%012d", i)
			keepID, goneID := fmt.Sprintf("7c1e0b9a-2d4f-4e6a-8b1c-%012d", 100+i), fmt.Sprintf("7c1e0b9a-2d4f-4e6a-8b1c-%012d", 200+i)
			keep, gone := fmt.Sprintf("keep-%d.example", i), fmt.Sprintf("withdrawn-%d.example", i)

			first := addEvent(t, n.h, n.member, mustJSON(t, mispEventOf(ev, "1763632800",
				mispAttr(keepID, keep, true, false), mispAttr(goneID, gone, true, false))))
			if first.HDN.Created != 2 {
				t.Fatalf("first import: %+v", first.HDN)
			}
			list := string(n.h.Do("GET", "/api/v1/export/list", n.member, nil).Body)
			if !strings.Contains(list, keep) || !strings.Contains(list, gone) {
				t.Fatalf("after the first import the list lacks a value:\n%s", list)
			}

			attrs := []map[string]any{mispAttr(keepID, keep, true, false)}
			if tc.gone != nil {
				attrs = append(attrs, tc.gone(goneID, gone))
			}
			var again struct {
				HDN struct {
					Updated int `json:"updated"`
					Revoked int `json:"revoked"`
				} `json:"hdn"`
			}
			mispOK(t, n.h, "POST", "/events/add", n.member, mustJSON(t, mispEventOf(ev, "1763636400", attrs...)), &again)
			if again.HDN.Updated != 1 || again.HDN.Revoked != 1 {
				t.Errorf("second import: updated %d revoked %d, want 1 and 1", again.HDN.Updated, again.HDN.Revoked)
			}
			if !indicatorRevoked(t, n, goneID) {
				t.Errorf("the withdrawn attribute's indicator %s is not revoked", goneID)
			}
			if indicatorRevoked(t, n, keepID) {
				t.Errorf("the attribute still carried (%s) was revoked", keepID)
			}
			list = string(n.h.Do("GET", "/api/v1/export/list", n.member, nil).Body)
			if strings.Contains(list, gone) || !strings.Contains(list, keep) {
				t.Errorf("after the second import the list should hold %s and not %s:\n%s", keep, gone, list)
			}

			// The same version once more revokes nothing again.
			mispOK(t, n.h, "POST", "/events/add", n.member, mustJSON(t, mispEventOf(ev, "1763636400", attrs...)), &again)
			if again.HDN.Revoked != 0 {
				t.Errorf("the same version again: revoked %d, want 0", again.HDN.Revoked)
			}
		})
	}
}
