package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlstore"
)

// TwinCopies is a database as a hub before the unique index on
// fed_origins(origin_id) could leave it: two local copies of one origin
// indicator, relayed by two peers (Kept, whose local id is the origin id, and
// Extra, live, with the newer origin time), and a single copy of another.
// A store's migration test seeds it (SeedTwinCopies), takes the index away
// and adds Extra's origin row with its own SQL (the store refuses it now:
// ExtraRow gives the values in the order of TwinColumns), runs the migration
// again and checks the outcome (Check).
type TwinCopies struct {
	Kept, Extra, Single string // local indicator ids
	extraOrigin         model.Origin
	lastSeq             int64 // before the migration
}

// TwinColumns are the columns of fed_origins, in the order of ExtraRow.
const TwinColumns = `indicator_id, origin_hub, origin_id, origin_modified, hops, via_peer, remote_id, digest, via_modified`

// ExtraRow is the origin row of the extra copy, in the order of TwinColumns
// (times as unix nanoseconds, hops as a JSON array).
func (tc TwinCopies) ExtraRow() []any {
	o := tc.extraOrigin
	return []any{o.IndicatorID, o.OriginHub, o.OriginID, sqlstore.ToNano(o.OriginModified), sqlstore.JSONStrings(o.Hops),
		o.ViaPeer, o.RemoteID, o.Digest, sqlstore.ToNano(o.ViaModified)}
}

// SeedTwinCopies stores the indicators of TwinCopies and the origins the
// store accepts (Kept's and Single's).
func SeedTwinCopies(t testing.TB, st store.Store) TwinCopies {
	t.Helper()
	ctx := context.Background()
	var orgs []model.Org
	for _, name := range []string{"hub-p", "hub-q"} {
		o, err := st.CreateOrg(ctx, model.Org{Name: name, Kind: policy.PeerHub})
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
	}
	sub := func(src, value string) model.Submission {
		return model.Submission{Type: indicator.Domain, Value: value, TLP: policy.Green, Audience: policy.NetworkAudience(), Source: src}
	}
	ing, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Rollback()
	urs, err := ing.Put(ctx, []model.Submission{sub(orgs[0].ID, "twin.example.org"), sub(orgs[1].ID, "twin.example.org"),
		sub(orgs[0].ID, "single.example.org")})
	if err == nil {
		err = ing.Commit()
	}
	if err != nil {
		t.Fatal(err)
	}
	tc := TwinCopies{Kept: urs[0].ID, Extra: urs[1].ID, Single: urs[2].ID}
	mod := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	for _, o := range []model.Origin{
		{IndicatorID: tc.Kept, OriginID: tc.Kept, ViaPeer: model.UnpeeredID(orgs[0].ID), OriginModified: mod},
		{IndicatorID: tc.Single, OriginID: "single-origin", ViaPeer: model.UnpeeredID(orgs[0].ID), OriginModified: mod},
	} {
		o.OriginHub, o.Hops, o.RemoteID, o.Digest = "hub-a", []string{"hub-a", "hub-p"}, o.OriginID, "d"
		if err := st.PutOrigin(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tc.extraOrigin = model.Origin{IndicatorID: tc.Extra, OriginHub: "hub-a", OriginID: tc.Kept, OriginModified: mod.Add(time.Minute),
		Hops: []string{"hub-a", "hub-q"}, ViaPeer: model.UnpeeredID(orgs[1].ID), RemoteID: tc.Kept, Digest: "d", ViaModified: mod.Add(time.Minute)}
	if tc.lastSeq, err = st.LastSeq(ctx); err != nil {
		t.Fatal(err)
	}
	return tc
}

// Check checks st after the migration: the copy under the origin's id kept
// with its origin, the extra one revoked by one "revoked" change (its seq
// the indicator's) and without an origin, the single copy untouched, and a
// second copy refused from now on.
func (tc TwinCopies) Check(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	if o, err := st.OriginOf(ctx, tc.Kept); err != nil || o.IndicatorID != tc.Kept || o.ViaPeer == tc.extraOrigin.ViaPeer {
		t.Errorf("OriginOf the doubled origin after the migration: %+v, %v; want the copy under its own id", o, err)
	}
	if os, err := st.Origins(ctx, []string{tc.Extra, tc.Single}); err != nil || len(os) != 1 || os[tc.Single].OriginID != "single-origin" {
		t.Errorf("Origins of the extra and the single copy: %+v, %v; want the single copy's only", os, err)
	}
	for id, revoked := range map[string]bool{tc.Kept: false, tc.Extra: true, tc.Single: false} {
		if ind, err := st.IndicatorByID(ctx, id); err != nil || ind.Revoked != revoked {
			t.Errorf("indicator %s after the migration: revoked %v, %v; want revoked %v", id, ind.Revoked, err, revoked)
		}
	}
	cs, err := st.Changes(ctx, tc.lastSeq, 10)
	if err != nil || len(cs) != 1 || cs[0].Kind != model.Revoked || cs[0].Indicator.ID != tc.Extra || cs[0].Indicator.Seq != cs[0].Seq ||
		cs[0].Seq != tc.lastSeq+1 {
		t.Errorf("changes written by the migration: %+v, %v; want one revocation of %s, seq %d", cs, err, tc.Extra, tc.lastSeq+1)
	}
	if last, err := st.LastSeq(ctx); err != nil || last != tc.lastSeq+1 {
		t.Errorf("LastSeq after the migration: %d, %v; want %d", last, err, tc.lastSeq+1)
	}
	if err := st.PutOrigin(ctx, tc.extraOrigin); err == nil {
		t.Errorf("PutOrigin of a second copy after the migration: accepted")
	}
}
