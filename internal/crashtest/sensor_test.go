package crashtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/retro"
	"github.com/hdnetwork/hdn/internal/sensor"
)

const sensorRounds = 5

// TestSensorSurvivesSIGKILL runs `hdn sensor` against a hub that receives
// indicators all the time, kills the sensor with SIGKILL while it writes its
// state (the local copy and cursor, retro-hunt hour files, alerts, the
// sightings it has not sent: it sends them every second), and checks after
// each kill that the state opens, its cursor is not past what it applied,
// its saved sightings read back under keys of their own, the retro-hunt
// record has no damaged file and every alert line parses; at the end a
// restarted sensor catches up with everything.
func TestSensorSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds hdn and kills a sensor 5 times (~1 min); skipped with -short")
	}
	bin := hdnBinary(t)
	rng := seed(t)
	data, state := t.TempDir(), t.TempDir()
	analyst := orgWithKey(t, bin, data, "crash-sensor-org", "analyst")
	sensorKey := keyFor(t, bin, data, "crash-sensor-org", "sensor")
	h := startHub(t, bin, data)

	// The sensor's input: DNS queries over the last six hours (so that it
	// writes retro-hunt hour files as it reads), some of them for names
	// that will be shared while it runs (so that it raises alerts, live or
	// retro).
	eve := filepath.Join(t.TempDir(), "eve.json")
	writeEVE(t, eve, rng)
	alerts := filepath.Join(t.TempDir(), "alerts.json")

	// Indicators arrive all the time: 100 every 100 ms, at most 30,000 (a
	// loaded machine must still be able to list and check them all).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		client := &http.Client{Timeout: 30 * time.Second}
		for n := 0; ctx.Err() == nil && n < 300; n++ {
			b := &batch{id: n}
			for i := range 100 {
				b.values = append(b.values, fmt.Sprintf("s%d-%d.crash-hdn.net", n, i))
			}
			submit(ctx, client, h.url, analyst, b)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})

	args := []string{"sensor", "--hub", h.url, "--key", sensorKey, "--state", state, "--input", "eve:" + eve,
		"--alerts", alerts, "--from-start", "--heartbeat", "0", "--sightings-every", "1s", "--log-level", "info"}
	var lastCursor int64
	for round := range sensorRounds {
		s := start(t, "sensor", nil, bin, args...)
		delay := time.Duration(500+rng.IntN(2500)) * time.Millisecond
		time.Sleep(delay)
		if !s.alive() {
			t.Fatalf("round %d: the sensor exited by itself (%v):\n%s", round+1, s.err, s.tail())
		}
		s.kill()
		c := checkSensorState(t, h, analyst, state, alerts)
		if c < lastCursor {
			t.Errorf("round %d: the cursor went back from %d to %d", round+1, lastCursor, c)
		}
		lastCursor = c
		t.Logf("round %d: SIGKILL after %v; cursor %d", round+1, delay, c)
	}

	// A last start catches up with everything once sharing stops.
	cancel()
	if !waitGroup(&wg, 60*time.Second) {
		t.Fatal("submitter did not stop within 60 s")
	}
	s := start(t, "sensor", nil, bin, args...)
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer lcancel()
	hubInds, err := listAll(lctx, &http.Client{Timeout: time.Minute}, h.url, analyst)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if !s.alive() {
			t.Fatalf("the restarted sensor exited (%v):\n%s", s.err, s.tail())
		}
		n, cursor := stateCount(t, state)
		if n == len(hubInds) {
			t.Logf("restarted sensor holds all %d indicators, cursor %d", n, cursor)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 min the restarted sensor holds %d of %d indicators:\n%s", n, len(hubInds), s.tail())
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.kill()
	checkSensorState(t, h, analyst, state, alerts)
}

