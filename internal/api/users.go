package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// Web UI users, managed like keys: by an admin of the organisation, of its
// partner (for a customer), or of the coordinator.

// UserJSON is a user as its managers see it (never the password hash).
type UserJSON struct {
	ID         string      `json:"id"`
	Email      string      `json:"email"`
	Name       string      `json:"name"`
	Role       policy.Role `json:"role"`
	Disabled   bool        `json:"disabled"`
	Created    time.Time   `json:"created"`
	LastSignIn time.Time   `json:"last_sign_in,omitzero"`
}

func userJSON(u model.User) UserJSON {
	return UserJSON{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, Created: u.Created, LastSignIn: u.LastSignIn}
}

func (s *Server) listOrgUsers(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.orgToManage(r, p, false)
	if err != nil {
		return err
	}
	us, err := s.st.ListUsers(r.Context(), o.ID)
	if err != nil {
		return err
	}
	out := make([]UserJSON, 0, len(us))
	for _, u := range us {
		out = append(out, userJSON(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

// createOrgUser adds a user with a first password, which must meet the
// password policy (docs/WEBUI.md).
func (s *Server) createOrgUser(w http.ResponseWriter, r *http.Request, p *Principal) error {
	o, err := s.orgToManage(r, p, true)
	if err != nil {
		return err
	}
	var in struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := s.decodeStrict(w, r, &in); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return errf(http.StatusBadRequest, CodeInvalidValue, format, args...)
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || len(email) > 254 {
		return bad("email %q is not an e-mail address", clip(in.Email))
	}
	role, err := policy.ParseRole(in.Role)
	if err != nil || role == policy.Sensor {
		return bad("role %q: a user is admin, analyst or readonly", clip(in.Role))
	}
	if len(in.Name) > 128 {
		return bad("name is longer than 128 bytes")
	}
	if err := session.CheckPasswordPolicy(in.Password, email); err != nil {
		return bad("%s", err.Error())
	}
	hash, err := session.HashPassword(in.Password)
	if err != nil {
		return err
	}
	u, err := s.st.CreateUser(r.Context(), model.User{OrgID: o.ID, Email: email, Name: strings.TrimSpace(in.Name), Role: role, PasswordHash: hash, Created: s.now().UTC()})
	if errors.Is(err, store.ErrConflict) {
		return errf(http.StatusConflict, CodeConflict, "a user %s exists", email)
	}
	if err != nil {
		return err
	}
	s.audit(r.Context(), p, "user.add", u.ID, string(role)+" "+email+" of "+o.Name)
	writeJSON(w, http.StatusCreated, userJSON(u))
	return nil
}

// setUserDisabled disables (ending its sessions) or enables a user.
func (s *Server) setUserDisabled(disabled bool) func(w http.ResponseWriter, r *http.Request, p *Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *Principal) error {
		o, err := s.orgToManage(r, p, false)
		if err != nil {
			return err
		}
		u, err := s.st.UserByID(r.Context(), r.PathValue("user"))
		if errors.Is(err, store.ErrNotFound) || err == nil && u.OrgID != o.ID {
			return notFound("user " + strconv.Quote(clip(r.PathValue("user"))) + " of " + o.Name)
		}
		if err != nil {
			return err
		}
		if "user:"+u.ID == p.Key.ID && disabled {
			return forbidden("a user does not disable itself")
		}
		u.Disabled = disabled
		if err := s.st.UpdateUser(r.Context(), u); err != nil {
			return err
		}
		action := map[bool]string{true: "user.disable", false: "user.enable"}[disabled]
		s.audit(r.Context(), p, action, u.ID, u.Email)
		s.recheckStreams()
		writeJSON(w, http.StatusOK, userJSON(u))
		return nil
	}
}
