-- Signal quality: quarantine of indicators that organisations agree are
-- false positives (stops matching, stays visible with the reason, until the
-- coordinator decides), and the coordinator's campaign alerts.
ALTER TABLE indicators ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE indicators ADD COLUMN quarantine_reason TEXT NOT NULL DEFAULT '';

CREATE INDEX sightings_hour ON sightings (hour, kind);

CREATE TABLE alerts (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,   -- "campaign"
	grouping   TEXT NOT NULL,   -- "report", "label" or "actor"
	key        TEXT NOT NULL,   -- the report id, the label, the actor
	orgs       TEXT NOT NULL,   -- JSON array of organisation ids that sighted
	indicators TEXT NOT NULL,   -- JSON array of indicator ids sighted
	first      INTEGER NOT NULL, -- the first sighting's hour
	last       INTEGER NOT NULL, -- the last sighting's hour
	raised     INTEGER NOT NULL,
	window_s   INTEGER NOT NULL
);
CREATE INDEX alerts_key ON alerts (grouping, key, raised);
