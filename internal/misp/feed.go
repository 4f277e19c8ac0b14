package misp

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// A MISP feed is a directory (served over HTTP or read from disk) of
//
//	manifest.json   {"<event uuid>": {info, date, timestamp, Orgc, Tag, …}, …}
//	hashes.csv      one line "md5(value),<event uuid>" per attribute value
//	<uuid>.json     {"Event": {…}} for each event of the manifest

// Size limits of feed files.
const (
	MaxManifestSize = 64 << 20
	MaxHashesSize   = 256 << 20
)

// The limits as variables, so that tests can lower them.
var (
	maxManifestSize int64 = MaxManifestSize
	maxHashesSize   int64 = MaxHashesSize
)

// ErrBadName is returned by a Source for a file name that is not part of a
// feed.
var ErrBadName = errors.New("misp: not a feed file name (manifest.json, hashes.csv or <uuid>.json)")

// Manifest is a feed's manifest.json: what each event is, by uuid.
type Manifest map[string]ManifestEntry

// ManifestEntry describes one event of a feed.
type ManifestEntry struct {
	Info             string `json:"info"`
	Date             string `json:"date"`
	Timestamp        string `json:"timestamp"` // unix seconds; a newer one means the event changed
	ThreatLevelID    string `json:"threat_level_id"`
	Analysis         string `json:"analysis"`
	Distribution     string `json:"distribution,omitempty"`
	PublishTimestamp string `json:"publish_timestamp,omitempty"`
	Orgc             *Org   `json:"Orgc,omitempty"`
	Tag              []Tag  `json:"Tag,omitempty"`
}

type wireManifestEntry struct {
	Info             jstr       `json:"info"`
	Date             jstr       `json:"date"`
	Timestamp        jstr       `json:"timestamp"`
	ThreatLevelID    jstr       `json:"threat_level_id"`
	Analysis         jstr       `json:"analysis"`
	Distribution     jstr       `json:"distribution"`
	PublishTimestamp jstr       `json:"publish_timestamp"`
	Orgc             jobj[Org]  `json:"Orgc"`
	Tag              jlist[Tag] `json:"Tag"`
}

// UnmarshalJSON decodes a manifest entry as tolerantly as an event.
func (m *ManifestEntry) UnmarshalJSON(b []byte) error {
	var w wireManifestEntry
	if err := decodeObject(b, &w); err != nil {
		return err
	}
	*m = ManifestEntry{Info: string(w.Info), Date: string(w.Date), Timestamp: string(w.Timestamp),
		ThreatLevelID: string(w.ThreatLevelID), Analysis: string(w.Analysis), Distribution: string(w.Distribution),
		PublishTimestamp: string(w.PublishTimestamp), Orgc: w.Orgc.v, Tag: w.Tag}
	return nil
}

// Unix is the entry's timestamp in unix seconds, what Changed compares and
// a poller remembers once it has imported the event; 0 when unreadable.
func (m ManifestEntry) Unix() int64 {
	ts, err := strconv.ParseInt(strings.TrimSpace(m.Timestamp), 10, 64)
	if err != nil {
		return 0
	}
	return ts
}

// Changed lists the uuids of the events whose manifest timestamp is newer
// than the one seen remembers for them (absent: never seen), oldest first,
// then by uuid, so that a poller that stops half way resumes where it was.
// An entry whose timestamp is unreadable counts as 0: it is listed only
// when never seen.
func (m Manifest) Changed(seen map[string]int64) []string {
	type item struct {
		uuid string
		ts   int64
	}
	var items []item
	for u, e := range m {
		ts := e.Unix()
		if prev, ok := seen[u]; ok && ts <= prev {
			continue
		}
		items = append(items, item{u, ts})
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.uuid, b.uuid)) })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.uuid
	}
	return out
}

