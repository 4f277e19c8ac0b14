-- Federation (docs/FEDERATION.md): this hub's identity, its peers, where
-- federated indicators come from, and the sightings returned to origin.

CREATE TABLE hub_identity (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	id  TEXT NOT NULL
);

CREATE TABLE peers (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	name_key    TEXT NOT NULL UNIQUE,
	org_id      TEXT NOT NULL UNIQUE REFERENCES orgs(id),
	url         TEXT NOT NULL,
	key         TEXT NOT NULL,                -- the key presented to the peer; never shown
	pull        INTEGER NOT NULL,
	push        INTEGER NOT NULL,
	paused      INTEGER NOT NULL DEFAULT 0,
	audience    TEXT,                         -- JSON array of local organisation ids
	created     INTEGER NOT NULL,
	remote_hub  TEXT NOT NULL DEFAULT '',
	pull_cursor INTEGER NOT NULL DEFAULT 0,
	push_cursor INTEGER NOT NULL DEFAULT 0,
	last_ok     INTEGER,
	last_error  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE fed_origins (
	indicator_id    TEXT PRIMARY KEY REFERENCES indicators(id),
	origin_hub      TEXT NOT NULL,
	origin_id       TEXT NOT NULL,
	origin_modified INTEGER NOT NULL,
	hops            TEXT NOT NULL,            -- JSON array of hub ids
	via_peer        TEXT NOT NULL,
	remote_id       TEXT NOT NULL,
	digest          TEXT NOT NULL
);
CREATE INDEX fed_origins_origin ON fed_origins(origin_id);
CREATE INDEX fed_origins_via ON fed_origins(via_peer);

-- What was returned to a peer of the sightings of an indicator it
-- delivered, per kind and hour.
CREATE TABLE fed_returned (
	peer_id      TEXT NOT NULL,
	indicator_id TEXT NOT NULL,
	kind         TEXT NOT NULL,
	hour         INTEGER NOT NULL,
	returned     INTEGER NOT NULL,
	PRIMARY KEY (peer_id, indicator_id, kind, hour)
) WITHOUT ROWID;
