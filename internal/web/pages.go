package web

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/coverage"
	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// ---- sign-in ----

func (a *app) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, _, err := a.sess.Load(r); err == nil {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	a.render(w, r, nil, http.StatusOK, "signin", "Sign in", signInData{})
}

type signInData struct {
	Email, Error string
}

func (a *app) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := session.RequireSameOrigin(r); err != nil {
		a.errorPage(w, r, nil, http.StatusForbidden, "Refused: the request did not come from this site.")
		return
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.errorPage(w, r, nil, http.StatusRequestEntityTooLarge, "The sign-in form is too large.")
			return
		}
		a.errorPage(w, r, nil, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	email, pw := r.PostFormValue("email"), r.PostFormValue("password")
	err := session.ErrBadCredentials // no account has a name or password that is not text
	if api.IsText(email) && api.IsText(pw) {
		_, err = a.sess.SignIn(r.Context(), w, email, pw)
	}
	if err == nil {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	msg, status := "Wrong e-mail address or password.", http.StatusUnauthorized
	switch {
	case errors.Is(err, session.ErrBadCredentials):
	case errors.Is(err, session.ErrLocked):
		msg, status = "Too many failed sign-ins for this address: try again in 15 minutes.", http.StatusTooManyRequests
	case errors.Is(err, session.ErrDisabled):
		msg, status = "This account or its organisation is disabled.", http.StatusForbidden
	default:
		a.log.ErrorContext(r.Context(), "web: sign in", "err", err)
		msg, status = "Signing in failed; try again.", http.StatusInternalServerError
	}
	a.render(w, r, nil, status, "signin", "Sign in", signInData{Email: email, Error: msg})
}

func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	s, _, err := a.sess.Load(r)
	if err == nil {
		if err := session.RequireSameOrigin(r); err != nil {
			a.errorPage(w, r, nil, http.StatusForbidden, "Refused: the request did not come from this site.")
			return
		}
		if err := session.CheckCSRF(r, s); err != nil {
			a.errorPage(w, r, nil, http.StatusForbidden, "Refused: the form's security token is missing or wrong.")
			return
		}
	}
	if err := a.sess.SignOut(r.Context(), w, r); err != nil {
		a.log.ErrorContext(r.Context(), "web: sign out", "err", err)
	}
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
}

// ---- dashboard ----

type dashboardData struct {
	Live       []api.IndicatorJSON
	LiveErr    string
	Cursor     int64
	Chart      chart
	ChartNote  string
	Top        []topRow
	TopWindow  string
	TopErr     string
	Sensors    []api.SensorJSON
	SensorsErr string
	Feeds      []api.FeedJSON
	FeedsErr   string
	Peers      []api.PeerJSON
	PeersErr   string
	Now        time.Time
}

type topRow struct {
	Ind      api.IndicatorJSON
	Sighters int
}

// recent asks the API for the newest live indicators the user may see. The
// API lists oldest change first, so it narrows a since= window until one
// page holds the newest: a handful of one-page requests, never a scan.
func (a *app) recent(r *http.Request, u *user, want int) ([]api.IndicatorJSON, error) {
	// The newest page, newest first (the API's order=desc walks the change
	// sequence backwards from its end: one page read, whatever the store
	// holds).
	var p struct {
		Indicators []api.IndicatorJSON `json:"indicators"`
	}
	if err := a.call(r.Context(), u, "GET", query("/api/v1/indicators", "order", "desc", "limit", strconv.Itoa(max(want, 1))), nil, &p); err != nil {
		return nil, err
	}
	out := make([]api.IndicatorJSON, 0, len(p.Indicators))
	for _, ind := range p.Indicators {
		if !ind.Expired && !ind.Revoked {
			out = append(out, ind)
		}
	}
	return out, nil
}

