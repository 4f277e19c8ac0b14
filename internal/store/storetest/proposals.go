package storetest

import (
	"errors"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

func testProposals(e *env) {
	a := e.org(e.unique("a"), policy.Member, "")
	b := e.org(e.unique("b"), policy.Member, "")
	p, err := e.st.CreateProposal(e.ctx, model.Proposal{Org: a.ID, Type: indicator.Domain, Value: "prop.example.org", Labels: []string{"phishing"}, Evidence: `{"alert":1}`})
	if err != nil || p.ID == "" || p.Status != model.Pending {
		e.Fatalf("CreateProposal: %+v %v", p, err)
	}
	again, err := e.st.CreateProposal(e.ctx, model.Proposal{Org: a.ID, Type: indicator.Domain, Value: "prop.example.org"})
	if err != nil || again.ID != p.ID {
		e.Fatalf("a second pending proposal of the same value: %+v %v, want %s", again, err, p.ID)
	}
	other, _ := e.st.CreateProposal(e.ctx, model.Proposal{Org: b.ID, Type: indicator.Domain, Value: "prop.example.org"})
	if other.ID == p.ID {
		e.Fatal("another organisation's proposal was merged")
	}
	list, err := e.st.ListProposals(e.ctx, a.ID, model.Pending, 10)
	if err != nil || len(list) != 1 || list[0].ID != p.ID || len(list[0].Labels) != 1 || list[0].Evidence != `{"alert":1}` {
		e.Fatalf("ListProposals: %+v %v", list, err)
	}
	at := time.Now().UTC()
	d, err := e.st.DecideProposal(e.ctx, p.ID, model.Approved, "ind-1", at)
	if err != nil || d.Status != model.Approved || d.IndicatorID != "ind-1" || d.Decided.IsZero() {
		e.Fatalf("DecideProposal: %+v %v", d, err)
	}
	if _, err := e.st.DecideProposal(e.ctx, p.ID, model.Rejected, "", at); !errors.Is(err, store.ErrConflict) {
		e.Fatalf("deciding twice: %v, want ErrConflict", err)
	}
	if _, err := e.st.DecideProposal(e.ctx, "nope", model.Rejected, "", at); !errors.Is(err, store.ErrNotFound) {
		e.Fatalf("unknown proposal: %v", err)
	}
	if list, _ := e.st.ListProposals(e.ctx, a.ID, model.Pending, 10); len(list) != 0 {
		e.Fatalf("decided proposal still pending: %+v", list)
	}
	// After a decision the same value may be proposed again.
	if p2, _ := e.st.CreateProposal(e.ctx, model.Proposal{Org: a.ID, Type: indicator.Domain, Value: "prop.example.org"}); p2.ID == p.ID {
		e.Fatal("a new proposal after a decision reused the decided one")
	}
	if all, _ := e.st.ListProposals(e.ctx, a.ID, "", 10); len(all) != 2 {
		e.Fatalf("all proposals: %d, want 2", len(all))
	}
	for _, c := range []struct {
		org    string
		status model.ProposalStatus
		want   int
	}{{a.ID, model.Pending, 1}, {a.ID, model.Approved, 1}, {a.ID, model.Rejected, 0}, {a.ID, "", 2}, {b.ID, model.Pending, 1}, {"no-such-org", "", 0}} {
		if n, err := e.st.CountProposals(e.ctx, c.org, c.status); err != nil || n != c.want {
			e.Errorf("CountProposals(%s, %q): %d, %v; want %d", c.org, c.status, n, err, c.want)
		}
	}
}
