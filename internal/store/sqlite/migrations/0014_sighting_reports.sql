-- Sighting reports already stored, by the reporting organisation and the
-- key its request carried (Idempotency-Key): a report sent again after a
-- lost answer is not counted twice. Kept two days (model.Sighting.Report).

CREATE TABLE sighting_reports (
	org_id TEXT NOT NULL,
	report TEXT NOT NULL,
	digest TEXT NOT NULL, -- of the report's sightings, to tell a copy from another report under the same key
	at     INTEGER NOT NULL, -- unix nanoseconds UTC, when first stored
	PRIMARY KEY (org_id, report)
) WITHOUT ROWID;
CREATE INDEX sighting_reports_at ON sighting_reports (at);
