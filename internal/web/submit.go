package web

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/iocfile"
	"github.com/hdnetwork/hdn/internal/warninglist"
)

type submitData struct {
	Types []string
	TLPs  []string
	Error string
	// The bulk preview.
	Text       string
	TLP        string
	Labels     string
	Candidates []previewRow
	// Results of a submission.
	Results  []resultRow
	Summary  string
	Problems []string
	More     int
}

type previewRow struct {
	Type, Value, Raw, Status string
	Warninglists             []warninglist.Hit
	Keep                     bool
	Refused                  bool
}

type resultRow struct {
	Type, Value, Status, ID, Error string
	Warninglists                   []warninglist.Hit
}

func (a *app) newSubmitData() submitData {
	d := submitData{TLPs: tlps, TLP: "amber"}
	d.Types = []string{"ipv4", "ipv6", "cidr", "domain", "hostname", "url", "email", "md5", "sha1", "sha256", "sha512",
		"x509-sha1", "x509-sha256", "ja3", "ja3s", "ja4"}
	return d
}

func (a *app) submitPage(w http.ResponseWriter, r *http.Request, u *user) {
	a.render(w, r, u, http.StatusOK, "submit", "Share indicators", a.newSubmitData())
}

func formTLP(r *http.Request) string {
	t := r.PostFormValue("tlp")
	for _, k := range tlps {
		if t == k {
			return t
		}
	}
	return "amber"
}

// submitSingle shares one indicator through POST /api/v1/indicators.
func (a *app) submitSingle(w http.ResponseWriter, r *http.Request, u *user) {
	item := map[string]any{"value": strings.TrimSpace(r.PostFormValue("value")), "tlp": formTLP(r)}
	if t := r.PostFormValue("type"); t != "" {
		item["type"] = t
	}
	if l := splitWords(r.PostFormValue("labels")); len(l) > 0 {
		item["labels"] = l
	}
	if d := strings.TrimSpace(r.PostFormValue("description")); d != "" {
		item["description"] = d
	}
	var out struct {
		Results []api.ItemResult `json:"results"`
	}
	d := a.newSubmitData()
	if err := a.call(r.Context(), u, "POST", "/api/v1/indicators", map[string]any{"indicators": []any{item}}, &out); err != nil {
		d.Error = errMessage(err)
		a.render(w, r, u, statusOf(err), "submit", "Share indicators", d)
		return
	}
	if len(out.Results) == 1 && out.Results[0].ID != "" {
		http.Redirect(w, r, "/ui/indicators/"+url.PathEscape(out.Results[0].ID), http.StatusSeeOther)
		return
	}
	d.Results = resultRows(out.Results)
	d.Summary = "The indicator was not stored."
	a.render(w, r, u, http.StatusOK, "result", "Submission", d)
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return http.StatusInternalServerError
}

func resultRows(rs []api.ItemResult) []resultRow {
	out := make([]resultRow, 0, len(rs))
	for _, x := range rs {
		row := resultRow{Type: x.Type, Value: x.Value, Status: x.Status, ID: x.ID, Warninglists: x.Warninglists}
		if x.Error != nil {
			row.Error = x.Error.Message
		}
		out = append(out, row)
	}
	return out
}

