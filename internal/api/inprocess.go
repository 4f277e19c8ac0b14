package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// The web UI uses the native API in-process, as the principal of the
// signed-in user, so that every page goes through exactly the checks,
// policy filters and audit of the API. Only code in this binary can set
// the principal: the context key is unexported, and nothing a client sends
// can put it there.

type principalKey struct{}

// WithPrincipal returns ctx carrying p for ServeAs and Do.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// ServeAs serves an API request as p, without an API key (the web UI's
// signed-in user). r's path must be an API path (/api/v1/…).
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, p *Principal) {
	s.mux.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
}

// Do calls the API in-process as p and returns the status and body. body
// is sent as application/json when not nil.
func (s *Server) Do(ctx context.Context, p *Principal, method, target string, body []byte) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequestWithContext(WithPrincipal(ctx, p), method, target, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

// PrincipalForUser is the principal of a web UI user: its organisation,
// role and viewer, as an API key of that role would have. The key id is
// "user:" and the user's id, so the audit log names the user.
func (s *Server) PrincipalForUser(ctx context.Context, u model.User) (*Principal, error) {
	if u.Disabled {
		return nil, errors.New("api: the user is disabled")
	}
	switch u.Role {
	case policy.Admin, policy.Analyst, policy.ReadOnly:
	default:
		return nil, fmt.Errorf("api: a user may not have role %q", u.Role)
	}
	org, err := s.st.Org(ctx, u.OrgID)
	if err != nil {
		return nil, err
	}
	if !org.Usable() {
		return nil, fmt.Errorf("api: %s is %s", org.Name, orgState(org))
	}
	v, err := s.st.Viewer(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	return &Principal{Key: model.Key{ID: "user:" + u.ID, OrgID: org.ID, Role: u.Role, Name: u.Email}, Org: org, Viewer: v}, nil
}

// MaxItems is how many indicators one submission may hold (Limits.MaxItems):
// the web UI holds an uploaded file to it, as the API holds a request.
func (s *Server) MaxItems() int { return s.limits.MaxItems }
