// Package export writes indicators in the formats that sensors and security
// devices read: Suricata rules and datasets, Snort rules, Zeek intel files, a
// DNS RPZ zone, CSV, plain lists, a STIX 2.1 bundle and a DCSO bloom filter
// (DESIGN.md section 8; docs/EXPORTS.md describes every format).
//
// The hub calls it from GET /api/v1/export/{format} and `hdn export`; the
// MISP-compatible API reuses it for its returnFormat values. The indicators
// it is given are already filtered by the sharing policy: this package only
// formats. It does no I/O beyond the writer it is handed.
//
// Write streams: it reads one indicator at a time and writes it out, keeping
// per indicator only what a format needs to stay consistent (the sids given
// out, which TLP markings were used). Only the bloom filter holds the values,
// since its size depends on how many there are.
package export

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
)

// Format is an export format.
type Format string

// The formats.
const (
	Suricata        Format = "suricata"         // Suricata rules
	SuricataDataset Format = "suricata-dataset" // one Suricata dataset file (Options.DatasetType)
	Zeek            Format = "zeek"             // Zeek intel framework file
	Snort           Format = "snort"            // Snort 2.9 rules
	RPZ             Format = "rpz"              // DNS response policy zone
	CSV             Format = "csv"              // RFC 4180 CSV, one row per indicator
	List            Format = "list"             // one value per line
	STIX            Format = "stix"             // STIX 2.1 bundle
	Bloom           Format = "bloom"            // DCSO bloom filter
)

var formats = []Format{Suricata, SuricataDataset, Zeek, Snort, RPZ, CSV, List, STIX, Bloom}

// Formats lists every format.
func Formats() []Format { return append([]Format(nil), formats...) }

// ErrUnknownFormat is returned by ParseFormat and Write for a format name
// this package does not know.
var ErrUnknownFormat = errors.New("unknown export format")

// ErrOptions is wrapped by the error Write returns for options that do not
// fit the format (no dataset type for suricata-dataset, an unknown RPZ
// action, …). Nothing has been written when Write returns it.
var ErrOptions = errors.New("invalid export options")

// ParseFormat reads a format name, case-insensitively.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range formats {
		if k == f {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w %q: known formats are %s", ErrUnknownFormat, s, knownFormats())
}

func knownFormats() string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// ContentType is the media type to serve the format with.
func (f Format) ContentType() string {
	switch f {
	case CSV:
		return "text/csv; charset=utf-8; header=present"
	case STIX:
		return "application/stix+json;version=2.1"
	case Bloom:
		return "application/octet-stream"
	case RPZ:
		return "text/dns" // RFC 4027: a master file
	default:
		return "text/plain; charset=utf-8"
	}
}

// FileName is a suggested name for a download of the format; FileNameFor
// names one list or dataset more precisely.
func (f Format) FileName() string {
	switch f {
	case Suricata:
		return "hdn.rules"
	case SuricataDataset:
		return "hdn-dataset.lst"
	case Zeek:
		return "hdn.intel"
	case Snort:
		return "hdn-snort.rules"
	case RPZ:
		return "hdn.rpz"
	case CSV:
		return "hdn.csv"
	case List:
		return "hdn.txt"
	case STIX:
		return "hdn-stix.json"
	case Bloom:
		return "hdn.bloom"
	}
	return "hdn.txt"
}

// FileNameFor is FileName with the dataset or list type in the name:
// "hdn-domain.lst" for a domain dataset, "hdn-md5.txt" for a list of md5
// hashes. Suricata rules that load a dataset name this file.
func FileNameFor(f Format, opt Options) string {
	switch {
	case f == SuricataDataset && opt.DatasetType != "":
		return "hdn-" + safeName(opt.DatasetType) + ".lst"
	case f == List && opt.ListType != "":
		return "hdn-" + safeName(string(opt.ListType)) + ".txt"
	}
	return f.FileName()
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}

