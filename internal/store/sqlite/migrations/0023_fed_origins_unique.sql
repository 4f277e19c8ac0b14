-- One local copy per origin indicator. Federated applies read the copies held
-- before their write transaction, and a peer's version of a copy with another
-- type or value stored a second copy of one origin indicator (on PostgreSQL,
-- applies on two replicas could too). The apply finds a copy by its origin id
-- (OriginsOf) and found one of them; the other was never updated again, and
-- stayed live after its origin revoked it. This index makes a second copy an
-- error.
--
-- Copies already doubled: the one the apply found is kept — the copy whose
-- local id is the origin id, else (the apply's choice was arbitrary) the
-- newest by the origin's time, then by the relaying peer's, then the smallest
-- local id. The others are revoked where live, each with a "revoked" change,
-- so that streams, sensors and peers take them out of use, and lose their
-- origin record (the kept copy carries the origin).

CREATE TEMP TABLE fed_origins_extra AS
	SELECT r.indicator_id FROM (
		SELECT indicator_id, row_number() OVER (PARTITION BY origin_id
			ORDER BY indicator_id = origin_id DESC, origin_modified DESC, via_modified DESC, indicator_id) AS rank
		FROM fed_origins) r
	WHERE r.rank > 1;

CREATE TEMP TABLE fed_origins_revoke AS
	SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) AS base,
		CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER) AS at;

INSERT INTO changes (indicator_n, kind, at)
	SELECT i.n, 'revoked', (SELECT at FROM temp.fed_origins_revoke)
	FROM indicators i JOIN temp.fed_origins_extra e ON e.indicator_id = i.id
	WHERE i.revoked = 0
	ORDER BY i.n;

UPDATE indicators SET revoked = 1,
		modified = (SELECT at FROM temp.fed_origins_revoke),
		touched = (SELECT at FROM temp.fed_origins_revoke),
		seq = (SELECT c.seq FROM changes c
			WHERE c.seq > (SELECT base FROM temp.fed_origins_revoke) AND c.indicator_n = indicators.n)
	WHERE revoked = 0 AND id IN (SELECT indicator_id FROM temp.fed_origins_extra);

DELETE FROM fed_origins WHERE indicator_id IN (SELECT indicator_id FROM temp.fed_origins_extra);

DROP TABLE temp.fed_origins_extra;
DROP TABLE temp.fed_origins_revoke;

DROP INDEX fed_origins_origin;
CREATE UNIQUE INDEX fed_origins_origin ON fed_origins(origin_id);
