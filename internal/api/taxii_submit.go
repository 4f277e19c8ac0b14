package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/hdnetwork/hdn/internal/store"
)

// taxiiStatusLimit bounds the status resources kept in the database
// (store.TAXIIStatuses, so that every replica and a restarted hub answers
// for them), as gzipped JSON: per organisation and for all, and in age; the
// oldest go first. A status lists every object of its request (one of
// 100,000 objects is about 11 MB of JSON, 2.2 MB gzipped,
// BenchmarkTAXIIStatusEncode): without the byte bounds a client posting
// large envelopes could fill the disk with statuses nobody reads.
var taxiiStatusLimit = store.TAXIIStatusLimit{
	PerOrg:   10_000,
	OrgBytes: 64 << 20,
	Bytes:    512 << 20,
	MaxAge:   7 * 24 * time.Hour,
}

// maxTAXIIStatusJSON bounds the JSON a stored status may unpack to.
const maxTAXIIStatusJSON = 256 << 20

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

// encodeTAXIIStatus is how a status is stored: its JSON, gzipped.
func encodeTAXIIStatus(st *taxiiStatus) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(zw).Encode(st); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeTAXIIStatus(b []byte) (*taxiiStatus, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var st taxiiStatus
	if err := json.NewDecoder(io.LimitReader(zr, maxTAXIIStatusJSON)).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (t *taxiiServer) status(w http.ResponseWriter, r *http.Request, p *Principal) error {
	id := r.PathValue("status")
	b, err := t.s.st.TAXIIStatus(r.Context(), p.Org.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		// Another organisation's status is not found either.
		return taxiiErr(http.StatusNotFound, "Not Found", "status "+strconv.Quote(clip(id))+" not found")
	}
	if err != nil {
		return err
	}
	st, err := decodeTAXIIStatus(b)
	if err != nil {
		return fmt.Errorf("taxii: status %s as stored: %w", id, err)
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
	// The objects are stored and the answer carries the whole status: a
	// status that cannot be kept is logged, not an error.
	if b, err := encodeTAXIIStatus(st); err != nil {
		t.s.log.Warn("taxii: encoding a status", "status", st.ID, "err", err)
	} else if err := t.s.st.PutTAXIIStatus(context.WithoutCancel(ctx), store.TAXIIStatus{ID: st.ID, Org: p.Org.ID, Created: now, Body: b}, taxiiStatusLimit); err != nil {
		t.s.log.Warn("taxii: keeping a status", "status", st.ID, "err", err)
	}
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
