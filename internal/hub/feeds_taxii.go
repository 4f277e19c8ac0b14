package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hdnetwork/hdn/internal/api"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/taxiiclient"
)

// taxiiCursorKey is the reserved event key under which a TAXII feed keeps
// its poll cursor in the store's feed events (FeedEvents/SetFeedEvent; no
// column of its own): the timestamp is the date_added, in unix
// microseconds, that the next poll asks for objects added after. No MISP
// event uuid has this form.
const taxiiCursorKey = "taxii:added_after"

// runTAXIIFeed reads a TAXII 2.1 collection from the feed's cursor, page by
// page, each page stored through api.ImportSTIX as the feed's organisation
// with the feed's default TLP (markings on the objects win) and audience.
//
// The cursor is stored after each page that was imported (so that an
// outage, or a stop, resumes where it stopped) and, when the poll ends
// cleanly, set to the newest date_added seen. A page whose every object was
// refused still moves the cursor (taking it again would give the same
// refusals) and is summarised in the run's error; an error of the import
// itself stops the run before that page, which is taken again next run.
func (h *Hub) runTAXIIFeed(ctx context.Context, f model.Feed, p *api.Principal) (imported int, err error) {
	seen, err := h.st.FeedEvents(ctx, f.ID)
	if err != nil {
		return 0, err
	}
	var since time.Time
	if us, ok := seen[taxiiCursorKey]; ok {
		since = time.UnixMicro(us).UTC()
	}
	cursor := since
	setCursor := func(t time.Time) error {
		t = t.Truncate(time.Microsecond)
		if !t.After(cursor) {
			return nil
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedWrite)
		defer cancel()
		if err := h.st.SetFeedEvent(wctx, f.ID, taxiiCursorKey, t.UnixMicro()); err != nil {
			return err
		}
		cursor = t
		return nil
	}

	hc := h.cfg.FeedClient
	if hc == nil {
		hc = http.DefaultClient
	}
	hdr := &pageHeader{next: hc.Transport}
	c := &taxiiclient.Client{HTTP: &http.Client{Transport: hdr, Timeout: hc.Timeout, CheckRedirect: hc.CheckRedirect, Jar: hc.Jar}}
	switch f.Auth {
	case "basic":
		c.User, c.Password = f.User, f.Secret
	case "bearer":
		c.Token = f.Secret
	}

	opt := api.STIXImportOptions{DefaultTLP: f.TLP, Audience: f.Audience, Origin: "feed " + f.Name}
	var pages int
	var refused []string // one line per page whose every object was refused
	var stopErr error    // an error of ours that stopped the poll (not the server's)
	last, perr := c.Poll(ctx, f.URL, since, 0, nil, func(objs []json.RawMessage) error {
		pages++
		res, err := h.api.ImportSTIX(ctx, p, objs, opt)
		if err != nil {
			stopErr = fmt.Errorf("import of a page of %d objects: %w", len(objs), err)
			return stopErr
		}
		imported += len(res.Successes)
		h.log.Info("feeds: taxii page imported", "feed", f.Name, "objects", len(objs), "taken", len(res.Successes),
			"refused", len(res.Failures), "created", res.Created, "updated", res.Updated, "context", res.Context, "reports", res.Reports)
		if n := len(res.Failures); n > 0 {
			first := res.Failures[0]
			h.log.Warn("feeds: taxii objects refused", "feed", f.Name, "refused", n, "first", first.ID, "reason", first.Message)
			if len(res.Successes) == 0 {
				refused = append(refused, fmt.Sprintf("all %d objects of a page were refused, first %s: %s", n, first.ID, first.Message))
			}
		}
		// A page's last date_added, less a microsecond: a server that
		// pages by added_after may put more objects added at that instant
		// on the next page, which a resumed run must not skip.
		if t := hdr.dateAddedLast(); !t.IsZero() {
			if err := setCursor(t.Add(-time.Microsecond)); err != nil {
				stopErr = fmt.Errorf("store the cursor: %w", err)
				return stopErr
			}
		}
		return nil
	})
	var msgs []string
	switch {
	case perr == nil:
		if err := setCursor(last); err != nil {
			msgs = append(msgs, "store the cursor: "+err.Error())
		}
	case stopErr != nil && errors.Is(perr, stopErr):
		msgs = append(msgs, perr.Error()+"; taken again next run")
	default:
		msgs = append(msgs, taxiiErrorText(perr))
	}
	h.log.Info("feeds: taxii run", "feed", f.Name, "pages", pages, "imported", imported, "cursor", cursor.Format(time.RFC3339Nano), "ok", perr == nil)
	if len(refused) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d pages refused entirely; %s", len(refused), refused[0]))
	}
	if len(msgs) > 0 {
		return imported, errors.New(strings.Join(msgs, "; "))
	}
	return imported, nil
}

// taxiiErrorText says what went wrong reaching the TAXII server, plainly
// when it refused the credential. The credential itself is never part of
// an error.
func taxiiErrorText(err error) string {
	var te *taxiiclient.Error
	if errors.As(err, &te) {
		switch te.Status {
		case http.StatusUnauthorized:
			return "the TAXII server refused the feed's credential (401 " + te.Title + "): check the user and password or key; " + err.Error()
		case http.StatusForbidden:
			return "the feed's credential may not read the collection (403 " + te.Title + "); " + err.Error()
		case http.StatusNotFound:
			return "the collection is not there (404): " + err.Error()
		}
	}
	return "TAXII server: " + err.Error() + "; tried again next run"
}

// pageHeader is a RoundTripper that remembers the X-TAXII-Date-Added-Last
// header of the last successful answer, so that a TAXII feed learns each
// page's date_added while taxiiclient.Poll hands the page over (Poll reads a
// page, then gives it to its callback, before it reads the next).
type pageHeader struct {
	next http.RoundTripper
	mu   sync.Mutex
	last string
}

func (r *pageHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := r.next
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(req)
	if err == nil && resp.StatusCode/100 == 2 {
		r.mu.Lock()
		r.last = resp.Header.Get("X-TAXII-Date-Added-Last")
		r.mu.Unlock()
	}
	return resp, err
}

func (r *pageHeader) dateAddedLast() time.Time {
	r.mu.Lock()
	s := r.last
	r.mu.Unlock()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