func (a *app) dashboard(w http.ResponseWriter, r *http.Request, u *user) {
	d := dashboardData{Now: a.now()}
	inds, err := a.recent(r, u, pageSize)
	if err != nil {
		d.LiveErr = errMessage(err)
	}
	d.Live = inds
	for _, i := range inds {
		d.Cursor = max(d.Cursor, i.Seq)
	}

	// Top sighted: the blast-radius preview counts, in one call, how many
	// organisations sighted each value through the indicators the user
	// may see.
	if u.CanSubmit && len(inds) > 0 {
		type item struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		}
		in := struct {
			Indicators []item `json:"indicators"`
		}{}
		for _, i := range inds {
			in.Indicators = append(in.Indicators, item{i.Type, i.Value})
		}
		var out struct {
			Window   string            `json:"window"`
			Previews []api.PreviewJSON `json:"previews"`
		}
		if err := a.call(r.Context(), u, "POST", "/api/v1/indicators/preview", in, &out); err != nil {
			d.TopErr = errMessage(err)
		} else {
			d.TopWindow = out.Window
			if w, err := time.ParseDuration(out.Window); err == nil && w >= 24*time.Hour && w%(24*time.Hour) == 0 {
				d.TopWindow = "last " + strconv.Itoa(int(w/(24*time.Hour))) + " days"
			}
			for k, pv := range out.Previews {
				if k < len(inds) && pv.Sighters > 0 {
					d.Top = append(d.Top, topRow{Ind: inds[k], Sighters: pv.Sighters})
				}
			}
			sort.SliceStable(d.Top, func(i, j int) bool { return d.Top[i].Sighters > d.Top[j].Sighters })
			if len(d.Top) > 10 {
				d.Top = d.Top[:10]
			}
		}
	} else if !u.CanSubmit {
		d.TopErr = "not available to a read-only account"
	}

	// The chart: sightings per day, from the sightings the API shows of the
	// most sighted indicators (at most 10 calls).
	d.Chart, d.ChartNote = a.sightingsChart(r, u, d.Top)

	var sensors struct {
		Sensors []api.SensorJSON `json:"sensors"`
	}
	if err := a.call(r.Context(), u, "GET", "/api/v1/sensors", nil, &sensors); err != nil {
		d.SensorsErr = errMessage(err)
	}
	d.Sensors = sensors.Sensors
	if u.Coord {
		var feeds struct {
			Feeds []api.FeedJSON `json:"feeds"`
		}
		if err := a.call(r.Context(), u, "GET", "/api/v1/feeds", nil, &feeds); err != nil {
			d.FeedsErr = errMessage(err)
		}
		d.Feeds = feeds.Feeds
		var peers struct {
			Peers []api.PeerJSON `json:"peers"`
		}
		if err := a.call(r.Context(), u, "GET", "/api/v1/federation/peers", nil, &peers); err != nil {
			d.PeersErr = errMessage(err)
		}
		d.Peers = peers.Peers
	}
	a.render(w, r, u, http.StatusOK, "dashboard", "Dashboard", d)
}

// chart is a bar chart drawn server-side as SVG.
type chart struct {
	Bars  []bar
	Max   int64
	Width int
}

type bar struct {
	X, Y, W, H int
	Label      string
	Count      int64
	Day        string
}

const chartDays = 14

func (a *app) sightingsChart(r *http.Request, u *user, top []topRow) (chart, string) {
	today := a.now().UTC().Truncate(24 * time.Hour)
	start := today.AddDate(0, 0, -(chartDays - 1))
	counts := make([]int64, chartDays)
	detail := 0
	for _, t := range top {
		var s api.SightingsJSON
		if err := a.call(r.Context(), u, "GET", "/api/v1/indicators/"+url.PathEscape(t.Ind.ID)+"/sightings", nil, &s); err != nil {
			continue
		}
		if len(s.ByOrg) == 0 {
			continue
		}
		detail++
		for _, o := range s.ByOrg {
			if o.Kind != string(model.Sighted) {
				continue
			}
			// An organisation's sightings count on each day from its
			// first to its last hour.
			for d := 0; d < chartDays; d++ {
				day := start.AddDate(0, 0, d)
				if !o.Last.Before(day) && o.First.Before(day.Add(24*time.Hour)) {
					counts[d]++
				}
			}
		}
	}
	c := chart{Width: chartDays * 30}
	for _, n := range counts {
		c.Max = max(c.Max, n)
	}
	const h = 100
	for d, n := range counts {
		bh := 0
		if c.Max > 0 {
			bh = int(n * h / c.Max)
		}
		day := start.AddDate(0, 0, d)
		c.Bars = append(c.Bars, bar{X: d * 30, Y: h - bh, W: 24, H: bh, Count: n, Day: day.Format("2006-01-02"), Label: day.Format("02")})
	}
	note := "Organisations sighting the most sighted indicators, per day (their first to last sighting)."
	if detail == 0 {
		note = "No sightings the hub shows you in detail (which organisations saw what is shown to an indicator's source and the coordinator)."
	}
	return c, note
}

