package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdnetwork/hdn/internal/policy"
)

// subscriber is one stream and what it received.
type subscriber struct {
	org      int
	received atomic.Int64 // created/updated events of the run
	bytes    atomic.Int64 // of its stream, everything read
	current  atomic.Bool  // its stream reached the head once (first heartbeat)
	lat      []time.Duration
}

// acked is an acknowledged submission, for the expected counts and the
// sightings.
type acked struct {
	org     int
	group   int
	network bool // shared with the whole network, whatever the profile
	stored  int
	ids     []string // a few stored indicator ids, for sightings
}

func (r *runner) load(ctx context.Context, res *Result) error {
	c := r.cfg
	streamCtx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	streamClient := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	subs := make([]*subscriber, c.Subscribers)
	var swg sync.WaitGroup
	for i := range subs {
		subs[i] = &subscriber{org: i}
		swg.Go(func() { r.subscribe(streamCtx, streamClient, subs[i]) })
	}
	defer swg.Wait()
	defer stopStreams()
	// Load starts once every stream is open and current (or after a minute).
	wait := time.Now().Add(time.Minute)
	for time.Now().Before(wait) && ctx.Err() == nil {
		n := 0
		for _, s := range subs {
			if s.current.Load() {
				n++
			}
		}
		if n == len(subs) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range subs {
		if s.current.Load() {
			res.Connected++
		}
	}
	r.log.Info("streams open", "current", res.Connected, "of", len(subs))

	loadCtx, stopLoad := context.WithTimeout(ctx, c.Duration)
	defer stopLoad()
	var (
		amu     sync.Mutex
		batches []acked
		subLat  []time.Duration
		// sightLat: latency of each sighting sent
		sightLat []time.Duration
	)
	recent := &recentIDs{}
	recent.add(r.seed)
	var (
		lwg       sync.WaitGroup
		batchSeq  atomic.Int64
		sightings atomic.Int64
	)
	begin := time.Now()
	if c.SubmitRate > 0 {
		interval := time.Duration(float64(time.Second) * float64(c.Submitters) / c.SubmitRate)
		client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: c.Submitters}}
		for i := range c.Submitters {
			lwg.Go(func() {
				var lats []time.Duration
				next := begin.Add(time.Duration(i) * interval / time.Duration(c.Submitters))
				for {
					if !sleepUntil(loadCtx, next) {
						break
					}
					next = next.Add(interval)
					if now := time.Now(); now.Sub(next) > interval {
						next = now // behind: no burst to catch up
					}
					b := batchSeq.Add(1)
					a, lat, ok := r.submit(loadCtx, client, i, b, recent)
					if !ok {
						continue
					}
					lats = append(lats, lat)
					amu.Lock()
					batches = append(batches, a)
					amu.Unlock()
				}
				amu.Lock()
				subLat = append(subLat, lats...)
				amu.Unlock()
			})
		}
	}
	if c.SightingRate > 0 {
		// Sightings come from many sensors at once: sent at the target rate
		// whatever the answers take (open loop), at most maxSightingsInFlight
		// at a time.
		interval := time.Duration(float64(time.Second) / c.SightingRate)
		client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		rng := rand.New(rand.NewPCG(1, uint64(begin.UnixNano())))
		lwg.Go(func() {
			var inflight sync.WaitGroup
			defer inflight.Wait()
			slots := make(chan struct{}, maxSightingsInFlight)
			next := begin
			for sleepUntil(loadCtx, next) {
				next = next.Add(interval)
				if now := time.Now(); now.Sub(next) > interval {
					next = now
				}
				a, ok := recent.pick(rng)
				if !ok {
					continue // nothing acknowledged yet
				}
				by := r.sighter(rng, a)
				id := a.ids[rng.IntN(len(a.ids))]
				select {
				case slots <- struct{}{}:
				default:
					r.fail(fmt.Sprintf("sighting: not sent, %d in flight", maxSightingsInFlight))
					continue
				}
				inflight.Go(func() {
					defer func() { <-slots }()
					t0 := time.Now()
					if r.sight(loadCtx, client, by, id) {
						sightings.Add(1)
						amu.Lock()
						sightLat = append(sightLat, time.Since(t0))
						amu.Unlock()
					}
				})
			}
		})
	}
	lwg.Wait()
	res.Elapsed = time.Since(begin)
	for _, s := range subs {
		res.EventsInRun += s.received.Load()
		res.StreamBytesInRun += s.bytes.Load()
	}

	// What each subscriber may see of what was stored.
	expected := make([]int64, len(subs))
	type key struct{ org, group int }
	seen := map[key][]int{} // who sees a batch of org from group
	for _, a := range batches {
		res.Submissions++
		res.Indicators += int64(a.stored)
		k := key{a.org, a.group}
		who, ok := seen[k]
		if !ok {
			it := policy.Item{Source: r.orgs[a.org].id, TLP: policy.Amber, Audience: policy.NetworkAudience()}
			if c.Profile == ProfileSpread {
				g := r.groups[a.group]
				it.Audience = policy.Audience{Kind: policy.Group, Group: g.id}
				it.GroupMembers = g.members
			}
			for i := range subs {
				if policy.CanSee(r.viewer(i), it) {
					who = append(who, i)
				}
			}
			seen[k] = who
		}
		for _, i := range who {
			expected[i] += int64(a.stored)
		}
	}
	for _, e := range expected {
		res.EventsExpected += e
	}

	// Drain: subscribers may take until Drain to receive the rest.
	drainStart := time.Now()
	for {
		short := 0
		for i, s := range subs {
			if s.received.Load() < expected[i] {
				short++
			}
		}
		if short == 0 || time.Since(drainStart) > c.Drain || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.DrainTook = time.Since(drainStart)
	// A moment more, to catch events beyond what was expected.
	time.Sleep(200 * time.Millisecond)
	stopStreams()
	swg.Wait()
	var delivery []time.Duration
	for i, s := range subs {
		got := s.received.Load()
		res.EventsDelivered += got
		switch {
		case got < expected[i]:
			res.Short++
		case got > expected[i]:
			res.Over++
		}
		delivery = append(delivery, s.lat...)
	}
	res.Sightings = sightings.Load()
	res.SubmitLatency = percentiles(subLat)
	res.SightingLatency = percentiles(sightLat)
	res.Delivery = percentiles(delivery)
	r.mu.Lock()
	res.Errors = r.errs
	r.mu.Unlock()
	return nil
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// submit posts batch b of submitter i.
func (r *runner) submit(ctx context.Context, client *http.Client, i int, b int64, recent *recentIDs) (acked, time.Duration, bool) {
	c := r.cfg
	a := acked{org: i}
	audience := `{"network":true}`
	if c.Profile == ProfileSpread {
		a.group = int(b % int64(c.Groups))
		audience = `{"group":"` + r.groups[a.group].name + `"}`
	}
	tag := "hdn-load:" + r.tag
	var body bytes.Buffer
	body.Grow(c.Batch * 140)
	body.WriteString(`{"indicators":[`)
	sampleValue := fmt.Sprintf("lat-%d.%s.hdn-load.net", b, r.tag)
	smp := &sample{}
	r.samples.Store(sampleValue, smp)
	var h [8]byte
	for k := range c.Batch {
		if k > 0 {
			body.WriteByte(',')
		}
		var v string
		switch {
		case k == 0:
			v = sampleValue
		case k%2 == 1:
			v = fmt.Sprintf("d%d-%d.%s.hdn-load.net", b, k, r.tag)
		default:
			binary.LittleEndian.PutUint64(h[:], uint64(b)<<20|uint64(k))
			sum := sha256.Sum256(append([]byte(r.tag), h[:]...))
			v = hex.EncodeToString(sum[:])
		}
		body.WriteString(`{"value":"`)
		body.WriteString(v)
		body.WriteString(`","tlp":"amber","tags":["` + tag + `"],"audience":` + audience + `}`)
	}
	body.WriteString(`]}`)
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, r.base+"/api/v1/indicators", &body)
	if err != nil {
		r.fail("submit: " + err.Error())
		return a, 0, false
	}
	req.Header.Set("Authorization", "Bearer "+r.orgs[i].analystKey)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		r.fail("submit: transport")
		return a, 0, false
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		r.fail("submit: transport")
		return a, 0, false
	}
	if resp.StatusCode != http.StatusOK {
		r.fail("submit: HTTP " + strconv.Itoa(resp.StatusCode))
		return a, 0, false
	}
	smp.ack.Store(time.Now().UnixNano())
	var out struct {
		Results []struct {
			Status string `json:"status"`
			ID     string `json:"id"`
			Error  *struct {
				Code string `json:"code"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		r.fail("submit: undecodable answer")
		return a, 0, false
	}
	for _, res := range out.Results {
		switch res.Status {
		case "created", "updated":
			a.stored++
			if len(a.ids) < 8 {
				a.ids = append(a.ids, res.ID)
			}
		default:
			code := res.Status
			if res.Error != nil {
				code = res.Error.Code
			}
			r.fail("submit: item " + code)
		}
	}
	recent.add(a)
	return a, lat, true
}

// seedIndicators stores a few indicators before the run (tagged apart, so
// that no subscriber counts them) for the first sightings.
func (r *runner) seedIndicators(ctx context.Context) error {
	var body bytes.Buffer
	body.WriteString(`{"indicators":[`)
	for k := range 8 {
		if k > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"value":"seed-%d.%s.hdn-load.net","tlp":"amber","tags":["hdn-load-seed:%s"]}`, k, r.tag, r.tag)
	}
	body.WriteString(`]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/api/v1/indicators", &body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.orgs[0].analystKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Status string `json:"status"`
			ID     string `json:"id"`
		} `json:"results"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	r.seed = acked{org: 0, network: true}
	for _, res := range out.Results {
		if res.Status == "created" || res.Status == "updated" {
			r.seed.ids = append(r.seed.ids, res.ID)
		}
	}
	if len(r.seed.ids) == 0 {
		return errors.New("no indicator stored")
	}
	return nil
}

// recentIDs keeps indicator ids of the last acknowledged batches, for
// sightings.
type recentIDs struct {
	mu  sync.Mutex
	buf []acked
	n   int
}

func (rc *recentIDs) add(a acked) {
	if len(a.ids) == 0 {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.buf) < 256 {
		rc.buf = append(rc.buf, a)
	} else {
		rc.buf[rc.n%256] = a
	}
	rc.n++
}

func (rc *recentIDs) pick(rng *rand.Rand) (acked, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.buf) == 0 {
		return acked{}, false
	}
	return rc.buf[rng.IntN(len(rc.buf))], true
}

// maxSightingsInFlight bounds the sightings waiting for an answer.
const maxSightingsInFlight = 256

// sighter picks an organisation that may see the indicators of batch a.
func (r *runner) sighter(rng *rand.Rand, a acked) int {
	if r.cfg.Profile != ProfileSpread || a.network {
		return rng.IntN(len(r.orgs))
	}
	// The members of a's group are the organisations a.group, a.group +
	// Groups, a.group + 2×Groups, …
	members := (len(r.orgs) - a.group + r.cfg.Groups - 1) / r.cfg.Groups
	if members <= 0 {
		return a.org
	}
	return a.group + r.cfg.Groups*rng.IntN(members)
}

// sight reports one sighting of indicator id by organisation by.
func (r *runner) sight(ctx context.Context, client *http.Client, by int, id string) bool {
	key := r.orgs[by].sensorKey
	body := `{"sightings":[{"indicator":"` + id + `","count":1}]}`
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, r.base+"/api/v1/sightings", bytes.NewReader([]byte(body)))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		r.fail("sighting: transport")
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		r.fail("sighting: HTTP " + strconv.Itoa(resp.StatusCode))
		return false
	}
	return true
}