// Source gives the files of a feed by name: "manifest.json", "hashes.csv"
// or "<uuid>.json".
type Source interface {
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// checkName refuses names that are not feed files, so that no name can
// reach outside the feed.
func checkName(name string) error {
	switch {
	case name == "manifest.json", name == "hashes.csv":
		return nil
	case strings.HasSuffix(name, ".json") && isUUID(strings.TrimSuffix(name, ".json")):
		return nil
	}
	return fmt.Errorf("%w: %q", ErrBadName, clip(name))
}

// limitFor is the size limit of a feed file.
func limitFor(name string) int64 {
	switch name {
	case "manifest.json":
		return maxManifestSize
	case "hashes.csv":
		return maxHashesSize
	}
	return maxEventSize
}

type dirSource struct{ dir string }

// DirSource reads a feed from a directory. It opens only feed file names,
// and only inside dir (os.OpenInRoot: no "..", no symbolic link out).
func DirSource(dir string) Source { return dirSource{dir} }

func (d dirSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenInRoot(d.dir, name)
	if err != nil {
		return nil, fmt.Errorf("misp: feed %s: %w", d.dir, err)
	}
	return f, nil
}

type httpSource struct {
	base   string
	client *http.Client
}

// HTTPSource reads a feed over HTTP: GET base/name. A status other than 2xx
// is an error naming the URL and the status; a body longer than the file's
// limit (MaxManifestSize, MaxEventSize) is refused. A nil client is
// one with a 5 minute timeout (http.DefaultClient has none).
func HTTPSource(base string, client *http.Client) Source {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute, CheckRedirect: tlsconf.SameOriginRedirects}
	}
	return httpSource{strings.TrimRight(base, "/"), client}
}

