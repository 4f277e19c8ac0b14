package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

// GroupJSON is a sharing group as the API shows it.
type GroupJSON struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Owner   string   `json:"owner"`
	Members []string `json:"members"`
}

// OrgJSON is an organisation in the directory.
type OrgJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Partner string `json:"partner,omitempty"`
	// Status is shown to the organisation itself, its partner and the
	// coordinator.
	Status string `json:"status,omitempty"`
}

func (s *Server) renderGroup(r *http.Request, g *model.Group) GroupJSON {
	members := make([]string, len(g.Members))
	for i, id := range g.Members {
		members[i] = s.orgs.name(r.Context(), id)
	}
	slices.Sort(members)
	return GroupJSON{ID: g.ID, Name: g.Name, Owner: s.orgs.name(r.Context(), g.Owner), Members: members}
}

// canSeeGroup: the coordinator, the owner and members know a group exists.
func canSeeGroup(p *Principal, g *model.Group) bool {
	return p.Org.Kind == policy.Coordinator || g.Owner == p.Org.ID || slices.Contains(g.Members, p.Org.ID)
}

// canManageGroup: the coordinator and the owner's admins and analysts change
// its members.
func canManageGroup(p *Principal, g *model.Group) bool {
	return p.Key.Role.CanSubmit() && (p.Org.Kind == policy.Coordinator || g.Owner == p.Org.ID)
}

func validName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%s name is missing", kind)
	}
	if len(name) > 128 {
		return fmt.Errorf("%s name is longer than 128 bytes", kind)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s name contains a control character", kind)
		}
	}
	return nil
}

// maxGroupsPerOrg bounds the sharing groups an organisation other than the
// coordinator owns (checked before creating, so concurrent requests may pass
// it by a few): every
// group names its members, who carry it in every decision of the policy
// and see it in their group list, so one member making groups without end
// would slow every other member it names.
const maxGroupsPerOrg = 200

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if !p.Key.Role.CanSubmit() {
		return forbidden("a %s key may not create sharing groups", p.Key.Role)
	}
	var in struct {
		Name    string   `json:"name"`
		Members []string `json:"members"`
	}
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validName("group", in.Name); err != nil {
		return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
	}
	if len(in.Members) > maxAudienceOrgs {
		return errf(http.StatusBadRequest, CodeInvalidValue, "members has %d entries, at most %d allowed", len(in.Members), maxAudienceOrgs)
	}
	ctx := r.Context()
	all, err := s.st.ListGroups(ctx)
	if err != nil {
		return err
	}
	owned := 0
	for i := range all {
		if all[i].Owner == p.Org.ID {
			owned++
		}
	}
	// The coordinator curates the network and is not bounded (the load
	// tool against a hub makes its groups as the coordinator).
	if owned >= maxGroupsPerOrg && p.Org.Kind != policy.Coordinator {
		return errf(http.StatusConflict, CodeConflict, "your organisation owns %d sharing groups, at most %d allowed; change the members of one instead", owned, maxGroupsPerOrg)
	}
	rs := newResolver(s, p)
	members := []string{p.Org.ID}
	for _, ref := range in.Members {
		o, err := rs.org(ctx, ref)
		if err != nil {
			if isInternal(err) {
				return err
			}
			return errf(http.StatusBadRequest, CodeInvalidValue, "%s", err.Error())
		}
		if !slices.Contains(members, o.ID) {
			members = append(members, o.ID)
		}
	}
	g, err := s.st.CreateGroup(ctx, model.Group{Name: in.Name, Owner: p.Org.ID, Members: members})
	if errors.Is(err, store.ErrConflict) {
		return errf(http.StatusConflict, CodeConflict, "a sharing group named %q exists", in.Name)
	}
	if err != nil {
		return err
	}
	s.audit(ctx, p, "group.create", g.ID, g.Name)
	writeJSON(w, http.StatusCreated, s.renderGroup(r, &g))
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	gs, err := s.st.ListGroups(r.Context())
	if err != nil {
		return err
	}
	out := []GroupJSON{}
	for i := range gs {
		if canSeeGroup(p, &gs[i]) {
			out = append(out, s.renderGroup(r, &gs[i]))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out})
	return nil
}

func (s *Server) visibleGroup(r *http.Request, p *Principal) (model.Group, error) {
	ref := r.PathValue("group")
	g, err := s.st.Group(r.Context(), ref)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !canSeeGroup(p, &g)) {
		return g, notFound("sharing group " + strconv.Quote(clip(ref)))
	}
	return g, err
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	g, err := s.visibleGroup(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderGroup(r, &g))
	return nil
}

func (s *Server) addGroupMember(w http.ResponseWriter, r *http.Request, p *Principal) error {
	return s.setGroupMember(w, r, p, true)
}

func (s *Server) removeGroupMember(w http.ResponseWriter, r *http.Request, p *Principal) error {
	return s.setGroupMember(w, r, p, false)
}

