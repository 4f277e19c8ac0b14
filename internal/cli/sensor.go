package cli

import (
	"errors"
	"os"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/sensor"
)

func runSensor(e *env) error {
	fs := e.flags("hdn sensor")
	var hubs, inputs stringList
	fs.Var(&hubs, "hub", "hub base URL (repeatable, or comma-separated: failover in order)")
	key := fs.String("key", "", "the sensor's API key (or HDN_KEY in the environment)")
	state := fs.String("state", "", "state directory: the local copy of indicators, cursor, retro-hunt record")
	fs.Var(&inputs, "input", "KIND:PATH with KIND eve, zeek, squid or lines; PATH a file, - or unix:SOCKET (eve) (repeatable)")
	alerts := fs.String("alerts", "-", "where alerts go: a file, or - for standard output")
	once := fs.Bool("once", false, "read the inputs to their end, flush, and exit")
	fromStart := fs.Bool("from-start", false, "read followed files from their start instead of their end")
	report := fs.String("report", "count", "what leaves the building: full (with host and time), count (indicator, count, hour) or off")
	retain := fs.Int("retain", 14, "days of the retro-hunt record")
	metrics := fs.String("metrics", "", "address to serve Prometheus /metrics on, e.g. 127.0.0.1:9477")
	autoShare := fs.String("auto-share", "off", "off; propose: local Suricata alerts propose their remote domain or address to the organisation's analysts; share: share it at once (needs an analyst key)")
	autoTLP := fs.String("auto-share-tlp", "amber", "TLP of what --auto-share share shares")
	autoSev := fs.Int("auto-share-severity", 2, "propose alerts of this Suricata severity or more severe (1 is the most severe)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := e.parse(fs); err != nil {
		return err
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
	if len(urls) > 0 && *key == "" {
		return errors.New("hdn sensor: --key (or HDN_KEY) is needed with --hub")
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
	log, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	s, err := sensor.New(e.ctx, sensor.Config{Hubs: urls, Key: *key, StateDir: *state, Inputs: ins, Alerts: *alerts, Out: e.stdout,
		Once: *once, FromStart: *fromStart, Report: mode, Retain: time.Duration(*retain) * 24 * time.Hour, Metrics: *metrics, AutoShare: as, Logger: log})
	if err != nil {
		return err
	}
	return s.Run(e.ctx)
}
