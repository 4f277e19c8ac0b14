-- Webhooks: outside endpoints the hub POSTs events to, signed with an HMAC
-- of the body under the secret (docs/WEBHOOKS.md), and the outcome of the
-- last delivery to each.
CREATE TABLE webhooks (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	name_key      TEXT NOT NULL UNIQUE,
	url           TEXT NOT NULL,
	secret        TEXT NOT NULL,               -- never shown
	events        TEXT NOT NULL,               -- JSON array of event kinds
	min_score     INTEGER NOT NULL DEFAULT 0,  -- for "indicator" events
	enabled       INTEGER NOT NULL DEFAULT 1,
	created       INTEGER NOT NULL,
	last_delivery INTEGER,
	last_status   INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	failures      INTEGER NOT NULL DEFAULT 0   -- consecutive failed deliveries
);
