package export

import (
	"strings"

	"github.com/hdnetwork/hdn/internal/model"
)

// listEncoder writes one canonical value per line and nothing else — no
// header, no comments — as firewalls, proxies and blocklist loaders expect
// (and Suricata's filemd5/filesha1/filesha256 keywords, given a list of one
// hash type). With Options.ListType only that type is written.
type listEncoder struct {
	w   *writer
	opt Options
}

func (e *listEncoder) begin() error      { return e.w.err }
func (e *listEncoder) end() (int, error) { return 0, e.w.err }

func (e *listEncoder) add(ind *model.Indicator) (int, bool) {
	if e.opt.ListType != "" && ind.Type != e.opt.ListType {
		return 0, false
	}
	// A value that could not stand alone on its line is not written: it
	// would end the line early or add one (oneLine refuses the Unicode
	// line breaks too), or be read as two values.
	if !oneLine(ind.Value) || strings.ContainsAny(ind.Value, "\t ") {
		return 0, false
	}
	e.w.str(ind.Value)
	e.w.byte('\n')
	return 1, true
}
