-- The auto-share approval queue: indicators proposed by sensors from local
-- alerts, waiting for an analyst of the organisation.
CREATE TABLE proposals (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL REFERENCES orgs(id),
	type         TEXT NOT NULL,
	value        TEXT NOT NULL,
	labels       TEXT,
	description  TEXT NOT NULL DEFAULT '',
	evidence     TEXT NOT NULL DEFAULT '',
	status       TEXT NOT NULL,
	created      INTEGER NOT NULL,
	decided      INTEGER,
	indicator_id TEXT
);
CREATE INDEX proposals_org ON proposals(org_id, status, created);
CREATE UNIQUE INDEX proposals_pending ON proposals(org_id, type, value) WHERE status = 'pending';
