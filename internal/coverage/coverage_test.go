package coverage

import (
	"fmt"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// network builds 100 organisations whose figures are known by construction:
// a coordinator, a national CERT, four partners, 50 members m0…m49 and 44
// customers c0…c43 (customer i of partner p(i mod 4)).
//
//   - members: a live sensor when i mod 5 ≠ 0 (40 of them), a stale one
//     (20 minutes old) when i mod 10 = 0, none when i mod 10 = 5; m45 is
//     pending, m46 suspended (it has a live sensor, but does not count);
//     those with i mod 4 = 0 shared 3 indicators (13, all active).
//   - customers: a live sensor when i mod 3 ≠ 0, else a stale one; c42 is
//     offboarded (left out), c43 pending; c1 shared one indicator.
//
// So: active members 48, protected 39 (40 live, less m46); active customers
// 42, protected 28 (i in 0…41 with i mod 3 ≠ 0); the objective's figure
// 67 of 90, 74.4%. Per partner (active customers, protected): p0 11, 7;
// p1 11, 8; p2 10, 7; p3 10, 6.
func network(now time.Time) Input {
	var in Input
	in.Now = now
	in.Shared = map[string]int{}
	add := func(id string, kind policy.OrgKind, partner string, status model.OrgStatus, revoked bool) {
		in.Orgs = append(in.Orgs, model.Org{ID: id, Name: "name-" + id, Kind: kind, Partner: partner, Status: status, Revoked: revoked})
	}
	sensor := func(org string, age time.Duration) {
		in.Sensors = append(in.Sensors, model.SensorStatus{KeyID: "k-" + org + fmt.Sprint(len(in.Sensors)), OrgID: org, Name: "s", LastSeen: now.Add(-age)})
	}
	add("coord", policy.Coordinator, "", model.OrgActive, false)
	add("cert", policy.NationalCERT, "", model.OrgActive, false)
	for p := range 4 {
		add(fmt.Sprintf("p%d", p), policy.Partner, "", model.OrgActive, false)
	}
	for i := range 50 {
		id := fmt.Sprintf("m%d", i)
		status := model.OrgActive
		switch i {
		case 45:
			status = model.OrgPending
		case 46:
			status = model.OrgSuspended
		}
		add(id, policy.Member, "", status, false)
		switch {
		case i%5 != 0:
			sensor(id, 2*time.Minute)
		case i%10 == 0:
			sensor(id, 20*time.Minute)
		}
		if i%4 == 0 {
			in.Shared[id] = 3
		}
	}
	for i := range 44 {
		id := fmt.Sprintf("c%d", i)
		status := model.OrgActive
		if i == 43 {
			status = model.OrgPending
		}
		add(id, policy.Customer, fmt.Sprintf("p%d", i%4), status, i == 42)
		if i%3 != 0 {
			sensor(id, time.Minute)
			sensor(id, time.Hour) // a second, stale sensor does not matter
		} else {
			sensor(id, 16*time.Minute)
		}
	}
	in.Shared["c1"] = 1
	return in
}

func TestCompute(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	in := network(now)
	if len(in.Orgs) != 100 {
		t.Fatalf("%d organisations", len(in.Orgs))
	}
	r := Compute(in)
	if r.Protected != (Share{Count: 67, Of: 90, Percent: 74.4}) {
		t.Errorf("protected %+v, want 67 of 90 (74.4%%)", r.Protected)
	}
	wantKinds := map[policy.OrgKind]KindCount{
		policy.Coordinator:  {Total: 1, Active: 1, ReceivingOnly: 1},
		policy.NationalCERT: {Total: 1, Active: 1, ReceivingOnly: 1},
		policy.Partner:      {Total: 4, Active: 4, ReceivingOnly: 4},
		policy.Member:       {Total: 50, Active: 48, Pending: 1, Suspended: 1, LiveSensor: 39, Sharing: 13, ReceivingOnly: 35},
		policy.Customer:     {Total: 43, Active: 42, Pending: 1, LiveSensor: 28, Sharing: 1, ReceivingOnly: 41},
	}
	for k, want := range wantKinds {
		if got := r.ByKind[k]; got == nil || *got != want {
			t.Errorf("%s: %+v, want %+v", k, got, want)
		}
	}
	wantPartners := []PartnerCount{
		{Partner: "name-p0", PartnerID: "p0", Customers: 11, Active: 11, Protected: share(7, 11)},
		{Partner: "name-p1", PartnerID: "p1", Customers: 11, Active: 11, Protected: share(8, 11)},
		{Partner: "name-p2", PartnerID: "p2", Customers: 10, Active: 10, Protected: share(7, 10)},
		{Partner: "name-p3", PartnerID: "p3", Customers: 11, Active: 10, Protected: share(6, 10)},
	}
	if fmt.Sprint(r.ByPartner) != fmt.Sprint(wantPartners) {
		t.Errorf("by partner:\n got %+v\nwant %+v", r.ByPartner, wantPartners)
	}
	if len(r.Orgs) != 99 {
		t.Errorf("%d lines, want 99 (the offboarded customer left out)", len(r.Orgs))
	}
	for _, o := range r.Orgs {
		switch o.ID {
		case "m46":
			if o.Protected || o.LiveSensors != 1 || o.Status != model.OrgSuspended {
				t.Errorf("suspended member: %+v", o)
			}
		case "c4":
			if !o.Protected || o.Sensors != 2 || o.LiveSensors != 1 || !o.LastSeen.Equal(now.Add(-time.Minute)) || o.Partner != "name-p0" {
				t.Errorf("c4: %+v", o)
			}
		case "m0":
			if o.Protected || o.Sensors != 1 || o.Shared != 3 {
				t.Errorf("m0 (stale sensor, sharing): %+v", o)
			}
		case "c42":
			t.Errorf("an offboarded customer is listed")
		}
	}
	if r.LiveWithin != "15m0s" {
		t.Errorf("live within %q", r.LiveWithin)
	}
	// Nothing eligible: 0 of 0, not a division by zero.
	if e := Compute(Input{Now: now}); e.Protected != (Share{}) || len(e.Orgs) != 0 {
		t.Errorf("empty network: %+v", e)
	}
	// A heartbeat from the future (a skewed clock) is not live.
	in2 := Input{Now: now, Orgs: []model.Org{{ID: "x", Kind: policy.Member, Status: model.OrgActive}},
		Sensors: []model.SensorStatus{{OrgID: "x", LastSeen: now.Add(time.Hour)}}}
	if r := Compute(in2); r.Protected.Count != 0 {
		t.Errorf("a heartbeat an hour in the future counted as live")
	}
}
