-- Sightings, aggregated per indicator, organisation, kind and hour. Details
-- (the observing host, the exact time) only for organisations that report in
-- full.
CREATE TABLE sightings (
	indicator_n INTEGER NOT NULL REFERENCES indicators(n),
	org_id      TEXT NOT NULL REFERENCES orgs(id),
	kind        TEXT NOT NULL,
	hour        INTEGER NOT NULL,
	count       INTEGER NOT NULL,
	PRIMARY KEY (indicator_n, org_id, kind, hour)
) WITHOUT ROWID;

CREATE TABLE sighting_details (
	indicator_n INTEGER NOT NULL REFERENCES indicators(n),
	org_id      TEXT NOT NULL REFERENCES orgs(id),
	kind        TEXT NOT NULL,
	observed_at INTEGER NOT NULL,
	host        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sighting_details_indicator ON sighting_details(indicator_n, observed_at);