// Options tune an export. The zero value is usable for every format except
// suricata-dataset, which needs DatasetType.
type Options struct {
	// Now stamps headers and the RPZ serial, and decides which indicators
	// are still live; zero means time.Now().
	Now time.Time
	// HubName names the source in comments, the Zeek meta.source, the RPZ
	// SOA and the STIX identity; default "hdn".
	HubName string
	// SIDBase is the first Suricata/Snort sid; default 9_100_000. Each
	// indicator owns four sids from SIDBase + 4·(SHA-256(id) mod 2^24), so
	// an indicator keeps its sids across exports (docs/EXPORTS.md).
	SIDBase int
	// RPZOrigin is the RPZ zone name; default "rpz.hdn.local".
	RPZOrigin string
	// RPZAction is the policy of every RPZ record: "nxdomain" (default,
	// CNAME .), "nodata" (CNAME *.), "drop" (CNAME rpz-drop.) or
	// "passthru" (CNAME rpz-passthru.).
	RPZAction string
	// BloomFPRate is the bloom filter's false-positive rate, from 1e-12 to
	// 0.5; default 1e-4.
	BloomFPRate float64
	// DatasetType says which values a suricata-dataset holds and how they
	// are written: "domain" or "string" (domain and hostname values,
	// Suricata type string, base64), "md5", "sha256" (hex), "ipv4" (ipv4 addresses), "ip"
	// (ipv4 and ipv6 addresses), "ja3", "ja3s", "ja4" (Suricata type string,
	// base64 of the fingerprint). Required for that format.
	DatasetType string
	// ListType restricts the list and bloom formats to one indicator type;
	// empty means every type.
	ListType indicator.Type
	// Score, for the csv format, gives an indicator's score (docs/SIGNAL.md);
	// when set, the csv has a last column "score".
	Score func(ind *model.Indicator) int
	// STIXObjects, for the stix format, are objects the hub keeps as
	// context (malware, relationships, reports, …), written as they are
	// after the indicators.
	STIXObjects iter.Seq2[json.RawMessage, error]
}

// Stats counts what Write did.
type Stats struct {
	// Written is the number of indicators written (an indicator that
	// becomes several rules counts once).
	Written int
	// Skipped is the number of indicators the format cannot express: their
	// type has no place in it (a ja3 in RPZ, an e-mail address in Suricata
	// rules), another type was asked for (ListType, DatasetType), or their
	// value cannot be written safely (a value that is not of its type).
	Skipped int
	// Inactive is the number of revoked or expired indicators (at
	// Options.Now) left out. Every format but stix leaves them out; a STIX
	// bundle carries them, marked revoked or with their valid_until, so a
	// consumer can retire them.
	Inactive int
	// Records is the number of records written: rules, lines, zone
	// records, CSV rows, STIX objects or bloom filter values.
	Records int
}

// The defaults of Options.
const (
	DefaultHubName     = "hdn"
	DefaultSIDBase     = 9_100_000
	DefaultRPZOrigin   = "rpz.hdn.local"
	DefaultRPZAction   = "nxdomain"
	DefaultBloomFPRate = 1e-4

	minBloomFPRate = 1e-12 // 40 hash functions; smaller rates only cost time
)

// withDefaults fills in defaults and checks the options that format f uses;
// an option another format uses is not checked (a caller may set them all).
func (opt Options) withDefaults(f Format) (Options, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	opt.Now = opt.Now.UTC()
	if opt.HubName = strings.TrimSpace(opt.HubName); opt.HubName == "" {
		opt.HubName = DefaultHubName
	}
	if opt.SIDBase == 0 {
		opt.SIDBase = DefaultSIDBase
	}
	if (f == Suricata || f == Snort) && (opt.SIDBase < 1 || int64(opt.SIDBase)+sidSpan > math.MaxUint32) {
		return opt, fmt.Errorf("%w: sid base %d: the sids from it to %d must fit 1 to %d", ErrOptions, opt.SIDBase, int64(opt.SIDBase)+sidSpan-1, uint32(math.MaxUint32))
	}
	if opt.RPZOrigin = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(opt.RPZOrigin)), "."); opt.RPZOrigin == "" {
		opt.RPZOrigin = DefaultRPZOrigin
	}
	if f == RPZ && !validZoneName(opt.RPZOrigin) {
		return opt, fmt.Errorf("%w: RPZ origin %q is not a valid DNS name", ErrOptions, opt.RPZOrigin)
	}
	if opt.RPZAction = strings.ToLower(strings.TrimSpace(opt.RPZAction)); opt.RPZAction == "" {
		opt.RPZAction = DefaultRPZAction
	}
	if _, ok := rpzActions[opt.RPZAction]; !ok && f == RPZ {
		return opt, fmt.Errorf("%w: RPZ action %q: known actions are nxdomain, nodata, drop, passthru", ErrOptions, opt.RPZAction)
	}
	if opt.BloomFPRate == 0 {
		opt.BloomFPRate = DefaultBloomFPRate
	}
	if f == Bloom && !(opt.BloomFPRate >= minBloomFPRate && opt.BloomFPRate <= 0.5) {
		return opt, fmt.Errorf("%w: bloom false-positive rate %g is not between %g and 0.5", ErrOptions, opt.BloomFPRate, minBloomFPRate)
	}
	if opt.ListType != "" {
		t, err := indicator.ParseType(string(opt.ListType))
		if err != nil {
			return opt, fmt.Errorf("%w: list type: %v", ErrOptions, err)
		}
		opt.ListType = t
	}
	opt.DatasetType = strings.ToLower(strings.TrimSpace(opt.DatasetType))
	if f == SuricataDataset {
		if opt.DatasetType == "" {
			return opt, fmt.Errorf("%w: the suricata-dataset format needs a dataset type: one of %s", ErrOptions, datasetTypeNames())
		}
		if _, ok := datasetTypes[opt.DatasetType]; !ok {
			return opt, fmt.Errorf("%w: dataset type %q: known dataset types are %s", ErrOptions, opt.DatasetType, datasetTypeNames())
		}
	}
	return opt, nil
}