var (
	prefixID    = []byte("id: ")
	prefixEvent = []byte("event: ")
	prefixData  = []byte("data: ")
	keyValue    = []byte(`"value":"`)
	keyTags     = []byte(`"tags":[`)
	latPrefix   = []byte("lat-")
)

// lastField is the index of the last key (which ends in '[') in data, or
// -1: a walk back over the '[' bytes, cheaper than bytes.LastIndex for a
// key near the end of a long line.
func lastField(data, key []byte) int {
	prefix := key[:len(key)-1]
	for end := len(data); ; {
		i := bytes.LastIndexByte(data[:end], key[len(key)-1])
		if i < 0 {
			return -1
		}
		if bytes.HasSuffix(data[:i], prefix) {
			return i - len(prefix)
		}
		end = i
	}
}

// runEvent says whether an indicator's JSON carries the run's tag, and
// gives its value when it is a batch's latency marker. The subscribers read
// millions of events on the cores the hub runs on, so this looks only where
// the fields are: the value near the start, the tags near the end (the last
// `"tags":[` is the field, as a string value cannot hold an unescaped quote).
func runEvent(data, tag []byte) (ok bool, marker []byte) {
	t := lastField(data, keyTags)
	if t < 0 {
		return false, nil
	}
	tags := data[t+len(keyTags):]
	if end := bytes.IndexByte(tags, ']'); end >= 0 {
		tags = tags[:end]
	}
	if !bytes.Contains(tags, tag) {
		return false, nil
	}
	if v := bytes.Index(data, keyValue); v >= 0 {
		val := data[v+len(keyValue):]
		if bytes.HasPrefix(val, latPrefix) {
			if j := bytes.IndexByte(val, '"'); j > 0 {
				return true, val[:j]
			}
		}
	}
	return true, nil
}

