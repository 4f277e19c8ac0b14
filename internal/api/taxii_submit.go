package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/iocfile"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/stix"
	"github.com/hdnetwork/hdn/internal/store"
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

// taxiiPosted is what the hub reads of each object of a posted envelope.
type taxiiPosted struct {
	Type              string   `json:"type"`
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	ObjectMarkingRefs []string `json:"object_marking_refs"`
}

// taxiiContextTypes are objects a producer sends along with indicators;
// they are read for what they say about the indicators, not stored.
var taxiiContextTypes = map[string]bool{"marking-definition": true, "extension-definition": true, "identity": true}

// addObjects takes an envelope of STIX objects. Its indicators go through
// the same checks as a native submission (canonical forms, TLP and
// audience, warninglists), with the TLP of their markings (amber when
// unmarked) and the caller's organisation as source; they are stored in one
// transaction before the answer, so the status is complete at once.
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
		return taxiiBad("the body is not a TAXII envelope: " + err.Error())
	}
	if env.Objects == nil {
		return taxiiBad(`the envelope has no "objects" array`)
	}
	if len(env.Objects) > t.s.limits.MaxItems {
		return taxiiErr(http.StatusRequestEntityTooLarge, "Payload Too Large", fmt.Sprintf("more than %d objects in one request; split it", t.s.limits.MaxItems))
	}
	entries, problems, err := iocfile.Read(bytes.NewReader(body), iocfile.FormatSTIX)
	if err != nil {
		return taxiiBad(err.Error())
	}
	ctx := r.Context()
	now := t.s.now().UTC()
	st := &taxiiStatus{ID: uuid.NewString(), Status: "complete", RequestTimestamp: taxiiTime(now),
		Successes: []taxiiStatusDetail{}, Failures: []taxiiStatusDetail{}, Pendings: []taxiiStatusDetail{}}

	// Read every object's head, and the marking definitions the envelope
	// defines itself, so that an indicator marked with one counts.
	posted := make([]taxiiPosted, len(env.Objects))
	defined := map[string]policy.TLP{}
	for i, raw := range env.Objects {
		if json.Unmarshal(raw, &posted[i]) != nil {
			posted[i] = taxiiPosted{}
		}
		if posted[i].ID == "" {
			posted[i].ID = fmt.Sprintf("object %d", i+1)
		}
		if posted[i].Type == "marking-definition" {
			if tlp, ok := stix.TLPFromMarkingObject(raw); ok {
				defined[posted[i].ID] = tlp
			}
		}
	}
	// The reader's problems and entries name their object by its id (or
	// "object N" when it has none).
	failed := map[string]string{}
	for _, pr := range problems {
		if failed[pr.Where] == "" {
			failed[pr.Where] = pr.Err.Error()
		}
	}
	byObject := map[string][]iocfile.Entry{}
	for _, e := range entries {
		byObject[e.Source] = append(byObject[e.Source], e)
	}

	rs := newResolver(t.s, p)
	var (
		subs    []model.Submission
		subObj  []int // object index of each submission
		results = make([]string, len(posted))
		stored  = make([]int, len(posted))
	)
	for i := range posted {
		o := &posted[i]
		switch {
		case failed[o.ID] != "":
			results[i] = failed[o.ID]
			continue
		case o.Type != "indicator":
			if !taxiiContextTypes[o.Type] {
				results[i] = "not stored: this collection holds indicators; a " + strconv.Quote(clip(o.Type)) + " object is not kept"
			}
			continue
		}
		es := byObject[o.ID]
		if len(es) == 0 {
			results[i] = "no indicator value could be read from the pattern"
			continue
		}
		tlp, err := stix.TLPOfObjectFunc(o.ObjectMarkingRefs, DefaultTLP, func(id string) (policy.TLP, bool) {
			tlp, ok := defined[id]
			return tlp, ok
		})
		if err != nil {
			results[i] = err.Error()
			continue
		}
		var itemSubs []model.Submission
		for _, e := range es {
			it := SubmitItem{Type: string(e.Type), Value: e.Value, TLP: string(tlp), Labels: e.Labels, Description: e.Description}
			if o.Description == "" && e.Description == o.Name {
				it.Description = "" // the reader falls back to the name, which hdn makes the value
			}
			if e.Confidence > 0 {
				c := e.Confidence
				it.Confidence = &c
			}
			if !e.ValidUntil.IsZero() {
				it.ValidUntil = e.ValidUntil.UTC().Format(time.RFC3339Nano)
			}
			sub, hits, err := rs.validate(ctx, &it, now)
			if err != nil {
				if isInternal(err) {
					return err
				}
				msg := e.Value + ": " + err.Error()
				if len(hits) > 0 {
					msg += " (warninglist " + hits[0].List + ")"
				}
				results[i] = msg
				itemSubs = nil
				break
			}
			itemSubs = append(itemSubs, sub)
		}
		for _, sub := range itemSubs {
			subs = append(subs, sub)
			subObj = append(subObj, i)
		}
	}
	if len(subs) > 0 {
		lastSeq, err := t.s.store(ctx, subs, func(k int, ur store.UpsertResult) { stored[subObj[k]]++ })
		if err != nil {
			return err
		}
		t.s.audit(ctx, p, "indicator.submit", "", fmt.Sprintf("taxii: %d stored", len(subs)))
		if t.s.notify != nil {
			t.s.notify.Notify(ctx, lastSeq)
		}
	}
	for i := range posted {
		o := &posted[i]
		d := taxiiStatusDetail{ID: o.ID, Version: o.Modified}
		if d.Version == "" {
			d.Version = o.Created
		}
		switch {
		case results[i] != "":
			d.Message = results[i]
			st.Failures = append(st.Failures, d)
		case o.Type != "indicator":
			d.Message = "read as context of the indicators; not stored"
			st.Successes = append(st.Successes, d)
		default:
			d.Message = fmt.Sprintf("%d indicator value(s) stored", stored[i])
			st.Successes = append(st.Successes, d)
		}
	}
	st.TotalCount, st.SuccessCount, st.FailureCount = len(posted), len(st.Successes), len(st.Failures)
	t.statuses.put(p.Org.ID, st)
	writeTAXII(w, http.StatusAccepted, st)
	return nil
}

func (t *taxiiServer) tooLarge() error {
	return taxiiErr(http.StatusRequestEntityTooLarge, "Payload Too Large", fmt.Sprintf("the body is larger than max_content_length, %d bytes", t.s.limits.MaxBodyBytes))
}
