// Package auth makes and checks API keys. A key is shown once, as
// "hdn_<id>_<secret>"; the hub stores only the id and a SHA-256 hash of the
// secret. The secret carries 256 bits from crypto/rand, so a fast hash is
// enough (no password-style KDF is needed for it), and hashes are compared in
// constant time.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"strings"
)

const prefix = "hdn_"

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrMalformedKey says the presented string is not shaped like an hdn key.
var ErrMalformedKey = errors.New("malformed API key")

// NewKey returns a new key as shown to the user once, its public id, and the
// hash to store.
func NewKey() (plaintext, id string, hash []byte) {
	idBytes := make([]byte, 10)
	secret := make([]byte, 32)
	rand.Read(idBytes)
	rand.Read(secret)
	id = enc.EncodeToString(idBytes)
	s := enc.EncodeToString(secret)
	return prefix + id + "_" + s, id, Hash(s)
}

// Parse splits a presented key into its id and secret.
func Parse(plaintext string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(plaintext, prefix)
	if !ok {
		return "", "", ErrMalformedKey
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 52 || !inAlphabet(id) || !inAlphabet(secret) {
		return "", "", ErrMalformedKey
	}
	return id, secret, nil
}

// inAlphabet says whether s is written in the keys' base32 alphabet only,
// so that no other byte (a NUL, invalid UTF-8, SQL) reaches a look-up.
func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// Hash is the stored form of a secret.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Verify compares a presented secret with a stored hash in constant time.
func Verify(stored []byte, secret string) bool {
	return subtle.ConstantTimeCompare(stored, Hash(secret)) == 1
}
