-- The brute-force limit on web sign-ins, kept in the database so that a
-- restart does not forget it and every replica counts the same failures
-- (docs/WEBUI.md). Addresses are kept as keys (SHA-256), never in clear.

-- One row per key while it is in use: its lock, and the row every
-- transaction on the key updates first, which serialises them.
CREATE TABLE signin_limits (
	key          TEXT PRIMARY KEY,
	locked_until BIGINT NOT NULL, -- unix ns; 0 when not locked
	touched      BIGINT NOT NULL  -- unix ns of the last attempt
);

CREATE INDEX signin_limits_touched ON signin_limits (touched);

-- The failures within the window, tentative ones (a sign-in in progress)
-- included.
CREATE TABLE signin_failures (
	id  TEXT PRIMARY KEY,
	key TEXT NOT NULL,
	at  BIGINT NOT NULL -- unix ns
);

CREATE INDEX signin_failures_key ON signin_failures (key, at);
CREATE INDEX signin_failures_at ON signin_failures (at);
