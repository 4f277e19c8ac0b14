package sensor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// The files enrolment leaves in the state directory.
const (
	KeyFile  = "key"  // the sensor's API key, owner-only (0600)
	NameFile = "name" // the name the sensor enrolled under
)

// Enrolment is what the hub answers to an enrolment: the sensor's new key
// and whose it is. Its String and Format never show the key.
type Enrolment struct {
	Key   string `json:"key"`
	KeyID string `json:"key_id"`
	Org   string `json:"org"`
	Role  string `json:"role"`
}

// String names the enrolment without its key.
func (e Enrolment) String() string {
	return fmt.Sprintf("enrolment of %s as %s (key %s)", e.Org, e.Role, e.KeyID)
}

// Format keeps the key out of every fmt verb (%v, %+v, %#v).
func (e Enrolment) Format(f fmt.State, _ rune) { io.WriteString(f, e.String()) }

// Enrol exchanges a one-time enrolment token for a sensor key
// (POST /api/v1/enrol, no Authorization). The token never appears in the
// error: the hub's refusal is reported by its message and code.
func Enrol(ctx context.Context, hub, token, name string, client *http.Client) (Enrolment, error) {
	u, err := url.Parse(hub)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Enrolment{}, fmt.Errorf("enrol: the hub %q is not an http(s) URL", redact(hub, token))
	}
	if token == "" {
		return Enrolment{}, errors.New("enrol: no enrolment token")
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: tlsconf.SameOriginRedirects}
	}
	body, err := json.Marshal(map[string]string{"token": token, "name": name})
	if err != nil {
		return Enrolment{}, err
	}
	endpoint := strings.TrimRight(hub, "/") + "/api/v1/enrol"
	req, err := http.NewRequestWithContext(ctx, "POST", endpoint, bytes.NewReader(body))
	if err != nil {
		return Enrolment{}, fmt.Errorf("enrol: %s", redact(err.Error(), token))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Enrolment{}, fmt.Errorf("enrol: %s", redact(err.Error(), token))
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Enrolment{}, fmt.Errorf("enrol: reading the hub's answer: %s", redact(err.Error(), token))
	}
	if resp.StatusCode != http.StatusOK {
		return Enrolment{}, fmt.Errorf("enrol: %s", redact(hubRefusal(resp, rb), token))
	}
	var e Enrolment
	if err := json.Unmarshal(rb, &e); err != nil || e.Key == "" {
		return Enrolment{}, fmt.Errorf("enrol: the hub's answer (%s) holds no key", resp.Status)
	}
	return e, nil
}

// hubRefusal words a hub's error answer: its envelope's message and code
// when it sent one, else the status.
func hubRefusal(resp *http.Response, body []byte) string {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Message != "" {
		what := "the hub refused"
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			what = "the hub refused the token"
		case http.StatusForbidden:
			what = "the hub refused the organisation"
		}
		return fmt.Sprintf("%s: %s (%s)", what, env.Error.Message, env.Error.Code)
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		return "the hub answered " + resp.Status
	}
	return fmt.Sprintf("the hub answered %s: %s", resp.Status, msg)
}

// redact removes a secret from a text that is about to be shown.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// CheckKeyFileAbsent fails when dir already holds a key (enrolment asks
// before it spends the token).
func CheckKeyFileAbsent(dir string) error {
	p := filepath.Join(dir, KeyFile)
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("%s exists: this state directory is enrolled already (--force replaces the key)", p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteKeyFile writes the key to dir/key, owner-only from the start, and
// atomically (a temporary file renamed into place); dir is created 0700 if
// missing. Without force an existing key file is left alone and an error
// returned. name, if not empty, is kept in dir/name for the heartbeats.
func WriteKeyFile(dir, key, name string, force bool) error {
	if key == "" {
		return errors.New("no key to write")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p := filepath.Join(dir, KeyFile)
	if !force {
		if err := CheckKeyFileAbsent(dir); err != nil {
			return err
		}
	}
	if err := writeAtomic(dir, p, []byte(key+"\n"), force); err != nil {
		return err
	}
	if name != "" {
		if err := writeAtomic(dir, filepath.Join(dir, NameFile), []byte(name+"\n"), true); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes data to path through a temporary file in dir (created
// 0600), synced, then moved into place: renamed over what is there when
// replace, else linked so that an existing file is never overwritten.
func writeAtomic(dir, path string, data []byte, replace bool) (err error) {
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	} else {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s exists: this state directory is enrolled already (--force replaces the key)", path)
			}
			return err
		}
		os.Remove(tmp)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; not every system allows it
		d.Close()
	}
	return nil
}

// ErrNoKeyFile means the state directory holds no key file.
var ErrNoKeyFile = errors.New("no key file")

// ReadKeyFile reads dir/key. It refuses a key file that group or others
// may read, saying how to fix it, and returns ErrNoKeyFile when there is
// none. The key itself is never part of an error.
func ReadKeyFile(dir string) (string, error) {
	p := filepath.Join(dir, KeyFile)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoKeyFile
	}
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", p)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("%s is readable by others than its owner (mode %04o): run chmod 600 %s (and consider replacing the key)", p, perm, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		return "", fmt.Errorf("%s does not hold one key", p)
	}
	return key, nil
}

// ReadNameFile returns the name the sensor enrolled under ("" if unknown).
func ReadNameFile(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, NameFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
