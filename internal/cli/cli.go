// Package cli is the command line of the hdn binary: it parses arguments and
// calls the packages that do the work. cmd/hdn only hands it os.Args.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hdnetwork/hdn/internal/duration"
)

// Version is set at build time.
var Version = "dev"

// env is what a command may touch: its arguments and standard streams.
type env struct {
	ctx    context.Context
	args   []string
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	summary string
	run     func(e *env) error
	sub     map[string]*command
}

func commands() map[string]*command {
	return map[string]*command{
		"hub":    {summary: "run the sharing hub", run: runHub},
		"admin":  {summary: "administer a hub's data directory", sub: adminCommands()},
		"demo":   {summary: "play the network's story on this machine", run: runDemo},
		"match":  {summary: "match logs against IOC files, offline", run: runMatch},
		"sensor": {summary: "follow a hub and match this organisation's logs", run: runSensor},
		"export": {summary: "fetch detection exports (Suricata, Zeek, RPZ, bloom, …) or a MISP feed from a hub", run: runExport},
		"import": {summary: "send a free-text report or a MISP event to a hub", run: runImport},
		"bench":  {summary: "load a hub and report what it achieved (hdn bench load)", sub: benchCommands()},
		"version": {summary: "print the version", run: func(e *env) error {
			fmt.Fprintln(e.stdout, "hdn", Version)
			return nil
		}},
		"migrate": {summary: "copy a hub's whole state from SQLite to PostgreSQL (--from sqlite:DIR --to postgres://…)", run: runMigrate},
	}
}

// errUsage means the arguments were wrong; usage has been printed.
var errUsage = errors.New("usage")

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(&env{ctx: ctx, args: args[1:], stdout: stdout, stderr: stderr}, "hdn", commands())
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "hdn:", err)
		return 1
	}
}

func dispatch(e *env, path string, cmds map[string]*command) error {
	if len(e.args) == 0 || e.args[0] == "-h" || e.args[0] == "--help" || e.args[0] == "help" {
		usage(e.stderr, path, cmds)
		if len(e.args) == 0 {
			return errUsage
		}
		return nil
	}
	c, ok := cmds[e.args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "%s: unknown command %q\n\n", path, e.args[0])
		usage(e.stderr, path, cmds)
		return errUsage
	}
	sub := &env{ctx: e.ctx, args: e.args[1:], stdout: e.stdout, stderr: e.stderr}
	if c.sub != nil {
		return dispatch(sub, path+" "+e.args[0], c.sub)
	}
	return c.run(sub)
}

func usage(w io.Writer, path string, cmds map[string]*command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", path)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

// flags makes a flag set that reports errors to the command's stderr.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// durationFlag declares a duration flag read by duration.Parse: it takes
// days ("90d", "1d12h") as well as Go's durations ("2160h", "15m"), never a
// negative one. Every duration a person gives on the command line goes
// through it (flag.Duration takes no days).
func durationFlag(fs *flag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	d := def
	fs.Var((*duration.Value)(&d), name, usage+"; a `duration` such as 30s, 15m, 2160h or 90d")
	return &d
}

// parse parses flags and refuses stray arguments.
func (e *env) parse(fs *flag.FlagSet) error {
	addAdminDBFlag(fs)
	if err := fs.Parse(e.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// required checks that flags were given.
func required(fs *flag.FlagSet, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: missing %s", fs.Name(), strings.Join(missing, ", "))
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q is not one of debug, info, warn, error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
