-- 0001: the first schema of the hub.
--
-- Conventions:
--   * times are INTEGER unix nanoseconds UTC; NULL where a time is optional;
--   * booleans are INTEGER 0/1;
--   * public ids are UUID text; indicators also have an internal integer key
--     (n) that changes, the audience table and joins use;
--   * optional references are NULL, never '' (foreign keys are enforced);
--   * names that must be unique case-insensitively have a name_key column
--     holding the name under Unicode simple case folding.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	name_key   TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	partner_id TEXT REFERENCES orgs(id),
	created    INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orgs_partner ON orgs(partner_id) WHERE partner_id IS NOT NULL;

CREATE TABLE keys (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES orgs(id),
	role       TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	hash       BLOB NOT NULL,
	created    INTEGER NOT NULL,
	expires_at INTEGER,
	revoked    INTEGER NOT NULL DEFAULT 0,
	last_used  INTEGER
);
CREATE INDEX keys_org ON keys(org_id);

-- "groups" is an SQL keyword (window frames), hence sharing_groups.
CREATE TABLE sharing_groups (
	id       TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	name_key TEXT NOT NULL UNIQUE,
	owner    TEXT NOT NULL REFERENCES orgs(id),
	created  INTEGER NOT NULL
);

CREATE TABLE group_members (
	group_id TEXT NOT NULL REFERENCES sharing_groups(id),
	org_id   TEXT NOT NULL REFERENCES orgs(id),
	PRIMARY KEY (group_id, org_id)
) WITHOUT ROWID;
CREATE INDEX group_members_org ON group_members(org_id);

CREATE TABLE reports (
	id             TEXT PRIMARY KEY,
	title          TEXT NOT NULL,
	narrative      TEXT NOT NULL DEFAULT '',
	threat_actor   TEXT NOT NULL DEFAULT '',
	campaign       TEXT NOT NULL DEFAULT '',
	tlp            TEXT NOT NULL,
	audience_kind  TEXT NOT NULL,
	audience_group TEXT REFERENCES sharing_groups(id),
	source         TEXT NOT NULL REFERENCES orgs(id),
	submitted_by   TEXT REFERENCES orgs(id),
	anonymous      INTEGER NOT NULL DEFAULT 0,
	created        INTEGER NOT NULL,
	modified       INTEGER NOT NULL
);

-- Explicit audience lists hold organisation ids without a foreign key: an
-- indicator that arrives by federation may name organisations of another hub.
CREATE TABLE report_audience (
	report_id TEXT NOT NULL REFERENCES reports(id),
	org_id    TEXT NOT NULL,
	PRIMARY KEY (report_id, org_id)
) WITHOUT ROWID;

CREATE TABLE indicators (
	n              INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	type           TEXT NOT NULL,
	value          TEXT NOT NULL,
	tlp            TEXT NOT NULL,
	audience_kind  TEXT NOT NULL,
	audience_group TEXT REFERENCES sharing_groups(id),
	labels         TEXT,              -- JSON array of strings; NULL when empty
	description    TEXT NOT NULL DEFAULT '',
	confidence     INTEGER NOT NULL,
	valid_from     INTEGER,           -- NULL: from first_seen
	valid_until    INTEGER,           -- NULL: no end
	first_seen     INTEGER NOT NULL,
	last_seen      INTEGER NOT NULL,
	source         TEXT NOT NULL REFERENCES orgs(id),
	submitted_by   TEXT REFERENCES orgs(id),
	anonymous      INTEGER NOT NULL DEFAULT 0,
	report_id      TEXT REFERENCES reports(id),
	tags           TEXT,              -- JSON array of strings; NULL when empty
	revoked        INTEGER NOT NULL DEFAULT 0,
	expired        INTEGER NOT NULL DEFAULT 0,
	created        INTEGER NOT NULL,
	modified       INTEGER NOT NULL,
	seq            INTEGER NOT NULL   -- seq of the indicator's latest change
);
-- One indicator per source, type and value (a re-submission updates it). The
-- value comes first so that the same index serves lookups by value, with or
-- without a type.
CREATE UNIQUE INDEX indicators_value ON indicators(value, type, source);
CREATE UNIQUE INDEX indicators_seq ON indicators(seq);
CREATE INDEX indicators_due ON indicators(valid_until)
	WHERE valid_until IS NOT NULL AND expired = 0 AND revoked = 0;
CREATE INDEX indicators_report ON indicators(report_id, seq) WHERE report_id IS NOT NULL;

CREATE TABLE indicator_audience (
	indicator_n INTEGER NOT NULL REFERENCES indicators(n),
	org_id      TEXT NOT NULL,
	PRIMARY KEY (indicator_n, org_id)
) WITHOUT ROWID;

-- The change sequence. seq values are assigned by the writer, which holds the
-- database's write lock while it does; AUTOINCREMENT keeps sqlite_sequence
-- at the highest seq ever used, so a seq is never reused, even after
-- compaction has deleted every row.
CREATE TABLE changes (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	indicator_n INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	at          INTEGER NOT NULL
);

CREATE TABLE audit (
	seq    INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL,
	org    TEXT NOT NULL DEFAULT '',
	actor  TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_org ON audit(org, seq);