func (s *Server) setGroupMember(w http.ResponseWriter, r *http.Request, p *Principal, member bool) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	ctx := r.Context()
	g, err := s.visibleGroup(r, p)
	if err != nil {
		return err
	}
	if !canManageGroup(p, &g) {
		return forbidden("only the group's owner or the coordinator may change its members")
	}
	o, err := newResolver(s, p).org(ctx, r.PathValue("org"))
	if err != nil {
		if isInternal(err) {
			return err
		}
		return errf(http.StatusNotFound, CodeNotFound, "%s", err.Error())
	}
	if err := s.st.SetGroupMember(ctx, g.ID, o.ID, member); err != nil {
		return err
	}
	action := "group.member.add"
	if !member {
		action = "group.member.remove"
	}
	s.audit(ctx, p, action, g.ID, o.Name)
	// A membership change rewrites the visibility of the group's indicators:
	// streams learn of it as changes.
	if s.notify != nil {
		if seq, err := s.st.LastSeq(ctx); err == nil {
			s.notify.Notify(ctx, seq)
		}
	}
	g, err = s.st.Group(ctx, g.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.renderGroup(r, &g))
	return nil
}

// listOrgs is the directory: every participant's name and kind, so that
// audiences can be named. Which customer belongs to which partner is shown
// only to the coordinator and to the partner itself.
func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	orgs, err := s.st.ListOrgs(r.Context())
	if err != nil {
		return err
	}
	out := make([]OrgJSON, 0, len(orgs))
	for _, o := range orgs {
		// Offboarded organisations are gone; another partner's customers
		// are not the caller's business.
		if o.Revoked || !canSeeOrg(p, o) {
			continue
		}
		j := OrgJSON{ID: o.ID, Name: o.Name, Kind: string(o.Kind)}
		if p.Org.Kind == policy.Coordinator || p.Org.ID == o.Partner || p.Org.ID == o.ID {
			j.Status = orgState(o)
			if o.Partner != "" {
				j.Partner = s.orgs.name(r.Context(), o.Partner)
			}
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
	return nil
}

// auditDetailHidden says whether the detail of another organisation's
// audit entry must not be shown to p (the coordinator): it names what its
// target holds (a value, a title), and p may not see that target (a RED
// indicator or report not addressed to it), or the target is the
// organisation's own proposal, which only it sees, or it is an alert's.
func (s *Server) auditDetailHidden(ctx context.Context, p *Principal, e model.AuditEntry) (bool, error) {
	if e.Target == "" || e.Detail == "" {
		return false, nil
	}
	kind, _, _ := strings.Cut(e.Action, ".")
	var err error
	switch kind {
	case "indicator":
		_, err = s.st.Indicator(ctx, p.Viewer, e.Target)
	case "report", "misp":
		_, err = s.st.Report(ctx, p.Viewer, e.Target)
	case "proposal":
		return true, nil
	case "alert":
		// Entries written before 28 November 2026 give a campaign
		// alert's key and counts, which may come from what the
		// coordinator may not see; newer ones have no detail.
		return true, nil
	default:
		return false, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// listAudit shows the audit log: all of it to the coordinator's admins, an
// organisation's own entries to its admins.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, "cursor", "limit", "org"); err != nil {
		return err
	}
	if p.Key.Role != policy.Admin {
		return forbidden("the audit log is for admin keys")
	}
	limit, err := s.pageSize(r)
	if err != nil {
		return err
	}
	q := store.AuditQuery{Org: p.Org.ID, Limit: limit}
	if c := r.URL.Query().Get("cursor"); c != "" {
		if q.After, err = decodeCursor(c); err != nil {
			return err
		}
	}
	if p.Org.Kind == policy.Coordinator {
		q.Org = ""
		if ref := r.URL.Query().Get("org"); ref != "" {
			o, err := newResolver(s, p).org(r.Context(), ref)
			if err != nil {
				if isInternal(err) {
					return err
				}
				return badRequest("%s", err.Error())
			}
			q.Org = o.ID
		}
	} else if r.URL.Query().Get("org") != "" {
		return forbidden("only the coordinator reads other organisations' audit entries")
	}
	entries, err := s.st.ListAudit(r.Context(), q)
	if err != nil {
		return err
	}
	type entryJSON struct {
		model.AuditEntry
		OrgName string `json:"org_name,omitempty"`
	}
	out := make([]entryJSON, 0, len(entries))
	for _, e := range entries {
		if e.Org != p.Org.ID {
			hidden, err := s.auditDetailHidden(r.Context(), p, e)
			if err != nil {
				return err
			}
			if hidden {
				e.Detail = "(withheld: it names what the coordinator may not see)"
			}
		}
		j := entryJSON{AuditEntry: e}
		if e.Org != "" {
			j.OrgName = s.orgs.name(r.Context(), e.Org)
		}
		out = append(out, j)
	}
	next := ""
	if len(entries) == limit {
		next = encodeCursor(entries[len(entries)-1].Seq)
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out, "next": next})
	return nil
}
