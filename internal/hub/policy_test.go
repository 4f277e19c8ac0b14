package hub_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/hub/hubtest"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/policy/policytest"
	"github.com/hdnetwork/hdn/internal/streamclient"
)

// readPath is one way an organisation can read indicators. It returns what
// the organisation got: value → the source name it was shown.
type readPath struct {
	name     string
	noSource bool // the path does not show sources
	read     func(t *testing.T, n *policyNet, org string) map[string]string
}

// policyNet is a random network living in a real hub.
type policyNet struct {
	h       *hubtest.Hub
	net     *policytest.Network
	keys    map[string]string // org id → analyst key
	names   map[string]string // org id → name
	inds    []policytest.Indicator
	sighted []int    // number of sightings reported of inds[i]
	values  []string // value of inds[i]
	ids     []string // id of inds[i]
	submits []string // submitting org of inds[i]
}

// buildPolicyNet makes the organisations and groups of a random network in
// h and submits random indicators through the API, each from its source
// (or, for a customer, sometimes from its partner on its behalf).
func buildPolicyNet(t *testing.T, h *hubtest.Hub, rng *rand.Rand, prefix string, count int) *policyNet {
	t.Helper()
	net, _ := policytest.RandomNetwork(rng, prefix)
	n := &policyNet{h: h, keys: map[string]string{}, names: map[string]string{}}
	idOf := map[string]string{} // oracle id → hub id
	for i, o := range net.Orgs {
		partner := ""
		if o.Partner != "" {
			partner = o.Partner // the name equals the oracle id
		}
		m := h.Org(o.Name, o.Kind, partner)
		idOf[o.ID] = m.ID
		net.Orgs[i].ID = m.ID
		n.keys[m.ID] = h.Key(m, policy.Analyst)
		n.names[m.ID] = o.Name
	}
	for i := range net.Orgs {
		if net.Orgs[i].Partner != "" {
			net.Orgs[i].Partner = idOf[net.Orgs[i].Partner]
		}
	}
	groups := map[string][]string{}
	for gid, members := range net.Groups {
		var ms []string
		for _, m := range members {
			ms = append(ms, idOf[m])
		}
		g, err := h.Store.CreateGroup(t.Context(), model.Group{Name: gid, Owner: ms0(ms, net.Orgs[0].ID), Members: ms})
		if err != nil {
			t.Fatal(err)
		}
		groups[g.ID] = ms
	}
	net.Groups = groups
	n.net = net
	for i := range count {
		ind := policytest.RandomIndicator(rng, net)
		value := fmt.Sprintf("p%d-%s.policy-test.example", i, strings.ToLower(prefix))
		item := map[string]any{"type": "domain", "value": value, "tlp": string(ind.TLP), "anonymous": ind.Anonymous}
		submitter := ind.Source
		src := orgOf(net, ind.Source)
		if src.Kind == policy.Customer && rng.IntN(2) == 0 {
			submitter = src.Partner
			item["on_behalf_of"] = src.Name
		}
		if ind.Audience == policy.Orgs {
			// A list names only organisations the submitter may know of:
			// another partner's customer is answered "does not exist".
			ind.Orgs = visibleTo(net, submitter, ind.Orgs, ind.Source)
		}
		switch ind.Audience {
		case policy.Group:
			item["audience"] = map[string]any{"group": ind.Group}
		case policy.Orgs:
			var names []string
			for _, id := range ind.Orgs {
				names = append(names, n.names[id])
			}
			item["audience"] = map[string]any{"orgs": names}
		}
		res := submit(t, h, n.keys[submitter], item)
		if res[0].Status != "created" {
			t.Fatalf("submit %+v: %+v", item, res[0])
		}
		keepContextLike(t, h, res[0].ID, value)
		n.inds = append(n.inds, ind)
		n.values = append(n.values, value)
		n.ids = append(n.ids, res[0].ID)
		n.submits = append(n.submits, submitter)
	}
	// Organisations that may see an indicator report sightings of some.
	n.sighted = make([]int, len(n.inds))
	for i, ind := range n.inds {
		for _, o := range net.Orgs {
			if net.Oracle(o.ID, ind) && rng.IntN(3) == 0 {
				r := h.Do("POST", "/api/v1/sightings", n.keys[o.ID], map[string]any{"sightings": []any{map[string]any{"indicator": n.ids[i], "count": 2}}})
				if r.Status != 200 {
					t.Fatalf("sighting by an organisation that may see the indicator: %d %s", r.Status, r.Body)
				}
				n.sighted[i]++
			} else if !net.Oracle(o.ID, ind) && rng.IntN(5) == 0 {
				r := h.Do("POST", "/api/v1/sightings", n.keys[o.ID], map[string]any{"sightings": []any{map[string]any{"indicator": n.ids[i]}}})
				if r.Status != 404 {
					t.Fatalf("sighting of an indicator the organisation may not see: %d %s", r.Status, r.Body)
				}
			}
		}
	}
	return n
}

