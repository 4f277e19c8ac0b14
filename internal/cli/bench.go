package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/hdnetwork/hdn/internal/loadtest"
)

func benchCommands() map[string]*command {
	return map[string]*command{
		"load": {summary: "drive a hub with submissions, stream subscribers and sightings; print what it achieved", run: runBenchLoad},
	}
}

// runBenchLoad is `hdn bench load` (docs/BENCHMARKS.md, "Load").
func runBenchLoad(e *env) error {
	fs := e.flags("hdn bench load")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hdn bench load [--url URL --key COORDINATOR_ADMIN_KEY] [flags]\n\n"+
			"Without --url it starts a hub in-process on a temporary directory. With --url it needs the admin key of\n"+
			"the hub's coordinator organisation (--key or HDN_KEY): it creates its own organisations (hdn-load-RUN-NNNN),\n"+
			"one key per client and, with --profile spread, sharing groups; they stay on that hub afterwards.\n\nflags:\n")
		fs.PrintDefaults()
	}
	url := fs.String("url", "", "an existing hub (default: a hub started in-process)")
	key := fs.String("key", "", "with --url: the admin key of the hub's coordinator organisation (or HDN_KEY)")
	loadFor := durationFlag(fs, "duration", 30*time.Second, "how long load is applied")
	submitters := fs.Int("submitters", 20, "concurrent submitting clients, each an organisation with its own key")
	batch := fs.Int("batch", 1000, "indicators per submission")
	rate := fs.Float64("rate", 50, "submissions per second, all clients together")
	subscribers := fs.Int("subscribers", 1000, "stream subscribers, each an organisation of its own")
	sightings := fs.Float64("sightings", 100, "sightings per second")
	profile := fs.String("profile", loadtest.ProfileNetwork, "network: every batch TLP:AMBER to the whole network (every subscriber gets every indicator); spread: each batch to one of --groups sharing groups")
	groups := fs.Int("groups", 10, "with --profile spread: sharing groups (each subscriber in one)")
	drain := durationFlag(fs, "drain", 30*time.Second, "how long subscribers may take, after the load stops, to receive what was submitted")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (the in-process hub included) to this file")
	logLevel := fs.String("log-level", "warn", "the in-process hub's log level: debug, info, warn or error")
	if err := e.parse(fs); err != nil {
		return err
	}
	if *key == "" {
		*key = os.Getenv("HDN_KEY")
	}
	if *url != "" && *key == "" {
		return errors.New("hdn bench load: --url needs the admin key of the hub's coordinator organisation (--key or HDN_KEY)")
	}
	log, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := loadtest.Run(e.ctx, loadtest.Config{URL: *url, Key: *key, Duration: *loadFor, Submitters: *submitters, Batch: *batch,
		SubmitRate: *rate, Subscribers: *subscribers, SightingRate: *sightings, Profile: *profile, Groups: *groups, Drain: *drain, Logger: log})
	if err != nil {
		return err
	}
	res.WriteTable(e.stdout)
	return nil
}
