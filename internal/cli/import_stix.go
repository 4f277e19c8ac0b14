package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
)

// STIXImportSummary is what `hdn import` prints for a STIX bundle.
type STIXImportSummary struct {
	Format   string `json:"format"`
	Objects  int    `json:"objects"`
	Created  int    `json:"created"`
	Updated  int    `json:"updated"`
	Patterns int    `json:"patterns"`
	Revoked  int    `json:"revoked"`
	Context  int    `json:"context"`
	Reports  int    `json:"reports"`
	Failed   int    `json:"failed"`
	// Failures shows the first failures, each with its object id.
	Failures []string `json:"failures,omitempty"`
	Seconds  float64  `json:"seconds"`
}

// importSTIX sends a STIX bundle to the hub's STIX import, in parts of at
// most importBatch objects; every part carries the bundle's marking
// definitions, so that the TLP of each object is read as the bundle says.
// A report links only the indicators of its own part.
func importSTIX(e *env, c *hubClient, data []byte, tlp string) error {
	start := time.Now()
	var bundle struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		return fmt.Errorf("hdn import: the file is not STIX JSON: %w", err)
	}
	if bundle.Type != "" && bundle.Type != "bundle" || bundle.Objects == nil {
		return fmt.Errorf("hdn import: the file is not a STIX bundle (no \"objects\")")
	}
	var markings, rest []json.RawMessage
	for _, o := range bundle.Objects {
		var head struct{ Type string }
		if json.Unmarshal(o, &head) == nil && head.Type == "marking-definition" {
			markings = append(markings, o)
			continue
		}
		rest = append(rest, o)
	}
	path := "/api/v1/import/stix"
	if tlp != "" {
		path += "?tlp=" + url.QueryEscape(tlp)
	}
	sum := STIXImportSummary{Format: "stix", Objects: len(bundle.Objects)}
	for first := true; first || len(rest) > 0; first = false {
		n := min(len(rest), max(importBatch-len(markings), 1))
		part := append(append([]json.RawMessage{}, markings...), rest[:n]...)
		rest = rest[n:]
		body, err := json.Marshal(map[string]any{"type": "bundle", "objects": part})
		if err != nil {
			return err
		}
		resp, err := c.do(e.ctx, "POST", path, body, "application/json")
		if err != nil {
			return err
		}
		var res api.STIXImportResult
		err = json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&res)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("hdn import: the hub's answer: %w", err)
		}
		sum.Created += res.Created
		sum.Updated += res.Updated
		sum.Patterns += res.Patterns
		sum.Revoked += res.Revoked
		sum.Context += res.Context
		sum.Reports += res.Reports
		for _, f := range res.Failures {
			if markingFailureCounted(sum.Failures, f) {
				continue
			}
			sum.Failed++
			if len(sum.Failures) < maxShownProblems {
				sum.Failures = append(sum.Failures, f.ID+": "+f.Message)
			}
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	return printJSON(e.stdout, sum)
}

// markingFailureCounted says whether a failure is a repeat of one already
// shown (a marking definition sent with every part).
func markingFailureCounted(shown []string, f api.STIXObjectOutcome) bool {
	for _, s := range shown {
		if s == f.ID+": "+f.Message {
			return true
		}
	}
	return false
}
