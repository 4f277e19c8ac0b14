// Package demo plays the network's story on one machine, for real: an
// embedded hub, the organisations of a small sector, a sensor for each care
// organisation following its own telemetry file, and the events that make a
// threat to one a warning to the others — all through the hub's API, its
// stream and the sensors, with nothing of the output scripted.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hdnetwork/hdn/internal/auth"
	"github.com/hdnetwork/hdn/internal/hub"
	"github.com/hdnetwork/hdn/internal/match"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// Config sets up a demo run.
type Config struct {
	DataDir string // "": a temporary directory, removed afterwards
	Out     io.Writer
	Logger  *slog.Logger
	// Serve keeps the hub running after the story, printing its URL and
	// each organisation's keys, until ctx ends.
	Serve bool
	// Listen is the hub's address (default 127.0.0.1:0, or :8443 with Serve).
	Listen string
}

// Org names of the demo network.
const (
	Coordinator = "sector-cert"
	HospitalA   = "hospital-a"
	HospitalB   = "hospital-b"
	Partner     = "secureops"
	CareNorth   = "care-home-north"
	ClinicSouth = "clinic-south"
	NationalCER = "national-cert"
)

// Summary is what the demo observed.
type Summary struct {
	Orgs    []string // every organisation, in the story's order
	Sensors []string // the organisations running a sensor
	Rows    []Row
}

// Row is one shared indicator and what became of it.
type Row struct {
	Label    string // what the story calls it
	Value    string
	TLP      string
	Source   string
	Received map[string]time.Duration // sensor org → time from sharing to its sensor holding it
	Matched  map[string]string        // sensor org → "live", "retro" or "live+retro"
	Shown    map[string]string        // org → the source name its API view shows
}

type org struct {
	name, partner  string
	kind           policy.OrgKind
	id             string
	analyst, admin string
	sensorKey      string
	telemetry      string
	sensor         *sensor.Sensor
}

// run is one demo run.
type run struct {
	cfg   Config
	out   io.Writer
	start time.Time
	h     *hub.Hub
	orgs  []*org
	by    map[string]*org
	http  *http.Client

	outMu    sync.Mutex
	mu       sync.Mutex
	received map[string]map[string]time.Time // indicator id → org → when its sensor got it
	gone     map[string]map[string]time.Time // indicator id → org → when its sensor dropped it
	alerts   map[string]map[string]string    // indicator id → org → live/retro
	alertN   map[string]int                  // org → alerts
}

