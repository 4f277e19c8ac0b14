package session

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultParams are what HashPassword uses: 64 MiB, 3 passes, 2 lanes. They
// are above the floor of OWASP's Password Storage Cheat Sheet (argon2id with
// at least 19 MiB, 2 passes, 1 lane, or one of its equivalent trade-offs)
// and near RFC 9106's second recommended option (64 MiB, 3 passes, 4
// lanes), at about a tenth of a second per hash on a server core. The
// parameters are written into each hash, so they can be raised later
// without invalidating stored hashes; Manager.SignIn makes a hash with other
// parameters again at the user's next sign-in (NeedsRehash).
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 2}

// hashParams is what HashPassword uses (tests lower it for speed).
var hashParams = DefaultParams

const (
	saltLen = 16
	keyLen  = 32

	// Bounds on what a stored hash may ask for, so that a hostile or
	// corrupt hash string cannot make a check take gigabytes or minutes.
	maxMemory  = 256 * 1024 // KiB: 256 MiB
	maxTime    = 10
	maxThreads = 16
	maxHashLen = 256 // characters of the whole hash string

	// MinPasswordLen and MaxPasswordLen bound a password (in characters
	// and bytes).
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// ErrMalformedHash says a stored hash is not an argon2id hash this package
// accepts (wrong form, or parameters out of bounds).
var ErrMalformedHash = errors.New("session: malformed or unacceptable password hash")

var b64 = base64.RawStdEncoding

// hashSlots bounds how many argon2 computations run at once: each takes
// Params.Memory of memory, so a burst of sign-ins must not exhaust it.
var hashSlots = make(chan struct{}, min(4, max(1, runtime.GOMAXPROCS(0))))

func idKey(pw string, salt []byte, p Params, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, n)
}

// HashPassword hashes a password with argon2id and a random salt, in the PHC
// string form $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded
// standard base64).
func HashPassword(pw string) (string, error) {
	return hashWith(hashParams, pw)
}

func hashWith(p Params, pw string) (string, error) {
	if len(pw) > MaxPasswordLen {
		return "", fmt.Errorf("session: the password is longer than %d bytes", MaxPasswordLen)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("session: salt: %w", err)
	}
	return encodeHash(p, salt, idKey(pw, salt, p, keyLen)), nil
}

func encodeHash(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword says whether pw matches a hash made by HashPassword, reading
// the parameters from the hash; the comparison is in constant time. A hash
// it cannot read, or whose parameters are beyond its bounds, is an error
// (ErrMalformedHash), never a match.
func CheckPassword(hash, pw string) (bool, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxPasswordLen {
		return false, nil
	}
	got := idKey(pw, salt, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash says whether a hash was made with parameters other than the
// current ones (the caller may then rehash at the next sign-in).
func NeedsRehash(hash string) bool {
	p, _, _, err := parseHash(hash)
	return err != nil || p != hashParams
}

// parseHash reads a PHC argon2id string, strictly, and refuses parameters
// beyond the bounds.
func parseHash(s string) (p Params, salt, key []byte, err error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	if len(s) > maxHashLen {
		return bad("too long")
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not an argon2id hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unknown version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("want the parameters m, t and p")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		if !ok || v == "" || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
			return bad("want the parameters m, t and p")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("want the parameters m, t and p")
		}
		vals[i] = n
	}
	m, t, par := vals[0], vals[1], vals[2]
	switch {
	case par < 1 || par > maxThreads:
		return bad("p out of bounds")
	case t < 1 || t > maxTime:
		return bad("t out of bounds")
	case m < 8*par || m > maxMemory:
		return bad("m out of bounds")
	}
	// The decoder skips line breaks: re-encoding refuses them and any
	// other non-canonical form.
	salt, err = b64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 || b64.EncodeToString(salt) != parts[4] {
		return bad("bad salt")
	}
	key, err = b64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 || b64.EncodeToString(key) != parts[5] {
		return bad("bad hash")
	}
	return Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(par)}, salt, key, nil
}

//go:embed common_passwords.txt
var commonFS embed.FS

// common holds the embedded list of common passwords, lower case. It is a
// short list of the most obvious choices, not an exhaustive one: length
// does most of the work.
var common = func() map[string]bool {
	b, err := commonFS.ReadFile("common_passwords.txt")
	if err != nil {
		panic(err)
	}
	m := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// CheckPasswordPolicy says why a password is not acceptable for the user
// with the given e-mail address, or nil: it must have at least 12
// characters (and at most 1024 bytes), must not be the e-mail address or
// its local part, must not be one character repeated, and must not be in a
// short embedded list of common passwords (not exhaustive). Errors never
// quote the password.
func CheckPasswordPolicy(pw, email string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("the password must have at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("the password must have at most %d bytes", MaxPasswordLen)
	case !utf8.ValidString(pw):
		return errors.New("the password is not valid UTF-8")
	}
	low := strings.ToLower(strings.TrimSpace(pw))
	email = strings.ToLower(strings.TrimSpace(email))
	local, _, _ := strings.Cut(email, "@")
	if email != "" && (low == email || low == local || strings.Contains(low, email)) {
		return errors.New("the password must not be the e-mail address")
	}
	if r, _ := utf8.DecodeRuneInString(low); strings.Trim(low, string(r)) == "" {
		return errors.New("the password must not be one character repeated")
	}
	if common[low] {
		return errors.New("the password is one of the most common passwords")
	}
	return nil
}
