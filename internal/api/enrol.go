package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/coverage"
	"github.com/hdnetwork/hdn/internal/duration"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Enrolment tokens: short-lived and single-use, so that no long-lived key
// is copied around by hand; the sensor exchanges its token for a key of its
// own (docs/ONBOARDING.md).
const (
	DefaultEnrolTokenLifetime = 15 * time.Minute
	MaxEnrolTokenLifetime     = 24 * time.Hour
)

var errInvalidToken = errf(http.StatusUnauthorized, CodeInvalidToken, "the enrolment token is unknown, used, expired or void (its organisation moved to another partner or was offboarded): ask your organisation's admin for a new one")

// createEnrolment makes a one-time enrolment token for the organisation.
func (s *Server) createEnrolment(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.orgToManage(r, p, true)
	if err != nil {
		return err
	}
	var in struct {
		ExpiresIn string `json:"expires_in"`
	}
	if r.ContentLength != 0 {
		if err := s.decodeStrict(w, r, &in); err != nil {
			return err
		}
	}
	life := DefaultEnrolTokenLifetime
	if in.ExpiresIn != "" {
		d, err := duration.Parse(in.ExpiresIn)
		if err != nil || d < time.Minute || d > MaxEnrolTokenLifetime {
			return errf(http.StatusBadRequest, CodeInvalidValue, "expires_in %q is not a duration from 1m to 24h (or 1d), e.g. \"30m\"", clip(in.ExpiresIn))
		}
		life = d
	}
	now := s.now().UTC()
	plain, id, hash := auth.NewKey()
	t := model.EnrolToken{ID: id, OrgID: o.ID, Hash: hash, CreatedBy: p.Key.ID, Created: now, Expires: now.Add(life)}
	if err := s.st.CreateEnrolToken(r.Context(), t); err != nil {
		return err
	}
	s.audit(r.Context(), p, "enrolment.create", id, o.Name+", expires "+t.Expires.Format(time.RFC3339))
	writeJSON(w, http.StatusCreated, map[string]any{"token": plain, "id": id, "org": o.Name, "expires_at": t.Expires})
	return nil
}

// enrol exchanges a token for a sensor key. It is public: the token is the
// credential. Every kind of bad token gets the same answer.
func (s *Server) enrol(w http.ResponseWriter, r *http.Request, _ *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	var in struct {
		Token string `json:"token"`
		Name  string `json:"name"`
	}
	if err := s.decodeStrictUpTo(w, r, &in, MaxEnrolBodyBytes); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validName("sensor", in.Name); err != nil {
		return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	id, secret, err := auth.Parse(strings.TrimSpace(in.Token))
	if err != nil {
		return errInvalidToken
	}
	ctx := r.Context()
	t, err := s.st.EnrolToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidToken
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if !auth.Verify(t.Hash, secret) || !t.Used.IsZero() || !now.Before(t.Expires) {
		return errInvalidToken
	}
	o, err := s.st.Org(ctx, t.OrgID)
	if err != nil {
		return err
	}
	if !o.Usable() {
		return forbidden("%s is %s: a sensor may enrol once it is active", o.Name, orgState(o))
	}
	if err := s.checkTokenCreator(r, t, o, now); err != nil {
		return err
	}
	plain, kid, hash := auth.NewKey()
	k := model.Key{ID: kid, OrgID: o.ID, Role: policy.Sensor, Name: in.Name, Hash: hash, Created: now}
	if err := s.st.RedeemEnrolToken(ctx, t.ID, k, now); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return errInvalidToken // used at the same moment by another request
		}
		return err
	}
	s.audit(ctx, &Principal{Key: model.Key{ID: "enrol:" + t.ID}, Org: o}, "sensor.enrol", kid, in.Name)
	writeJSON(w, http.StatusOK, map[string]any{"key": plain, "key_id": kid, "org": o.Name, "role": policy.Sensor})
	return nil
}

