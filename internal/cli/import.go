package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/iocfile"
)

// maxImport bounds what `hdn import` reads.
const maxImport = 256 << 20

// importBatch is how many entries (or STIX objects) go to the hub in one
// request; a variable so that tests can make it small.
var importBatch = 10_000

// runImport sends what an analyst has to the hub, as the key's organisation:
// a pasted report or e-mail (free text, with a preview), a MISP event, or
// an IOC file (a plain list, CSV, a STIX 2.1 bundle) in batches through the
// same checks as any submission.
func runImport(e *env) error {
	fs := e.flags("hdn import")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: hdn import --hub URL [flags] FILE|-\n\n"+
			"Sends FILE (- for standard input) to the hub as the key's organisation: a pasted report or e-mail\n"+
			"(free text), a MISP event, an IOC list, a CSV or a STIX 2.1 bundle (--format, by default told by\n"+
			"the content). It prints what became of it: created, updated, refused and why (for a MISP event a\n"+
			"summary; --full prints the whole stored event).\n\nflags:\n")
		fs.PrintDefaults()
	}
	conn := hubFlags(fs)
	format := fs.String("format", "auto", "text (a report or e-mail), misp (a MISP event), lines (one value per line), csv, stix, or auto (by the content)")
	preview := fs.Bool("preview", false, "the same as --dry-run")
	dryRun := fs.Bool("dry-run", false, "text, lists and CSV: check everything as the hub would (types, canonical forms, warninglist hits), print what would be stored, and store nothing")
	tlp := fs.String("tlp", "", "TLP of what is stored (default amber; a MISP event carries its own)")
	var labels multiFlag
	fs.Var(&labels, "label", "a label for every indicator, e.g. phishing (repeatable)")
	report := fs.String("report", "", "the report the indicators belong to")
	full := fs.Bool("full", false, "misp: print the whole stored event as the hub answers (MISP JSON) instead of the summary")
	if err := fs.Parse(e.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "usage: hdn import --hub URL [flags] FILE|-   (hdn import --help for the flags)")
		return errUsage
	}
	data, err := readInput(fs.Arg(0), maxImport)
	if err != nil {
		return err
	}
	c, err := newHubClient("hdn import", conn)
	if err != nil {
		return err
	}
	if *format == "auto" {
		*format = detectImport(data)
	}
	*preview = *preview || *dryRun
	if *full && *format != "misp" {
		return fmt.Errorf("hdn import: --full is for a MISP event, and this is %s", *format)
	}
	switch *format {
	case "text":
		in := map[string]any{"text": string(data)}
		if *tlp != "" {
			in["tlp"] = *tlp
		}
		if len(labels) > 0 {
			in["labels"] = []string(labels)
		}
		if *report != "" {
			in["report"] = *report
		}
		body, _ := json.Marshal(in)
		path := "/api/v1/import/text"
		if *preview {
			path += "?preview=true"
		}
		return c.copyTo(e, "POST", path, body)
	case "misp":
		if *preview || *tlp != "" || len(labels) > 0 || *report != "" {
			return errors.New("hdn import: --dry-run, --tlp, --label and --report are not for a MISP event: it carries its own")
		}
		c.misp = true
		if *full {
			return c.copyTo(e, "POST", "/events/add", data)
		}
		return importMISPEvent(e, c, data)
	case "stix":
		if *preview || len(labels) > 0 || *report != "" {
			return errors.New("hdn import: --dry-run, --label and --report are not for a STIX bundle: it carries its own labels and reports")
		}
		return importSTIX(e, c, data, *tlp)
	case "lines", "csv":
		return importIOCFile(e, c, iocfile.Format(*format), data, *tlp, labels, *report, *preview)
	default:
		return fmt.Errorf("hdn import: --format %q is not text, misp, lines, csv, stix or auto", *format)
	}
}