// writeEVE writes DNS events spread over the last six hours.
func writeEVE(t *testing.T, path string, rng *rand.Rand) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	now := time.Now().UTC()
	const n = 60000
	for i := range n {
		at := now.Add(-6 * time.Hour).Add(time.Duration(i) * 6 * time.Hour / n)
		name := fmt.Sprintf("noise-%d.crash-noise.net", rng.IntN(1_000_000))
		if i%50 == 0 {
			// a name that will be shared: batch 0..299, item 0..9
			name = fmt.Sprintf("www.s%d-%d.crash-hdn.net", rng.IntN(300), rng.IntN(10))
		}
		fmt.Fprintf(w, `{"timestamp":%q,"flow_id":%d,"event_type":"dns","src_ip":"10.0.0.5","src_port":53000,"dest_ip":"10.0.0.53","dest_port":53,"proto":"UDP","dns":{"type":"query","id":1,"rrname":%q,"rrtype":"A","tx_id":0}}`+"\n",
			at.Format("2006-01-02T15:04:05.000000+0000"), i, name)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// stateCount is how many indicators the state holds, and its cursor.
func stateCount(t *testing.T, dir string) (int, int64) {
	t.Helper()
	st, err := sensor.OpenState(dir)
	if err != nil {
		t.Fatalf("open sensor state: %v", err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inds, err := st.Indicators(ctx)
	if err != nil {
		t.Fatalf("sensor state: %v", err)
	}
	c, _, err := st.Cursor(ctx)
	if err != nil {
		t.Fatalf("sensor state cursor: %v", err)
	}
	return len(inds), c
}

// checkSensorState checks a killed sensor's state directory and returns its
// cursor.
func checkSensorState(t *testing.T, h *hubProc, key, dir, alerts string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := sensor.OpenState(dir)
	if err != nil {
		t.Fatalf("the state does not open after SIGKILL: %v", err)
	}
	cursor, synced, err := st.Cursor(ctx)
	if err != nil {
		st.Close()
		t.Fatalf("cursor: %v", err)
	}
	held, err := st.Indicators(ctx)
	if err != nil {
		st.Close()
		t.Fatalf("indicators of the state: %v", err)
	}
	// The sightings it had not sent read back whole, each report under a
	// key of its own (sent again under it by the next start).
	reports, counts, err := st.Sightings(ctx)
	st.Close()
	if err != nil {
		t.Fatalf("the saved sightings do not read back after SIGKILL: %v", err)
	}
	t.Logf("saved sightings: %d reports, %d pending counts", len(reports), len(counts))
	keys := map[string]bool{}
	for _, rp := range reports {
		if rp.Key == "" || keys[rp.Key] || len(rp.Items) == 0 {
			t.Errorf("a saved sightings report with key %q (seen before: %t) and %d sightings", rp.Key, keys[rp.Key], len(rp.Items))
		}
		keys[rp.Key] = true
	}
	// The hub's view of the organisation, read after the state: it holds
	// at least everything the sensor can have applied.
	hubInds, err := listAll(ctx, &http.Client{Timeout: 2 * time.Minute}, h.url, key)
	if err != nil {
		t.Fatal(err)
	}
	onHub := map[string]int64{}
	var hubLast int64
	for _, ind := range hubInds {
		onHub[ind.ID] = ind.Seq
		hubLast = max(hubLast, ind.Seq)
	}
	inState := map[string]bool{}
	for _, ind := range held {
		inState[ind.ID] = true
		if _, ok := onHub[ind.ID]; !ok {
			t.Errorf("the state holds %s, which the hub does not have", ind.ID)
		}
	}
	if synced {
		if cursor > hubLast {
			t.Errorf("the state's cursor %d is past the hub's last change %d", cursor, hubLast)
		}
		missing := 0
		for id, seq := range onHub {
			if seq <= cursor && !inState[id] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("the state's cursor is %d but %d indicators with a lower seq are not in it: it would resume past changes it never applied", cursor, missing)
		}
	} else if len(held) > 0 {
		t.Logf("the sensor was killed during its first snapshot (%d rows, no cursor): it takes the snapshot again", len(held))
	}

	rec, err := retro.Open(filepath.Join(dir, "retro"), retro.Options{})
	if err != nil {
		t.Fatalf("the retro-hunt record does not open after SIGKILL: %v", err)
	}
	rs := rec.Stats()
	rec.Close()
	if rs.Corrupt > 0 {
		t.Errorf("the retro-hunt record has %d damaged hour files after SIGKILL", rs.Corrupt)
	}

	b, err := os.ReadFile(alerts)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("the alerts file ends in a partial line: %q", b[max(0, len(b)-200):])
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var a struct {
			EventType string `json:"event_type"`
			HDN       struct {
				ID string `json:"id"`
			} `json:"hdn"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil || a.EventType != "alert" || a.HDN.ID == "" {
			t.Errorf("alert line %d does not parse as an alert (%v): %q", i+1, err, line)
			break
		}
	}
	t.Logf("state: cursor %d (synced %v), %d indicators of the hub's %d; retro: %d hour files; alerts: %d bytes",
		cursor, synced, len(held), len(hubInds), rs.Files, len(b))
	return cursor
}
