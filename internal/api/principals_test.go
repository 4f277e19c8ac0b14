package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// countingKeys counts the key reads of a real store.
type countingKeys struct {
	store.Store
	keyReads atomic.Int32
}

func (c *countingKeys) KeyByID(ctx context.Context, id string) (model.Key, error) {
	c.keyReads.Add(1)
	return c.Store.KeyByID(ctx, id)
}

// TestPrincipalCache: a key's principal is read from the store once and
// then served from the cache while nothing changes, and every change of
// what it is made of — a group membership, the organisation's status, the
// key's revocation — is seen by the very next request; a wrong secret and a
// passed expiry are refused from the cache too.
func TestPrincipalCache(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counting := &countingKeys{Store: st}
	now := time.Now()
	s := New(Config{Store: counting, Now: func() time.Time { return now }})

	org, err := st.CreateOrg(ctx, model.Org{Name: "hospital", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	other, err := st.CreateOrg(ctx, model.Org{Name: "other", Kind: policy.Member})
	if err != nil {
		t.Fatal(err)
	}
	group, err := st.CreateGroup(ctx, model.Group{Name: "g", Owner: other.ID, Members: []string{other.ID}})
	if err != nil {
		t.Fatal(err)
	}
	plain, id, hash := auth.NewKey()
	if err := st.CreateKey(ctx, model.Key{ID: id, OrgID: org.ID, Role: policy.Analyst, Hash: hash, Created: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	principal := func() (*Principal, error) { return s.principalForKey(ctx, plain) }
	p, err := principal()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if p2, err := principal(); err != nil || p2.Org.ID != org.ID {
			t.Fatalf("again: %+v, %v", p2, err)
		}
	}
	if n := counting.keyReads.Load(); n != 1 {
		t.Errorf("the key was read %d times for 6 requests, want once", n)
	}
	if len(p.Viewer.Groups) != 0 {
		t.Fatalf("groups before joining: %v", p.Viewer.Groups)
	}

	// A wrong secret for the same key id is refused, cached or not.
	wrong := plain[:len(plain)-4] + strings.Repeat("A", 4)
	if wrong == plain {
		wrong = plain[:len(plain)-4] + "BBBB"
	}
	if _, err := s.principalForKey(ctx, wrong); !errors.Is(err, errUnauthorized) {
		t.Errorf("a wrong secret: %v, want unauthorized", err)
	}

	// Joining a group is seen at once.
	if err := st.SetGroupMember(ctx, group.ID, org.ID, true); err != nil {
		t.Fatal(err)
	}
	if p, err := principal(); err != nil || !slices.Contains(p.Viewer.Groups, group.ID) {
		t.Fatalf("after joining the group: %+v, %v", p, err)
	}
	reads := counting.keyReads.Load()

	// The expiry passing is seen without a change in the store.
	now = now.Add(2 * time.Hour)
	if _, err := principal(); !errors.Is(err, errUnauthorized) {
		t.Errorf("after the key expired: %v, want unauthorized", err)
	}
	if counting.keyReads.Load() != reads {
		t.Errorf("the expiry was checked by reading the key again, not from the cache")
	}
	now = now.Add(-2 * time.Hour)

	// A suspended organisation's keys stop at once.
	if err := st.SetOrgStatus(ctx, org.ID, model.OrgSuspended); err != nil {
		t.Fatal(err)
	}
	var apiErr *Error
	if _, err := principal(); !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Errorf("after the suspension: %v, want forbidden", err)
	}
	if err := st.SetOrgStatus(ctx, org.ID, model.OrgActive); err != nil {
		t.Fatal(err)
	}
	if _, err := principal(); err != nil {
		t.Fatalf("resumed: %v", err)
	}

	// A revoked key stops at once.
	if err := st.RevokeKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := principal(); !errors.Is(err, errUnauthorized) {
		t.Errorf("after the revocation: %v, want unauthorized", err)
	}
}
