// Package storetest is the conformance suite of store.Store: every storage
// implementation (SQLite, PostgreSQL) runs Run from its own tests and must
// pass it unchanged. The suite states the contract where store.go leaves it
// open:
//
//   - Put refuses a submission without type, value or source, with an
//     unknown TLP or confidence outside 0–100, or with an audience that
//     policy.CheckAudience refuses (red needs an explicit list). A failed Put
//     spoils its ingest: Commit then fails and nothing of the ingest is
//     stored.
//   - The same source, type and value twice in one Put is one indicator,
//     created and then updated: two changes.
//   - A re-submission updates the indicator and re-activates it if it was
//     revoked; it keeps ValidFrom when the submission has none, and
//     ValidUntil too unless that has passed (or the indicator expired):
//     then the indicator is live again, without one.
//   - Stored audiences are normalised: kind "" is returned as "network", and
//     explicit lists (Audience.Orgs) and group members come back sorted.
//   - Change sequence numbers are strictly increasing, not necessarily
//     without gaps.
//   - Change.Before is set exactly when a change altered who may see the
//     indicator: an update that changed its TLP or audience (kind, group,
//     list), or a change of the members of its audience group. A change of a
//     group's members writes one "updated" change for every indicator shared
//     with the group, revoked ones included, and none when the membership
//     stayed as it was.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Run runs the conformance suite as subtests. open must return a new, empty
// store for each call and close it when the test ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(e *env)
	}{
		{"Orgs", testOrgs},
		{"Viewer", testViewer},
		{"Keys", testKeys},
		{"Groups", testGroups},
		{"IngestCreateUpdate", testIngestCreateUpdate},
		{"IngestDuplicateInOnePut", testIngestDuplicateInOnePut},
		{"IngestRollback", testIngestRollback},
		{"IngestAllOrNothing", testIngestAllOrNothing},
		{"ReportText", testReportText},
		{"ChangeSequence", testChangeSequence},
		{"ChangesPaging", testChangesPaging},
		{"ChangeBefore", testChangeBefore},
		{"GroupMembershipChanges", testGroupMembershipChanges},
		{"Touched", testTouched},
		{"Revoke", testRevoke},
		{"RevokeReportExcept", testRevokeReportExcept},
		{"ExpireDue", testExpireDue},
		{"ResubmitExpired", testResubmitExpired},
		{"ListFilters", testListFilters},
		{"KeysetPaging", testKeysetPaging},
		{"Visibility", testVisibility},
		{"ReportsVisibility", testReportsVisibility},
		{"Audit", testAudit},
		{"Sightings", testSightings},
		{"SightingReports", testSightingReports},
		{"Proposals", testProposals},
		{"ReportUpdate", testReportUpdate},
		{"WishedIDs", testWishedIDs},
		{"Feeds", testFeeds},
		{"Webhooks", testWebhooks},
		{"Federation", testFederation},
		{"Users", testUsers},
		{"OrgStatus", testOrgStatus},
		{"RevokeOrg", testRevokeOrg},
		{"EnrolTokens", testEnrolTokens},
		{"EnrolTokensVoidedByMove", testEnrolTokensVoidedByMove},
		{"Sensors", testSensors},
		{"QuarantineAndExpireNow", testQuarantineAndExpireNow},
		{"SignalsAndGroups", testSignalsAndGroups},
		{"FalsePositiveParties", testFalsePositiveParties},
		{"QuarantineValue", testQuarantineValue},
		{"SightingCountCapped", testSightingCountCapped},
		{"STIXObjects", testSTIXObjects},
		{"STIXObjectsVisibility", testSTIXObjectsVisibility},
		{"ConcurrentIngest", testConcurrentIngest},
		{"Leases", testLeases},
		{"LeasesRace", testLeasesRace},
		{"SignInLimits", testSignInLimits},
		{"SignInLimitsRace", testSignInLimitsRace},
		{"TAXIIStatuses", testTAXIIStatuses},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(&env{T: t, st: open(t), ctx: t.Context()})
		})
	}
}

// env is one subtest with its store.
type env struct {
	*testing.T
	st  store.Store
	ctx context.Context
	n   int // for unique names and values
}

func (e *env) unique(prefix string) string {
	e.n++
	return prefix + strconv.Itoa(e.n)
}

func (e *env) org(name string, kind policy.OrgKind, partner string) model.Org {
	e.Helper()
	o, err := e.st.CreateOrg(e.ctx, model.Org{Name: name, Kind: kind, Partner: partner})
	if err != nil {
		e.Fatalf("CreateOrg(%q, %s): %v", name, kind, err)
	}
	return o
}

