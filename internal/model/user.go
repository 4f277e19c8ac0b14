package model

import (
	"time"

	"github.com/hdnetwork/hdn/internal/policy"
)

// User is a person who signs in to the web UI. The password itself is
// never stored, only its hash (argon2id, with its parameters and salt).
type User struct {
	ID           string      `json:"id"`
	OrgID        string      `json:"org"`
	Email        string      `json:"email"` // the sign-in name, lower case, unique
	Name         string      `json:"name"`
	Role         policy.Role `json:"role"` // admin, analyst or readonly (not sensor)
	PasswordHash string      `json:"-"`
	Created      time.Time   `json:"created"`
	Disabled     bool        `json:"disabled"`
	LastSignIn   time.Time   `json:"last_sign_in,omitzero"`
}

// Session is a signed-in user's session. Its secret is never stored, only
// its hash; CSRF is the token forms must carry.
type Session struct {
	ID       string    `json:"id"` // public part of the cookie value
	Hash     []byte    `json:"-"`
	UserID   string    `json:"user"`
	CSRF     string    `json:"-"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	LastSeen time.Time `json:"last_seen"`
}