// stream proxies the API's event stream for hdn.js. It always resumes from
// a cursor (the page's newest indicator), so that no snapshot is sent.
func (a *app) stream(w http.ResponseWriter, r *http.Request, u *user) {
	// A reconnecting EventSource names the last event it handled.
	cursor := r.Header.Get("Last-Event-ID")
	if cursor == "" {
		cursor = r.URL.Query().Get("cursor")
	}
	if _, err := strconv.ParseInt(cursor, 10, 64); err != nil {
		cursor = "0"
	}
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: "/api/v1/stream", RawQuery: url.Values{"cursor": {cursor}}.Encode()}
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Last-Event-ID")
	a.api.ServeAs(w, r2, u.P)
}

// ---- indicators ----

type searchData struct {
	Q, Type, Label, TLP, Source, Report, Since string
	Types                                      []string
	TLPList                                    []string
	Results                                    []api.IndicatorJSON
	Next                                       string
	NextURL                                    string
	Err                                        string
	Searched                                   bool
}

var tlps = []string{"clear", "green", "amber", "amber+strict", "red"}

func (a *app) search(w http.ResponseWriter, r *http.Request, u *user) {
	qs := r.URL.Query()
	d := searchData{Q: strings.TrimSpace(qs.Get("q")), Type: qs.Get("type"), Label: strings.TrimSpace(qs.Get("label")),
		TLP: qs.Get("tlp"), Source: strings.TrimSpace(qs.Get("source")), Report: strings.TrimSpace(qs.Get("report")), Since: strings.TrimSpace(qs.Get("since")), TLPList: tlps}
	for _, t := range indicator.Types {
		d.Types = append(d.Types, string(t))
	}
	since := d.Since
	if t, err := time.Parse("2006-01-02", since); err == nil {
		since = t.Format(time.RFC3339)
	}
	cursor := qs.Get("cursor")
	target := query("/api/v1/indicators", "value", d.Q, "type", d.Type, "label", d.Label, "tlp", d.TLP, "source", d.Source, "report", d.Report,
		"since", since, "cursor", cursor, "limit", strconv.Itoa(pageSize), "order", "desc")
	var page struct {
		Indicators []api.IndicatorJSON `json:"indicators"`
		Next       string              `json:"next"`
	}
	status := http.StatusOK
	if err := a.call(r.Context(), u, "GET", target, nil, &page); err != nil {
		d.Err = errMessage(err)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			status = ae.Status
		}
	}
	d.Searched = true
	d.Results = append(d.Results, page.Indicators...)
	if page.Next != "" {
		d.Next = page.Next
		d.NextURL = query("/ui/indicators", "q", d.Q, "type", d.Type, "label", d.Label, "tlp", d.TLP, "source", d.Source,
			"report", d.Report, "since", d.Since, "cursor", page.Next)
	}
	a.render(w, r, u, status, "search", "Indicators", d)
}

type indicatorData struct {
	Ind          api.IndicatorJSON
	Sightings    api.SightingsJSON
	SightingsErr string
	CanRevoke    bool
	CanRelease   bool
	Exports      []exportLink
	Message      string
	Error        string
}

type exportLink struct{ Name, URL string }

func (a *app) loadIndicator(w http.ResponseWriter, r *http.Request, u *user, id string) (indicatorData, bool) {
	var d indicatorData
	if err := a.call(r.Context(), u, "GET", "/api/v1/indicators/"+url.PathEscape(id), nil, &d.Ind); err != nil {
		a.apiFailed(w, r, u, err)
		return d, false
	}
	if err := a.call(r.Context(), u, "GET", "/api/v1/indicators/"+url.PathEscape(id)+"/sightings", nil, &d.Sightings); err != nil {
		d.SightingsErr = errMessage(err)
	}
	// The form is shown when the API would allow it; the API decides.
	d.CanRevoke = u.CanSubmit && !d.Ind.Revoked &&
		(u.Coord || d.Ind.Source == u.OrgName || u.P.Org.Kind == policy.Partner)
	d.CanRelease = u.Coord && u.CanSubmit && d.Ind.Quarantined && !d.Ind.Revoked
	for _, f := range []string{"csv", "stix", "suricata", "zeek", "snort", "rpz", "list"} {
		d.Exports = append(d.Exports, exportLink{f, query("/ui/export/"+f, "type", d.Ind.Type, "value", d.Ind.Value)})
	}
	return d, true
}

