package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/warninglist"
)

// view is what every page's template gets.
type view struct {
	Title string
	Hub   string
	U     *user
	CSRF  string
	Path  string
	Data  any
}

var funcs = template.FuncMap{
	"tlpClass": func(t string) string {
		t = strings.ToLower(strings.TrimSpace(t))
		switch t {
		case "clear", "white":
			return "tlp-clear"
		case "green", "amber", "red":
			return "tlp-" + t
		case "amber+strict":
			return "tlp-amber-strict"
		}
		return "tlp-unknown"
	},
	"tlpName": func(t string) string {
		if t == "" {
			return "TLP:?"
		}
		return "TLP:" + strings.ToUpper(t)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"join": strings.Join,
	"hits": func(hs []warninglist.Hit) string {
		parts := make([]string, 0, len(hs))
		for _, h := range hs {
			parts = append(parts, h.List+" ("+string(h.Kind)+")")
		}
		return strings.Join(parts, ", ")
	},
	"secs": func(f float64) string {
		return (time.Duration(f * float64(time.Second))).Round(time.Second).String()
	},
	"plus": func(a, b int) int { return a + b },
}

func parseTemplates() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return pages
}

// render writes a page. u is nil on the sign-in and error pages of a
// visitor without a session.
func (a *app) render(w http.ResponseWriter, r *http.Request, u *user, status int, page, title string, data any) {
	t, ok := a.pages[page]
	if !ok {
		panic("web: no template " + page)
	}
	v := view{Title: title, Hub: a.hub, U: u, Path: r.URL.Path, Data: data}
	if u != nil {
		v.CSRF = u.Session.CSRF
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		a.log.ErrorContext(r.Context(), "web: render", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Text    string
	Message string
}

func (a *app) errorPage(w http.ResponseWriter, r *http.Request, u *user, status int, msg string) {
	a.render(w, r, u, status, "error", http.StatusText(status), errorData{Status: status, Text: http.StatusText(status), Message: msg})
}

func jsonEncode(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
