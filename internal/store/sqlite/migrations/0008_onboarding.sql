-- Onboarding: an organisation's status (a partner's new customer is pending
-- until the coordinator approves it), one-time enrolment tokens for
-- sensors, the sensors' last heartbeats, and the authentication epoch that
-- tells every hub replica to re-check its open streams.
ALTER TABLE orgs ADD COLUMN status TEXT NOT NULL DEFAULT 'active'; -- active, pending, suspended

CREATE TABLE enrol_tokens (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES orgs(id),
	hash       BLOB NOT NULL,
	created_by TEXT NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	used       INTEGER,
	key_id     TEXT
);

CREATE TABLE sensors (
	key_id            TEXT PRIMARY KEY REFERENCES keys(id),
	org_id            TEXT NOT NULL REFERENCES orgs(id),
	name              TEXT NOT NULL,
	version           TEXT NOT NULL DEFAULT '',
	started           INTEGER,
	inputs            TEXT NOT NULL DEFAULT '[]', -- JSON array of model.SensorInput
	events_per_second REAL NOT NULL DEFAULT 0,
	lag_seconds       REAL NOT NULL DEFAULT 0,
	indicators        INTEGER NOT NULL DEFAULT 0,
	patterns          INTEGER NOT NULL DEFAULT 0,
	last_error        TEXT NOT NULL DEFAULT '',
	last_error_at     INTEGER,
	last_seen         INTEGER NOT NULL
);
CREATE INDEX sensors_org ON sensors (org_id, name);

CREATE TABLE auth_epoch (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	n   INTEGER NOT NULL
);
INSERT INTO auth_epoch (one, n) VALUES (1, 0);

CREATE INDEX indicators_source_created ON indicators (source, created);
