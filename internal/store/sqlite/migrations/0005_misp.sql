-- MISP compatibility: reports keep their tags and the context that is not
-- matched (MISP attributes with to_ids false), and feeds remember which
-- events they have imported at which timestamp.
ALTER TABLE reports ADD COLUMN tags TEXT;    -- JSON array of strings; NULL when empty
ALTER TABLE reports ADD COLUMN context TEXT; -- JSON array of model.ContextAttribute; NULL when empty

CREATE TABLE feeds (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	name_key   TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	url        TEXT NOT NULL,
	org_id     TEXT NOT NULL REFERENCES orgs(id),
	tlp        TEXT NOT NULL,
	interval_s INTEGER NOT NULL,
	enabled    INTEGER NOT NULL DEFAULT 1,
	created    INTEGER NOT NULL,
	last_run   INTEGER,
	last_error TEXT NOT NULL DEFAULT '',
	last_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE feed_events (
	feed_id    TEXT NOT NULL REFERENCES feeds(id),
	event_uuid TEXT NOT NULL,
	timestamp  INTEGER NOT NULL, -- the event's timestamp (unix seconds) when imported
	PRIMARY KEY (feed_id, event_uuid)
) WITHOUT ROWID;