// visibleTo keeps the organisations of ids that submitter may know of (as
// the API's directory does: another partner's customers are hidden), or
// gives [def] when none is left.
func visibleTo(net *policytest.Network, submitter string, ids []string, def string) []string {
	by := orgOf(net, submitter)
	var out []string
	for _, id := range ids {
		o := orgOf(net, id)
		if o.Kind != policy.Customer || by.Kind == policy.Coordinator || id == submitter || o.Partner == submitter {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return []string{def}
	}
	return out
}

func ms0(ms []string, def string) string {
	if len(ms) > 0 {
		return ms[0]
	}
	return def
}

func orgOf(net *policytest.Network, id string) policytest.Org {
	for _, o := range net.Orgs {
		if o.ID == id {
			return o
		}
	}
	return policytest.Org{}
}

// readPaths lists every read path of the hub. Every path added later joins
// this list, and so the property test.
func readPaths() []readPath {
	return []readPath{
		{"list", false, func(t *testing.T, n *policyNet, org string) map[string]string {
			got := map[string]string{}
			cursor := ""
			for {
				r := n.h.Do("GET", "/api/v1/indicators?limit=7&cursor="+cursor, n.keys[org], nil)
				var lr listResp
				r.JSON(t, &lr)
				if r.Status != 200 {
					t.Fatalf("list: %d %s", r.Status, r.Body)
				}
				for _, i := range lr.Indicators {
					got[i.Value] = i.Source
				}
				if lr.Next == "" {
					return got
				}
				cursor = lr.Next
			}
		}},
		{"search by value", false, func(t *testing.T, n *policyNet, org string) map[string]string {
			got := map[string]string{}
			for _, v := range n.values {
				r := n.h.Do("GET", "/api/v1/indicators?value="+url.QueryEscape(strings.ToUpper(v)), n.keys[org], nil)
				var lr listResp
				r.JSON(t, &lr)
				for _, i := range lr.Indicators {
					got[i.Value] = i.Source
				}
			}
			return got
		}},
		{"get by id", false, func(t *testing.T, n *policyNet, org string) map[string]string {
			got := map[string]string{}
			for _, id := range n.ids {
				r := n.h.Do("GET", "/api/v1/indicators/"+id, n.keys[org], nil)
				switch r.Status {
				case 200:
					var i api.IndicatorJSON
					r.JSON(t, &i)
					got[i.Value] = i.Source
				case 404:
				default:
					t.Fatalf("get: %d %s", r.Status, r.Body)
				}
			}
			return got
		}},
		{"stream snapshot", false, func(t *testing.T, n *policyNet, org string) map[string]string {
			c := follow(t, []string{n.h.URL}, n.keys[org], false, 0)
			c.waitFor(t, "snapshot-end", func(ev streamclient.Event) bool { return ev.Kind == "snapshot-end" })
			c.stop()
			return c.sources()
		}},
		{"stream changes", false, func(t *testing.T, n *policyNet, org string) map[string]string {
			// Replays every change from the start of the sequence.
			head, err := n.h.Store.LastSeq(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			c := follow(t, []string{n.h.URL}, n.keys[org], true, 0)
			deadline := time.Now().Add(10 * time.Second)
			for c.client.Cursor() < head && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if c.client.Cursor() < head {
				t.Fatalf("stream replay reached cursor %d, not the head %d", c.client.Cursor(), head)
			}
			c.stop()
			return c.sources()
		}},
		{"export list", true, func(t *testing.T, n *policyNet, org string) map[string]string {
			r := n.h.Do("GET", "/api/v1/export/list", n.keys[org], nil)
			if r.Status != 200 {
				t.Fatalf("export list: %d %s", r.Status, r.Body)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(r.Body)), "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					got[line] = ""
				}
			}
			return got
		}},
		{"export csv", true, func(t *testing.T, n *policyNet, org string) map[string]string {
			r := n.h.Do("GET", "/api/v1/export/csv", n.keys[org], nil)
			if r.Status != 200 {
				t.Fatalf("export csv: %d %s", r.Status, r.Body)
			}
			recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
			if err != nil {
				t.Fatalf("export csv: %v", err)
			}
			got := map[string]string{}
			for _, rec := range recs[1:] {
				got[rec[2]] = ""
			}
			return got
		}},
		{"sightings", true, func(t *testing.T, n *policyNet, org string) map[string]string {
			got := map[string]string{}
			isCoord := orgOf(n.net, org).Kind == policy.Coordinator
			for i, id := range n.ids {
				r := n.h.Do("GET", "/api/v1/indicators/"+id+"/sightings", n.keys[org], nil)
				if r.Status == 404 {
					continue
				}
				var sj api.SightingsJSON
				r.JSON(t, &sj)
				if r.Status != 200 {
					t.Fatalf("sightings: %d %s", r.Status, r.Body)
				}
				got[n.values[i]] = ""
				if sj.Organisations != n.sighted[i] || sj.Total != int64(2*n.sighted[i]) {
					t.Errorf("%s: %d organisations / %d sightings, want %d / %d", n.values[i], sj.Organisations, sj.Total, n.sighted[i], 2*n.sighted[i])
				}
				seesWho := isCoord || org == n.inds[i].Source
				if !seesWho && len(sj.ByOrg) > 0 {
					t.Errorf("%s (%s) sees who sighted %s: %+v", n.names[org], orgOf(n.net, org).Kind, n.values[i], sj.ByOrg)
				}
				if seesWho && len(sj.ByOrg) != n.sighted[i] {
					t.Errorf("%s (source or coordinator) sees %d sighting organisations of %s, want %d", n.names[org], len(sj.ByOrg), n.values[i], n.sighted[i])
				}
			}
			return got
		}},
		// STIX objects carry the hub's identity as created_by_ref, never the
		// source organisation, so there is no source to compare.
		{"taxii objects", true, readTAXIIObjects},
		{"taxii context objects", true, readTAXIIContext},
		{"misp events/view", false, readMISPEventsView},
		{"misp events/restSearch", false, readMISPEventSearch},
		{"misp attributes/restSearch", false, readMISPAttributeSearch},
		// The text format lists values only: no source to compare.
		{"misp attributes/restSearch text", true, readMISPAttributeText},
	}
}