// checkTokenCreator refuses a token whose creator may no longer enrol
// sensors for o: a key since revoked or expired, a web UI user since
// disabled, or one of an organisation that may no longer manage o (a
// customer moved to another partner, a partner offboarded or suspended). A
// token made with hdn admin ("cli") is the operator's and always holds.
func (s *Server) checkTokenCreator(r *http.Request, t model.EnrolToken, o model.Org, now time.Time) error {
	if t.CreatedBy == "cli" {
		return nil
	}
	ctx := r.Context()
	refuse := func(who, why string) error {
		return errf(http.StatusUnauthorized, CodeInvalidToken,
			"the enrolment token was made by %s, which %s: it no longer enrols sensors for %s; ask an admin of %s or of its partner for a new one",
			who, why, o.Name, o.Name)
	}
	var role policy.Role
	var orgID, who string
	if uid, ok := strings.CutPrefix(t.CreatedBy, "user:"); ok {
		u, err := s.st.UserByID(ctx, uid)
		if errors.Is(err, store.ErrNotFound) {
			return refuse("user "+clip(uid), "no longer exists")
		}
		if err != nil {
			return err
		}
		who = "user " + u.Email
		if u.Disabled {
			return refuse(who, "is disabled")
		}
		role, orgID = u.Role, u.OrgID
	} else {
		k, err := s.st.KeyByID(ctx, t.CreatedBy)
		if errors.Is(err, store.ErrNotFound) {
			return refuse("key "+clip(t.CreatedBy), "no longer exists")
		}
		if err != nil {
			return err
		}
		who = "key " + k.ID
		if !k.Usable(now) {
			return refuse(who, "has been revoked or has expired")
		}
		role, orgID = k.Role, k.OrgID
	}
	co, err := s.st.Org(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(who, "belongs to no organisation")
	}
	if err != nil {
		return err
	}
	if !co.Usable() {
		return refuse(who, "belongs to "+co.Name+", which is "+orgState(co))
	}
	if !canManage(&Principal{Key: model.Key{Role: role}, Org: co}, o) {
		return refuse(who, "belongs to "+co.Name+", which may no longer manage "+o.Name)
	}
	return nil
}

func orgState(o model.Org) string {
	if o.Revoked {
		return "offboarded"
	}
	if o.Status == "" {
		return string(model.OrgActive)
	}
	return string(o.Status)
}

// Heartbeat is what a sensor reports about itself.
type Heartbeat struct {
	Name            string              `json:"name"`
	Version         string              `json:"version"`
	Started         string              `json:"started"`
	Inputs          []model.SensorInput `json:"inputs"`
	EventsPerSecond float64             `json:"events_per_second"`
	LagSeconds      float64             `json:"lag_seconds"`
	Indicators      int                 `json:"indicators"`
	Patterns        int                 `json:"patterns"`
	LastError       string              `json:"last_error"`
	LastErrorAt     string              `json:"last_error_at"`
}