type textIn struct {
	Text    string   `json:"text"`
	TLP     string   `json:"tlp"`
	Labels  []string `json:"labels,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// submitPreview shows what the free-text import would find in the pasted
// text (POST /api/v1/import/text?preview=true); nothing is stored.
func (a *app) submitPreview(w http.ResponseWriter, r *http.Request, u *user) {
	d := a.newSubmitData()
	d.Text, d.TLP, d.Labels = r.PostFormValue("text"), formTLP(r), r.PostFormValue("labels")
	var out struct {
		Candidates []api.TextCandidate `json:"candidates"`
	}
	if err := a.call(r.Context(), u, "POST", "/api/v1/import/text?preview=true", textIn{Text: d.Text, TLP: d.TLP, Labels: splitWords(d.Labels)}, &out); err != nil {
		d.Error = errMessage(err)
		a.render(w, r, u, statusOf(err), "submit", "Share indicators", d)
		return
	}
	for _, c := range out.Candidates {
		refused := c.Status == "refused" || c.Status == "invalid"
		d.Candidates = append(d.Candidates, previewRow{Type: string(c.Type), Value: c.Value, Raw: c.Raw, Status: c.Status,
			Warninglists: c.Warninglists, Keep: !refused, Refused: refused})
	}
	a.render(w, r, u, http.StatusOK, "preview", "Preview", d)
}

// submitText shares the pasted text's values that stayed ticked
// (POST /api/v1/import/text with the unticked ones excluded).
func (a *app) submitText(w http.ResponseWriter, r *http.Request, u *user) {
	d := a.newSubmitData()
	d.Text, d.TLP, d.Labels = r.PostFormValue("text"), formTLP(r), r.PostFormValue("labels")
	keep := map[string]bool{}
	for _, v := range r.PostForm["keep"] {
		keep[v] = true
	}
	in := textIn{Text: d.Text, TLP: d.TLP, Labels: splitWords(d.Labels)}
	for _, v := range r.PostForm["candidate"] {
		if !keep[v] {
			in.Exclude = append(in.Exclude, v)
		}
	}
	var out struct {
		Candidates []api.TextCandidate `json:"candidates"`
	}
	if err := a.call(r.Context(), u, "POST", "/api/v1/import/text", in, &out); err != nil {
		d.Error = errMessage(err)
		a.render(w, r, u, statusOf(err), "submit", "Share indicators", d)
		return
	}
	stored := 0
	for _, c := range out.Candidates {
		row := resultRow{Type: string(c.Type), Value: c.Value, Status: c.Status, ID: c.ID, Warninglists: c.Warninglists}
		if c.Error != nil {
			row.Error = c.Error.Message
		}
		if c.ID != "" {
			stored++
		}
		d.Results = append(d.Results, row)
	}
	d.Summary = fmt.Sprintf("%d of %d values stored.", stored, len(out.Candidates))
	a.render(w, r, u, http.StatusOK, "result", "Submission", d)
}

// maxResultRows bounds the rows of a result page.
const maxResultRows = 1000

// submitUpload shares an uploaded file: a STIX bundle through
// POST /api/v1/import/stix; MISP event JSON, CSV and lists read here
// (package iocfile) and submitted through POST /api/v1/indicators, since
// the MISP-compatible API is not served in-process.
func (a *app) submitUpload(w http.ResponseWriter, r *http.Request, u *user) {
	d := a.newSubmitData()
	tlp := formTLP(r)
	f, _, err := r.FormFile("file")
	if err != nil {
		d.Error = "Choose a file to upload."
		a.render(w, r, u, http.StatusBadRequest, "submit", "Share indicators", d)
		return
	}
	defer f.Close()
	// The format is told from the file's first bytes, as hdn import does,
	// unless the form names one; a named one that the file does not look
	// like is said so when the file cannot be read as it.
	br := bufio.NewReaderSize(f, iocfile.SniffLen)
	head, _ := br.Peek(iocfile.SniffLen)
	looks := iocfile.Detect(head)
	format := looks
	if name := r.PostFormValue("format"); name != "" && name != "auto" {
		if format, err = iocfile.ParseFormat(name); err != nil {
			d.Error = "Choose the file's format: automatic, stix, misp, csv or lines."
			a.render(w, r, u, http.StatusBadRequest, "submit", "Share indicators", d)
			return
		}
	}
	hint := ""
	if format != looks {
		hint = " (the file looks like " + string(looks) + ": choose that format, or automatic)"
	}
	// Check only: every value through the submission's checks, nothing
	// stored (POST /api/v1/indicators?dry_run=true).
	dryRun := r.PostFormValue("dry_run") == "1"
	started := a.now()
	if format == iocfile.FormatSTIX && dryRun {
		d.Error = "A STIX bundle cannot be checked without sharing it; \"Check only\" is for lists, CSV and MISP events."
		a.render(w, r, u, http.StatusBadRequest, "submit", "Share indicators", d)
		return
	}
	if format == iocfile.FormatSTIX {
		body, err := io.ReadAll(io.LimitReader(br, maxUploadBytes+1))
		if err != nil || len(body) > maxUploadBytes {
			d.Error = "The file could not be read (at most 64 MiB)."
			a.render(w, r, u, http.StatusRequestEntityTooLarge, "submit", "Share indicators", d)
			return
		}
		var res api.STIXImportResult
		if err := a.callRaw(r.Context(), u, "POST", query("/api/v1/import/stix", "tlp", tlp), body, &res); err != nil {
			d.Error = errMessage(err) + hint
			a.render(w, r, u, statusOf(err), "submit", "Share indicators", d)
			return
		}
		d.Summary = fmt.Sprintf("STIX bundle: %d created, %d updated, %d revoked, %d reports, %d refused (%s).",
			res.Created, res.Updated, res.Revoked, res.Reports, len(res.Failures), a.now().Sub(started).Round(time.Millisecond))
		for i, fl := range res.Failures {
			if i == maxResultRows {
				d.More = len(res.Failures) - i
				break
			}
			d.Problems = append(d.Problems, fl.ID+": "+fl.Message)
		}
		a.render(w, r, u, http.StatusOK, "result", "Upload", d)
		return
	}
	entries, problems, err := iocfile.Read(br, format)
	if err != nil {
		d.Error = "The file could not be read as " + string(format) + ": " + err.Error() + hint
		a.render(w, r, u, http.StatusBadRequest, "submit", "Share indicators", d)
		return
	}
	type item struct {
		Type        string   `json:"type"`
		Value       string   `json:"value"`
		TLP         string   `json:"tlp"`
		Labels      []string `json:"labels,omitempty"`
		Description string   `json:"description,omitempty"`
		Confidence  *int     `json:"confidence,omitempty"`
		ValidUntil  string   `json:"valid_until,omitempty"`
	}
	// A file is one submission, bounded like one through the API, though
	// it is sent in parts.
	if max := a.api.MaxItems(); len(entries) > max {
		d.Error = fmt.Sprintf("The file holds %d values; one submission may hold at most %d (the hub's --max-items). Split the file.", len(entries), max)
		a.render(w, r, u, http.StatusRequestEntityTooLarge, "submit", "Share indicators", d)
		return
	}
	const chunk = 10_000
	path := "/api/v1/indicators"
	if dryRun {
		path += "?dry_run=true"
	}
	var results []api.ItemResult
	stored := 0
	for start := 0; start < len(entries); start += chunk {
		end := min(start+chunk, len(entries))
		items := make([]item, 0, end-start)
		for _, e := range entries[start:end] {
			it := item{Type: string(e.Type), Value: e.Value, TLP: tlp, Labels: e.Labels, Description: e.Description}
			if e.Confidence > 0 {
				c := e.Confidence
				it.Confidence = &c
			}
			if !e.ValidUntil.IsZero() {
				it.ValidUntil = e.ValidUntil.UTC().Format(time.RFC3339)
			}
			items = append(items, it)
		}
		var out struct {
			Results []api.ItemResult `json:"results"`
		}
		var buf bytes.Buffer
		if err := jsonEncode(&buf, map[string]any{"indicators": items}); err != nil {
			a.apiFailed(w, r, u, err)
			return
		}
		if err := a.callRaw(r.Context(), u, "POST", path, buf.Bytes(), &out); err != nil {
			d.Error = errMessage(err)
			a.render(w, r, u, statusOf(err), "submit", "Share indicators", d)
			return
		}
		for _, x := range out.Results {
			if x.Value == "" && x.Index >= 0 && x.Index < len(items) {
				x.Type, x.Value = items[x.Index].Type, items[x.Index].Value
			}
			if x.ID != "" || x.Status == "valid" {
				stored++
			}
			if len(results) < maxResultRows {
				results = append(results, x)
			} else {
				d.More++
			}
		}
	}
	d.Results = resultRows(results)
	d.Summary = fmt.Sprintf("%s file: %d of %d values stored, %d records could not be used (%s).",
		format, stored, len(entries), len(problems), a.now().Sub(started).Round(time.Millisecond))
	if dryRun {
		d.Summary = fmt.Sprintf("%s file checked, nothing stored: %d of %d values would be stored, %d records could not be used (%s).",
			format, stored, len(entries), len(problems), a.now().Sub(started).Round(time.Millisecond))
	}
	for i, p := range problems {
		if i == maxResultRows {
			break
		}
		d.Problems = append(d.Problems, p.String())
	}
	a.render(w, r, u, http.StatusOK, "result", "Upload", d)
}
