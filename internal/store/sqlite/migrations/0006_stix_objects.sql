-- STIX objects the hub keeps as context without modelling them (malware,
-- threat actors, relationships, identities, sightings, reports, …), served
-- back byte for byte. n orders them by when their current version was
-- stored (AUTOINCREMENT: never reused, so it is a safe paging cursor).
CREATE TABLE stix_objects (
	n              INTEGER PRIMARY KEY AUTOINCREMENT,
	id             TEXT NOT NULL UNIQUE,
	type           TEXT NOT NULL,
	modified       INTEGER NOT NULL, -- unix nanoseconds
	added          INTEGER NOT NULL, -- unix nanoseconds
	raw            BLOB NOT NULL,
	tlp            TEXT NOT NULL,
	audience_kind  TEXT NOT NULL,
	audience_group TEXT REFERENCES sharing_groups(id),
	source         TEXT NOT NULL REFERENCES orgs(id),
	submitted_by   TEXT REFERENCES orgs(id)
);

CREATE INDEX stix_objects_type ON stix_objects (type, n);

CREATE TABLE stix_object_audience (
	object_n INTEGER NOT NULL REFERENCES stix_objects(n) ON DELETE CASCADE,
	org_id   TEXT NOT NULL,
	PRIMARY KEY (object_n, org_id)
) WITHOUT ROWID;
