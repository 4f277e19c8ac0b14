package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hdnetwork/hdn/internal/iocfile"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/sensor"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runMatch is the matcher offline: IOC files in, alerts out, no hub.
func runMatch(e *env) error {
	fs := e.flags("hdn match")
	var iocs, inputs stringList
	fs.Var(&iocs, "iocs", "IOC file: one value per line, CSV with a type column, STIX 2.1 bundle or MISP event JSON (repeatable)")
	fs.Var(&inputs, "input", "KIND:PATH with KIND eve, zeek, squid or lines; PATH - for standard input (repeatable)")
	alerts := fs.String("alerts", "-", "where alerts go: a file, or - for standard output")
	workers := fs.Int("workers", 0, "matching goroutines (default: one per core)")
	quiet := fs.Bool("quiet", false, "do not print the summary on standard error")
	if err := e.parse(fs); err != nil {
		return err
	}
	if len(iocs) == 0 || len(inputs) == 0 {
		return fmt.Errorf("hdn match: --iocs and --input are needed")
	}
	b := match.NewBuilder()
	for _, path := range iocs {
		entries, problems, format, err := iocfile.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--iocs %s: %w", path, err)
		}
		for _, en := range entries {
			id := path + ":" + en.Source
			if err := b.Add(match.Indicator{ID: id, Type: en.Type, Value: en.Value, Labels: en.Labels, Confidence: en.Confidence, ValidUntil: en.ValidUntil}); err != nil {
				problems = append(problems, iocfile.Problem{Where: en.Source, Err: err})
			}
		}
		if !*quiet {
			fmt.Fprintf(e.stderr, "hdn match: %s (%s): %d indicators, %d not usable\n", path, format, len(entries), len(problems))
			for i, p := range problems {
				if i == 5 {
					fmt.Fprintf(e.stderr, "  … and %d more\n", len(problems)-5)
					break
				}
				fmt.Fprintf(e.stderr, "  %s\n", p)
			}
		}
	}
	m := match.NewMatcher(b.Build())
	var out io.Writer = e.stdout
	if *alerts != "-" {
		f, err := os.OpenFile(*alerts, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	for _, spec := range inputs {
		in, err := sensor.ParseInput(spec)
		if err != nil {
			return err
		}
		st, gzipped, err := matchInput(e.ctx, in, m, out, *workers)
		if err != nil {
			return fmt.Errorf("--input %s: %w", spec, err)
		}
		if !*quiet {
			what := spec
			if gzipped {
				what += " (gzip)"
			}
			fmt.Fprintf(e.stderr, "hdn match: %s: %d lines, %d events, %d unparsable, %d alerts\n", what, st.Lines, st.Events, st.Errors, st.Alerts)
		}
	}
	return nil
}

// matchInput matches one input, decompressing it when it is gzipped (a
// file or standard input that begins with gzip's magic bytes); the lines
// of the decompressed stream are held to Run's longest line like any
// others.
func matchInput(ctx context.Context, in sensor.Input, m *match.Matcher, out io.Writer, workers int) (st match.Stats, gzipped bool, err error) {
	var r io.Reader
	switch {
	case in.Path == "-":
		r = os.Stdin
	case strings.HasPrefix(in.Path, "unix:"):
		return match.Stats{}, false, fmt.Errorf("hdn match reads files and standard input; sockets are for hdn sensor")
	default:
		f, err := os.Open(in.Path)
		if err != nil {
			return match.Stats{}, false, err
		}
		defer f.Close()
		r = f
	}
	r, gzipped, err = match.Decompressed(r)
	if err != nil {
		return match.Stats{}, gzipped, err
	}
	st, err = match.Run(ctx, r, in.Format, m, out, workers)
	return st, gzipped, err
}
