package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
)

const maxSightings = 10_000

// SightingIn is one sighting as a sensor or analyst reports it.
type SightingIn struct {
	Indicator  string `json:"indicator"`
	Kind       string `json:"kind"`  // sighting (default) or false-positive
	Count      int64  `json:"count"` // default 1
	Hour       string `json:"hour"`  // any time inside the hour; default now
	Host       string `json:"host"`  // full reports only: the observing host's address
	ObservedAt string `json:"observed_at"`
}

// addSightings stores sightings under the policy: an organisation reports
// only on indicators it may see.
func (s *Server) addSightings(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	if !p.Key.Role.CanReportSightings() {
		return forbidden("a %s key may not report sightings", p.Key.Role)
	}
	var in struct {
		Sightings []SightingIn `json:"sightings"`
	}
	if err := s.decodeBulk(w, r, &in); err != nil {
		return err
	}
	if len(in.Sightings) > maxSightings {
		return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "more than %d sightings in one request", maxSightings)
	}
	report, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	digest := ""
	if report != "" {
		// A report stored before is answered as then, whatever has
		// changed since (an indicator that left the sender's view
		// meanwhile would otherwise make it a 404, and the sender could
		// not tell that it was stored). Another report under a key
		// already used is refused: it would not be counted.
		digest = reportDigest(in.Sightings)
		was, stored, err := s.st.SightingReport(ctx, p.Org.ID, report)
		if err != nil {
			return err
		}
		switch {
		case stored && was == digest:
			writeJSON(w, http.StatusOK, map[string]any{"stored": len(in.Sightings), "quarantined": 0, "replayed": true})
			return nil
		case stored:
			return errf(http.StatusUnprocessableEntity, CodeConflict,
				"Idempotency-Key %q was used in the last %s for another report of this organisation; a new report needs a new key", clip(report), model.SightingReportsKept)
		}
	}
	now := s.now().UTC()
	out := make([]model.Sighting, 0, len(in.Sightings))
	visible := map[string]bool{}
	for i, si := range in.Sightings {
		bad := func(format string, args ...any) error {
			return errf(http.StatusBadRequest, CodeInvalidValue, "sightings[%d]: %s", i, fmt.Sprintf(format, args...))
		}
		sg := model.Sighting{IndicatorID: si.Indicator, Org: p.Org.ID, Kind: model.Sighted, Count: si.Count, Hour: now, Report: report, ReportDigest: digest}
		if si.Kind != "" {
			sg.Kind = model.SightingKind(si.Kind)
			if sg.Kind != model.Sighted && sg.Kind != model.FalsePositive {
				return bad("kind %q is not one of sighting, false-positive", clip(si.Kind))
			}
		}
		if sg.Count == 0 {
			sg.Count = 1
		}
		if sg.Count < 0 || sg.Count > model.MaxSightingCount {
			return bad("count %d is out of range", si.Count)
		}
		if si.Hour != "" {
			t, err := parseTime("hour", si.Hour)
			if err != nil {
				return bad("%s", err.Error())
			}
			if t.After(now.Add(time.Hour)) {
				return bad("hour %s is in the future", si.Hour)
			}
			sg.Hour = t
		}
		if si.Host != "" {
			a, err := netip.ParseAddr(si.Host)
			if err != nil {
				return bad("host %q is not an IP address", clip(si.Host))
			}
			sg.Host = a.Unmap().String()
		}
		if si.ObservedAt != "" {
			t, err := parseTime("observed_at", si.ObservedAt)
			if err != nil {
				return bad("%s", err.Error())
			}
			sg.ObservedAt = t
		}
		ok, seen := visible[si.Indicator]
		if !seen {
			_, err := s.visibleIndicator(ctx, p, si.Indicator)
			var apiErr *Error
			if err != nil && !errors.As(err, &apiErr) {
				return err
			}
			ok = err == nil
			visible[si.Indicator] = ok
		}
		if !ok {
			return errf(http.StatusNotFound, CodeNotFound, "sightings[%d]: indicator %q not found", i, clip(si.Indicator))
		}
		out = append(out, sg)
	}
	if err := s.sightings.add(ctx, out); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errf(http.StatusNotFound, CodeNotFound, "an indicator of the batch no longer exists")
		}
		return err
	}
	var fps []string
	for _, sg := range out {
		if sg.Kind == model.FalsePositive && !slices.Contains(fps, sg.IndicatorID) {
			fps = append(fps, sg.IndicatorID)
		}
	}
	quarantined, err := s.reportFalsePositives(ctx, p, fps)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"stored": len(out), "quarantined": quarantined})
	return nil
}

// idempotencyKey reads the request's Idempotency-Key header: a report sent
// again with the key of one already stored (after a lost answer, say) is
// answered as before and not counted again. "" when there is none.
func idempotencyKey(r *http.Request) (string, error) {
	vs := r.Header.Values("Idempotency-Key")
	if len(vs) == 0 {
		return "", nil
	}
	k := vs[0]
	// The header's draft makes it a structured-field string: quoted.
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	bad := len(vs) > 1 || k == "" || len(k) > model.MaxReportKey
	for i := 0; i < len(k) && !bad; i++ {
		bad = k[i] < 0x21 || k[i] > 0x7e || k[i] == '"' || k[i] == '\\'
	}
	if bad {
		return "", errf(http.StatusBadRequest, CodeInvalidValue,
			"the Idempotency-Key header must be one key of 1 to %d printable ASCII characters (a UUID, say), got %q", model.MaxReportKey, clip(strings.Join(vs, ", ")))
	}
	return k, nil
}

// reportDigest identifies a report's content: its sightings as sent, in
// order.
func reportDigest(ss []SightingIn) string {
	h := sha256.New()
	for _, si := range ss {
		for _, f := range []string{si.Indicator, si.Kind, strconv.FormatInt(si.Count, 10), si.Hour, si.Host, si.ObservedAt} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// SightingsJSON is what a viewer learns of an indicator's sightings.
type SightingsJSON struct {
	Indicator      string            `json:"indicator"`
	Total          int64             `json:"total"`
	Organisations  int               `json:"organisations"`
	FalsePositives int64             `json:"false_positives"`
	ByOrg          []OrgSightingJSON `json:"by_org,omitempty"` // only for the source and the coordinator
}

// OrgSightingJSON is one organisation's sightings.
type OrgSightingJSON struct {
	Org   string    `json:"org"`
	Kind  string    `json:"kind"`
	Count int64     `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// getSightings shows an indicator's sightings: who sighted it to its source
// and the coordinator, only how many to everyone else who may see it.
func (s *Server) getSightings(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	ctx := r.Context()
	ind, err := s.visibleIndicator(ctx, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	counts, err := s.st.SightingCounts(ctx, ind.ID)
	if err != nil {
		return err
	}
	out := SightingsJSON{Indicator: ind.ID}
	orgs := map[string]bool{}
	seesWho := policy.SeesSighters(p.Viewer, ind.Source)
	for _, c := range counts {
		if c.Kind == model.FalsePositive {
			out.FalsePositives += c.Count
		} else {
			out.Total += c.Count
			orgs[c.Org] = true
		}
		if seesWho {
			out.ByOrg = append(out.ByOrg, OrgSightingJSON{Org: s.orgs.name(ctx, c.Org), Kind: string(c.Kind), Count: c.Count, First: c.First, Last: c.Last})
		}
	}
	out.Organisations = len(orgs)
	sort.Slice(out.ByOrg, func(i, j int) bool { return out.ByOrg[i].Org < out.ByOrg[j].Org })
	writeJSON(w, http.StatusOK, out)
	return nil
}