func (a *app) indicatorPage(w http.ResponseWriter, r *http.Request, u *user) {
	d, ok := a.loadIndicator(w, r, u, r.PathValue("id"))
	if !ok {
		return
	}
	switch r.URL.Query().Get("done") {
	case "revoked":
		d.Message = "The indicator was revoked."
	case "released":
		d.Message = "The indicator was released from quarantine."
	}
	a.render(w, r, u, http.StatusOK, "indicator", d.Ind.Value, d)
}

func (a *app) revoke(w http.ResponseWriter, r *http.Request, u *user) {
	a.curate(w, r, u, "revoke", "revoked")
}

func (a *app) release(w http.ResponseWriter, r *http.Request, u *user) {
	a.curate(w, r, u, "release", "released")
}

func (a *app) curate(w http.ResponseWriter, r *http.Request, u *user, action, done string) {
	id := r.PathValue("id")
	err := a.call(r.Context(), u, "POST", "/api/v1/indicators/"+url.PathEscape(id)+"/"+action, nil, nil)
	if err == nil {
		http.Redirect(w, r, "/ui/indicators/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status == http.StatusNotFound {
		a.apiFailed(w, r, u, err)
		return
	}
	d, ok := a.loadIndicator(w, r, u, id)
	if !ok {
		return
	}
	d.Error = ae.Message
	a.render(w, r, u, ae.Status, "indicator", d.Ind.Value, d)
}

var formatName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// export streams an API export as a download.
func (a *app) export(w http.ResponseWriter, r *http.Request, u *user) {
	f := r.PathValue("format")
	if !formatName.MatchString(f) {
		a.errorPage(w, r, u, http.StatusNotFound, "No such export format.")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: "/api/v1/export/" + f, RawQuery: r.URL.RawQuery}
	r2.RequestURI = r2.URL.RequestURI()
	a.api.ServeAs(w, r2, u.P)
}

// ---- reports ----

type reportsData struct {
	Reports []api.ReportJSON
	NextURL string
}

func (a *app) reports(w http.ResponseWriter, r *http.Request, u *user) {
	var page struct {
		Reports []api.ReportJSON `json:"reports"`
		Next    string           `json:"next"`
	}
	if err := a.call(r.Context(), u, "GET", query("/api/v1/reports", "limit", strconv.Itoa(pageSize), "cursor", r.URL.Query().Get("cursor")), nil, &page); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	d := reportsData{Reports: page.Reports}
	if page.Next != "" {
		d.NextURL = query("/ui/reports", "cursor", page.Next)
	}
	a.render(w, r, u, http.StatusOK, "reports", "Reports", d)
}

type reportData struct {
	Report     api.ReportJSON
	Indicators []api.IndicatorJSON
	NextURL    string
	Exports    []exportLink
}

func (a *app) reportPage(w http.ResponseWriter, r *http.Request, u *user) {
	id := r.PathValue("id")
	var d reportData
	if err := a.call(r.Context(), u, "GET", "/api/v1/reports/"+url.PathEscape(id), nil, &d.Report); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	var page struct {
		Indicators []api.IndicatorJSON `json:"indicators"`
		Next       string              `json:"next"`
	}
	if err := a.call(r.Context(), u, "GET", query("/api/v1/indicators", "report", d.Report.ID, "limit", strconv.Itoa(pageSize), "cursor", r.URL.Query().Get("cursor")), nil, &page); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	d.Indicators = page.Indicators
	if page.Next != "" {
		d.NextURL = query("/ui/reports/"+url.PathEscape(d.Report.ID), "cursor", page.Next)
	}
	for _, f := range []string{"csv", "stix", "suricata"} {
		d.Exports = append(d.Exports, exportLink{f, query("/ui/export/"+f, "report", d.Report.ID)})
	}
	a.render(w, r, u, http.StatusOK, "report", d.Report.Title, d)
}

// ---- organisations, queue, audit, alerts, coverage ----

type orgsData struct {
	Orgs []api.OrgJSON
	Msg  string
}

func (a *app) orgs(w http.ResponseWriter, r *http.Request, u *user) {
	if !u.Coord {
		a.errorPage(w, r, u, http.StatusForbidden, "The organisations page is for the coordinator.")
		return
	}
	var out struct {
		Orgs []api.OrgJSON `json:"orgs"`
	}
	if err := a.call(r.Context(), u, "GET", "/api/v1/orgs", nil, &out); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	d := orgsData{Orgs: out.Orgs}
	if r.URL.Query().Get("done") == "approved" {
		d.Msg = "The organisation was approved."
	}
	a.render(w, r, u, http.StatusOK, "orgs", "Organisations", d)
}

func (a *app) approveOrg(w http.ResponseWriter, r *http.Request, u *user) {
	if err := a.call(r.Context(), u, "POST", "/api/v1/orgs/"+url.PathEscape(r.PathValue("id"))+"/approve", nil, nil); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/ui/orgs?done=approved", http.StatusSeeOther)
}

type queueData struct {
	Proposals      []model.Proposal
	ProposalsErr   string
	Quarantined    []api.IndicatorJSON
	QuarantinedErr string
	Overridden     []api.IndicatorJSON
	OverriddenErr  string
	Msg            string
	TLPs           []string
}

func (a *app) queue(w http.ResponseWriter, r *http.Request, u *user) {
	d := queueData{TLPs: tlps}
	var props struct {
		Proposals []model.Proposal `json:"proposals"`
	}
	if err := a.call(r.Context(), u, "GET", "/api/v1/proposals?status=pending&limit=100", nil, &props); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			a.apiFailed(w, r, u, err)
			return
		}
		d.ProposalsErr = errMessage(err)
	}
	d.Proposals = props.Proposals
	if u.Coord {
		// The coordinator decides on quarantined indicators and reviews the
		// submissions that overrode a warninglist.
		var q, o struct {
			Indicators []api.IndicatorJSON `json:"indicators"`
		}
		if err := a.call(r.Context(), u, "GET", query("/api/v1/indicators", "quarantined", "true", "order", "desc", "limit", "100"), nil, &q); err != nil {
			d.QuarantinedErr = errMessage(err)
		}
		d.Quarantined = q.Indicators
		if err := a.call(r.Context(), u, "GET", query("/api/v1/indicators", "tag", "hdn:warninglist-override", "order", "desc", "limit", "100"), nil, &o); err != nil {
			d.OverriddenErr = errMessage(err)
		}
		d.Overridden = o.Indicators
	}
	switch r.URL.Query().Get("done") {
	case "approve":
		d.Msg = "The proposal was approved and shared."
	case "reject":
		d.Msg = "The proposal was rejected."
	}
	a.render(w, r, u, http.StatusOK, "queue", "Approval queue", d)
}

