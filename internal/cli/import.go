package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// maxImport bounds what `hdn import` reads.
const maxImport = 64 << 20

// runImport sends a pasted report or e-mail (free text) or a MISP event to
// the hub, as the key's organisation. Free text can be previewed first.
func runImport(e *env) error {
	fs := e.flags("hdn import")
	hub, key := hubFlags(fs)
	format := fs.String("format", "auto", "text (a report or e-mail), misp (MISP event JSON) or auto")
	preview := fs.Bool("preview", false, "text: show what would be stored (types, warninglist hits) and store nothing")
	tlp := fs.String("tlp", "", "text: TLP of what is stored (default amber)")
	var labels multiFlag
	fs.Var(&labels, "label", "text: a label for every indicator, e.g. phishing (repeatable)")
	report := fs.String("report", "", "text: the report the indicators belong to")
	if err := fs.Parse(e.args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "usage: hdn import [flags] FILE|-")
		return errUsage
	}
	data, err := readInput(fs.Arg(0), maxImport)
	if err != nil {
		return err
	}
	c, err := newHubClient("hdn import", *hub, *key)
	if err != nil {
		return err
	}
	if *format == "auto" {
		*format = "text"
		if t := strings.TrimSpace(string(data)); strings.HasPrefix(t, "{") && strings.Contains(t[:min(len(t), 4096)], `"Event"`) {
			*format = "misp"
		}
	}
	var path string
	var body []byte
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
		body, _ = json.Marshal(in)
		path = "/api/v1/import/text"
		if *preview {
			path += "?preview=true"
		}
	case "misp":
		if *preview || *tlp != "" || len(labels) > 0 || *report != "" {
			return fmt.Errorf("hdn import: --preview, --tlp, --label and --report are for text; a MISP event carries its own")
		}
		c.misp = true
		body, path = data, "/events/add"
	default:
		return fmt.Errorf("hdn import: --format %q is not text, misp or auto", *format)
	}
	resp, err := c.do(e.ctx, "POST", path, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(e.stdout, resp.Body)
	return err
}
