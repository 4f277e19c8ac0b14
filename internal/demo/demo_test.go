package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/policy"
)

// TestDemo runs the whole story and checks its summary against the sharing
// policy: each sensor received exactly what policy.CanSee admits for its
// organisation, the matches are the ones the story's telemetry holds, and
// the anonymous source is shown only to its source and the coordinator.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Config{Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	viewers := map[string]policy.Viewer{
		HospitalA:   {OrgID: HospitalA, Kind: policy.Member},
		HospitalB:   {OrgID: HospitalB, Kind: policy.Member},
		CareNorth:   {OrgID: CareNorth, Kind: policy.Customer, Partner: Partner},
		ClinicSouth: {OrgID: ClinicSouth, Kind: policy.Customer, Partner: Partner},
	}
	if len(sum.Rows) != 3 {
		t.Fatalf("%d rows, want 3", len(sum.Rows))
	}
	for _, row := range sum.Rows {
		item := policy.Item{Source: row.Source, TLP: policy.TLP(row.TLP), Audience: policy.NetworkAudience()}
		for _, o := range sum.Sensors {
			_, got := row.Received[o]
			if want := policy.CanSee(viewers[o], item); got != want {
				t.Errorf("%s (%s) at %s's sensor: received=%v, policy says %v", row.Label, row.TLP, o, got, want)
			}
			if d, ok := row.Received[o]; ok && d > 5*time.Second {
				t.Errorf("%s reached %s only after %v", row.Label, o, d)
			}
		}
	}
	phish, strict := sum.Rows[0], sum.Rows[1]
	wantMatch := map[string]string{HospitalB: "retro", CareNorth: "retro", ClinicSouth: "live"}
	for o, want := range wantMatch {
		if phish.Matched[o] != want {
			t.Errorf("phishing domain at %s matched %q, want %q", o, phish.Matched[o], want)
		}
	}
	if strict.Matched[HospitalB] != "live" {
		t.Errorf("the C2 address did not match at hospital B: %q", strict.Matched[HospitalB])
	}
	anon := sum.Rows[2]
	for _, o := range sum.Orgs {
		want := "anonymous"
		if o == HospitalB || o == Coordinator {
			want = HospitalB
		}
		if anon.Shown[o] != want {
			t.Errorf("%s sees the anonymous source as %q, want %q", o, anon.Shown[o], want)
		}
	}
	for _, want := range []string{"RETRO-HUNT", "CAMPAIGN", "does NOT receive it", "no alert for it"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
}
