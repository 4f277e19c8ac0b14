-- The time of an indicator's last change entry: a change of the indicator
-- itself (then equal to modified) or of who may see it — a sharing group's
-- members, the partner of its source customer — which leaves modified
-- alone. "Changed since" readers (TAXII added_after and date_added, MISP
-- timestamp, since=) go by it, so that an organisation that may newly see
-- an indicator gets it from an incremental pull. Set to modified for the
-- indicators already stored. Every writer sets it; the default only lets
-- SQLite add a NOT NULL column to a table that has rows.

ALTER TABLE indicators ADD COLUMN touched INTEGER NOT NULL DEFAULT 0;
UPDATE indicators SET touched = modified;
