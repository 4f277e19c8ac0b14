package loadtest_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/loadtest"
)

// TestShortRun runs a small load against an in-process hub, in both
// profiles, and checks that it achieved something, made no error, and that
// every subscriber received exactly what the policy lets it see.
func TestShortRun(t *testing.T) {
	for _, profile := range []string{loadtest.ProfileNetwork, loadtest.ProfileSpread} {
		t.Run(profile, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := loadtest.Run(ctx, loadtest.Config{
				Duration: 3 * time.Second, Submitters: 3, Batch: 50, SubmitRate: 10,
				Subscribers: 12, SightingRate: 10, Profile: profile, Groups: 3, Drain: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res.WriteTable(&out)
			t.Logf("\n%s", out.String())
			if res.Submissions == 0 || res.Indicators == 0 || res.Sightings == 0 || res.EventsDelivered == 0 {
				t.Errorf("no throughput: %d submissions, %d indicators, %d sightings, %d events",
					res.Submissions, res.Indicators, res.Sightings, res.EventsDelivered)
			}
			if n := res.ErrorCount(); n != 0 {
				t.Errorf("%d errors: %v", n, res.Errors)
			}
			if res.Indicators != res.Submissions*50 {
				t.Errorf("%d indicators stored by %d submissions of 50", res.Indicators, res.Submissions)
			}
			if res.Connected != 12 {
				t.Errorf("%d of 12 subscribers connected", res.Connected)
			}
			if res.EventsDelivered != res.EventsExpected || res.Short != 0 || res.Over != 0 {
				t.Errorf("subscribers received %d events, the policy lets them see %d (%d short, %d over)",
					res.EventsDelivered, res.EventsExpected, res.Short, res.Over)
			}
			// Every subscriber sees every indicator in the network profile;
			// in the spread one its group's third and its own.
			want := res.Indicators * 12
			if profile == loadtest.ProfileSpread {
				want = 0
			}
			if want != 0 && res.EventsExpected != want {
				t.Errorf("network profile: %d events expected, want %d", res.EventsExpected, want)
			}
			if profile == loadtest.ProfileSpread && (res.EventsExpected >= res.Indicators*12 || res.EventsExpected < res.Indicators*12/3) {
				t.Errorf("spread profile: %d events expected of %d indicators × 12 subscribers: not a share", res.EventsExpected, res.Indicators)
			}
			if res.Delivery.N == 0 || res.SubmitLatency.N == 0 {
				t.Errorf("no latency samples: delivery %d, submission %d", res.Delivery.N, res.SubmitLatency.N)
			}
			// Every event is an "id:", "event:" and "data:" line with the
			// indicator: more than 100 bytes each.
			if res.EventsInRun > 0 && res.StreamBytesInRun < res.EventsInRun*100 {
				t.Errorf("%d stream bytes for %d events", res.StreamBytesInRun, res.EventsInRun)
			}
			if !strings.Contains(out.String(), "stream bytes during the run") {
				t.Errorf("the table does not give the stream's volume:\n%s", out.String())
			}
		})
	}
}

// TestSpreadNeedsAMemberPerGroup: more groups than organisations is refused
// before anything is set up (it panicked, making a group without members).
func TestSpreadNeedsAMemberPerGroup(t *testing.T) {
	_, err := loadtest.Run(context.Background(), loadtest.Config{
		Duration: time.Second, Submitters: 2, Batch: 10, SubmitRate: 1,
		Subscribers: 0, Profile: loadtest.ProfileSpread, Groups: 5,
	})
	if err == nil || !strings.Contains(err.Error(), "5 groups for 2 organisations") {
		t.Fatalf("5 groups, 2 organisations: err %v, want a clear refusal", err)
	}
}