func (e *env) group(name, owner string, members ...string) model.Group {
	e.Helper()
	g, err := e.st.CreateGroup(e.ctx, model.Group{Name: name, Owner: owner, Members: members})
	if err != nil {
		e.Fatalf("CreateGroup(%q): %v", name, err)
	}
	return g
}

func (e *env) viewer(orgID string) policy.Viewer {
	e.Helper()
	v, err := e.st.Viewer(e.ctx, orgID)
	if err != nil {
		e.Fatalf("Viewer(%s): %v", orgID, err)
	}
	return v
}

// sub is a green submission to the whole network.
func sub(source string, typ indicator.Type, value string) model.Submission {
	return model.Submission{
		Type: typ, Value: value, TLP: policy.Green, Audience: policy.NetworkAudience(),
		Confidence: 50, Source: source, SubmittedBy: source,
	}
}

// ingest stores subs in one ingest and returns the results.
func (e *env) ingest(subs ...model.Submission) []store.UpsertResult {
	e.Helper()
	ing, err := e.st.BeginIngest(e.ctx)
	if err != nil {
		e.Fatalf("BeginIngest: %v", err)
	}
	res, err := ing.Put(e.ctx, subs)
	if err != nil {
		ing.Rollback()
		e.Fatalf("Put: %v", err)
	}
	if len(res) != len(subs) {
		ing.Rollback()
		e.Fatalf("Put of %d submissions returned %d results", len(subs), len(res))
	}
	if err := ing.Commit(); err != nil {
		e.Fatalf("Commit: %v", err)
	}
	return res
}

func (e *env) byID(id string) model.Indicator {
	e.Helper()
	ind, err := e.st.IndicatorByID(e.ctx, id)
	if err != nil {
		e.Fatalf("IndicatorByID(%s): %v", id, err)
	}
	return ind
}

func (e *env) lastSeq() int64 {
	e.Helper()
	n, err := e.st.LastSeq(e.ctx)
	if err != nil {
		e.Fatalf("LastSeq: %v", err)
	}
	return n
}

// list pages through everything v may see for q, q.Limit at a time,
// checking that pages come in strictly increasing Seq.
func (e *env) list(v policy.Viewer, q store.Query) []model.Indicator {
	e.Helper()
	var all []model.Indicator
	last := q.After
	for page := 0; ; page++ {
		if page > 100000 {
			e.Fatalf("ListIndicators does not come to an end")
		}
		q.After = last
		inds, err := e.st.ListIndicators(e.ctx, v, q)
		if err != nil {
			e.Fatalf("ListIndicators(%+v): %v", q, err)
		}
		if q.Limit > 0 && len(inds) > q.Limit {
			e.Fatalf("ListIndicators returned %d indicators for limit %d", len(inds), q.Limit)
		}
		for _, ind := range inds {
			if ind.Seq <= last {
				e.Fatalf("ListIndicators after %d returned seq %d (not strictly increasing)", q.After, ind.Seq)
			}
			last = ind.Seq
		}
		all = append(all, inds...)
		if len(inds) == 0 || (q.Limit > 0 && len(inds) < q.Limit) {
			return all
		}
		if q.Limit <= 0 {
			// the default limit: go on until an empty page
			continue
		}
	}
}

// changes returns the whole change sequence after after, limit at a time.
func (e *env) changes(after int64, limit int) []model.Change {
	e.Helper()
	var all []model.Change
	for {
		cs, err := e.st.Changes(e.ctx, after, limit)
		if err != nil {
			e.Fatalf("Changes(%d, %d): %v", after, limit, err)
		}
		if len(cs) > limit {
			e.Fatalf("Changes returned %d entries for limit %d", len(cs), limit)
		}
		for _, c := range cs {
			if c.Seq <= after {
				e.Fatalf("Changes: seq %d after %d (not strictly increasing)", c.Seq, after)
			}
			after = c.Seq
		}
		all = append(all, cs...)
		if len(cs) < limit {
			return all
		}
	}
}

func ids(inds []model.Indicator) []string {
	out := make([]string, len(inds))
	for i, ind := range inds {
		out[i] = ind.ID
	}
	return out
}

// sameSet says whether a and b hold the same strings, ignoring order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func sorted(xs []string) []string {
	xs = slices.Clone(xs)
	sort.Strings(xs)
	return xs
}

// wantErr fails unless err is target.
func (e *env) wantErr(err, target error, what string) {
	e.Helper()
	if !errors.Is(err, target) {
		e.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// recent says whether t is a time near now (the store set it).
func recent(t time.Time) bool {
	return !t.IsZero() && time.Since(t).Abs() < time.Hour
}

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func describe(ind model.Indicator) string {
	return fmt.Sprintf("%s %s %q (%s, %s)", ind.ID, ind.Type, ind.Value, ind.TLP, ind.Audience.Kind)
}