// say narrates one line; sensors call it from their own goroutines.
func (r *run) say(format string, args ...any) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.out, "[%6.2fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// Run plays the demo and returns its summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	r := &run{cfg: cfg, out: cfg.Out, start: time.Now(), by: map[string]*org{}, http: &http.Client{Timeout: 30 * time.Second},
		received: map[string]map[string]time.Time{}, gone: map[string]map[string]time.Time{}, alerts: map[string]map[string]string{}, alertN: map[string]int{}}
	if r.out == nil {
		r.out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		r.cfg.Logger = cfg.Logger
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "hdn-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
		if cfg.Serve {
			listen = "127.0.0.1:8443"
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The hub looks for campaigns every half second (every 5 minutes in
	// production): two organisations besides the source make one here.
	h, err := hub.New(ctx, hub.Config{DataDir: filepath.Join(dir, "hub"), Listen: listen, Logger: cfg.Logger, ExpirySweep: time.Second,
		SignalEvery: 500 * time.Millisecond, CampaignOrgs: 2})
	if err != nil {
		return nil, err
	}
	r.h = h
	hubDone := make(chan error, 1)
	go func() { hubDone <- h.Run(ctx) }()
	select {
	case <-h.Ready():
	case err := <-hubDone:
		return nil, err
	}
	var sensors sync.WaitGroup
	defer func() {
		cancel()
		sensors.Wait()
		<-hubDone
	}()
	r.say("hub ready at %s", h.URL())

	if err := r.setUp(ctx, dir); err != nil {
		return nil, err
	}
	for _, o := range r.orgs {
		if o.telemetry == "" {
			continue
		}
		if err := r.startSensor(ctx, dir, o, &sensors); err != nil {
			return nil, err
		}
	}
	sum, err := r.story(ctx)
	if err != nil {
		return nil, err
	}
	r.printSummary(sum)
	if cfg.Serve {
		r.serveInfo(ctx)
		<-ctx.Done()
	}
	return sum, nil
}

// setUp creates the organisations, keys and telemetry files.
func (r *run) setUp(ctx context.Context, dir string) error {
	r.orgs = []*org{
		{name: Coordinator, kind: policy.Coordinator},
		{name: HospitalA, kind: policy.Member},
		{name: HospitalB, kind: policy.Member},
		{name: Partner, kind: policy.Partner},
		{name: CareNorth, kind: policy.Customer, partner: Partner},
		{name: ClinicSouth, kind: policy.Customer, partner: Partner},
		{name: NationalCER, kind: policy.NationalCERT},
	}
	st := r.h.Store()
	for _, o := range r.orgs {
		m := model.Org{Name: o.name, Kind: o.kind}
		if o.partner != "" {
			m.Partner = r.by[o.partner].id
		}
		m, err := st.CreateOrg(ctx, m)
		if err != nil {
			return err
		}
		o.id = m.ID
		r.by[o.name] = o
		for _, k := range []struct {
			role policy.Role
			dst  *string
		}{{policy.Analyst, &o.analyst}, {policy.Admin, &o.admin}, {policy.Sensor, &o.sensorKey}} {
			plain, id, hash := auth.NewKey()
			if err := st.CreateKey(ctx, model.Key{ID: id, OrgID: m.ID, Role: k.role, Name: "demo " + string(k.role), Hash: hash, Created: time.Now().UTC()}); err != nil {
				return err
			}
			*k.dst = plain
		}
		via := ""
		if o.partner != "" {
			via = " via " + o.partner
		}
		r.say("organisation %-16s %s%s", o.name, o.kind, via)
	}
	// Care organisations run sensors. Two of them already saw the phishing
	// domain before anyone shared it: their retro-hunt will find it.
	now := time.Now().UTC()
	for _, name := range []string{HospitalA, HospitalB, CareNorth, ClinicSouth} {
		o := r.by[name]
		o.telemetry = filepath.Join(dir, name+"-eve.json")
		var lines []string
		switch name {
		case HospitalB:
			lines = append(lines, dnsQuery(now.Add(-2*time.Hour), "10.20.0.14", "login-micros0ft-health.com"))
		case CareNorth:
			lines = append(lines, dnsQuery(now.Add(-70*time.Minute), "192.168.5.23", "www.login-micros0ft-health.com"))
		}
		lines = append(lines, dnsQuery(now.Add(-30*time.Minute), "10.0.0.2", "intranet.example.org"))
		if err := os.WriteFile(o.telemetry, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) startSensor(ctx context.Context, dir string, o *org, wg *sync.WaitGroup) error {
	name := o.name
	s, err := sensor.New(ctx, sensor.Config{
		Hubs: []string{r.h.URL()}, Key: o.sensorKey, StateDir: filepath.Join(dir, name+"-sensor"),
		Inputs: []sensor.Input{{Format: match.FormatEVE, Path: o.telemetry}}, Alerts: filepath.Join(dir, name+"-alerts.json"),
		FromStart: true, Report: sensor.ReportCount, SightingsEvery: 300 * time.Millisecond,
		AutoShare: sensor.AutoShare{Mode: "propose", MaxSeverity: 2}, Logger: r.cfg.Logger,
		OnIndicators: func(arrived []match.Indicator, gone []string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			now := time.Now()
			for _, ind := range arrived {
				if r.received[ind.ID] == nil {
					r.received[ind.ID] = map[string]time.Time{}
				}
				if _, ok := r.received[ind.ID][name]; !ok {
					r.received[ind.ID][name] = now
				}
			}
			for _, id := range gone {
				if r.gone[id] == nil {
					r.gone[id] = map[string]time.Time{}
				}
				r.gone[id][name] = now
			}
		},
		OnAlert: func(line []byte) {
			var a struct {
				HDN struct {
					ID    string `json:"id"`
					Value string `json:"value"`
					Retro bool   `json:"retro"`
					Hour  string `json:"hour"`
				} `json:"hdn"`
				SrcIP string `json:"src_ip"`
			}
			if json.Unmarshal(line, &a) != nil {
				return
			}
			kind := "live"
			if a.HDN.Retro {
				kind = "retro"
				r.say("%-16s sensor: RETRO-HUNT alert — %s was already seen in the hour from %s", name, a.HDN.Value, a.HDN.Hour)
			} else {
				r.say("%-16s sensor: ALERT — %s (host %s)", name, a.HDN.Value, a.SrcIP)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.alertN[name]++
			if r.alerts[a.HDN.ID] == nil {
				r.alerts[a.HDN.ID] = map[string]string{}
			}
			if prev := r.alerts[a.HDN.ID][name]; prev != "" && prev != kind {
				kind = "live+retro"
			}
			r.alerts[a.HDN.ID][name] = kind
		},
	})
	if err != nil {
		return err
	}
	o.sensor = s
	wg.Go(func() {
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			r.say("%s sensor stopped: %v", name, err)
		}
	})
	select {
	case <-s.Current():
	case <-time.After(20 * time.Second):
		return fmt.Errorf("%s's sensor did not become current", name)
	}
	r.say("%-16s sensor running, following its Suricata EVE log", name)
	return nil
}

// story plays the events and records what happened.
func (r *run) story(ctx context.Context) (*Summary, error) {
	a, b := r.by[HospitalA], r.by[HospitalB]
	sensorOrgs := []string{HospitalA, HospitalB, CareNorth, ClinicSouth}

	// 1. Hospital A's Suricata raises an alert; its sensor proposes the domain.
	r.say("%-16s Suricata: ALERT severity 1 \"ET PHISHING Office 365 credential harvesting\" to login-micros0ft-health.com", HospitalA)
	appendLine(a.telemetry, fmt.Sprintf(`{"timestamp":%q,"flow_id":881,"event_type":"alert","src_ip":"10.1.4.22","src_port":50412,"dest_ip":"203.0.113.66","dest_port":443,"proto":"TCP","alert":{"signature":"ET PHISHING Office 365 credential harvesting","category":"Possible Social Engineering Attempted","severity":1},"tls":{"sni":"login-micros0ft-health.com"}}`,
		suricataTime(time.Now())))
	var prop struct {
		ID, Value string
	}
	if err := r.waitFor(ctx, "the auto-share proposal", func() (bool, error) {
		var q struct {
			Proposals []struct{ ID, Value string }
		}
		if err := r.call(ctx, "GET", "/api/v1/proposals?status=pending", a.analyst, nil, &q); err != nil {
			return false, err
		}
		if len(q.Proposals) > 0 {
			prop.ID, prop.Value = q.Proposals[0].ID, q.Proposals[0].Value
			return true, nil
		}
		return false, nil
	}); err != nil {
		return nil, err
	}
	r.say("%-16s sensor proposed %s to its analysts (auto-share)", HospitalA, prop.Value)
	var rep struct{ ID string }
	if err := r.call(ctx, "POST", "/api/v1/reports", a.analyst, map[string]any{"title": "Office 365 phishing wave against hospitals", "tlp": "amber"}, &rep); err != nil {
		return nil, err
	}
	var approved struct {
		Result struct{ ID string }
	}
	sharedAt := time.Now()
	if err := r.call(ctx, "POST", "/api/v1/proposals/"+prop.ID+"/approve", a.analyst,
		map[string]any{"tlp": "amber", "labels": []string{"phishing"}, "confidence": 85, "report": rep.ID}, &approved); err != nil {
		return nil, err
	}
	phishID := approved.Result.ID
	r.say("%-16s analyst approved: shared as TLP:AMBER with the whole network", HospitalA)

	// 2. Every sensor has it within a second; two find it in their past.
	if err := r.waitReceived(ctx, phishID, sensorOrgs, sharedAt); err != nil {
		return nil, err
	}
	appendLine(r.by[ClinicSouth].telemetry, dnsQuery(time.Now(), "172.16.8.40", "Login-Micros0ft-Health.COM."))
	if err := r.waitFor(ctx, "the alerts", func() (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		m := r.alerts[phishID]
		return m[HospitalB] != "" && m[CareNorth] != "" && m[ClinicSouth] != "", nil
	}); err != nil {
		return nil, err
	}

	// 3. Sightings reach the hub; the coordinator sees the campaign.
	coord := r.by[Coordinator]
	var sj struct {
		Total         int64
		Organisations int
		ByOrg         []struct{ Org string } `json:"by_org"`
	}
	if err := r.waitFor(ctx, "the sightings", func() (bool, error) {
		if err := r.call(ctx, "GET", "/api/v1/indicators/"+phishID+"/sightings", coord.analyst, nil, &sj); err != nil {
			return false, err
		}
		return sj.Organisations >= 3, nil
	}); err != nil {
		return nil, err
	}
	var who []string
	for _, o := range sj.ByOrg {
		who = append(who, o.Org)
	}
	r.say("%-16s %d organisations sighted it: %s", Coordinator, sj.Organisations, strings.Join(who, ", "))
	// The hub's campaign job raises an alert for the coordinator.
	var alerts struct {
		Alerts []struct {
			By, Title     string
			Organisations int
			Orgs          []string
		}
	}
	if err := r.waitFor(ctx, "the campaign alert", func() (bool, error) {
		if err := r.call(ctx, "GET", "/api/v1/alerts", coord.analyst, nil, &alerts); err != nil {
			return false, err
		}
		for _, a := range alerts.Alerts {
			if a.By == "report" {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return nil, err
	}
	for _, a := range alerts.Alerts {
		if a.By == "report" {
			r.say("%-16s CAMPAIGN ALERT: %d organisations besides the source sighted indicators of %q: %s", Coordinator, a.Organisations, a.Title, strings.Join(a.Orgs, ", "))
		}
	}
	var bView struct{ Organisations int }
	if err := r.call(ctx, "GET", "/api/v1/indicators/"+phishID+"/sightings", b.analyst, nil, &bView); err != nil {
		return nil, err
	}
	r.say("%-16s sees only that %d organisations sighted it, not which", HospitalB, bView.Organisations)

	// 4. AMBER+STRICT: the partner's customers do not receive it.
	// Pasted with it, the resolver the beacon asked: a warninglist stops it.
	var res struct {
		Results []struct {
			ID, Value, Status string
			Error             *struct{ Code, Message string }
			Warninglists      []struct{ List, Kind string }
		}
	}
	strictAt := time.Now()
	if err := r.call(ctx, "POST", "/api/v1/indicators", b.analyst, map[string]any{"indicators": []any{
		map[string]any{"value": "91.92.33.132", "tlp": "amber+strict", "labels": []string{"c2"}, "description": "Cobalt Strike team server"},
		map[string]any{"value": "8.8.8.8", "tlp": "amber+strict", "labels": []string{"c2"}}}}, &res); err != nil {
		return nil, err
	}
	if len(res.Results) != 2 || res.Results[0].Status != "created" {
		return nil, fmt.Errorf("sharing the C2 address: %+v", res.Results)
	}
	if rej := res.Results[1]; rej.Status != "rejected" || len(rej.Warninglists) == 0 {
		return nil, fmt.Errorf("8.8.8.8 was not stopped by a warninglist: %+v", rej)
	}
	r.say("%-16s also pasted 8.8.8.8: REFUSED, it is on the warninglist %q (a public resolver, benign in itself)", HospitalB, res.Results[1].Warninglists[0].List)
	strictID := res.Results[0].ID
	r.say("%-16s shares 91.92.33.132 as TLP:AMBER+STRICT (organisations in the audience only)", HospitalB)
	if err := r.waitReceived(ctx, strictID, []string{HospitalA, HospitalB}, strictAt); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // what would arrive has arrived by now
	for _, name := range []string{CareNorth, ClinicSouth} {
		if r.has(strictID, name) {
			return nil, fmt.Errorf("%s received an amber+strict indicator", name)
		}
		r.say("%-16s does NOT receive it: a partner's customer is not in the audience of AMBER+STRICT", name)
	}

	// 5. An anonymous submission: the name stays hidden.
	anonAt := time.Now()
	if err := r.call(ctx, "POST", "/api/v1/indicators", b.analyst, map[string]any{"indicators": []any{
		map[string]any{"value": "5d41402abc4b2a76b9719d911017c592", "type": "md5", "tlp": "amber", "labels": []string{"ransomware"}, "anonymous": true, "description": "LockBit loader"}}}, &res); err != nil {
		return nil, err
	}
	anonID := res.Results[0].ID
	if err := r.waitReceived(ctx, anonID, sensorOrgs, anonAt); err != nil {
		return nil, err
	}
	shown := map[string]string{}
	for _, o := range r.orgs {
		var ind struct{ Source string }
		if err := r.call(ctx, "GET", "/api/v1/indicators/"+anonID, o.analyst, nil, &ind); err != nil {
			return nil, err
		}
		shown[o.name] = ind.Source
	}
	r.say("anonymous ransomware hash: %s and %s see source %q; %s sees %q", HospitalA, CareNorth, shown[HospitalA], Coordinator, shown[Coordinator])

	// 6. A revocation stops the matching everywhere.
	revokedAt := time.Now()
	if err := r.call(ctx, "POST", "/api/v1/indicators/"+phishID+"/revoke", a.analyst, nil, nil); err != nil {
		return nil, err
	}
	r.say("%-16s revokes login-micros0ft-health.com (a false positive after all? it stops matching everywhere)", HospitalA)
	if err := r.waitFor(ctx, "the revocation at every sensor", func() (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, name := range sensorOrgs {
			if _, ok := r.gone[phishID][name]; !ok {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return nil, err
	}
	var slowest time.Duration
	for _, t := range r.gone[phishID] {
		slowest = max(slowest, t.Sub(revokedAt))
	}
	r.say("every sensor dropped it within %v", slowest.Round(time.Millisecond))
	// One DNS answer that names both the revoked domain and the C2 address
	// still shared: the address alerts, the domain no longer does.
	r.mu.Lock()
	strictAlertsBefore := len(r.alerts[strictID])
	r.mu.Unlock()
	appendLine(b.telemetry, dnsAnswer(time.Now(), "10.20.0.99", "login-micros0ft-health.com", "91.92.33.132"))
	if err := r.waitFor(ctx, "hospital B's sensor to match the new line", func() (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.alerts[strictID]) > strictAlertsBefore, nil
	}); err != nil {
		return nil, err
	}
	r.mu.Lock()
	revokedAlert := r.alerts[phishID][HospitalB]
	r.mu.Unlock()
	if strings.Contains(revokedAlert, "live") {
		return nil, errors.New("a revoked indicator still raised an alert")
	}
	r.say("%-16s resolves the domain again: no alert for it (only for the C2 address in the answer)", HospitalB)

	sum := &Summary{Sensors: sensorOrgs}
	for _, o := range r.orgs {
		sum.Orgs = append(sum.Orgs, o.name)
	}
	for _, row := range []struct {
		label, id, value, tlp, source string
		at                            time.Time
	}{
		{"phishing domain", phishID, "login-micros0ft-health.com", "amber", HospitalA, sharedAt},
		{"C2 address", strictID, "91.92.33.132", "amber+strict", HospitalB, strictAt},
		{"ransomware hash", anonID, "5d41402abc4b2a76b9719d911017c592", "amber", HospitalB, anonAt},
	} {
		rw := Row{Label: row.label, Value: row.value, TLP: row.tlp, Source: row.source, Received: map[string]time.Duration{}, Matched: map[string]string{}}
		r.mu.Lock()
		for name, t := range r.received[row.id] {
			rw.Received[name] = max(t.Sub(row.at), 0)
		}
		for name, k := range r.alerts[row.id] {
			rw.Matched[name] = k
		}
		r.mu.Unlock()
		if row.id == anonID {
			rw.Shown = shown
		}
		sum.Rows = append(sum.Rows, rw)
	}
	return sum, nil
}

func (r *run) has(id, org string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.received[id][org]
	return ok
}

// waitReceived waits until each named sensor holds the indicator, and says
// how long each took.
func (r *run) waitReceived(ctx context.Context, id string, orgs []string, since time.Time) error {
	if err := r.waitFor(ctx, "the sensors to receive it", func() (bool, error) {
		for _, o := range orgs {
			if !r.has(id, o) {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	r.mu.Lock()
	var parts []string
	for _, o := range orgs {
		parts = append(parts, fmt.Sprintf("%s +%v", o, r.received[id][o].Sub(since).Round(time.Millisecond)))
	}
	r.mu.Unlock()
	r.say("sensors hold it: %s", strings.Join(parts, ", "))
	return nil
}

func (r *run) waitFor(ctx context.Context, what string, ok func() (bool, error)) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		done, err := ok()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: waited 20 s for %s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *run) call(ctx context.Context, method, path, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.h.URL()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (r *run) printSummary(sum *Summary) {
	fmt.Fprintln(r.out)
	fmt.Fprintln(r.out, "Summary — when each sensor received each indicator after it was shared, and what it matched:")
	tw := tabwriter.NewWriter(r.out, 2, 8, 2, ' ', 0)
	fmt.Fprint(tw, "indicator\tTLP\tsource")
	for _, o := range sum.Sensors {
		fmt.Fprintf(tw, "\t%s", o)
	}
	fmt.Fprintln(tw)
	for _, row := range sum.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s", row.Label, row.TLP, row.Source)
		for _, o := range sum.Sensors {
			cell := "not received"
			if d, ok := row.Received[o]; ok {
				cell = "+" + d.Round(time.Millisecond).String()
				if m := row.Matched[o]; m != "" {
					cell += " " + m
				}
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, row := range sum.Rows {
		if row.Shown == nil {
			continue
		}
		var parts []string
		for _, o := range sum.Orgs {
			parts = append(parts, fmt.Sprintf("%s: %s", o, row.Shown[o]))
		}
		sort.Strings(parts)
		fmt.Fprintf(r.out, "Source of the anonymous %s as each organisation sees it — %s\n", row.Label, strings.Join(parts, "; "))
	}
}

func (r *run) serveInfo(ctx context.Context) {
	fmt.Fprintf(r.out, "\nThe hub keeps running at %s (Ctrl-C to stop).\n", r.h.URL())
	fmt.Fprintf(r.out, "Web UI: %s/ui/ — sign in as (one admin user per organisation; passwords made for this run):\n", r.h.URL())
	for _, o := range r.orgs {
		email := "admin@" + o.name + ".demo"
		pw := rand.Text()[:20]
		hash, err := session.HashPassword(pw)
		if err == nil {
			_, err = r.h.Store().CreateUser(ctx, model.User{OrgID: o.id, Email: email, Name: o.name + " admin", Role: policy.Admin, PasswordHash: hash})
		}
		if err != nil {
			fmt.Fprintf(r.out, "  %-16s (no UI user: %v)\n", o.name, err)
			continue
		}
		fmt.Fprintf(r.out, "  %-16s %-34s %s\n", o.name, email, pw)
	}
	fmt.Fprintf(r.out, "API keys of the demo organisations:\n")
	for _, o := range r.orgs {
		fmt.Fprintf(r.out, "  %-16s analyst %s\n  %-16s admin   %s\n", o.name, o.analyst, "", o.admin)
	}
	fmt.Fprintf(r.out, "Try: curl -H 'Authorization: Bearer %s' %s/api/v1/indicators\n", r.by[HospitalB].analyst, r.h.URL())
}

func suricataTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000-0700") }

func dnsQuery(at time.Time, src, name string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"dns","src_ip":%q,"src_port":53124,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"query","id":4711,"rrname":%q,"rrtype":"A","tx_id":0}}`,
		suricataTime(at), at.UnixNano()%1_000_000, src, name)
}

func dnsAnswer(at time.Time, src, name, addr string) string {
	return fmt.Sprintf(`{"timestamp":%q,"flow_id":%d,"event_type":"dns","src_ip":%q,"src_port":53124,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"answer","id":4712,"rrname":%q,"rrtype":"A","rcode":"NOERROR","answers":[{"rrname":%q,"rrtype":"A","ttl":60,"rdata":%q}]}}`,
		suricataTime(at), at.UnixNano()%1_000_000, src, name, name, addr)
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(line + "\n")
}
