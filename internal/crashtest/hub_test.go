package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hdnetwork/hdn/internal/store/sqlite"
)

// Sizes of the hub crash test.
const (
	hubRounds     = 6   // SIGKILLs; the hub starts hubRounds+1 times
	hubSubmitters = 4   // concurrent clients
	hubBatch      = 500 // indicators per batch
)

// batch is one submission and what the hub said to it.
type batch struct {
	id     int
	round  int
	atomic bool
	values []string
	status int  // HTTP status; 0 when no answer came (connection cut)
	acked  bool // 200 with one stored result per item
}

// TestHubSurvivesSIGKILL submits batches from several clients, kills the hub
// with SIGKILL at a random moment, restarts it on the same data directory,
// and checks through the API and the store that every acknowledged batch is
// there whole, every atomic batch is whole or absent, and the change
// sequence has no gap and refers only to indicators that exist.
func TestHubSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: builds hdn and kills a hub 6 times under load (~1 min); skipped with -short")
	}
	bin := hdnBinary(t)
	rng := seed(t)
	data := t.TempDir()
	key := orgWithKey(t, bin, data, "crash-member", "analyst")

	var (
		mu      sync.Mutex
		batches []*batch
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for round := 0; round <= hubRounds; round++ {
		h := startHub(t, bin, data)
		if round > 0 {
			checkHub(t, h, data, key, batches)
		}
		if round == hubRounds {
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for c := range hubSubmitters {
			crng := rand.New(rand.NewPCG(rng.Uint64(), uint64(c)))
			wg.Go(func() {
				for ctx.Err() == nil {
					mu.Lock()
					b := &batch{id: len(batches), round: round, atomic: crng.IntN(3) == 0}
					batches = append(batches, b)
					mu.Unlock()
					for i := range hubBatch {
						b.values = append(b.values, fmt.Sprintf("b%d-i%d.crash-hdn.net", b.id, i))
					}
					submit(ctx, client, h.url, key, b)
				}
			})
		}
		delay := time.Duration(300+rng.IntN(2200)) * time.Millisecond
		time.Sleep(delay)
		h.kill()
		cancel()
		if !waitGroup(&wg, 60*time.Second) {
			t.Fatal("submitters did not stop within 60 s of the kill")
		}
		acked := 0
		for _, b := range batches {
			if b.round == round && b.acked {
				acked++
			}
		}
		t.Logf("round %d: SIGKILL after %v; %d batches acknowledged in the round", round+1, delay, acked)
	}
	total, atomics := 0, 0
	for _, b := range batches {
		if b.acked {
			total++
			if b.atomic {
				atomics++
			}
		}
	}
	if total == 0 {
		t.Fatal("no batch was acknowledged in any round: the test tested nothing")
	}
	t.Logf("%d rounds, %d batches sent, %d acknowledged (%d atomic), %d indicators acknowledged; none lost",
		hubRounds, len(batches), total, atomics, total*hubBatch)
}

// submit posts b and records the answer. A cut connection leaves status 0.
func submit(ctx context.Context, client *http.Client, base, key string, b *batch) {
	type item struct {
		Value string `json:"value"`
		TLP   string `json:"tlp"`
	}
	items := make([]item, len(b.values))
	for i, v := range b.values {
		items[i] = item{Value: v, TLP: "amber"}
	}
	body, _ := json.Marshal(map[string]any{"indicators": items})
	u := base + "/api/v1/indicators"
	if b.atomic {
		u += "?atomic=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return // the answer was cut: not acknowledged
	}
	b.status = resp.StatusCode
	var out struct {
		Results []struct {
			Status string `json:"status"`
			Value  string `json:"value"`
		} `json:"results"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(rb, &out) != nil || len(out.Results) != len(b.values) {
		return
	}
	for i, r := range out.Results {
		if (r.Status != "created" && r.Status != "updated") || r.Value != b.values[i] {
			return
		}
	}
	b.acked = true
}

// checkHub checks a restarted hub through its API and its store.
func checkHub(t *testing.T, h *hubProc, data, key string, batches []*batch) {
	t.Helper()
	if !healthy(h.url) {
		t.Fatalf("restarted hub does not answer /healthz:\n%s", h.tail())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Minute}
	inds, err := listAll(ctx, client, h.url, key)
	if err != nil {
		t.Fatalf("listing indicators after restart: %v\n%s", err, h.tail())
	}
	have := make(map[string]bool, len(inds))
	for _, ind := range inds {
		have[ind.Value] = true
	}
	partialPlain := 0
	for _, b := range batches {
		n := 0
		for _, v := range b.values {
			if have[v] {
				n++
			}
		}
		switch {
		case b.acked && n != len(b.values):
			t.Errorf("batch %d (round %d, atomic %v) was acknowledged but only %d of %d indicators are there after the restart",
				b.id, b.round+1, b.atomic, n, len(b.values))
		case b.atomic && n != 0 && n != len(b.values):
			t.Errorf("atomic batch %d (round %d, status %d) is partly there: %d of %d indicators", b.id, b.round+1, b.status, n, len(b.values))
		case !b.atomic && n != 0 && n != len(b.values):
			partialPlain++
		}
	}
	if partialPlain > 0 {
		// Not a documented guarantee without atomic, but the hub stores a
		// batch in one transaction: worth knowing if that changes.
		t.Logf("%d unacknowledged non-atomic batches are partly there", partialPlain)
	}
	checkStore(t, ctx, data, len(inds))
}

// checkStore opens the data directory with the store (alongside the running
// hub, as `hdn admin` does; only read methods are called) and checks the
// change sequence: 1..LastSeq all present, each change naming an indicator
// that exists, and each indicator's seq a change of that indicator.
func checkStore(t *testing.T, ctx context.Context, data string, listed int) {
	t.Helper()
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer st.Close()
	last, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	exists := map[string]int64{} // id → seq
	for after := int64(0); ; {
		inds, err := st.ScanIndicators(ctx, after, 10000, true)
		if err != nil {
			t.Fatalf("ScanIndicators: %v", err)
		}
		for _, ind := range inds {
			exists[ind.ID] = ind.Seq
			after = ind.Seq
		}
		if len(inds) < 10000 {
			break
		}
	}
	if len(exists) != listed {
		t.Errorf("the store holds %d indicators, the API listed %d", len(exists), listed)
	}
	changeOf := map[int64]string{}
	want := int64(1)
	for after := int64(0); ; {
		chs, err := st.Changes(ctx, after, 10000)
		if err != nil {
			t.Fatalf("Changes(%d): %v", after, err)
		}
		for _, c := range chs {
			if c.Seq != want {
				t.Fatalf("change sequence has a gap: after %d comes %d (LastSeq %d)", want-1, c.Seq, last)
			}
			want++
			if _, ok := exists[c.Indicator.ID]; !ok {
				t.Errorf("change %d refers to indicator %s, which does not exist", c.Seq, c.Indicator.ID)
			}
			changeOf[c.Seq] = c.Indicator.ID
			after = c.Seq
		}
		if len(chs) < 10000 {
			break
		}
	}
	if want-1 != last {
		t.Errorf("change log ends at %d, LastSeq is %d", want-1, last)
	}
	for id, seq := range exists {
		if changeOf[seq] != id {
			t.Errorf("indicator %s has seq %d, which is not one of its changes", id, seq)
		}
	}
}

// waitGroup waits for wg at most d.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
