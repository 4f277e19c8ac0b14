package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/duration"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// Organisation management (docs/ONBOARDING.md). Who may manage an
// organisation — create its keys and enrolment tokens, suspend it, see its
// sensors — is decided by one rule, canManage: an admin key of the
// organisation itself, of its partner when it is a customer, or of the
// coordinator. What a caller cannot see (another partner's customer) is
// answered 404, as if it did not exist.

// OrgDetailJSON is an organisation as its managers see it.
type OrgDetailJSON struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Kind    policy.OrgKind  `json:"kind"`
	Partner string          `json:"partner,omitempty"` // name
	Status  model.OrgStatus `json:"status,omitempty"`  // to the organisation, its partner and the coordinator
	Revoked bool            `json:"revoked"`
	Created time.Time       `json:"created"`
}

func (s *Server) orgDetail(r *http.Request, o model.Org) OrgDetailJSON {
	j := OrgDetailJSON{ID: o.ID, Name: o.Name, Kind: o.Kind, Status: o.Status, Revoked: o.Revoked, Created: o.Created}
	if j.Status == "" {
		j.Status = model.OrgActive
	}
	if o.Partner != "" {
		j.Partner = s.orgs.name(r.Context(), o.Partner)
	}
	return j
}

// canSeeOrg says whether p may know of o: everyone knows the organisations
// connected directly; a customer is known to itself, its partner and the
// coordinator only.
func canSeeOrg(p *Principal, o model.Org) bool {
	if o.Kind != policy.Customer {
		return true
	}
	return p.Org.Kind == policy.Coordinator || p.Org.ID == o.ID || p.Org.ID == o.Partner
}

// canManage says whether p may manage o.
func canManage(p *Principal, o model.Org) bool {
	if p.Key.Role != policy.Admin {
		return false
	}
	return p.Org.Kind == policy.Coordinator || p.Org.ID == o.ID || (p.Org.Kind == policy.Partner && o.Kind == policy.Customer && o.Partner == p.Org.ID)
}

// managedOrg finds the organisation of the path's {org} that p may manage:
// 404 when p may not know of it, 403 when it may know but not manage.
func (s *Server) managedOrg(r *http.Request, p *Principal) (model.Org, error) {
	ref := r.PathValue("org")
	o, err := s.st.Org(r.Context(), ref)
	if errors.Is(err, store.ErrNotFound) || err == nil && !canSeeOrg(p, o) {
		return o, notFound("organisation " + strconv.Quote(clip(ref)))
	}
	if err != nil {
		return o, err
	}
	if !canManage(p, o) {
		return o, forbidden("only an admin key of %s, of its partner or of the coordinator may manage it", o.Name)
	}
	return o, nil
}

// orgToManage is the prologue of the endpoints on one organisation: no query
// parameters, an organisation p may manage (managedOrg) and, with live, one
// that was not offboarded.
func (s *Server) orgToManage(r *http.Request, p *Principal, live bool) (model.Org, error) {
	if err := onlyParams(r); err != nil {
		return model.Org{}, err
	}
	o, err := s.managedOrg(r, p)
	if err != nil {
		return o, err
	}
	if live && o.Revoked {
		return o, errf(http.StatusConflict, CodeConflict, "%s was offboarded", o.Name)
	}
	return o, nil
}

func (s *Server) requireCoordinatorAdmin(p *Principal, what string) error {
	if p.Org.Kind != policy.Coordinator || p.Key.Role != policy.Admin {
		return forbidden("%s is for the coordinator's admin keys", what)
	}
	return nil
}

