package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// FuzzFederationResync feeds raw bodies to POST /api/v1/federation/visible
// and raw query strings to GET /api/v1/federation/held, as a peer hub,
// through the handlers into a real SQLite store holding one indicator the
// peer may see, one it may not, and one copy it delivered. Never a 5xx; a
// refusal is the error envelope; visible answers only ids it was asked
// about and never the hidden one; held lists only the peer's own id;
// nothing is ever written.
func FuzzFederationResync(f *testing.F) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	member, err := st.CreateOrg(ctx, model.Org{Name: "hospital-a", Kind: policy.Member})
	if err != nil {
		f.Fatal(err)
	}
	peerOrg, err := st.CreateOrg(ctx, model.Org{Name: "sector-b", Kind: policy.PeerHub})
	if err != nil {
		f.Fatal(err)
	}
	plain, id, hash := auth.NewKey()
	if err := st.CreateKey(ctx, model.Key{ID: id, OrgID: peerOrg.ID, Role: policy.Analyst, Hash: hash, Created: time.Now()}); err != nil {
		f.Fatal(err)
	}
	ing, err := st.BeginIngest(ctx)
	if err != nil {
		f.Fatal(err)
	}
	urs, err := ing.Put(ctx, []model.Submission{
		{Type: indicator.Domain, Value: "shown.fuzz-resync.example", TLP: policy.Green, Audience: policy.NetworkAudience(), Source: member.ID, SubmittedBy: member.ID, Confidence: 50},
		{Type: indicator.Domain, Value: "hidden.fuzz-resync.example", TLP: policy.Amber, Audience: policy.Audience{Kind: policy.Orgs, Orgs: []string{member.ID}}, Source: member.ID, SubmittedBy: member.ID, Confidence: 50},
	})
	if err == nil {
		err = ing.Commit()
	} else {
		ing.Rollback()
	}
	if err != nil {
		f.Fatal(err)
	}
	shown, hidden := urs[0].ID, urs[1].ID
	s := New(Config{Store: st, Limits: Limits{RateLimit: -1}})
	const delivered = "01a2b3c4-0000-7000-8000-0000000000f1"
	p, err := s.principalForKey(ctx, plain)
	if err != nil {
		f.Fatal(err)
	}
	t1 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	if _, err := s.ApplyFederated(ctx, p, []FederatedItem{{Kind: string(model.Created), Indicator: &IndicatorJSON{ID: delivered, Type: "domain",
		Value: "delivered.fuzz-resync.example", TLP: "green", Audience: AudienceJSON{Network: true}, Confidence: 50, ValidFrom: t1,
		Federation: &FederationJSON{OriginHub: "hub-b", OriginID: delivered, OriginModified: t1, Hops: []string{"hub-b"}}}}}); err != nil {
		f.Fatal(err)
	}
	head, err := st.LastSeq(ctx)
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range []string{
		`{"ids": ["` + shown + `", "` + hidden + `", "unknown"]}`, `{"ids": []}`, `{"ids": [""]}`, `{"ids": "x"}`, `{"ids": [1]}`,
		`{"ids": ["a"], "more": 1}`, `{"ids": [`, `[]`, "{\"ids\": [\"\xff\"]}", `{"ids": ["` + shown + `", "` + shown + `"]}`,
	} {
		f.Add([]byte(b), "limit=1")
	}
	for _, q := range []string{"", "limit=0", "limit=1000", "limit=x", "after=" + delivered, "after=%ff", "since=1", "limit=1&limit=2", "after="} {
		f.Add([]byte(`{"ids": []}`), q)
	}
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		req := httptest.NewRequest("POST", "/api/v1/federation/visible", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+plain)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusOK:
			var in struct{ IDs []string }
			var out struct{ Visible []string }
			if err := json.Unmarshal(body, &in); err != nil {
				t.Fatalf("200 to a body that does not decode: %q", body)
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Visible == nil {
				t.Fatalf("200 without a visible list: %s", w.Body)
			}
			for _, id := range out.Visible {
				if id == hidden || !slices.Contains(in.IDs, id) {
					t.Fatalf("visible answered %q to %q", id, in.IDs)
				}
			}
		case w.Code >= 400 && w.Code < 500:
			if _, _, ok := nativeError(w.Body.Bytes()); !ok {
				t.Fatalf("%d without the error envelope: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("visible answered %d: %s", w.Code, w.Body)
		}

		req = httptest.NewRequest("GET", "/api/v1/federation/held", nil)
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+plain)
		w = httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusOK:
			var out struct {
				Held *[]string
				Next string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Held == nil {
				t.Fatalf("200 without a held list: %s", w.Body)
			}
			for _, id := range *out.Held {
				if id != delivered {
					t.Fatalf("held lists %q, which the peer did not deliver", id)
				}
			}
		case w.Code >= 400 && w.Code < 500:
			if _, _, ok := nativeError(w.Body.Bytes()); !ok {
				t.Fatalf("%d without the error envelope: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("held answered %d to %q: %s", w.Code, query, w.Body)
		}
		if n, err := st.LastSeq(ctx); err != nil || n != head {
			t.Fatalf("the change sequence moved from %d to %d (%v): a read wrote", head, n, err)
		}
	})
}
