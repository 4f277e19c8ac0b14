package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the hdn binary built once for the package's tests.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// hdnBinary builds ./cmd/hdn (once per test binary) and returns its path.
func hdnBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "hdn-crashtest-")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "hdn")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binary.path, "./cmd/hdn")
		cmd.Dir = moduleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build ./cmd/hdn: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// moduleRoot is two levels up from this package.
func moduleRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

// seed is the test's random seed: HDN_CRASH_SEED, or the clock. It is logged
// so that a failing run can be repeated.
func seed(t *testing.T) *rand.Rand {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("HDN_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("HDN_CRASH_SEED=%q: %v", v, err)
		}
		s = n
	}
	t.Logf("seed %d (repeat with HDN_CRASH_SEED=%d)", s, s)
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// proc is a child process whose standard error is kept.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // its exit status, once done
	line func(string)  // called for every stderr line (under mu)
}

// start runs bin with args; the process is killed and reaped when the test
// ends, whatever happens.
func start(t *testing.T, name string, onLine func(string), bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{}), line: onLine}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = io.Discard
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Its own process group, so that a signal meant for the test does not
	// reach it and it can never outlive the test through one.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.Write(sc.Bytes())
			p.logs.WriteByte('\n')
			if p.line != nil {
				p.line(sc.Text())
			}
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-scanned
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and waits (at most 30 s) until the process is reaped.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("%s (pid %d) not reaped 30 s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// alive says whether the process still runs.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail is the end of the process's standard error, for failure messages.
func (p *proc) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.logs.Bytes()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// hubProc is an `hdn hub` process.
type hubProc struct {
	*proc
	url string
}

var readyAddr = regexp.MustCompile(`msg="hub ready".*addr=(\S+)`)

// startHub runs `hdn hub` on data and waits (at most 60 s) until /healthz
// answers 200. It listens on a port of its own choosing, found in its log.
func startHub(t *testing.T, bin, data string) *hubProc {
	t.Helper()
	addr := make(chan string, 1)
	p := start(t, "hub", func(line string) {
		if m := readyAddr.FindStringSubmatch(line); m != nil {
			select {
			case addr <- m[1]:
			default:
			}
		}
	}, bin, "hub", "--data", data, "--listen", "127.0.0.1:0", "--no-warninglists", "--log-level", "info")
	h := &hubProc{proc: p}
	select {
	case a := <-addr:
		h.url = "http://" + a
	case <-p.done:
		t.Fatalf("hub exited before it was ready (%v):\n%s", p.err, p.tail())
	case <-time.After(60 * time.Second):
		t.Fatalf("hub not ready after 60 s:\n%s", p.tail())
	}
	deadline := time.Now().Add(60 * time.Second)
	for !healthy(h.url) {
		if time.Now().After(deadline) {
			t.Fatalf("hub at %s: /healthz not 200 after 60 s:\n%s", h.url, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return h
}

var quickClient = &http.Client{Timeout: 10 * time.Second}

func healthy(url string) bool {
	resp, err := quickClient.Get(url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// admin runs `hdn admin ARGS --data data` (at most 60 s) and decodes its
// JSON output into out.
func admin(t *testing.T, bin, data string, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{"admin"}, args...), "--data", data)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("hdn admin %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("hdn admin %s: output %q: %v", strings.Join(args, " "), b, err)
		}
	}
}

// orgWithKey creates a member organisation and a key of role for it.
func orgWithKey(t *testing.T, bin, data, name, role string) string {
	t.Helper()
	admin(t, bin, data, nil, "org", "create", "--init", "--name", name, "--kind", "member") // before the hub's first start
	var k struct {
		Key string `json:"key"`
	}
	admin(t, bin, data, &k, "key", "create", "--org", name, "--role", role)
	if k.Key == "" {
		t.Fatal("hdn admin key create printed no key")
	}
	return k.Key
}

// keyFor creates another key for an existing organisation.
func keyFor(t *testing.T, bin, data, org, role string) string {
	t.Helper()
	var k struct {
		Key string `json:"key"`
	}
	admin(t, bin, data, &k, "key", "create", "--org", org, "--role", role)
	return k.Key
}

// apiGet calls GET url with key and decodes the JSON answer.
func apiGet(ctx context.Context, client *http.Client, url, key string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

// listed is an indicator as the API lists it (the fields the checks need).
type listed struct {
	ID    string `json:"id"`
	Value string `json:"value"`
	Seq   int64  `json:"seq"`
}

// listAll pages through every indicator key's organisation may see.
func listAll(ctx context.Context, client *http.Client, base, key string) ([]listed, error) {
	var all []listed
	cursor := ""
	for {
		var page struct {
			Indicators []listed `json:"indicators"`
			Next       string   `json:"next"`
		}
		u := base + "/api/v1/indicators?limit=10000"
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		if err := apiGet(ctx, client, u, key, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Indicators...)
		if page.Next == "" || len(page.Indicators) == 0 {
			return all, nil
		}
		cursor = page.Next
	}
}

// errTimeout is what a wait reports when it gives up.
var errTimeout = errors.New("timed out")
