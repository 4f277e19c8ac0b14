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

// taxiiStatusesPerOrg bounds the status resources kept for each
// organisation; the oldest go first.
const taxiiStatusesPerOrg = 10_000

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
// never; after a restart it is gone (404), which TAXII clients handle.
type taxiiStatuses struct {
	mu     sync.Mutex
	perOrg int
	byOrg  map[string]*orgStatuses
}

type orgStatuses struct {
	order []string // ids, oldest first
	byID  map[string]*taxiiStatus
}

func newTAXIIStatuses(perOrg int) *taxiiStatuses {
	return &taxiiStatuses{perOrg: perOrg, byOrg: map[string]*orgStatuses{}}
}

func (ss *taxiiStatuses) put(org string, st *taxiiStatus) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	o := ss.byOrg[org]
	if o == nil {
		o = &orgStatuses{byID: map[string]*taxiiStatus{}}
		ss.byOrg[org] = o
	}
	if len(o.order) >= ss.perOrg {
		delete(o.byID, o.order[0])
		o.order = o.order[1:]
	}
	o.order = append(o.order, st.ID)
	o.byID[st.ID] = st
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
