package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/misp"
	"github.com/hdnetwork/hdn/internal/policy"
)

// runExport fetches an export from the hub: what the key's organisation
// may see, in a detection format, or as a MISP feed directory.
func runExport(e *env) error {
	if len(e.args) == 0 || strings.HasPrefix(e.args[0], "-") || e.args[0] == "help" {
		exportUsage(e)
		if len(e.args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, e.args[0]) {
			return flag.ErrHelp
		}
		return errUsage
	}
	format := e.args[0]
	e.args = e.args[1:]
	if format == "misp-feed" {
		return exportMISPFeed(e)
	}
	f, err := export.ParseFormat(format)
	if err != nil {
		return err
	}
	fs := e.flags("hdn export " + format)
	conn, out, typ, label, since, report, datasetType, rpzAction := exportFlags(fs)
	if err := e.parse(fs); err != nil {
		return err
	}
	c, err := newHubClient(fs.Name(), conn)
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"type": *typ, "label": *label, "since": *since, "report": *report, "dataset_type": *datasetType, "rpz_action": *rpzAction} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/api/v1/export/" + url.PathEscape(string(f))
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.do(e.ctx, "GET", path, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return writeOutput(*out, e.stdout, resp.Body)
}

// exportFlags declares the flags of the detection formats.
func exportFlags(fs *flag.FlagSet) (conn hubConn, out, typ, label, since, report, datasetType, rpzAction *string) {
	conn = hubFlags(fs)
	out = fs.String("out", "-", "where to write: a file, or - for standard output")
	typ = fs.String("type", "", "only this indicator type")
	label = fs.String("label", "", "only indicators with this label")
	since = fs.String("since", "", "only indicators modified since this RFC 3339 time")
	report = fs.String("report", "", "only indicators of this report")
	datasetType = fs.String("dataset-type", "", "suricata-dataset: domain (names, base64), md5, sha256, ipv4, ip, ja3, ja3s or ja4")
	rpzAction = fs.String("rpz-action", "", "rpz: nxdomain (default), nodata, drop or passthru")
	return
}

// exportUsage is the help of `hdn export` without a format: the formats,
// and the flags of the detection formats.
func exportUsage(e *env) {
	formats := make([]string, 0, len(export.Formats()))
	for _, f := range export.Formats() {
		formats = append(formats, string(f))
	}
	w := e.stderr
	fmt.Fprintf(w, "usage: hdn export FORMAT --hub URL [flags]                   a detection export, to --out or standard output\n"+
		"       hdn export misp-feed --hub URL [--tlp clear,green] DIR  a MISP feed directory\n\n"+
		"formats: %s; misp-feed\n\n"+
		"Each format takes its own flags: hdn export FORMAT --help (e.g. hdn export rpz --help).\n"+
		"The flags of the detection formats:\n", strings.Join(formats, ", "))
	fs := flag.NewFlagSet("hdn export FORMAT", flag.ContinueOnError)
	fs.SetOutput(w)
	exportFlags(fs)
	fs.PrintDefaults()
}

