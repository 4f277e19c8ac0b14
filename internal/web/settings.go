package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/policy"
)

// The organisation page (/ui/settings): an admin manages its
// organisation's users, API keys and sensor enrolment tokens, and sees its
// sensors — through the same API endpoints as the command line, which
// decide who may (the organisation's admin, its partner's admin, the
// coordinator's admin).

type settingsData struct {
	Org      string
	Users    []api.UserJSON
	Keys     []api.KeyJSON
	Sensors  []api.SensorJSON
	Err      string
	Msg      string
	NewKey   string // shown once, right after it was made
	NewToken string
	Roles    []string
}

func (a *app) settingsPage(w http.ResponseWriter, r *http.Request, u *user) {
	a.renderSettings(w, r, u, settingsData{})
}

func (a *app) renderSettings(w http.ResponseWriter, r *http.Request, u *user, d settingsData) {
	if u.User.Role != policy.Admin {
		a.errorPage(w, r, u, http.StatusForbidden, "The organisation page is for admins.")
		return
	}
	d.Org, d.Roles = u.OrgName, []string{"analyst", "readonly", "admin", "sensor"}
	base := "/api/v1/orgs/" + url.PathEscape(u.P.Org.ID)
	var users struct {
		Users []api.UserJSON `json:"users"`
	}
	if err := a.call(r.Context(), u, "GET", base+"/users", nil, &users); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	var keys struct {
		Keys []api.KeyJSON `json:"keys"`
	}
	if err := a.call(r.Context(), u, "GET", base+"/keys", nil, &keys); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	var sensors struct {
		Sensors []api.SensorJSON `json:"sensors"`
	}
	if err := a.call(r.Context(), u, "GET", "/api/v1/sensors?org="+url.QueryEscape(u.P.Org.ID), nil, &sensors); err != nil {
		d.Err = errMessage(err)
	}
	d.Users, d.Keys, d.Sensors = users.Users, keys.Keys, sensors.Sensors
	a.render(w, r, u, http.StatusOK, "settings", "Organisation", d)
}

func (a *app) settingsAddUser(w http.ResponseWriter, r *http.Request, u *user) {
	in := map[string]any{"email": strings.TrimSpace(r.PostFormValue("email")), "name": strings.TrimSpace(r.PostFormValue("name")),
		"role": r.PostFormValue("role"), "password": r.PostFormValue("password")}
	var d settingsData
	if err := a.call(r.Context(), u, "POST", "/api/v1/orgs/"+url.PathEscape(u.P.Org.ID)+"/users", in, nil); err != nil {
		d.Err = errMessage(err)
	} else {
		d.Msg = "User " + in["email"].(string) + " added."
	}
	a.renderSettings(w, r, u, d)
}

func (a *app) settingsUser(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, u *user) {
		var d settingsData
		if err := a.call(r.Context(), u, "POST", "/api/v1/orgs/"+url.PathEscape(u.P.Org.ID)+"/users/"+url.PathEscape(r.PathValue("id"))+"/"+action, nil, nil); err != nil {
			d.Err = errMessage(err)
		} else {
			d.Msg = "User " + action + "d."
		}
		a.renderSettings(w, r, u, d)
	}
}

func (a *app) settingsAddKey(w http.ResponseWriter, r *http.Request, u *user) {
	in := map[string]any{"role": r.PostFormValue("role"), "name": strings.TrimSpace(r.PostFormValue("name"))}
	if e := strings.TrimSpace(r.PostFormValue("expires_in")); e != "" {
		in["expires_in"] = e
	}
	var out struct {
		Key string `json:"key"`
	}
	var d settingsData
	if err := a.call(r.Context(), u, "POST", "/api/v1/orgs/"+url.PathEscape(u.P.Org.ID)+"/keys", in, &out); err != nil {
		d.Err = errMessage(err)
	} else {
		d.NewKey, d.Msg = out.Key, "Key made. It is shown once: copy it now."
	}
	a.renderSettings(w, r, u, d)
}

func (a *app) settingsRevokeKey(w http.ResponseWriter, r *http.Request, u *user) {
	var d settingsData
	if err := a.call(r.Context(), u, "POST", "/api/v1/orgs/"+url.PathEscape(u.P.Org.ID)+"/keys/"+url.PathEscape(r.PathValue("id"))+"/revoke", nil, nil); err != nil {
		d.Err = errMessage(err)
	} else {
		d.Msg = "Key revoked."
	}
	a.renderSettings(w, r, u, d)
}

func (a *app) settingsEnrol(w http.ResponseWriter, r *http.Request, u *user) {
	var out struct {
		Token string `json:"token"`
	}
	var d settingsData
	if err := a.call(r.Context(), u, "POST", "/api/v1/orgs/"+url.PathEscape(u.P.Org.ID)+"/enrolments", map[string]any{}, &out); err != nil {
		d.Err = errMessage(err)
	} else {
		d.NewToken, d.Msg = out.Token, "Enrolment token made: it works once, for 15 minutes (hdn sensor enrol --token-file)."
	}
	a.renderSettings(w, r, u, d)
}
