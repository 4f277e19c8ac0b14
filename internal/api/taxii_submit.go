package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/google/uuid"
)

// The status resources kept in memory: at most taxiiStatusesPerOrg and
// taxiiStatusBytesPerOrg for each organisation, taxiiStatusBytes for all;
// the oldest go first. A status lists every object of its request, so a
// request of 100,000 objects makes a status of about 15 MB: without the
// byte bounds, a client posting large envelopes could fill the hub's
// memory with statuses nobody reads.
const (
	taxiiStatusesPerOrg    = 10_000
	taxiiStatusBytesPerOrg = 32 << 20
	taxiiStatusBytes       = 128 << 20
)

// taxiiStatus is TAXII's status resource. The hub adds objects before it
// answers, so a status is always complete.
type taxiiStatus struct {
	ID               string              `json:"id"`
	Status           string              `json:"status"`
	RequestTimestamp string              `json:"request_timestamp"`
	TotalCount       int                 `json:"total_count"`
	SuccessCount     int                 `json:"success_count"`
	Successes        []taxiiStatusDetail `json:"successes"`
	FailureCount     int                 `json:"failure_count"`
	Failures         []taxiiStatusDetail `json:"failures"`
	PendingCount     int                 `json:"pending_count"`
	Pendings         []taxiiStatusDetail `json:"pendings"`
}

// taxiiStatusDetail is one object of a status resource.
type taxiiStatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// taxiiStatuses keeps the last status resources of each organisation in
// memory: a status is for the client that just posted, which asks soon or
// never; after a restart, or from another replica, it is not found (404),
// which TAXII clients handle.
type taxiiStatuses struct {
	mu                sync.Mutex
	perOrg            int // statuses of one organisation
	orgBudget, budget int // estimated bytes of one organisation's statuses, of all
	byOrg             map[string]*orgStatuses
	all               []statusRef // every status kept, oldest first; may hold some no longer kept
	bytes             int
}

type orgStatuses struct {
	order []statusRef // oldest first
	byID  map[string]*taxiiStatus
	bytes int
}

// statusRef names a kept status and its estimated size.
type statusRef struct {
	org, id string
	size    int
}

func newTAXIIStatuses(perOrg, orgBudget, budget int) *taxiiStatuses {
	return &taxiiStatuses{perOrg: perOrg, orgBudget: orgBudget, budget: budget, byOrg: map[string]*orgStatuses{}}
}

// statusSize estimates the memory a status holds.
func statusSize(st *taxiiStatus) int {
	n := 256 + len(st.ID)
	for _, ds := range [][]taxiiStatusDetail{st.Successes, st.Failures, st.Pendings} {
		for _, d := range ds {
			n += 64 + len(d.ID) + len(d.Version) + len(d.Message)
		}
	}
	return n
}

// put keeps st, the newest status of org, and lets the oldest go until
// the bounds hold again (the newest is kept even when it alone is over).
func (ss *taxiiStatuses) put(org string, st *taxiiStatus) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	o := ss.byOrg[org]
	if o == nil {
		o = &orgStatuses{byID: map[string]*taxiiStatus{}}
		ss.byOrg[org] = o
	}
	ref := statusRef{org: org, id: st.ID, size: statusSize(st)}
	o.order = append(o.order, ref)
	o.byID[st.ID] = st
	o.bytes += ref.size
	ss.all = append(ss.all, ref)
	ss.bytes += ref.size
	for len(o.order) > 1 && (len(o.order) > ss.perOrg || o.bytes > ss.orgBudget) {
		ss.dropOldest(o)
	}
	for ss.bytes > ss.budget && len(ss.all) > 1 {
		// The oldest status kept is the oldest of its organisation: both
		// orders are the order of arrival.
		r := ss.all[0]
		ss.all = ss.all[1:]
		if ro := ss.byOrg[r.org]; ro != nil && len(ro.order) > 0 && ro.order[0].id == r.id && r.id != st.ID {
			ss.dropOldest(ro)
		}
	}
	// ss.all keeps the refs of statuses an organisation's own bounds let
	// go; rebuild it when they are the most of it.
	if len(ss.all) > 64 && len(ss.all) > 2*ss.kept() {
		live := ss.all[:0:0]
		for _, r := range ss.all {
			if ro := ss.byOrg[r.org]; ro != nil && ro.byID[r.id] != nil {
				live = append(live, r)
			}
		}
		ss.all = live
	}
}

