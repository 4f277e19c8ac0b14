package api

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/hdnetwork/hdn/internal/export"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/score"
	"github.com/hdnetwork/hdn/internal/store"
)

// exportPage is how many indicators an export reads from the store at a
// time.
const exportPage = 5000

// exportParams are the query parameters of an export beyond the list
// filters.
var exportParams = []string{"type", "value", "label", "report", "tlp", "source", "tag", "since", "dataset_type", "rpz_action", "min_score"}

// exportIndicators writes what p may see, in a detection format, streaming.
// Only live indicators go out: a sensor or firewall must not block on what
// the network revoked or what expired.
func (s *Server) exportIndicators(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := onlyParams(r, exportParams...); err != nil {
		return err
	}
	f, err := export.ParseFormat(r.PathValue("format"))
	if err != nil {
		return errf(http.StatusNotFound, CodeNotFound, "%s", err.Error()) // notFound would append " not found" to the list of formats
	}
	q, err := s.parseIndicatorQuery(r)
	if err != nil {
		return err
	}
	minScore, err := minScoreParam(r)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	opt := export.Options{Now: now, HubName: s.hubName, ListType: q.Type}
	qs := r.URL.Query()
	if f == export.SuricataDataset {
		opt.DatasetType = qs.Get("dataset_type")
		if opt.DatasetType == "" {
			return badRequest("the suricata-dataset export needs dataset_type= one of domain (or string: names, base64-encoded), md5, sha256, ipv4, ip, ja3, ja3s, ja4")
		}
	}
	opt.RPZAction = qs.Get("rpz_action")
	if f == export.STIX && q.Type == "" && q.Value == "" && q.Label == "" && q.ReportID == "" {
		// A whole-collection STIX export carries the objects kept as
		// context too, so that it can be imported elsewhere without loss.
		opt.STIXObjects = s.keptObjects(r.Context(), p, q.Since)
	}
	// Check the options before the first byte goes out: afterwards an error
	// can only cut the response short.
	if _, err := export.Write(discard{}, f, noIndicators, opt); err != nil {
		return badRequest("%s", err.Error())
	}
	ctx := r.Context()
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Content-Disposition", `attachment; filename="`+export.FileNameFor(f, opt)+`"`)
	w.Header().Set("Cache-Control", "no-store")
	// The csv carries each indicator's score; the scores of the page being
	// written are kept for the encoder.
	var pageScores map[string]score.Result
	if f == export.CSV {
		opt.Score = func(ind *model.Indicator) int { return pageScores[ind.ID].Score }
	}
	st, err := export.Write(w, f, s.liveIndicators(ctx, p, q, now, minScore, f == export.CSV, &pageScores), opt)
	if err != nil {
		// Headers are gone; the body is cut short, which a client sees as a
		// broken transfer rather than a complete file.
		s.log.ErrorContext(ctx, "export failed part-way", "format", f, "org", p.Org.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	s.audit(ctx, p, "indicator.export", string(f), fmt.Sprintf("%d written, %d not expressible", st.Written, st.Skipped))
	return nil
}

// liveIndicators pages through the indicators p may see for q, keeping the
// live ones (at or over minScore) and checking the policy once more before
// each goes out. With withScores, the scores of the page being yielded are
// left in *pageScores.
func (s *Server) liveIndicators(ctx context.Context, p *Principal, q store.Query, now time.Time, minScore int, withScores bool, pageScores *map[string]score.Result) iter.Seq2[model.Indicator, error] {
	return func(yield func(model.Indicator, error) bool) {
		q.Limit, q.IncludeRevoked = exportPage, false
		for {
			inds, err := s.st.ListIndicators(ctx, p.Viewer, q)
			if err != nil {
				yield(model.Indicator{}, err)
				return
			}
			var scores map[string]score.Result
			if minScore > 0 || withScores {
				if scores, err = s.Scores(ctx, inds, now); err != nil {
					yield(model.Indicator{}, err)
					return
				}
				if pageScores != nil {
					*pageScores = scores
				}
			}
			for i := range inds {
				if !policy.CanSee(p.Viewer, inds[i].PolicyItem()) {
					s.log.ErrorContext(ctx, "store returned an indicator the policy hides; withheld", "indicator", inds[i].ID, "org", p.Org.ID)
					continue
				}
				if !inds[i].Live(now) {
					continue
				}
				if minScore > 0 && scores[inds[i].ID].Score < minScore {
					continue
				}
				if !yield(inds[i], nil) {
					return
				}
			}
			if len(inds) < q.Limit {
				return
			}
			q.After = inds[len(inds)-1].Seq
		}
	}
}

// keptObjects pages through the STIX objects kept as context that p may
// see (added after since, when set).
func (s *Server) keptObjects(ctx context.Context, p *Principal, since time.Time) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		q := store.STIXQuery{Limit: exportPage}
		if !since.IsZero() {
			q.Since = since.Add(-time.Nanosecond) // Since is strict; the export's is not
		}
		for {
			objs, err := s.st.ListSTIXObjects(ctx, p.Viewer, q)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range objs {
				if !policy.CanSee(p.Viewer, objs[i].PolicyItem()) {
					s.log.ErrorContext(ctx, "store returned a STIX object the policy hides; withheld", "object", objs[i].ID, "org", p.Org.ID)
					continue
				}
				if !yield(objs[i].Raw, nil) {
					return
				}
			}
			if len(objs) < q.Limit {
				return
			}
			q.After = objs[len(objs)-1].Seq
		}
	}
}

func noIndicators(func(model.Indicator, error) bool) {}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
