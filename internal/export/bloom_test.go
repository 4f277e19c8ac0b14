package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
)

// bloomValues makes n distinct indicators of mixed types; sets made with
// different prefixes share no value.
func bloomValues(n int, prefix string) []model.Indicator {
	inds := make([]model.Indicator, n)
	for i := range inds {
		var t indicator.Type
		var v string
		h := sha256.Sum256([]byte(fmt.Sprint(prefix, i)))
		switch i % 4 {
		case 0:
			t, v = indicator.Domain, fmt.Sprintf("%s-%d.example", prefix, i)
		case 1:
			t, v = indicator.URL, fmt.Sprintf("http://%s.example/%d/x.php", prefix, i)
		case 2:
			t, v = indicator.IPv6, netip.AddrFrom16([16]byte(h[:16])).String()
		case 3:
			t, v = indicator.SHA256, hex.EncodeToString(h[:])
		}
		inds[i] = model.Indicator{ID: fmt.Sprint(i), Type: t, Value: v, TLP: policy.Green}
	}
	return inds
}

func writeBloom(t *testing.T, inds []model.Indicator, rate float64) []byte {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(&buf, Bloom, seq(inds), Options{BloomFPRate: rate})
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != len(inds) {
		t.Fatalf("stats %+v", st)
	}
	return buf.Bytes()
}

// TestBloomFormat checks the file layout against the format's description
// and our own reader: header words, size, every value present.
func TestBloomFormat(t *testing.T) {
	inds := bloomValues(5000, "in")
	raw := writeBloom(t, inds, 1e-4)
	w := func(i int) uint64 { return binary.LittleEndian.Uint64(raw[8*i:]) }
	n, p, k, m, count := w(1), math.Float64frombits(w(2)), w(3), w(4), w(5)
	if w(0) != 1 || n != 5000 || p != 1e-4 {
		t.Errorf("header: version %d n %d p %g", w(0), n, p)
	}
	if wantM := uint64(math.Ceil(5000 * math.Log(1e4) / (math.Ln2 * math.Ln2))); m != wantM {
		t.Errorf("m = %d, want %d", m, wantM)
	}
	if k != 14 {
		t.Errorf("k = %d, want 14 for p = 1e-4", k)
	}
	if count < 4990 || count > 5000 {
		t.Errorf("N = %d, want about 5000", count)
	}
	if len(raw) != 48+8*int((m+63)/64) {
		t.Errorf("file of %d bytes for m = %d", len(raw), m)
	}
	f, err := readBloomFilter(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, ind := range inds {
		if !f.has([]byte(ind.Value)) {
			t.Fatalf("%q is not in the filter", ind.Value)
		}
	}
	fp := 0
	for _, ind := range bloomValues(10000, "out") {
		if f.has([]byte(ind.Value)) {
			fp++
		}
	}
	// 10,000 absent values at 1e-4: about 1 false positive.
	if fp > 10 {
		t.Errorf("%d false positives in 10,000 at rate 1e-4", fp)
	}
}

// TestBloomFPRate checks that the false-positive rate is near the one the
// filter was sized for.
func TestBloomFPRate(t *testing.T) {
	for _, rate := range []float64{0.01, 0.001} {
		raw := writeBloom(t, bloomValues(10000, "in"), rate)
		f, err := readBloomFilter(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		fp := 0
		const tries = 100000
		for _, ind := range bloomValues(tries, "out") {
			if f.has([]byte(ind.Value)) {
				fp++
			}
		}
		t.Logf("rate %g: %d false positives in %d", rate, fp, tries)
		if got := float64(fp) / tries; got > 2*rate || got < rate/4 {
			t.Errorf("rate %g: %d false positives in %d (%g)", rate, fp, tries, got)
		}
	}
}

// bloomTool finds DCSO's bloom command.
func bloomTool(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"bloom", "/usr/bin/bloom"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	t.Skip("DCSO's bloom tool not found: install the Debian package golang-github-dcso-bloom-cli to check bloom filters with it")
	return ""
}

func runBloom(t *testing.T, bin string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bloom %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestBloomWithDCSOTool has DCSO's own bloom tool read our filter: it must
// find every value, report about the configured false-positive rate on
// absent ones, and show the header we wrote.
func TestBloomWithDCSOTool(t *testing.T) {
	bin := bloomTool(t)
	inds := bloomValues(3000, "in")
	raw := writeBloom(t, inds, 1e-4)
	path := filepath.Join(t.TempDir(), "hdn.bloom")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, ind := range inds {
		in.WriteString(ind.Value + "\n")
	}
	found := strings.Split(strings.TrimSpace(runBloom(t, bin, in.Bytes(), "check", path)), "\n")
	if len(found) != len(inds) {
		t.Errorf("bloom check found %d of %d values", len(found), len(inds))
	}
	in.Reset()
	for _, ind := range bloomValues(10000, "absent") {
		in.WriteString(ind.Value + "\n")
	}
	fp := strings.TrimSpace(runBloom(t, bin, in.Bytes(), "check", path))
	if n := len(strings.Fields(fp)); n > 10 {
		t.Errorf("bloom check: %d false positives in 10,000 at rate 1e-4", n)
	}

	show := runBloom(t, bin, nil, "show", path)
	f, _ := readBloomFilter(bytes.NewReader(raw))
	for name, want := range map[string]string{
		"Capacity":         "3000",
		"Elements present": strconv.FormatUint(f.count, 10),
		"Bits":             strconv.FormatUint(f.m, 10),
		"Hash functions":   strconv.FormatUint(f.k, 10),
		"FP probability":   "1.00e-04",
	} {
		re := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`)
		if m := re.FindStringSubmatch(show); m == nil || m[1] != want {
			t.Errorf("bloom show %s: %v, want %s\n%s", name, m, want, show)
		}
	}
}

// TestBloomReadsDCSOFilter reads a filter made by DCSO's tool with our
// reader: the hashing agrees both ways.
func TestBloomReadsDCSOFilter(t *testing.T) {
	bin := bloomTool(t)
	path := filepath.Join(t.TempDir(), "dcso.bloom")
	runBloom(t, bin, nil, "create", "-n", "1000", "-p", "0.0001", path)
	var in bytes.Buffer
	inds := bloomValues(1000, "dcso")
	for _, ind := range inds {
		in.WriteString(ind.Value + "\n")
	}
	runBloom(t, bin, in.Bytes(), "insert", path)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := readBloomFilter(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, ind := range inds {
		if !f.has([]byte(ind.Value)) {
			t.Fatalf("%q, added by the bloom tool, is not found by our reader", ind.Value)
		}
	}
	// Adding the same values to a filter of the same header gives the
	// same bits and the same count.
	g := &bloomFilter{n: f.n, p: f.p, k: f.k, m: f.m, bits: make([]uint64, len(f.bits))}
	for _, ind := range inds {
		g.add([]byte(ind.Value))
	}
	var a, b bytes.Buffer
	f.writeTo(&a)
	g.writeTo(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("our filter of the same values and header differs from the bloom tool's")
	}
}

// TestBloomListType checks that ListType restricts the filter.
func TestBloomListType(t *testing.T) {
	var buf bytes.Buffer
	st, err := Write(&buf, Bloom, seq(bloomValues(100, "x")), Options{ListType: indicator.Domain})
	if err != nil || st.Written != 25 || st.Skipped != 75 {
		t.Fatalf("%+v %v", st, err)
	}
	f, _ := readBloomFilter(&buf)
	if !f.has([]byte("x-0.example")) || f.has([]byte("http://x.example/1/x.php")) {
		t.Error("ListType not applied")
	}
}