// dropOldest lets go of the oldest status of o.
func (ss *taxiiStatuses) dropOldest(o *orgStatuses) {
	r := o.order[0]
	o.order = o.order[1:]
	delete(o.byID, r.id)
	o.bytes -= r.size
	ss.bytes -= r.size
	if len(o.order) == 0 {
		delete(ss.byOrg, r.org)
	}
}

// kept counts the statuses kept.
func (ss *taxiiStatuses) kept() int {
	n := 0
	for _, o := range ss.byOrg {
		n += len(o.order)
	}
	return n
}

func (ss *taxiiStatuses) get(org, id string) (*taxiiStatus, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	o := ss.byOrg[org]
	if o == nil {
		return nil, false
	}
	st, ok := o.byID[id]
	return st, ok
}

func (t *taxiiServer) status(w http.ResponseWriter, r *http.Request, p *Principal) error {
	id := r.PathValue("status")
	st, ok := t.statuses.get(p.Org.ID, id)
	if !ok {
		// Another organisation's status is not found either.
		return taxiiErr(http.StatusNotFound, "Not Found", "status "+strconv.Quote(clip(id))+" not found")
	}
	writeTAXII(w, http.StatusOK, st)
	return nil
}

// addObjects takes an envelope of STIX objects to either collection, as
// ImportSTIX stores them (indicators to the indicators collection, the
// objects hdn does not model to the context collection) with the caller's
// organisation as source, in one transaction before the answer, so the
// status is complete at once.
func (t *taxiiServer) addObjects(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if !p.Key.Role.CanSubmit() {
		return taxiiErr(http.StatusForbidden, "Forbidden", "a "+string(p.Key.Role)+" key may not add objects (can_write is false)")
	}
	if ct := r.Header.Get("Content-Type"); !isTAXIIContentType(ct) {
		return taxiiErr(http.StatusUnsupportedMediaType, "Unsupported Media Type", "the body must be "+taxiiMediaType+", got "+strconv.Quote(clip(ct)))
	}
	if r.ContentLength > t.s.limits.MaxBodyBytes {
		return t.tooLarge()
	}
	body, err := io.ReadAll(t.s.body(w, r))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return t.tooLarge()
		}
		if errors.Is(err, errInvalidUTF8) {
			return taxiiBad("the body is not valid UTF-8")
		}
		return err
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		// jsonError says where and what, without Go's type names.
		msg := err.Error()
		var e *Error
		if errors.As(jsonError(err, ""), &e) {
			msg = e.Message
		}
		return taxiiBad("the body is not a TAXII envelope: " + msg)
	}
	if env.Objects == nil {
		return taxiiBad(`the envelope has no "objects" array`)
	}
	if len(env.Objects) > t.s.limits.MaxItems {
		return taxiiErr(http.StatusRequestEntityTooLarge, "Payload Too Large", fmt.Sprintf("more than %d objects in one request; split it", t.s.limits.MaxItems))
	}
	ctx := r.Context()
	now := t.s.now().UTC()
	res, err := t.s.ImportSTIX(ctx, p, env.Objects, STIXImportOptions{Origin: "taxii", DefaultTLP: t.s.taxiiDefaultTLP})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return taxiiErr(e.Status, http.StatusText(e.Status), e.Message)
		}
		return err
	}
	st := &taxiiStatus{ID: uuid.NewString(), Status: "complete", RequestTimestamp: taxiiTime(now),
		Successes: detailsOf(res.Successes), Failures: detailsOf(res.Failures), Pendings: []taxiiStatusDetail{}}
	st.TotalCount, st.SuccessCount, st.FailureCount = len(env.Objects), len(st.Successes), len(st.Failures)
	t.statuses.put(p.Org.ID, st)
	writeTAXII(w, http.StatusAccepted, st)
	return nil
}

func detailsOf(os []STIXObjectOutcome) []taxiiStatusDetail {
	out := make([]taxiiStatusDetail, len(os))
	for i, o := range os {
		out[i] = taxiiStatusDetail(o)
	}
	return out
}

func (t *taxiiServer) tooLarge() error {
	return taxiiErr(http.StatusRequestEntityTooLarge, "Payload Too Large", fmt.Sprintf("the body is larger than max_content_length, %d bytes", t.s.limits.MaxBodyBytes))
}
