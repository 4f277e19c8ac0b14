-- Quarantine holds a value, not one source's indicator of it: the types and
-- values this hub's organisations agreed are false positives, until the
-- coordinator releases them. Every indicator of a held value is quarantined,
-- whichever source submits it and by whatever path (an ingest quarantines a
-- new or re-activated one in its own transaction). A peer hub's quarantine of
-- its own copy is not recorded here: it holds that copy only.
--
-- Held at once: the values of the indicators of this hub's own (not copies
-- delivered by a peer) quarantined and not revoked; the hub's signal job
-- then quarantines the other sources' live indicators of them.

CREATE TABLE quarantined_values (
	type   TEXT NOT NULL,
	value  TEXT NOT NULL,
	reason TEXT NOT NULL,
	at     INTEGER NOT NULL,
	PRIMARY KEY (type, value)
) WITHOUT ROWID;

INSERT INTO quarantined_values (type, value, reason, at)
	SELECT i.type, i.value, min(i.quarantine_reason), max(i.modified) FROM indicators i
	WHERE i.quarantined = 1 AND i.revoked = 0 AND NOT EXISTS (SELECT 1 FROM fed_origins f WHERE f.indicator_id = i.id)
	GROUP BY i.type, i.value;
