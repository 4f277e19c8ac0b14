// Package coverage computes how far the network reaches: which
// organisations are connected, which have a live sensor, which share and
// which only receive, and the share of care organisations (members and
// customers) that are protected — the figure the coordinator reports
// against its objective. It is pure: it works on what the store returns.
package coverage

import (
	"slices"
	"sort"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// DefaultLive is how recent a heartbeat must be for a sensor to count as
// live.
const DefaultLive = 15 * time.Minute

// DefaultSharingWindow is how far back an indicator must have been shared
// for its source to count as sharing.
const DefaultSharingWindow = 90 * 24 * time.Hour

// Input is what a report is computed from.
type Input struct {
	Orgs    []model.Org
	Sensors []model.SensorStatus
	// Shared counts, per source organisation, the indicators it shared
	// within the sharing window.
	Shared map[string]int
	Now    time.Time
	Live   time.Duration // 0: DefaultLive
	Window time.Duration // the sharing window, for the report; 0: DefaultSharingWindow
}

// Report is the coverage of the network.
type Report struct {
	At            time.Time `json:"at"`
	LiveWithin    string    `json:"live_within"`    // e.g. "15m0s"
	SharingWindow string    `json:"sharing_window"` // e.g. "2160h0m0s"
	// Protected is the objective's figure: of the active members and
	// customers, those with a live sensor.
	Protected Share `json:"protected"`
	// ByKind counts organisations of each kind.
	ByKind map[policy.OrgKind]*KindCount `json:"by_kind"`
	// ByPartner counts each partner's customers.
	ByPartner []PartnerCount `json:"by_partner"`
	// Orgs has one line per organisation that is not offboarded.
	Orgs []OrgCoverage `json:"orgs"`
}

// Share is a part of a whole.
type Share struct {
	Count   int     `json:"count"`
	Of      int     `json:"of"`
	Percent float64 `json:"percent"` // 0 when Of is 0
}

func share(n, of int) Share {
	s := Share{Count: n, Of: of}
	if of > 0 {
		s.Percent = float64(int(float64(n)*1000/float64(of)+0.5)) / 10
	}
	return s
}

// KindCount counts organisations of one kind.
type KindCount struct {
	Total      int `json:"total"` // not offboarded
	Active     int `json:"active"`
	Pending    int `json:"pending"`
	Suspended  int `json:"suspended"`
	LiveSensor int `json:"live_sensor"` // active, with a live sensor
	Sharing    int `json:"sharing"`     // active, shared within the window
	// ReceivingOnly are active and shared nothing within the window.
	ReceivingOnly int `json:"receiving_only"`
}

// PartnerCount is one partner's customers.
type PartnerCount struct {
	Partner   string `json:"partner"` // name
	PartnerID string `json:"partner_id"`
	Customers int    `json:"customers"` // not offboarded
	Active    int    `json:"active"`
	Protected Share  `json:"protected"` // of its active customers, those with a live sensor
}

// OrgCoverage is one organisation's line.
type OrgCoverage struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Kind        policy.OrgKind  `json:"kind"`
	Partner     string          `json:"partner,omitempty"` // name
	Status      model.OrgStatus `json:"status"`
	Sensors     int             `json:"sensors"`
	LiveSensors int             `json:"live_sensors"`
	LastSeen    time.Time       `json:"last_seen,omitzero"` // the newest heartbeat
	Shared      int             `json:"shared"`             // indicators within the window
	Protected   bool            `json:"protected"`          // active with a live sensor
}

// careKind says whether a kind counts towards the objective.
func careKind(k policy.OrgKind) bool { return k == policy.Member || k == policy.Customer }

// Compute makes the report. Offboarded organisations are left out;
// pending and suspended ones are counted by kind but are not protected and
// not part of the objective's whole (they are not connected).
func Compute(in Input) Report {
	if in.Live <= 0 {
		in.Live = DefaultLive
	}
	if in.Window <= 0 {
		in.Window = DefaultSharingWindow
	}
	r := Report{At: in.Now.UTC(), LiveWithin: in.Live.String(), SharingWindow: in.Window.String(), ByKind: map[policy.OrgKind]*KindCount{}}
	names := map[string]string{}
	for _, o := range in.Orgs {
		names[o.ID] = o.Name
	}
	type sensorFacts struct {
		n, live int
		last    time.Time
	}
	sensors := map[string]*sensorFacts{}
	for _, s := range in.Sensors {
		f := sensors[s.OrgID]
		if f == nil {
			f = &sensorFacts{}
			sensors[s.OrgID] = f
		}
		f.n++
		if !s.LastSeen.Before(in.Now.Add(-in.Live)) && !s.LastSeen.After(in.Now.Add(time.Minute)) {
			f.live++
		}
		if s.LastSeen.After(f.last) {
			f.last = s.LastSeen
		}
	}
	partners := map[string]*PartnerCount{}
	var eligible, protected int
	for _, o := range in.Orgs {
		if o.Revoked {
			continue
		}
		status := o.Status
		if status == "" {
			status = model.OrgActive
		}
		line := OrgCoverage{ID: o.ID, Name: o.Name, Kind: o.Kind, Partner: names[o.Partner], Status: status, Shared: in.Shared[o.ID]}
		if f := sensors[o.ID]; f != nil {
			line.Sensors, line.LiveSensors, line.LastSeen = f.n, f.live, f.last
		}
		active := status == model.OrgActive
		line.Protected = active && line.LiveSensors > 0
		kc := r.ByKind[o.Kind]
		if kc == nil {
			kc = &KindCount{}
			r.ByKind[o.Kind] = kc
		}
		kc.Total++
		switch status {
		case model.OrgActive:
			kc.Active++
		case model.OrgPending:
			kc.Pending++
		case model.OrgSuspended:
			kc.Suspended++
		}
		if active {
			if line.LiveSensors > 0 {
				kc.LiveSensor++
			}
			if line.Shared > 0 {
				kc.Sharing++
			} else {
				kc.ReceivingOnly++
			}
		}
		if careKind(o.Kind) && active {
			eligible++
			if line.Protected {
				protected++
			}
		}
		if o.Kind == policy.Customer && o.Partner != "" {
			pc := partners[o.Partner]
			if pc == nil {
				pc = &PartnerCount{Partner: names[o.Partner], PartnerID: o.Partner}
				partners[o.Partner] = pc
			}
			pc.Customers++
			if active {
				pc.Active++
				if line.Protected {
					pc.Protected.Count++
				}
			}
		}
		r.Orgs = append(r.Orgs, line)
	}
	r.Protected = share(protected, eligible)
	for _, pc := range partners {
		pc.Protected = share(pc.Protected.Count, pc.Active)
		r.ByPartner = append(r.ByPartner, *pc)
	}
	sort.Slice(r.ByPartner, func(i, j int) bool { return r.ByPartner[i].Partner < r.ByPartner[j].Partner })
	slices.SortFunc(r.Orgs, func(a, b OrgCoverage) int {
		if a.Kind != b.Kind {
			if a.Kind < b.Kind {
				return -1
			}
			return 1
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return r
}
