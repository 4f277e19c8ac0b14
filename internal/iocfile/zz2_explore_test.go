package iocfile

import (
	"fmt"
	"testing"
)

func TestExplore2(t *testing.T) {
	es, _, _, _ := ReadFile("/work/shared/data/iocs/tweetfeed_month.csv")
	for _, i := range []int{0, 1, 417, 11673, 11986} {
		fmt.Printf("%+v\n", es[i])
	}
	es, _, _, _ = ReadFile("/work/shared/data/iocs/tweetfeed_misp_feed/02622617-5775-515b-9de5-00ff222acff6.json")
	fmt.Printf("%+v\n%+v\n", es[0], es[319])
	es, _, _, _ = ReadFile("/work/shared/data/stix/taxii-fixtures/freetaxii_testlab_indicators.json")
	fmt.Printf("%+v\n", es[2])
	es, ps, _, _ := ReadFile("/work/shared/data/stix/oasis-json-schemas/threat-report-poisonivy.json")
	fmt.Printf("%+v\n%v\n", es[0], ps)
}