func (h httpSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	u := h.base + "/" + name
	shown := u
	if pu, err := url.Parse(u); err == nil {
		shown = pu.Redacted()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("misp: GET %s: %w", shown, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("misp: GET %s: %w", shown, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("misp: GET %s: %s", shown, resp.Status)
	}
	if limit := limitFor(name); resp.ContentLength > limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: GET %s: %d bytes, at most %d", ErrTooLarge, shown, resp.ContentLength, limit)
	}
	return resp.Body, nil
}

// readFile reads a whole feed file within its limit.
func readFile(ctx context.Context, src Source, name string) ([]byte, error) {
	rc, err := src.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	limit := limitFor(name)
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("misp: reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, name, limit)
	}
	return data, nil
}

// ReadManifest reads and checks a feed's manifest.json. Every key must be
// an event uuid.
func ReadManifest(ctx context.Context, src Source) (Manifest, error) {
	data, err := readFile(ctx, src, "manifest.json")
	if err != nil {
		return nil, err
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\uFEFF")), " \t\r\n")
	if len(t) == 0 {
		return nil, errors.New("misp: manifest.json is empty")
	}
	if isEmptyList(bytes.TrimRight(t, " \t\r\n")) {
		return Manifest{}, nil // PHP's empty array
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(t, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("misp: manifest.json: invalid JSON at byte offset %d: %v", int64(len(data)-len(t))+se.Offset, se)
		}
		return nil, fmt.Errorf("misp: manifest.json is not an object of events by uuid: %w", err)
	}
	m := make(Manifest, len(raw))
	for k, v := range raw {
		if !isUUID(k) {
			return nil, fmt.Errorf("misp: manifest.json: key %q is not an event uuid", clip(k))
		}
		var e ManifestEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("misp: manifest.json: %s: %w", k, err)
		}
		m[k] = e
	}
	return m, nil
}

// ReadEvent reads the event file <uuid>.json of a feed. The file must hold
// that event (an event without a uuid takes the file's).
func ReadEvent(ctx context.Context, src Source, eventUUID string) (*Event, error) {
	if !isUUID(eventUUID) {
		return nil, fmt.Errorf("misp: %q is not an event uuid", clip(eventUUID))
	}
	name := eventUUID + ".json"
	data, err := readFile(ctx, src, name)
	if err != nil {
		return nil, err
	}
	ev, err := ParseEvent(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case ev.UUID == "":
		ev.UUID = eventUUID
	case !strings.EqualFold(ev.UUID, eventUUID):
		return nil, fmt.Errorf("misp: %s holds event %q, not %s", name, clip(ev.UUID), eventUUID)
	}
	return ev, nil
}

// WriteFeed writes events as a MISP feed in dir (created if missing):
// <uuid>.json for each event, then hashes.csv, then manifest.json. Each
// file is written to a temporary file and renamed into place, and the
// manifest comes last, so that a reader never sees a half-written file nor
// a manifest naming an event not yet written. Files of events no longer
// listed are left alone (no reader looks for them).
//
// hashes.csv has a line "md5,uuid" for each value of each attribute that is
// not deleted, as PyMISP's feed generator writes it: the hex MD5 of the
// value, each part of a composite value ("filename|md5", "domain|ip",
// malware-sample) hashed on its own.
func WriteFeed(dir string, events []*Event) error {
	seen := make(map[string]bool, len(events))
	for i, ev := range events {
		if ev == nil || !isUUID(ev.UUID) {
			return fmt.Errorf("misp: write feed: event %d has no valid uuid", i+1)
		}
		if seen[strings.ToLower(ev.UUID)] {
			return fmt.Errorf("misp: write feed: event %s is given twice", ev.UUID)
		}
		seen[strings.ToLower(ev.UUID)] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("misp: write feed: %w", err)
	}
	man := make(Manifest, len(events))
	var hashes bytes.Buffer
	for _, ev := range events {
		data, err := json.Marshal(Wrap(ev))
		if err != nil {
			return fmt.Errorf("misp: write feed: event %s: %w", ev.UUID, err)
		}
		if err := writeAtomic(dir, ev.UUID+".json", data); err != nil {
			return err
		}
		ev.Attributes(func(obj *Object, a *Attribute) bool {
			if a.Deleted || obj != nil && obj.Deleted {
				return true
			}
			for _, h := range valueHashes(a) {
				hashes.WriteString(h)
				hashes.WriteByte(',')
				hashes.WriteString(ev.UUID)
				hashes.WriteByte('\n')
			}
			return true
		})
		man[ev.UUID] = manifestEntry(ev)
	}
	if err := writeAtomic(dir, "hashes.csv", hashes.Bytes()); err != nil {
		return err
	}
	data, err := json.Marshal(man)
	if err != nil {
		return fmt.Errorf("misp: write feed: manifest: %w", err)
	}
	return writeAtomic(dir, "manifest.json", data)
}

// valueHashes are the hex MD5s of an attribute's value, one per part of a
// composite value.
func valueHashes(a *Attribute) []string {
	parts := []string{a.Value}
	if strings.Contains(a.Type, "|") || a.Type == "malware-sample" {
		parts = strings.Split(a.Value, "|")
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		sum := md5.Sum([]byte(p))
		out[i] = hex.EncodeToString(sum[:])
	}
	return out
}

func manifestEntry(ev *Event) ManifestEntry {
	e := ManifestEntry{
		Info: ev.Info, Date: ev.Date, Timestamp: ev.Timestamp, ThreatLevelID: ev.ThreatLevelID,
		Analysis: ev.Analysis, Distribution: ev.Distribution,
	}
	if ev.PublishTimestamp != "0" {
		e.PublishTimestamp = ev.PublishTimestamp
	}
	if ev.Orgc != nil {
		e.Orgc = &Org{Name: ev.Orgc.Name, UUID: ev.Orgc.UUID}
	}
	for _, t := range ev.Tag {
		if t.Exportable && !t.Local {
			e.Tag = append(e.Tag, Tag{Name: t.Name, Colour: t.Colour, Exportable: true})
		}
	}
	return e
}

// writeAtomic writes data to dir/name through a temporary file renamed into
// place.
func writeAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("misp: write feed: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("misp: write feed: %s: %w", name, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("misp: write feed: %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("misp: write feed: %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("misp: write feed: %s: %w", name, err)
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("misp: write feed: %s: %w", name, err)
	}
	return nil
}
