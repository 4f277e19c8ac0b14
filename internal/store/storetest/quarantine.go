package storetest

import (
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// testQuarantineValue: a quarantine holds a type and value, not one
// source's indicator of it. False-positive reports against any source's
// indicator of the value count (not those from the side of the source of
// the indicator reported); QuarantineValue quarantines every source's live
// indicator of it in one step, with a change each; a later submission of
// the value by any source, or a re-activated one, is quarantined in its own
// put; a release of one copy (a peer's, SetQuarantine) leaves the value
// held; ReleaseValue releases every indicator of it, and what comes after
// is live.
func testQuarantineValue(e *env) {
	src := e.org(e.unique("src"), policy.Member, "")
	dup := e.org(e.unique("dup"), policy.Member, "")
	gone := e.org(e.unique("gone"), policy.Member, "")
	late := e.org(e.unique("late"), policy.Member, "")
	after := e.org(e.unique("after"), policy.Member, "")
	rep1 := e.org(e.unique("rep1"), policy.Member, "")
	rep2 := e.org(e.unique("rep2"), policy.Member, "")
	value := e.unique("ehr") + ".hospital.example"
	other := e.unique("other") + ".hospital.example"
	res := e.ingest(sub(src.ID, indicator.Domain, value), sub(dup.ID, indicator.Domain, value), sub(gone.ID, indicator.Domain, value),
		sub(src.ID, indicator.Domain, other), sub(dup.ID, indicator.URL, "https://"+value+"/"))
	srcID, dupID, goneID, otherID, urlID := res[0].ID, res[1].ID, res[2].ID, res[3].ID, res[4].ID
	if _, err := e.st.Revoke(e.ctx, goneID, time.Now()); err != nil {
		e.Fatal(err)
	}

	// Reports are counted per value.
	hour := time.Now().UTC().Truncate(time.Hour)
	if err := e.st.AddSightings(e.ctx, []model.Sighting{
		{IndicatorID: srcID, Org: rep1.ID, Kind: model.FalsePositive, Hour: hour, Count: 1},
		{IndicatorID: dupID, Org: rep2.ID, Kind: model.FalsePositive, Hour: hour, Count: 1},
		{IndicatorID: dupID, Org: dup.ID, Kind: model.FalsePositive, Hour: hour, Count: 1},  // its own: not counted
		{IndicatorID: urlID, Org: late.ID, Kind: model.FalsePositive, Hour: hour, Count: 1}, // another value
	}); err != nil {
		e.Fatal(err)
	}
	for _, id := range []string{srcID, dupID} {
		if got, err := e.st.FalsePositiveParties(e.ctx, id); err != nil || !slices.Equal(got, sorted([]string{rep1.ID, rep2.ID})) {
			e.Errorf("FalsePositiveParties(%s): %v, %v; want the two reporters, whichever indicator of the value they reported", id, got, err)
		}
	}

	// Quarantine holds every live indicator of the value.
	before := e.lastSeq()
	const reason = "reported a false positive by 2 organisations"
	q, err := e.st.QuarantineValue(e.ctx, srcID, reason, time.Now())
	if err != nil {
		e.Fatalf("QuarantineValue: %v", err)
	}
	var ids []string
	for _, ind := range q {
		ids = append(ids, ind.ID)
		if !ind.Quarantined || ind.QuarantineReason != reason || ind.Live(time.Now()) {
			e.Errorf("quarantined %s: %+v", ind.ID, ind)
		}
	}
	if !slices.Equal(sorted(ids), sorted([]string{srcID, dupID})) {
		e.Errorf("QuarantineValue quarantined %v, want the source's and the other source's (not the revoked one)", ids)
	}
	chs := e.changes(before, 10)
	if len(chs) != 2 {
		e.Errorf("changes after QuarantineValue: %+v, want 2", chs)
	}
	for _, ch := range chs {
		if ch.Kind != model.Updated || !ch.Indicator.Quarantined {
			e.Errorf("change after QuarantineValue: %+v", ch)
		}
	}
	for _, id := range []string{otherID, urlID} {
		if e.byID(id).Quarantined {
			e.Errorf("indicator %s of another value was quarantined", id)
		}
	}
	if e.byID(goneID).Quarantined {
		e.Errorf("the revoked indicator was quarantined (it is not live: no change for it)")
	}
	before = e.lastSeq()
	if again, err := e.st.QuarantineValue(e.ctx, dupID, "another reason", time.Now()); err != nil || len(again) != 0 || e.lastSeq() != before {
		e.Errorf("quarantining a held value again: %+v, %v; want nothing written", again, err)
	}
	if held, err := e.st.HoldQuarantinedValues(e.ctx, time.Now()); err != nil || len(held) != 0 {
		e.Errorf("HoldQuarantinedValues with every live indicator held: %+v, %v", held, err)
	}

	// A new source's submission, and a revoked one re-submitted, start
	// quarantined with the value's reason; the rest of the put does not.
	before = e.lastSeq()
	res = e.ingest(sub(late.ID, indicator.Domain, value), sub(late.ID, indicator.Domain, e.unique("fresh")+".hospital.example"),
		sub(gone.ID, indicator.Domain, value))
	if res[0].Status != store.StatusCreated || !res[0].Quarantined || res[1].Quarantined || !res[2].Quarantined {
		e.Errorf("put of a held value: %+v; want the new and the re-activated one quarantined, the other value not", res)
	}
	lateID := res[0].ID
	for _, id := range []string{lateID, goneID} {
		if ind := e.byID(id); !ind.Quarantined || ind.QuarantineReason != reason || ind.Live(time.Now()) {
			e.Errorf("a held value submitted again: %+v", ind)
		}
	}
	for _, ch := range e.changes(before, 10) {
		if held := ch.Indicator.Value == value; ch.Indicator.Quarantined != held {
			e.Errorf("change of the put: %s %s quarantined %v", ch.Kind, ch.Indicator.Value, ch.Indicator.Quarantined)
		}
	}

	// A peer's release of its copy does not undo the hold.
	if ind, err := e.st.SetQuarantine(e.ctx, dupID, false, "", time.Now()); err != nil || !ind.Quarantined || ind.QuarantineReason != reason {
		e.Errorf("SetQuarantine(false) of a held value: %+v, %v; want it quarantined still", ind, err)
	}

	// The release releases the value: every indicator of it.
	before = e.lastSeq()
	rel, err := e.st.ReleaseValue(e.ctx, lateID, time.Now())
	if err != nil {
		e.Fatalf("ReleaseValue: %v", err)
	}
	ids = ids[:0]
	for _, ind := range rel {
		ids = append(ids, ind.ID)
		if ind.Quarantined || ind.QuarantineReason != "" || !ind.Live(time.Now()) {
			e.Errorf("released %s: %+v", ind.ID, ind)
		}
	}
	if !slices.Equal(sorted(ids), sorted([]string{srcID, dupID, goneID, lateID})) {
		e.Errorf("ReleaseValue released %v, want every indicator of the value", ids)
	}
	if chs := e.changes(before, 10); len(chs) != 4 {
		e.Errorf("changes after ReleaseValue: %d, want 4", len(chs))
	}
	if res = e.ingest(sub(after.ID, indicator.Domain, value)); res[0].Quarantined || e.byID(res[0].ID).Quarantined {
		e.Errorf("a submission after the release was quarantined: %+v", res[0])
	}

	_, err = e.st.QuarantineValue(e.ctx, "no-such-indicator", reason, time.Now())
	e.wantErr(err, store.ErrNotFound, "QuarantineValue of an unknown indicator")
	_, err = e.st.ReleaseValue(e.ctx, "no-such-indicator", time.Now())
	e.wantErr(err, store.ErrNotFound, "ReleaseValue of an unknown indicator")
}
