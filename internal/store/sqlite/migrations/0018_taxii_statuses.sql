-- The status resources of TAXII add-objects requests, kept in the database
-- so that any replica, and a restarted hub, answers for them (docs/TAXII.md).
-- The API bounds them per organisation and in all, oldest first.

CREATE TABLE taxii_statuses (
	n       INTEGER PRIMARY KEY AUTOINCREMENT, -- the order of arrival
	id      TEXT NOT NULL UNIQUE,
	org_id  TEXT NOT NULL,
	created INTEGER NOT NULL, -- unix ns
	size    INTEGER NOT NULL, -- bytes of body
	body    BLOB NOT NULL     -- the status as the API encoded it
);

CREATE INDEX taxii_statuses_org ON taxii_statuses (org_id, n);
CREATE INDEX taxii_statuses_created ON taxii_statuses (created);
