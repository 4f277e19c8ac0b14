package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// The context collection: after the fixed TLP objects, the STIX objects the
// hub keeps as context (store.STIXObjects), by the order their current
// version was stored in (their Seq, which only grows). date_added is when
// that version was stored, the version its modified (else created). Every
// object is served byte for byte as it came.

// contextItem makes the collection's item of a kept object.
func contextItem(o *model.STIXObject) taxiiItem {
	var head struct {
		Created  string `json:"created"`
		Modified string `json:"modified"`
	}
	_ = json.Unmarshal(o.Raw, &head) // stored objects are valid JSON
	version := head.Modified
	if version == "" {
		version = head.Created
	}
	return taxiiItem{pos: o.Seq, id: o.ID, typ: o.Type, added: o.Added.UTC().Truncate(time.Microsecond), version: version, obj: o.Raw}
}

// contextPage reads one page of kept objects after the fixed items already
// in out.
func (t *taxiiServer) contextPage(ctx context.Context, p *Principal, q taxiiQuery, out []taxiiItem) ([]taxiiItem, bool, error) {
	if !q.specOK {
		return out, false, nil
	}
	full := func() bool { return len(out) > q.limit }
	sq := store.STIXQuery{After: max(q.after, 0), Since: q.addedAfter, Limit: min(q.limit+1, taxiiMaxPageLimit)}
	for id := range q.ids {
		sq.IDs = append(sq.IDs, id)
	}
	for typ := range q.types {
		sq.Types = append(sq.Types, typ)
	}
	slices.Sort(sq.IDs)
	slices.Sort(sq.Types)
	if (q.ids != nil && len(sq.IDs) == 0) || (q.types != nil && len(sq.Types) == 0) {
		return out, false, nil
	}
	for {
		objs, err := t.s.st.ListSTIXObjects(ctx, p.Viewer, sq)
		if err != nil {
			return nil, false, err
		}
		for i := range objs {
			if !policy.CanSee(p.Viewer, objs[i].PolicyItem()) {
				t.s.log.ErrorContext(ctx, "store returned a STIX object the policy hides; withheld", "object", objs[i].ID, "org", p.Org.ID)
				continue
			}
			it := contextItem(&objs[i])
			if q.admits(&it) {
				out = append(out, it)
				if full() {
					return out[:q.limit], true, nil
				}
			}
		}
		if len(objs) < sq.Limit {
			return out, false, nil
		}
		sq.After = objs[len(objs)-1].Seq
	}
}

// visibleContext finds a kept object that p may see.
func (t *taxiiServer) visibleContext(ctx context.Context, p *Principal, id string) (model.STIXObject, bool, error) {
	o, err := t.s.st.STIXObjectByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return o, false, nil
	}
	if err != nil {
		return o, false, err
	}
	return o, policy.CanSee(p.Viewer, o.PolicyItem()), nil
}

func (t *taxiiServer) contextByID(ctx context.Context, p *Principal, id string) (taxiiItem, bool, error) {
	o, ok, err := t.visibleContext(ctx, p, id)
	if !ok || err != nil {
		return taxiiItem{}, false, err
	}
	return contextItem(&o), true, nil
}

// deleteContext removes a kept object: its source (or the partner of a
// customer source) or the coordinator may, with a key that may submit.
func (t *taxiiServer) deleteContext(w http.ResponseWriter, r *http.Request, p *Principal, id string) error {
	ctx := r.Context()
	o, ok, err := t.visibleContext(ctx, p, id)
	if err != nil {
		return err
	}
	if !ok {
		return objectNotFound(id)
	}
	if !p.Key.Role.CanSubmit() {
		return taxiiErr(http.StatusForbidden, "Forbidden", "a "+string(p.Key.Role)+" key may not delete objects")
	}
	if !canCurate(p, o.Source) {
		return taxiiErr(http.StatusForbidden, "Forbidden", "only the organisation that added an object or the coordinator may delete it")
	}
	if err := t.s.st.DeleteSTIXObject(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	t.s.audit(ctx, p, "stix.delete", id, "taxii: "+o.Type)
	w.Header().Set("Content-Type", taxiiMediaType)
	w.WriteHeader(http.StatusOK)
	return nil
}