// detectImport guesses what a file is: MISP or STIX JSON by their shape, a
// CSV of indicators by its header, a list when every line holds one value
// (perhaps with a count or a comment after it, as ipsum's does), otherwise
// free text.
func detectImport(data []byte) string {
	head := data[:min(len(data), iocfile.SniffLen)]
	switch iocfile.Detect(head) {
	case iocfile.FormatMISP:
		return "misp"
	case iocfile.FormatSTIX:
		return "stix"
	case iocfile.FormatCSV:
		return "csv"
	}
	values := 0
	for line := range strings.Lines(string(head)) {
		line, _, _ = strings.Cut(line, "#")
		switch f := strings.Fields(line); {
		case len(f) == 0:
		case len(f) > 2:
			return "text"
		default:
			values++
		}
	}
	if values == 0 {
		return "text"
	}
	return "lines"
}

func (c *hubClient) copyTo(e *env, method, path string, body []byte) error {
	resp, err := c.do(e.ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(e.stdout, resp.Body)
	return err
}

// MISPImportSummary is what `hdn import` prints for a MISP event (--full
// prints the stored event itself, as the hub answers).
type MISPImportSummary struct {
	Format string `json:"format"`
	Event  string `json:"event"` // the event's uuid, the report it became
	Info   string `json:"info,omitempty"`
	// Attributes counts the stored event's attributes as the organisation
	// sees it, those of its objects included.
	Attributes int `json:"attributes"`
	Created    int `json:"created"`
	Updated    int `json:"updated"`
	Rejected   int `json:"rejected"`
	Context    int `json:"context"` // context attributes kept with the report
	// Warninglisted counts rejections by refusing warninglists, per list.
	Warninglisted map[string]int `json:"warninglisted,omitempty"`
	// Flagged counts stored values on flagging warninglists, per list.
	Flagged map[string]int `json:"flagged,omitempty"`
	// Problems shows the first problems: what of the event could not be
	// used as given, and the rejected attributes with the reason.
	Problems []string `json:"problems,omitempty"`
	Seconds  float64  `json:"seconds"`
}

// importMISPEvent sends a MISP event to the hub's MISP-compatible
// /events/add and prints a summary of the hub's answer.
func importMISPEvent(e *env, c *hubClient, data []byte) error {
	start := time.Now()
	resp, err := c.do(e.ctx, "POST", "/events/add", data, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var ans struct {
		Event struct {
			UUID      string            `json:"uuid"`
			Info      string            `json:"info"`
			Attribute []json.RawMessage `json:"Attribute"`
			Object    []struct {
				Attribute []json.RawMessage `json:"Attribute"`
			} `json:"Object"`
		} `json:"Event"`
		HDN struct {
			Created  int `json:"created"`
			Updated  int `json:"updated"`
			Rejected int `json:"rejected"`
			Context  int `json:"context"`
			Results  []struct {
				Status string `json:"status"`
				Value  string `json:"value"`
				Error  *struct {
					Message string `json:"message"`
				} `json:"error"`
				Warninglists []struct{ List, Kind string } `json:"warninglists"`
			} `json:"results"`
			Problems []string `json:"problems"`
		} `json:"hdn"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(&ans); err != nil {
		return fmt.Errorf("hdn import: the hub's answer: %w", err)
	}
	sum := MISPImportSummary{Format: "misp", Event: ans.Event.UUID, Info: ans.Event.Info, Attributes: len(ans.Event.Attribute),
		Created: ans.HDN.Created, Updated: ans.HDN.Updated, Rejected: ans.HDN.Rejected, Context: ans.HDN.Context,
		Warninglisted: map[string]int{}, Flagged: map[string]int{}}
	for _, o := range ans.Event.Object {
		sum.Attributes += len(o.Attribute)
	}
	note := func(s string) {
		if len(sum.Problems) < maxShownProblems {
			sum.Problems = append(sum.Problems, s)
		}
	}
	for _, p := range ans.HDN.Problems {
		note(p)
	}
	for _, r := range ans.HDN.Results {
		if r.Status == "rejected" && r.Error != nil {
			note(r.Value + ": " + r.Error.Message)
		}
		for _, w := range r.Warninglists {
			if r.Status == "rejected" && w.Kind == "refuse" {
				sum.Warninglisted[w.List]++
			} else if r.Status != "rejected" && w.Kind == "flag" {
				sum.Flagged[w.List]++
			}
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	return printJSON(e.stdout, sum)
}

// ImportSummary is what `hdn import` prints for an IOC file.
type ImportSummary struct {
	Format   string `json:"format"`
	Read     int    `json:"read"`     // indicators read from the file
	Unusable int    `json:"unusable"` // lines or objects the file reader could not use
	// DryRun: nothing was stored; Valid counts what would have been.
	DryRun   bool `json:"dry_run,omitempty"`
	Valid    int  `json:"valid,omitempty"`
	Created  int  `json:"created"`
	Updated  int  `json:"updated"`
	Rejected int  `json:"rejected"`
	// Warninglisted counts rejections by refusing warninglists, per list.
	Warninglisted map[string]int `json:"warninglisted,omitempty"`
	// Flagged counts stored values on flagging warninglists, per list.
	Flagged map[string]int `json:"flagged,omitempty"`
	// Problems shows the first problems (unusable lines, rejections).
	Problems []string `json:"problems,omitempty"`
	Seconds  float64  `json:"seconds"`
}

const maxShownProblems = 20

// importIOCFile reads an IOC file and submits its entries in batches (with
// dryRun, to be checked only).
func importIOCFile(e *env, c *hubClient, f iocfile.Format, data []byte, tlp string, labels []string, report string, dryRun bool) error {
	start := time.Now()
	entries, problems, err := iocfile.Read(bytes.NewReader(data), f)
	if err != nil {
		return err
	}
	sum := ImportSummary{Format: string(f), Read: len(entries), Unusable: len(problems), DryRun: dryRun, Warninglisted: map[string]int{}, Flagged: map[string]int{}}
	path := "/api/v1/indicators"
	if dryRun {
		path += "?dry_run=true"
	}
	note := func(s string) {
		if len(sum.Problems) < maxShownProblems {
			sum.Problems = append(sum.Problems, s)
		}
	}
	for _, p := range problems {
		note(p.String())
	}
	for startIdx := 0; startIdx < len(entries); startIdx += importBatch {
		batch := entries[startIdx:min(startIdx+importBatch, len(entries))]
		items := make([]map[string]any, len(batch))
		for i, en := range batch {
			it := map[string]any{"type": string(en.Type), "value": en.Value}
			ls := slices.Clone(en.Labels)
			for _, l := range labels {
				if !slices.Contains(ls, strings.ToLower(l)) {
					ls = append(ls, l)
				}
			}
			if len(ls) > 0 {
				it["labels"] = ls
			}
			if en.Description != "" {
				it["description"] = en.Description
			}
			if en.Confidence > 0 {
				it["confidence"] = en.Confidence
			}
			if !en.ValidUntil.IsZero() && en.ValidUntil.After(time.Now()) {
				it["valid_until"] = en.ValidUntil.UTC().Format(time.RFC3339)
			}
			if tlp != "" {
				it["tlp"] = tlp
			}
			if report != "" {
				it["report"] = report
			}
			items[i] = it
		}
		body, _ := json.Marshal(map[string]any{"indicators": items})
		resp, err := c.do(e.ctx, "POST", path, body, "application/json")
		if err != nil {
			return fmt.Errorf("batch from entry %d: %w", startIdx, err)
		}
		var out struct {
			Results []struct {
				Index  int    `json:"index"`
				Status string `json:"status"`
				Error  *struct {
					Code, Message string
				} `json:"error"`
				Warninglists []struct{ List, Kind string } `json:"warninglists"`
			} `json:"results"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("batch from entry %d: the hub's answer: %w", startIdx, err)
		}
		for _, r := range out.Results {
			switch r.Status {
			case "created":
				sum.Created++
			case "updated":
				sum.Updated++
			case "valid":
				sum.Valid++
			default:
				sum.Rejected++
				if r.Index >= 0 && r.Index < len(batch) && r.Error != nil {
					note(batch[r.Index].Source + ": " + r.Error.Message)
				}
			}
			for _, w := range r.Warninglists {
				if r.Status == "rejected" && w.Kind == "refuse" {
					sum.Warninglisted[w.List]++
				} else if r.Status != "rejected" && w.Kind == "flag" {
					sum.Flagged[w.List]++
				}
			}
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	return printJSON(e.stdout, sum)
}