// subscribe follows the stream of subscriber s's organisation from the
// run's start, counting the run's events, until ctx ends; it reconnects
// from its cursor when cut off (an error).
func (r *runner) subscribe(ctx context.Context, client *http.Client, s *subscriber) {
	cursor := r.startCursor
	tag := []byte("hdn-load:" + r.tag)
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/api/v1/stream?cursor="+strconv.FormatInt(cursor, 10), nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+r.orgs[s.org].sensorKey)
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.fail("stream: connect: transport")
			sleepUntil(ctx, time.Now().Add(500*time.Millisecond))
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			r.fail("stream: connect: HTTP " + strconv.Itoa(resp.StatusCode))
			sleepUntil(ctx, time.Now().Add(time.Second))
			continue
		}
		err = r.read(countingReader{resp.Body, &s.bytes}, s, tag, &cursor)
		resp.Body.Close()
		if ctx.Err() != nil {
			return
		}
		r.fail("stream: cut off")
		r.log.Debug("stream cut off; resuming", "org", r.orgs[s.org].name, "cursor", cursor, "err", err)
	}
}

// read counts the run's events of one stream connection.
// countingReader counts what is read through it, one atomic add a read
// (of up to a buffer's worth).
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (r *runner) read(body io.Reader, s *subscriber, tag []byte, cursor *int64) error {
	br := bufio.NewReaderSize(body, 64<<10)
	change := false
	var id int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// An event larger than the buffer: not one of the run's (they
			// are small); skip the rest of the line.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if id > 0 {
				*cursor = id
			}
			change, id = false, 0
		case bytes.HasPrefix(line, prefixID):
			id, _ = strconv.ParseInt(string(line[len(prefixID):]), 10, 64)
		case bytes.HasPrefix(line, prefixEvent):
			ev := line[len(prefixEvent):]
			change = string(ev) == "created" || string(ev) == "updated"
			if string(ev) == "heartbeat" {
				s.current.Store(true)
			}
		case bytes.HasPrefix(line, prefixData):
			if !change {
				continue
			}
			ok, marker := runEvent(line, tag)
			if !ok {
				continue
			}
			s.received.Add(1)
			if marker != nil {
				if x, ok := r.samples.Load(string(marker)); ok {
					var d time.Duration
					if ack := x.(*sample).ack.Load(); ack != 0 {
						d = max(0, time.Duration(time.Now().UnixNano()-ack))
					}
					// Received before the acknowledgement: 0.
					s.lat = append(s.lat, d)
				}
			}
		}
	}
}
