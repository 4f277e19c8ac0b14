-- Users of the web UI and their sessions. A user's password is kept only as
-- an argon2id hash (PHC string form, with its parameters and salt); a
-- session's secret only as its SHA-256 hash. E-mail addresses are unique
-- case-insensitively (email_key is the folded form).
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL REFERENCES orgs(id),
	email         TEXT NOT NULL,
	email_key     TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL,              -- admin, analyst, readonly
	password_hash TEXT NOT NULL,              -- never shown
	disabled      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	last_sign_in  INTEGER
);
CREATE INDEX users_org ON users (org_id, email_key);

CREATE TABLE sessions (
	id        TEXT PRIMARY KEY,               -- the public part of the cookie
	hash      BLOB NOT NULL,                  -- SHA-256 of the secret part
	user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf      TEXT NOT NULL,
	created   INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	last_seen INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);