// TestPolicyPropertyEveryPath builds random networks and indicators and
// checks, for every organisation and every read path, that what it reads
// equals the oracle's answer — no leak, no miss — and that anonymous sources
// stay hidden from everyone but the source, its submitter and the
// coordinator.
func TestPolicyPropertyEveryPath(t *testing.T) {
	rounds := 4
	if testing.Short() {
		rounds = 1
	}
	// Heartbeats carry the cursor past changes the subscriber may not see.
	h := hubtest.Start(t, hub.Config{StreamHeartbeat: 50 * time.Millisecond})
	rng := rand.New(rand.NewPCG(2026, 11))
	for round := range rounds {
		n := buildPolicyNet(t, h, rng, fmt.Sprintf("R%d", round), 40)
		for _, path := range readPaths() {
			for _, o := range n.net.Orgs {
				got := path.read(t, n, o.ID)
				var leaks, misses []string
				for i, ind := range n.inds {
					src, saw := got[n.values[i]]
					want := n.net.Oracle(o.ID, ind)
					switch {
					case saw && !want:
						leaks = append(leaks, fmt.Sprintf("%s (%s %s from %s)", n.values[i], ind.TLP, ind.Audience, n.names[ind.Source]))
					case !saw && want:
						misses = append(misses, fmt.Sprintf("%s (%s %s from %s)", n.values[i], ind.TLP, ind.Audience, n.names[ind.Source]))
					case saw && !path.noSource:
						wantSrc := n.names[ind.Source]
						if !n.net.SeesSource(o.ID, ind, n.submits[i]) {
							wantSrc = api.AnonymousSource
						}
						if src != wantSrc {
							t.Errorf("round %d, %s, %s (%s): source of %s shown as %q, want %q", round, path.name, o.Name, o.Kind, n.values[i], src, wantSrc)
						}
					}
				}
				sort.Strings(leaks)
				sort.Strings(misses)
				if len(leaks) > 0 {
					t.Errorf("round %d, %s: %s (%s) LEAK %v", round, path.name, o.Name, o.Kind, leaks)
				}
				if len(misses) > 0 {
					t.Errorf("round %d, %s: %s (%s) MISS %v", round, path.name, o.Name, o.Kind, misses)
				}
			}
		}
	}
}
