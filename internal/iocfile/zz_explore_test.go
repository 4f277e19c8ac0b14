package iocfile

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
)

func TestExplore(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/data/stix/*/*")
	more, _ := filepath.Glob("/work/shared/data/iocs/*")
	more2, _ := filepath.Glob("/work/shared/data/iocs/tweetfeed_misp_feed/*")
	files = append(files, more...)
	files = append(files, more2...)
	for _, f := range files {
		es, ps, format, err := ReadFile(f)
		if err != nil {
			fmt.Println(f, "ERR", err)
			continue
		}
		byType := map[indicator.Type]int{}
		for _, e := range es {
			byType[e.Type]++
		}
		reasons := map[string]int{}
		for _, p := range ps {
			r := p.Err.Error()
			var ie *indicator.Error
			if errors.As(p.Err, &ie) {
				r = "indicator: " + string(ie.Type) + " " + ie.Reason
			}
			if len(r) > 120 {
				r = r[:120]
			}
			reasons[r]++
		}
		var rs []string
		for r, n := range reasons {
			rs = append(rs, fmt.Sprintf("    %5d %s", n, r))
		}
		sort.Strings(rs)
		fmt.Println(filepath.Base(f), format, len(es), byType, "problems", len(ps))
		for _, r := range rs {
			fmt.Println(r)
		}
	}
}
