package sqlite_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// TestIngestRuns stores a batch whose submissions alternate between long
// runs of one profile (the uniform statements), short runs and singles (the
// mixed ones), with values submitted twice across both kinds, and checks
// every result, every change entry and the stored indicators: the last
// submission of a value wins, and its change records the TLP from before.
func TestIngestRuns(t *testing.T) {
	st := open(t, t.TempDir())
	defer st.Close()
	ctx := t.Context()
	a, err := st.CreateOrg(ctx, model.Org{Name: "a", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateOrg(ctx, model.Org{Name: "b", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	types := []indicator.Type{indicator.Domain, indicator.IPv4, indicator.SHA256}
	value := func(i int) (indicator.Type, string) {
		switch typ := types[i%3]; typ {
		case indicator.Domain:
			return typ, "v" + strconv.Itoa(i) + ".runs.example"
		case indicator.IPv4:
			return typ, "10.1." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
		default:
			s := strconv.Itoa(i)
			return typ, s + "0000000000000000000000000000000000000000000000000000000000000000"[len(s):]
		}
	}
	var subs []model.Submission
	add := func(i int, tlp policy.TLP, src string, labels []string) {
		typ, v := value(i)
		subs = append(subs, model.Submission{Type: typ, Value: v, TLP: tlp, Audience: policy.NetworkAudience(),
			Source: src, SubmittedBy: src, Confidence: 60, Labels: labels})
	}
	for i := range 300 { // a long uniform run
		add(i, policy.Amber, a.ID, []string{"phishing"})
	}
	add(300, policy.Green, a.ID, nil) // singles
	add(301, policy.Amber, b.ID, []string{"c2"})
	add(302, policy.Green, a.ID, []string{"c2"})
	for i := 303; i < 306; i++ { // a short run: mixed
		add(i, policy.Red, a.ID, nil)
		subs[len(subs)-1].Audience = policy.Audience{Kind: policy.Orgs, Orgs: []string{b.ID}}
	}
	for i := 306; i < 700; i++ { // another uniform run, with repeats
		add(i, policy.Green, b.ID, []string{"malware", "c2"})
	}
	add(5, policy.Green, a.ID, []string{"phishing"}) // repeats of the first run, alone
	for i := 10; i < 20; i++ {                       // … and as a uniform run
		add(i, policy.Clear, a.ID, []string{"phishing"})
	}
	add(400, policy.Amber, b.ID, nil) // a repeat of the second run

	last, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ing, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ing.Put(ctx, subs)
	if err != nil {
		ing.Rollback()
		t.Fatal(err)
	}
	if err := ing.Commit(); err != nil {
		t.Fatal(err)
	}
	type key struct {
		typ      indicator.Type
		val, src string
	}
	first := map[key]int{}   // the submission that created each indicator
	lastSub := map[key]int{} // the last submission of each
	for i, s := range subs {
		k := key{s.Type, s.Value, s.Source}
		r := res[i]
		if r.Seq != last+1+int64(i) {
			t.Errorf("submission %d: seq %d, want %d", i, r.Seq, last+1+int64(i))
		}
		if f, ok := first[k]; ok {
			if r.Status != store.StatusUpdated || r.ID != res[f].ID {
				t.Errorf("submission %d repeats %d: %s %s, want updated %s", i, f, r.Status, r.ID, res[f].ID)
			}
		} else {
			first[k] = i
			if r.Status != store.StatusCreated {
				t.Errorf("submission %d: %s, want created", i, r.Status)
			}
		}
		lastSub[k] = i
	}
	changes, err := st.Changes(ctx, last, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(subs) {
		t.Fatalf("%d changes for %d submissions", len(changes), len(subs))
	}
	for i, c := range changes {
		s := subs[i]
		k := key{s.Type, s.Value, s.Source}
		want := model.Created
		if first[k] != i {
			want = model.Updated
		}
		if c.Seq != res[i].Seq || c.Kind != want || c.Indicator.ID != res[i].ID {
			t.Errorf("change %d: seq %d %s %s, want %d %s %s", i, c.Seq, c.Kind, c.Indicator.ID, res[i].Seq, want, res[i].ID)
		}
		if want == model.Updated {
			before := subs[first[k]].TLP
			for j := first[k] + 1; j < i; j++ {
				if o := subs[j]; (key{o.Type, o.Value, o.Source}) == k {
					before = o.TLP
				}
			}
			switch {
			case before != s.TLP && (c.Before == nil || c.Before.TLP != before):
				t.Errorf("change %d: before %+v, want TLP %s", i, c.Before, before)
			case before == s.TLP && c.Before != nil:
				t.Errorf("change %d: before %+v, want none", i, c.Before)
			}
		}
	}
	for k, i := range lastSub {
		ind, err := st.IndicatorByID(ctx, res[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		s := subs[i]
		if ind.Type != k.typ || ind.Value != k.val || ind.Source != k.src || ind.TLP != s.TLP ||
			!slices.Equal(ind.Labels, s.Labels) || ind.Seq != res[i].Seq || ind.Confidence != 60 ||
			ind.Audience.Kind != s.Audience.Kind || !slices.Equal(ind.Audience.Orgs, s.Audience.Orgs) {
			t.Errorf("indicator of submission %d: %+v, want %+v at seq %d", i, ind, s, res[i].Seq)
		}
	}
}
