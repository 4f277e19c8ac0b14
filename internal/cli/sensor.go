package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/duration"
	"github.com/hdnetwork/hdn/internal/sensor"
)

func runSensor(e *env) error {
	if len(e.args) > 0 && (e.args[0] == "enrol" || e.args[0] == "enroll") {
		return runSensorEnrol(&env{ctx: e.ctx, args: e.args[1:], stdout: e.stdout, stderr: e.stderr})
	}
	fs := e.flags("hdn sensor")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hdn sensor --hub URL --state DIR --input KIND:PATH [flags]\n"+
			"       hdn sensor enrol --hub URL --state DIR [--name NAME] (token: HDN_ENROL_TOKEN, --token-file or --token)\n\nflags:\n")
		fs.PrintDefaults()
	}
	var hubs, inputs stringList
	fs.Var(&hubs, "hub", "hub base URL (repeatable, or comma-separated: failover in order)")
	key := fs.String("key", "", "the sensor's API key (or HDN_KEY in the environment; default: the key file DIR/key that hdn sensor enrol wrote)")
	state := fs.String("state", "", "state directory: the local copy of indicators, cursor, retro-hunt record, and the key of an enrolled sensor")
	name := fs.String("name", "", "the sensor's name in its heartbeats (default: the name it enrolled under, else the host name)")
	heartbeat := durationFlag(fs, "heartbeat", sensor.DefaultHeartbeatEvery, "how often to tell the hub how the sensor is (0: never)")
	fs.Var(&inputs, "input", "KIND:PATH with KIND eve, zeek, squid or lines; PATH a file, - or unix:SOCKET (eve) (repeatable)")
	alerts := fs.String("alerts", "-", "where alerts go: a file, or - for standard output")
	once := fs.Bool("once", false, "read the inputs to their end, flush, and exit")
	fromStart := fs.Bool("from-start", false, "read followed files from their start instead of their end")
	report := fs.String("report", "count", "what leaves the building: full (with host and time), count (indicator, count, hour) or off")
	alertWindow := durationFlag(fs, "alert-window", sensor.DefaultAlertWindow, "one alert for a host's matches of an indicator in this time (by the log's time); the others are counted and written once, as a summary with hdn.repeats, when it has passed (0: an alert for every match; at most 24h)")
	sightingsEvery := durationFlag(fs, "sightings-every", 10*time.Second, "how often sightings are sent to the hub (1s to 1h); a crash loses at most the counts since the last time")
	retain := fs.Int("retain", 14, "days of the retro-hunt record")
	metrics := fs.String("metrics", "", "address to serve Prometheus /metrics on, e.g. 127.0.0.1:9477")
	autoShare := fs.String("auto-share", "off", "off; propose: local Suricata alerts propose their remote domain or address to the organisation's analysts; share: share it at once (needs an analyst key)")
	autoTLP := fs.String("auto-share-tlp", "amber", "TLP of what --auto-share share shares")
	autoSev := fs.Int("auto-share-severity", 2, "propose alerts of this Suricata severity or more severe (1 is the most severe)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	tlsOpts := clientTLSFlags(fs)
	if err := e.parse(fs); err != nil {
		return err
	}
	tlsCfg, err := tlsOpts.Config()
	if err != nil {
		return fmt.Errorf("hdn sensor: %w", err)
	}
	if *key == "" {
		*key = os.Getenv("HDN_KEY")
	}
	var urls []string
	for _, h := range hubs {
		for _, u := range strings.Split(h, ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
	}
	if len(urls) > 0 && *key == "" && *state != "" {
		k, err := sensor.ReadKeyFile(*state)
		switch {
		case err == nil:
			*key = k
		case !errors.Is(err, sensor.ErrNoKeyFile):
			return fmt.Errorf("hdn sensor: %w", err)
		}
	}
	if len(urls) > 0 && *key == "" {
		return errors.New("hdn sensor: a key is needed with --hub: enrol the sensor (hdn sensor enrol --state DIR), or give --key (or HDN_KEY)")
	}
	if *name == "" && *state != "" {
		*name = sensor.ReadNameFile(*state)
	}
	hbEvery := *heartbeat
	if hbEvery <= 0 {
		hbEvery = -1
	}
	version := Version
	if version == "dev" {
		version = "" // the build's module version
	}
	mode, err := sensor.ParseReportMode(*report)
	if err != nil {
		return err
	}
	var ins []sensor.Input
	for _, spec := range inputs {
		in, err := sensor.ParseInput(spec)
		if err != nil {
			return err
		}
		ins = append(ins, in)
	}
	as := sensor.AutoShare{MaxSeverity: *autoSev, TLP: *autoTLP}
	switch *autoShare {
	case "off":
	case "propose", "share":
		as.Mode = *autoShare
	default:
		return errors.New("--auto-share must be off, propose or share")
	}
	if *sightingsEvery < time.Second || *sightingsEvery > time.Hour {
		return fmt.Errorf("--sightings-every %s: from 1s to 1h", duration.Format(*sightingsEvery))
	}
	if *alertWindow < 0 || *alertWindow > 24*time.Hour {
		return fmt.Errorf("--alert-window %s: from 0 to 24h", duration.Format(*alertWindow))
	}
	log, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	s, err := sensor.New(e.ctx, sensor.Config{Hubs: urls, Key: *key, StateDir: *state, Inputs: ins, Alerts: *alerts, Out: e.stdout,
		Once: *once, FromStart: *fromStart, Report: mode, Retain: time.Duration(*retain) * 24 * time.Hour, Metrics: *metrics, AutoShare: as, Logger: log,
		Name: *name, Version: version, HeartbeatEvery: hbEvery, TLS: tlsCfg, SightingsEvery: *sightingsEvery,
		AlertWindow: *alertWindow})
	if err != nil {
		return err
	}
	return s.Run(e.ctx)
}