func (a *app) decideProposal(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, u *user) {
		var body any
		if action == "approve" {
			in := map[string]any{"tlp": r.PostFormValue("tlp")}
			if l := splitWords(r.PostFormValue("labels")); len(l) > 0 {
				in["labels"] = l
			}
			body = in
		}
		if err := a.call(r.Context(), u, "POST", "/api/v1/proposals/"+url.PathEscape(r.PathValue("id"))+"/"+action, body, nil); err != nil {
			a.apiFailed(w, r, u, err)
			return
		}
		http.Redirect(w, r, "/ui/queue?done="+action, http.StatusSeeOther)
	}
}

type auditEntry struct {
	model.AuditEntry
	OrgName string `json:"org_name"`
}

type auditData struct {
	Entries []auditEntry
	NextURL string
}

func (a *app) audit(w http.ResponseWriter, r *http.Request, u *user) {
	var page struct {
		Entries []auditEntry `json:"entries"`
		Next    string       `json:"next"`
	}
	if err := a.call(r.Context(), u, "GET", query("/api/v1/audit", "limit", "100", "cursor", r.URL.Query().Get("cursor"), "org", r.URL.Query().Get("org")), nil, &page); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	d := auditData{Entries: page.Entries}
	if page.Next != "" {
		d.NextURL = query("/ui/audit", "cursor", page.Next, "org", r.URL.Query().Get("org"))
	}
	a.render(w, r, u, http.StatusOK, "audit", "Audit log", d)
}

func (a *app) alerts(w http.ResponseWriter, r *http.Request, u *user) {
	var out struct {
		Alerts []api.AlertJSON `json:"alerts"`
	}
	if err := a.call(r.Context(), u, "GET", "/api/v1/alerts", nil, &out); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	a.render(w, r, u, http.StatusOK, "alerts", "Campaign alerts", out.Alerts)
}

func (a *app) coverage(w http.ResponseWriter, r *http.Request, u *user) {
	var rep coverage.Report
	if err := a.call(r.Context(), u, "GET", "/api/v1/coverage", nil, &rep); err != nil {
		a.apiFailed(w, r, u, err)
		return
	}
	a.render(w, r, u, http.StatusOK, "coverage", "Coverage", &rep)
}

func splitWords(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
