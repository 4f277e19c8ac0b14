package cli

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hdnetwork/hdn/internal/sensor"
	"github.com/hdnetwork/hdn/internal/tlsconf"
)

// runSensorEnrol is `hdn sensor enrol`: it exchanges a one-time enrolment
// token for the sensor's key and keeps the key in the state directory
// (DIR/key, 0600), so that `hdn sensor --hub URL --state DIR` needs no key
// on its command line. It prints whose key it is, never the key.
func runSensorEnrol(e *env) error {
	fs := e.flags("hdn sensor enrol")
	hub := fs.String("hub", "", "the hub's URL, e.g. https://hub.example:8443")
	token := fs.String("token", "", "the one-time enrolment token (better: --token-file or HDN_ENROL_TOKEN, out of the process list)")
	tokenFile := fs.String("token-file", "", "a file holding the enrolment token, or - for standard input")
	state := fs.String("state", "", "the sensor's state directory; the key goes to DIR/key (created 0700 if missing)")
	name := fs.String("name", "", "the sensor's name at the hub (default: the host name)")
	force := fs.Bool("force", false, "replace a key already in DIR/key")
	tlsOpts := clientTLSFlags(fs)
	if err := e.parse(fs); err != nil {
		return err
	}
	tlsCfg, err := tlsOpts.Config()
	if err != nil {
		return fmt.Errorf("hdn sensor enrol: %w", err)
	}
	if err := required(fs, "hub", "state"); err != nil {
		return err
	}
	tok, err := enrolToken(*token, *tokenFile)
	if err != nil {
		return err
	}
	if *name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return errors.New("hdn sensor enrol: no host name; give --name")
		}
		*name = h
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	// Ask before spending the token.
	if !*force {
		if err := sensor.CheckKeyFileAbsent(dir); err != nil {
			return fmt.Errorf("hdn sensor enrol: %w", err)
		}
	}
	en, err := sensor.Enrol(e.ctx, *hub, tok, *name, &http.Client{Timeout: 30 * time.Second, Transport: tlsconf.Transport(tlsCfg), CheckRedirect: tlsconf.SameOriginRedirects})
	if err != nil {
		return fmt.Errorf("hdn sensor enrol: %w", err)
	}
	if err := sensor.WriteKeyFile(dir, en.Key, *name, *force); err != nil {
		// The token is spent: the key must not be lost silently.
		return fmt.Errorf("hdn sensor enrol: the hub enrolled the sensor (key %s) but the key could not be kept: %w; revoke that key and enrol again with a new token", en.KeyID, err)
	}
	return printJSON(e.stdout, map[string]string{"org": en.Org, "key_id": en.KeyID, "state": dir})
}

// enrolToken takes the token from --token, --token-file or
// HDN_ENROL_TOKEN, in that order; only one of the flags may be given.
func enrolToken(flagToken, file string) (string, error) {
	if flagToken != "" && file != "" {
		return "", errors.New("hdn sensor enrol: give --token or --token-file, not both")
	}
	tok := flagToken
	if file != "" {
		b, err := readInput(file, 4<<10)
		if err != nil {
			return "", fmt.Errorf("hdn sensor enrol: --token-file: %w", err)
		}
		tok = string(b)
	}
	if tok == "" && file == "" {
		tok = os.Getenv("HDN_ENROL_TOKEN")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errors.New("hdn sensor enrol: no enrolment token: give --token-file FILE, HDN_ENROL_TOKEN or --token")
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", errors.New("hdn sensor enrol: the enrolment token is not one word")
	}
	return tok, nil
}
