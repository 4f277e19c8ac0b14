package export

import (
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/model"
)

// CSVHeader is the header row of the csv format.
var CSVHeader = []string{"id", "type", "value", "tlp", "labels", "confidence", "valid_from", "valid_until", "first_seen", "last_seen", "description", "report"}

// csvEncoder writes RFC 4180 CSV (CRLF line ends, quotes where needed) with
// a header row. Labels are joined with "|". A cell that a spreadsheet would
// run as a formula — starting with =, +, -, @, a tab or a carriage return —
// gets a leading apostrophe (CSV injection, OWASP): the value reads as text
// in Excel and LibreOffice, and a program reading the file sees the
// apostrophe.
type csvEncoder struct {
	w     *writer
	cw    *csv.Writer
	rec   []string
	score func(*model.Indicator) int
}

func newCSVEncoder(w *writer, opt Options) *csvEncoder {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	n := len(CSVHeader)
	if opt.Score != nil {
		n++
	}
	return &csvEncoder{w: w, cw: cw, rec: make([]string, n), score: opt.Score}
}

func (e *csvEncoder) begin() error {
	h := CSVHeader
	if e.score != nil {
		h = append(append([]string{}, CSVHeader...), "score")
	}
	e.cw.Write(h)
	return e.flushErr()
}

func (e *csvEncoder) end() (int, error) {
	e.cw.Flush()
	return 0, e.flushErr()
}

func (e *csvEncoder) flushErr() error {
	if err := e.cw.Error(); err != nil && e.w.err == nil {
		e.w.err = err
	}
	return e.w.err
}

func (e *csvEncoder) add(ind *model.Indicator) (int, bool) {
	r := e.rec
	r[0] = ind.ID
	r[1] = string(ind.Type)
	r[2] = ind.Value
	r[3] = string(ind.TLP)
	r[4] = strings.Join(ind.Labels, "|")
	r[5] = strconv.Itoa(ind.Confidence)
	r[6] = csvTime(ind.ValidFrom)
	r[7] = csvTime(ind.ValidUntil)
	r[8] = csvTime(ind.FirstSeen)
	r[9] = csvTime(ind.LastSeen)
	r[10] = ind.Description
	r[11] = ind.ReportID
	if e.score != nil {
		r[12] = strconv.Itoa(e.score(ind))
	}
	for i, c := range r {
		r[i] = DefuseFormula(c)
	}
	if err := e.cw.Write(r); err != nil {
		e.flushErr()
		return 0, false
	}
	return 1, true
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// DefuseFormula prefixes a cell that a spreadsheet would read as a formula
// with an apostrophe (every CSV the hub writes: the export, MISP's csv).
func DefuseFormula(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}