// Bounds of a heartbeat.
const (
	maxHeartbeatInputs = 64
	maxHeartbeatText   = 1024
)

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if !p.Key.Role.CanReportSightings() {
		return forbidden("a %s key does not send heartbeats", p.Key.Role)
	}
	var in Heartbeat
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return errf(http.StatusBadRequest, CodeInvalidValue, format, args...)
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		in.Name = p.Key.Name
	}
	if err := validName("sensor", in.Name); err != nil {
		return bad("%s", err.Error())
	}
	if len(in.Version) > 128 || len(in.LastError) > maxHeartbeatText {
		return bad("version or last_error is too long (128 and %d bytes at most)", maxHeartbeatText)
	}
	if len(in.Inputs) > maxHeartbeatInputs {
		return bad("%d inputs, at most %d", len(in.Inputs), maxHeartbeatInputs)
	}
	for i, inp := range in.Inputs {
		if len(inp.Path) > maxHeartbeatText || len(inp.Format) > 32 || inp.Events < 0 || inp.LagSeconds < 0 {
			return bad("input %d: path over %d bytes, format over 32, or a negative count", i, maxHeartbeatText)
		}
	}
	if in.EventsPerSecond < 0 || in.LagSeconds < 0 || in.Indicators < 0 || in.Patterns < 0 {
		return bad("a figure is negative")
	}
	st := model.SensorStatus{KeyID: p.Key.ID, OrgID: p.Org.ID, Name: in.Name, Version: in.Version, Inputs: in.Inputs,
		EventsPerSecond: in.EventsPerSecond, LagSeconds: in.LagSeconds, Indicators: in.Indicators, Patterns: in.Patterns,
		LastError: in.LastError, LastSeen: s.now().UTC()}
	var err error
	if in.Started != "" {
		if st.Started, err = parseTime("started", in.Started); err != nil {
			return bad("%s", err.Error())
		}
	}
	if in.LastErrorAt != "" {
		if st.LastErrorAt, err = parseTime("last_error_at", in.LastErrorAt); err != nil {
			return bad("%s", err.Error())
		}
	}
	if err := s.st.PutSensorStatus(r.Context(), st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// SensorJSON is a sensor as its organisation's managers see it.
type SensorJSON struct {
	model.SensorStatus
	OrgName string `json:"org_name"`
	Live    bool   `json:"live"` // a heartbeat within coverage.DefaultLive
}

// listSensors shows the sensors of the organisations the caller manages:
// its own (any admin), a partner's customers, everyone's for the
// coordinator. ?org= narrows to one.
func (s *Server) listSensors(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "org"); err != nil {
		return err
	}
	if p.Key.Role != policy.Admin && p.Key.Role != policy.Analyst {
		return forbidden("sensor health is for admin and analyst keys")
	}
	ctx := r.Context()
	var ids []string
	if ref := r.URL.Query().Get("org"); ref != "" {
		o, err := s.st.Org(ctx, ref)
		if errors.Is(err, store.ErrNotFound) || err == nil && !canSeeOrg(p, o) {
			return notFound("organisation " + clip(ref))
		}
		if err != nil {
			return err
		}
		if o.ID != p.Org.ID && !canManage(&Principal{Key: model.Key{Role: policy.Admin}, Org: p.Org}, o) {
			return forbidden("the sensors of %s are for its own staff, its partner and the coordinator", o.Name)
		}
		ids = []string{o.ID}
	} else if p.Org.Kind != policy.Coordinator {
		ids = append([]string{p.Org.ID}, p.Viewer.Customers...)
	}
	ss, err := s.st.ListSensors(ctx, ids)
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]SensorJSON, 0, len(ss))
	for _, st := range ss {
		live := !st.LastSeen.Before(now.Add(-coverage.DefaultLive))
		out = append(out, SensorJSON{SensorStatus: st, OrgName: s.orgs.name(ctx, st.OrgID), Live: live})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sensors": out})
	return nil
}

// coverageReport is the coordinator's view of the network's reach.
func (s *Server) coverageReport(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "live", "window"); err != nil {
		return err
	}
	if p.Org.Kind != policy.Coordinator || (p.Key.Role != policy.Admin && p.Key.Role != policy.Analyst) {
		return forbidden("coverage is for the coordinator's admin and analyst keys")
	}
	in := coverage.Input{Now: s.now().UTC(), Live: coverage.DefaultLive, Window: coverage.DefaultSharingWindow}
	for name, dst := range map[string]*time.Duration{"live": &in.Live, "window": &in.Window} {
		if v := r.URL.Query().Get(name); v != "" {
			d, err := duration.Parse(v)
			if err != nil || d <= 0 {
				return badRequest("%s %q is not a positive duration: e.g. %s (also 1d12h, 15m)", name, clip(v), duration.Examples)
			}
			*dst = d
		}
	}
	ctx := r.Context()
	var err error
	if in.Orgs, err = s.st.ListOrgs(ctx); err != nil {
		return err
	}
	if in.Sensors, err = s.st.ListSensors(ctx, nil); err != nil {
		return err
	}
	if in.Shared, err = s.st.SharingSince(ctx, in.Now.Add(-in.Window)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, coverage.Compute(in))
	return nil
}
