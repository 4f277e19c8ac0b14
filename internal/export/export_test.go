package export

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
)

func TestParseFormat(t *testing.T) {
	for _, f := range Formats() {
		got, err := ParseFormat(" " + strings.ToUpper(string(f)) + " ")
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
		if f.ContentType() == "" || f.FileName() == "" {
			t.Errorf("%s: empty content type or file name", f)
		}
	}
	_, err := ParseFormat("pdf")
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("ParseFormat(pdf) = %v, want ErrUnknownFormat", err)
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), string(f)) {
			t.Errorf("the error %q does not list %s", err, f)
		}
	}
}

func TestContentTypesAndNames(t *testing.T) {
	want := map[Format][2]string{
		Suricata:        {"text/plain; charset=utf-8", "hdn.rules"},
		SuricataDataset: {"text/plain; charset=utf-8", "hdn-dataset.lst"},
		Zeek:            {"text/plain; charset=utf-8", "hdn.intel"},
		Snort:           {"text/plain; charset=utf-8", "hdn-snort.rules"},
		RPZ:             {"text/dns", "hdn.rpz"},
		CSV:             {"text/csv; charset=utf-8; header=present", "hdn.csv"},
		List:            {"text/plain; charset=utf-8", "hdn.txt"},
		STIX:            {"application/stix+json;version=2.1", "hdn-stix.json"},
		Bloom:           {"application/octet-stream", "hdn.bloom"},
	}
	if len(want) != len(Formats()) {
		t.Fatalf("%d formats, %d expected", len(Formats()), len(want))
	}
	for f, w := range want {
		if f.ContentType() != w[0] || f.FileName() != w[1] {
			t.Errorf("%s: %q %q, want %q %q", f, f.ContentType(), f.FileName(), w[0], w[1])
		}
	}
	if got := FileNameFor(SuricataDataset, Options{DatasetType: "domain"}); got != "hdn-domain.lst" {
		t.Errorf("FileNameFor dataset = %q", got)
	}
	if got := FileNameFor(List, Options{ListType: indicator.X509SHA256}); got != "hdn-x509-sha256.txt" {
		t.Errorf("FileNameFor list = %q", got)
	}
	if got := FileNameFor(RPZ, Options{}); got != "hdn.rpz" {
		t.Errorf("FileNameFor rpz = %q", got)
	}
}

// TestBadOptions checks that options that do not fit are refused before a
// byte is written.
func TestBadOptions(t *testing.T) {
	cases := []struct {
		name string
		f    Format
		opt  Options
	}{
		{"dataset without type", SuricataDataset, Options{}},
		{"unknown dataset type", SuricataDataset, Options{DatasetType: "sha1"}},
		{"unknown RPZ action", RPZ, Options{RPZAction: "redirect"}},
		{"bad RPZ origin", RPZ, Options{RPZOrigin: "bad origin"}},
		{"bloom rate 0.9", Bloom, Options{BloomFPRate: 0.9}},
		{"bloom rate negative", Bloom, Options{BloomFPRate: -1}},
		{"unknown list type", List, Options{ListType: "ssdeep"}},
		{"sid base too high", Suricata, Options{SIDBase: 4_290_000_000}},
		{"negative sid base", Snort, Options{SIDBase: -5}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		_, err := Write(&buf, c.f, seq(fixture()), c.opt)
		if !errors.Is(err, ErrOptions) {
			t.Errorf("%s: err = %v, want ErrOptions", c.name, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: %d bytes written", c.name, buf.Len())
		}
	}
	// An option only another format uses is not checked.
	if _, err := Write(io.Discard, CSV, seq(fixture()), Options{RPZAction: "redirect", BloomFPRate: 2, SIDBase: -1}); err != nil {
		t.Errorf("csv with options of other formats: %v", err)
	}
	var buf bytes.Buffer
	if _, err := Write(&buf, "yaml", seq(fixture()), Options{}); !errors.Is(err, ErrUnknownFormat) || buf.Len() != 0 {
		t.Errorf("unknown format: %v, %d bytes", err, buf.Len())
	}
}

// TestSourceError checks that an error from the source stops the export
// and comes back wrapped.
func TestSourceError(t *testing.T) {
	boom := errors.New("store went away")
	src := func(yield func(model.Indicator, error) bool) {
		inds := fixture()
		if !yield(inds[0], nil) {
			return
		}
		if yield(model.Indicator{}, boom) {
			t.Error("the export went on reading after the source's error")
		}
	}
	for _, f := range Formats() {
		_, err := Write(&bytes.Buffer{}, f, src, Options{DatasetType: "domain"})
		if !errors.Is(err, boom) {
			t.Errorf("%s: err = %v, want the source's error", f, err)
		}
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("connection reset")
}

// TestWriterError checks that a failing writer ends the export with its
// error, without reading the whole source.
func TestWriterError(t *testing.T) {
	for _, f := range Formats() {
		read := 0
		src := func(yield func(model.Indicator, error) bool) {
			for i := 0; i < 200_000; i++ {
				read++
				if !yield(model.Indicator{ID: "x", Type: indicator.Domain, Value: "some-long-name-to-fill-buffers.example", TLP: "green"}, nil) {
					return
				}
			}
		}
		_, err := Write(&failingWriter{}, f, iter.Seq2[model.Indicator, error](src), Options{DatasetType: "domain"})
		if err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("%s: err = %v", f, err)
		}
		if f != Bloom && read == 200_000 {
			t.Errorf("%s: the whole source was read after the writer failed", f)
		}
	}
}

// TestEmpty checks every format with no indicators: a well-formed, empty
// export.
func TestEmpty(t *testing.T) {
	for _, f := range Formats() {
		var buf bytes.Buffer
		st, err := Write(&buf, f, seq(nil), Options{DatasetType: "ip"})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st.Written != 0 || st.Skipped != 0 {
			t.Errorf("%s: %+v", f, st)
		}
		switch f {
		case SuricataDataset, List:
			if buf.Len() != 0 {
				t.Errorf("%s: %q", f, buf.String())
			}
		case Bloom:
			b, err := readBloomFilter(&buf)
			if err != nil || b.has([]byte("x")) {
				t.Errorf("bloom: %v", err)
			}
		}
	}
}

// TestInactive checks that revoked and expired indicators stay out of
// every format but STIX.
func TestInactive(t *testing.T) {
	for _, f := range Formats() {
		if f == SuricataDataset || f == Bloom {
			continue
		}
		var buf bytes.Buffer
		st, err := Write(&buf, f, seq(fixture()), testOptions())
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(buf.String(), "revoked.example") || strings.Contains(buf.String(), "expired.example")
		if f == STIX {
			if st.Inactive != 0 || !has {
				t.Errorf("stix: inactive %d, carries them: %v", st.Inactive, has)
			}
			continue
		}
		if st.Inactive != 2 || has {
			t.Errorf("%s: inactive %d, carries them: %v", f, st.Inactive, has)
		}
	}
}