// writer is what every format writes through: a buffered writer that
// remembers the first error, so that formats write without checking each
// call and Write stops reading once the client has gone.
type writer struct {
	bw  *bufio.Writer
	err error
}

func newWriter(w io.Writer) *writer { return &writer{bw: bufio.NewWriterSize(w, 64<<10)} }

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

func (w *writer) str(s string) {
	if w.err == nil {
		if _, err := w.bw.WriteString(s); err != nil {
			w.err = err
		}
	}
}

func (w *writer) byte(c byte) {
	if w.err == nil {
		if err := w.bw.WriteByte(c); err != nil {
			w.err = err
		}
	}
}

func (w *writer) flush() error {
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

// encoder is one format's writer. begin is called before the first
// indicator, add for each live indicator (it reports whether it wrote the
// indicator and how many records), end after the last.
type encoder interface {
	begin() error
	add(ind *model.Indicator) (records int, ok bool)
	end() (records int, err error)
}

// Write writes the indicators from src to w in format f. It streams: each
// indicator is written as it is read (the bloom filter alone keeps the
// values until the end, to size the filter). An error from src stops the
// export and is returned wrapped; what was written by then is incomplete.
// Options that do not fit the format are refused before anything is written
// (ErrOptions), and so is an unknown format (ErrUnknownFormat).
func Write(w io.Writer, f Format, src iter.Seq2[model.Indicator, error], opt Options) (Stats, error) {
	var st Stats
	if !slices.Contains(formats, f) {
		return st, fmt.Errorf("%w %q: known formats are %s", ErrUnknownFormat, f, knownFormats())
	}
	opt, err := opt.withDefaults(f)
	if err != nil {
		return st, err
	}
	out := newWriter(w)
	enc := newEncoder(f, out, opt)
	if err := enc.begin(); err != nil {
		return st, err
	}
	var cur model.Indicator // one copy for add, rather than one per indicator
	for ind, err := range src {
		if err != nil {
			out.flush()
			return st, fmt.Errorf("export %s: reading indicators: %w", f, err)
		}
		if out.err != nil {
			break
		}
		if f != STIX && !ind.Live(opt.Now) {
			st.Inactive++
			continue
		}
		cur = ind
		n, ok := enc.add(&cur)
		if !ok {
			st.Skipped++
			continue
		}
		st.Written++
		st.Records += n
	}
	if out.err == nil {
		n, err := enc.end()
		if err != nil {
			return st, err
		}
		st.Records += n
	}
	if err := out.flush(); err != nil {
		return st, fmt.Errorf("export %s: %w", f, err)
	}
	return st, nil
}

func newEncoder(f Format, w *writer, opt Options) encoder {
	switch f {
	case Suricata:
		return newSuricataRules(w, opt)
	case SuricataDataset:
		return &datasetEncoder{w: w, opt: opt, dt: datasetTypes[opt.DatasetType]}
	case Zeek:
		return &zeekEncoder{w: w, opt: opt}
	case Snort:
		return newSnortRules(w, opt)
	case RPZ:
		return &rpzEncoder{w: w, opt: opt}
	case CSV:
		return newCSVEncoder(w, opt)
	case List:
		return &listEncoder{w: w, opt: opt}
	case STIX:
		return newSTIXEncoder(w, opt)
	case Bloom:
		return &bloomEncoder{w: w, opt: opt}
	}
	panic("export: no encoder for " + string(f))
}

// oneLine reports whether s can be written as part of one line: not empty,
// no NUL or other C0 controls but tab, no DEL, and none of the Unicode line
// breaks (NEL, U+2028, U+2029) at which some readers of line-oriented files,
// Python's str.splitlines among them, end a line (indicator.HasLineBreak).
// Canonical values never hold them; stored values from before the canonical
// forms refused them still might.
func oneLine(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return !indicator.HasLineBreak(s)
}

// tlpName is the TLP as it is written in human-readable places.
func tlpName(t string) string {
	if t == "" {
		return "TLP:UNKNOWN"
	}
	return "TLP:" + strings.ToUpper(t)
}

// stamp is the header timestamp.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
