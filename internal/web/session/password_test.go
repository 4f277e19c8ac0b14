package session

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestMain lowers the cost of new hashes so that the session tests run
// quickly; TestPasswordRoundTrip checks the real parameters.
func TestMain(m *testing.M) {
	hashParams = Params{Memory: 1024, Time: 1, Threads: 1}
	m.Run()
}

func TestPasswordRoundTrip(t *testing.T) {
	const pw = "correct horse battery staple"
	h, err := hashWith(DefaultParams, pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") || strings.Contains(h, pw) || strings.Count(h, "$") != 5 {
		t.Fatalf("hash %q is not in the PHC form with the default parameters", h)
	}
	if ok, err := CheckPassword(h, pw); !ok || err != nil {
		t.Errorf("the right password: %t, %v", ok, err)
	}
	for _, wrong := range []string{"correct horse battery stapler", "", "Correct horse battery staple"} {
		if ok, err := CheckPassword(h, wrong); ok || err != nil {
			t.Errorf("a wrong password: %t, %v", ok, err)
		}
	}
	h2, _ := hashWith(DefaultParams, pw)
	if h2 == h {
		t.Error("two hashes of one password are the same (no salt?)")
	}
	// A hash with other parameters is read with its own, and needs
	// rehashing; one with the current parameters does not.
	h3, _ := hashWith(Params{Memory: 2048, Time: 2, Threads: 1}, pw)
	if !strings.Contains(h3, "$m=2048,t=2,p=1$") {
		t.Fatalf("hash %q", h3)
	}
	if ok, err := CheckPassword(h3, pw); !ok || err != nil {
		t.Errorf("a hash of other parameters: %t, %v", ok, err)
	}
	if !NeedsRehash(h3) || !NeedsRehash("junk") {
		t.Error("a hash of other parameters does not need rehashing")
	}
	if h4, _ := HashPassword(pw); NeedsRehash(h4) {
		t.Error("a fresh hash needs rehashing")
	}
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordLen+1)); err == nil {
		t.Error("HashPassword took an overlong password")
	}
}

// TestHostileHash: hash strings that ask for absurd work, or are not
// argon2id hashes at all, are refused at once, never checked.
func TestHostileHash(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	start := time.Now()
	for _, h := range []string{
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=4294967295,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=3,p=255$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=0,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=3,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=-1,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=065536,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$t=3,m=65536,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=3,p=2,x=1$" + salt + "$" + key,
		"$argon2i$v=19$m=65536,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=16$m=65536,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=65536,t=3,p=2$" + salt + "$",
		"$argon2id$v=19$m=65536,t=3,p=2$$" + key,
		"$argon2id$v=19$m=65536,t=3,p=2$" + salt + "$" + strings.Repeat("A", 400),
		"$argon2id$v=19$m=65536,t=3,p=2$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=65536,t=3,p=2$" + salt + "=$" + key,
		"plain text password",
		"",
	} {
		if ok, err := CheckPassword(h, "anything at all"); ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("CheckPassword(%q): %t, %v; want ErrMalformedHash", h, ok, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing hostile hashes took %v", d)
	}
}

func TestPasswordPolicy(t *testing.T) {
	const email = "alice.smith@hospital.example"
	for _, pw := range []string{
		"sailing-over-the-fjord", "Tr0ub4dor&3x!", "zwölf-zeichen", "alice.smith-is-me-2026",
	} {
		if err := CheckPasswordPolicy(pw, email); err != nil {
			t.Errorf("CheckPasswordPolicy(good password #%d): %v", len(pw), err)
		}
	}
	for pw, want := range map[string]string{
		"short":                           "at least 12",
		"elevenchars":                     "at least 12",
		"ääääääääääää"[:12]:               "at least 12",
		strings.Repeat("x", 1025):         "at most 1024",
		"ALICE.SMITH@hospital.example":    "e-mail",
		" alice.smith@hospital.example ":  "e-mail",
		"my alice.smith@hospital.example": "e-mail",
		"aaaaaaaaaaaaaa":                  "repeated",
		"Password1234":                    "common",
		"qwertyuiop123":                   "common",
		"correcthorsebatterystaple":       "common",
	} {
		err := CheckPasswordPolicy(pw, email)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckPasswordPolicy(%d-byte password): %v, want an error saying %q", len(pw), err, want)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("the policy's error quotes the password: %v", err)
		}
	}
	if len(common) < 40 {
		t.Errorf("the common list holds %d passwords", len(common))
	}
}

// FuzzParseHash: parseHash never panics, and what it accepts is within the
// bounds and encodes back to the very same string (the form is strict).
func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=16,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parseHash(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parseHash(%q): %v, not ErrMalformedHash", s, err)
			}
			return
		}
		if p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads ||
			p.Memory < 8*uint32(p.Threads) || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
			t.Fatalf("parseHash(%q) accepted %+v, salt %d, key %d bytes", s, p, len(salt), len(key))
		}
		if back := encodeHash(p, salt, key); back != s {
			t.Fatalf("parseHash(%q) encodes back to %q", s, back)
		}
	})
}