// createOrg: the coordinator creates any organisation (active); a partner's
// admin creates a customer of its own, pending until the coordinator
// approves it.
func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	var in struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Partner string `json:"partner"`
	}
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	in.Name, in.Partner = strings.TrimSpace(in.Name), strings.TrimSpace(in.Partner)
	if err := validName("organisation", in.Name); err != nil {
		return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	o := model.Org{Name: in.Name, Kind: policy.OrgKind(strings.ToLower(strings.TrimSpace(in.Kind)))}
	switch {
	case p.Key.Role != policy.Admin:
		return forbidden("creating organisations is for admin keys")
	case p.Org.Kind == policy.Partner:
		if o.Kind != "" && o.Kind != policy.Customer || in.Partner != "" && in.Partner != p.Org.Name && in.Partner != p.Org.ID {
			return forbidden("a partner creates customers of its own only")
		}
		o.Kind, o.Partner, o.Status = policy.Customer, p.Org.ID, model.OrgPending
	case p.Org.Kind == policy.Coordinator:
		if !slices.Contains(policy.OrgKinds, o.Kind) {
			return errf(http.StatusBadRequest, CodeInvalidValue, "kind %q is not one of coordinator, member, partner, customer, national-cert, peer-hub", clip(in.Kind))
		}
		if in.Partner != "" {
			po, err := s.st.Org(r.Context(), in.Partner)
			if errors.Is(err, store.ErrNotFound) {
				return errf(http.StatusBadRequest, CodeInvalidValue, "partner %q not found", clip(in.Partner))
			}
			if err != nil {
				return err
			}
			o.Partner = po.ID
		}
		o.Status = model.OrgActive
	default:
		return forbidden("organisations are created by the coordinator, and customers by their partner")
	}
	created, err := s.st.CreateOrg(r.Context(), o)
	if errors.Is(err, store.ErrConflict) {
		return errf(http.StatusConflict, CodeConflict, "an organisation named %q already exists (names are compared without regard to case)", clip(in.Name))
	}
	if err != nil {
		if strings.Contains(err.Error(), "partner") || strings.Contains(err.Error(), "customer") {
			return errf(http.StatusBadRequest, CodeInvalidValue, "%s", strings.TrimPrefix(err.Error(), "sqlite: "))
		}
		return err
	}
	s.audit(r.Context(), p, "org.create", created.ID, string(created.Kind)+" "+created.Name+" ("+string(created.Status)+")")
	writeJSON(w, http.StatusCreated, s.orgDetail(r, created))
	return nil
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.st.Org(r.Context(), r.PathValue("org"))
	// As in the directory (listOrgs): an offboarded organisation is gone,
	// and an organisation's status (pending, suspended) is its own, its
	// partner's and the coordinator's business.
	near := p.Org.Kind == policy.Coordinator || p.Org.ID == o.ID || p.Org.ID == o.Partner
	if errors.Is(err, store.ErrNotFound) || err == nil && (!canSeeOrg(p, o) || o.Revoked && !near) {
		return notFound("organisation " + strconv.Quote(clip(r.PathValue("org"))))
	}
	if err != nil {
		return err
	}
	j := s.orgDetail(r, o)
	if !near {
		j.Status = ""
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

// setStatus: approve (coordinator: pending → active), suspend and resume
// (managers: a partner its customers, the coordinator anyone but itself).
func (s *Server) setOrgStatus(action string) func(w http.ResponseWriter, r *http.Request, p *Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		o, err := s.orgToManage(r, p, true)
		if err != nil {
			return err
		}
		if o.ID == p.Org.ID {
			return forbidden("an organisation does not %s itself", action)
		}
		var from, to model.OrgStatus
		switch action {
		case "approve":
			if err := s.requireCoordinatorAdmin(p, "approving organisations"); err != nil {
				return err
			}
			from, to = model.OrgPending, model.OrgActive
		case "suspend":
			from, to = model.OrgActive, model.OrgSuspended
		case "resume":
			from, to = model.OrgSuspended, model.OrgActive
		}
		cur := o.Status
		if cur == "" {
			cur = model.OrgActive
		}
		if cur != from {
			return errf(http.StatusConflict, CodeConflict, "%s is %s, not %s", o.Name, cur, from)
		}
		if err := s.st.SetOrgStatus(r.Context(), o.ID, to); err != nil {
			return err
		}
		s.audit(r.Context(), p, "org."+action, o.ID, o.Name)
		s.recheckStreams()
		o.Status = to
		writeJSON(w, http.StatusOK, s.orgDetail(r, o))
		return nil
	}
}

// moveOrg moves a customer to another partner (coordinator).
func (s *Server) moveOrg(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if err := s.requireCoordinatorAdmin(p, "moving a customer"); err != nil {
		return err
	}
	o, err := s.managedOrg(r, p)
	if err != nil {
		return err
	}
	var in struct {
		Partner string `json:"partner"`
	}
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	np, err := s.st.Org(r.Context(), in.Partner)
	if errors.Is(err, store.ErrNotFound) {
		return errf(http.StatusBadRequest, CodeInvalidValue, "partner %q not found", clip(in.Partner))
	}
	if err != nil {
		return err
	}
	if o.Kind != policy.Customer || np.Kind != policy.Partner {
		return errf(http.StatusBadRequest, CodeInvalidValue, "only a customer moves, and only to a partner (%s is a %s, %s a %s)", o.Name, o.Kind, np.Name, np.Kind)
	}
	if err := s.st.SetOrgPartner(r.Context(), o.ID, np.ID); err != nil {
		return err
	}
	s.audit(r.Context(), p, "org.move", o.ID, o.Name+" to "+np.Name)
	s.recheckStreams()
	// The move wrote change entries for the indicators whose visibility it
	// changed: streams and peers learn of them as changes.
	if s.notify != nil {
		if seq, err := s.st.LastSeq(r.Context()); err == nil {
			s.notify.Notify(r.Context(), seq)
		}
	}
	o.Partner = np.ID
	writeJSON(w, http.StatusOK, s.orgDetail(r, o))
	return nil
}

// offboardOrg revokes an organisation (coordinator): its keys at once, its
// streams within a second; what it shared stays, its source kept or
// anonymised.
func (s *Server) offboardOrg(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if err := s.requireCoordinatorAdmin(p, "offboarding"); err != nil {
		return err
	}
	o, err := s.managedOrg(r, p)
	if err != nil {
		return err
	}
	var in struct {
		Source string `json:"source"`
	}
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	if in.Source != "keep" && in.Source != "anonymise" {
		return errf(http.StatusBadRequest, CodeInvalidValue, `source must be "keep" (what it shared keeps its name) or "anonymise"`)
	}
	if o.ID == p.Org.ID || o.Kind == policy.Coordinator {
		return forbidden("the coordinator is not offboarded through the API")
	}
	keys, last, err := s.st.RevokeOrg(r.Context(), o.ID, in.Source == "anonymise", s.now().UTC())
	if err != nil {
		return err
	}
	s.audit(r.Context(), p, "org.offboard", o.ID, o.Name+": source "+in.Source)
	s.recheckStreams()
	if last > 0 && s.notify != nil {
		s.notify.Notify(r.Context(), last)
	}
	o.Revoked = true
	writeJSON(w, http.StatusOK, map[string]any{"org": s.orgDetail(r, o), "keys_revoked": keys, "source": in.Source})
	return nil
}

// KeyJSON is a key as its managers see it (never the secret).
type KeyJSON struct {
	ID        string      `json:"id"`
	Role      policy.Role `json:"role"`
	Name      string      `json:"name,omitempty"`
	Created   time.Time   `json:"created"`
	ExpiresAt time.Time   `json:"expires_at,omitzero"`
	Revoked   bool        `json:"revoked"`
	LastUsed  time.Time   `json:"last_used,omitzero"`
}

func (s *Server) listOrgKeys(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.orgToManage(r, p, false)
	if err != nil {
		return err
	}
	ks, err := s.st.ListKeys(r.Context(), o.ID)
	if err != nil {
		return err
	}
	out := make([]KeyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, KeyJSON{ID: k.ID, Role: k.Role, Name: k.Name, Created: k.Created, ExpiresAt: k.ExpiresAt, Revoked: k.Revoked, LastUsed: k.LastUsed})
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

// maxKeyLifetime bounds expires_in of a key made through the API.
const maxKeyLifetime = 5 * 366 * 24 * time.Hour

func (s *Server) createOrgKey(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.orgToManage(r, p, true)
	if err != nil {
		return err
	}
	var in struct {
		Role      string `json:"role"`
		Name      string `json:"name"`
		ExpiresIn string `json:"expires_in"`
	}
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	role, err := policy.ParseRole(in.Role)
	if err != nil {
		return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	if len(in.Name) > 128 {
		return errf(http.StatusBadRequest, CodeInvalidValue, "name is longer than 128 bytes")
	}
	now := s.now().UTC()
	k := model.Key{OrgID: o.ID, Role: role, Name: in.Name, Created: now}
	if in.ExpiresIn != "" {
		d, err := duration.Parse(in.ExpiresIn)
		if err != nil || d <= 0 || d > maxKeyLifetime {
			return errf(http.StatusBadRequest, CodeInvalidValue, "expires_in %q is not a duration between 1s and 5 years (e.g. %s)", clip(in.ExpiresIn), duration.Examples)
		}
		k.ExpiresAt = now.Add(d)
	}
	plain, id, hash := auth.NewKey()
	k.ID, k.Hash = id, hash
	if err := s.st.CreateKey(r.Context(), k); err != nil {
		return err
	}
	s.audit(r.Context(), p, "key.create", id, string(role)+" key for "+o.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"key": plain, "id": id, "org": o.Name, "role": role, "expires_at": k.ExpiresAt})
	return nil
}

func (s *Server) revokeOrgKey(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.orgToManage(r, p, false)
	if err != nil {
		return err
	}
	k, err := s.st.KeyByID(r.Context(), r.PathValue("key"))
	if errors.Is(err, store.ErrNotFound) || err == nil && k.OrgID != o.ID {
		return notFound("key " + strconv.Quote(clip(r.PathValue("key"))) + " of " + o.Name)
	}
	if err != nil {
		return err
	}
	if !k.Revoked {
		if err := s.st.RevokeKey(r.Context(), k.ID); err != nil {
			return err
		}
		s.audit(r.Context(), p, "key.revoke", k.ID, o.Name)
		s.recheckStreams()
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": k.ID, "revoked": true})
	return nil
}