// writeOutput copies r to a file (written whole, then renamed into place,
// so a firewall reading it never sees half a list) or to stdout.
func writeOutput(name string, stdout io.Writer, r io.Reader) error {
	if name == "-" {
		_, err := io.Copy(stdout, r)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Readable by the daemon that loads it (named, suricata, zeek run as
	// their own users), like the configuration beside it.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// exportMISPFeed writes a MISP feed directory (manifest.json, hashes.csv,
// one file per event) of the events the key's organisation may see, through
// the hub's MISP-compatible API, keeping only the TLP levels asked for: a
// feed is usually published, so the default is clear only.
func exportMISPFeed(e *env) error {
	fs := e.flags("hdn export misp-feed")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: hdn export misp-feed --hub URL [flags] DIR\n\n"+
			"Writes a MISP feed (manifest.json, hashes.csv, one file per event) of what the key's organisation may\n"+
			"see into DIR: the events whose own TLP is in --tlp, each with its attributes whose TLP is in --tlp.\n\nflags:\n")
		fs.PrintDefaults()
	}
	conn := hubFlags(fs)
	tlps := fs.String("tlp", "clear", "comma-separated TLP levels to include, e.g. clear,green")
	trueSources := fs.Bool("with-true-sources", false, "name the source of anonymous indicators where the key's organisation knows it (the coordinator, the source, its partner); by default every anonymous indicator is written as anonymous, as a feed to publish must")
	if err := fs.Parse(e.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "usage: hdn export misp-feed [flags] DIR")
		return errUsage
	}
	dir := fs.Arg(0)
	var allowed []policy.TLP
	for _, t := range strings.Split(*tlps, ",") {
		tl, err := policy.ParseTLP(t)
		if err != nil {
			return fmt.Errorf("--tlp: %w", err)
		}
		allowed = append(allowed, tl)
	}
	c, err := newHubClient(fs.Name(), conn)
	if err != nil {
		return err
	}
	c.misp = true
	// Page through the events: the hub answers at most a page at a time.
	const pageSize = 500
	var events []*misp.Event
	for page := 1; ; page++ {
		// A feed is usually published: the coordinator, a source and its
		// partner know who shared an anonymous indicator, and the feed
		// must not say it unless asked to.
		body, _ := json.Marshal(map[string]any{"returnFormat": "json", "limit": pageSize, "page": page, "hdn_as_published": !*trueSources})
		resp, err := c.do(e.ctx, "POST", "/events/restSearch", body, "application/json")
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
		resp.Body.Close()
		if err != nil {
			return err
		}
		got, err := misp.ParseEvents(data)
		if err != nil {
			return fmt.Errorf("the hub's events, page %d: %w", page, err)
		}
		events = append(events, got...)
		if len(got) < pageSize {
			break
		}
	}
	// An event goes out only when its own TLP is allowed: its title,
	// narrative and tags are the report's, and a report's level may be
	// stricter than some of its indicators' (a CLEAR value in an AMBER
	// report). Its attributes then go out each by its own TLP. (The
	// hub's events of indicators without a report take the least strict
	// level of their indicators and say nothing of their own.)
	kept := events[:0]
	dropped, twice := 0, 0
	uuids := map[string]bool{}
	for _, ev := range events {
		n := len(ev.Attribute)
		if !tlpAllowed(nil, ev.Tag, allowed) {
			dropped += n
			continue
		}
		// One event per uuid: a feed with two would be refused whole (a
		// member may have named its event with another's uuid before the
		// hub refused that); the first, in the hub's order, goes out.
		if u := strings.ToLower(ev.UUID); uuids[u] {
			twice++
			continue
		} else {
			uuids[u] = true
		}
		ev.Attribute = slices.DeleteFunc(ev.Attribute, func(a misp.Attribute) bool { return !tlpAllowed(a.Tag, ev.Tag, allowed) })
		dropped += n - len(ev.Attribute)
		kept = append(kept, ev)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := misp.WriteFeed(dir, kept); err != nil {
		return err
	}
	out := map[string]any{"dir": dir, "events": len(kept), "attributes_left_out_for_tlp": dropped}
	if twice > 0 {
		out["events_left_out_for_a_uuid_given_twice"] = twice
	}
	return printJSON(e.stdout, out)
}

// tlpAllowed says whether an attribute's TLP (its own tag, else its event's)
// is one of allowed; without any tlp: tag it is not (the hub always tags).
func tlpAllowed(own, event []misp.Tag, allowed []policy.TLP) bool {
	for _, tags := range [][]misp.Tag{own, event} {
		for _, t := range tags {
			if strings.HasPrefix(strings.ToLower(t.Name), "tlp:") {
				tl, err := policy.ParseTLP(t.Name)
				return err == nil && slices.Contains(allowed, tl)
			}
		}
	}
	return false
}
