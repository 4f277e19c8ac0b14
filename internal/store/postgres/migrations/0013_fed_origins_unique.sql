-- One local copy per origin indicator. Federated applies were serialised per
-- process only, so two peers relaying one origin indicator to two replicas at
-- once could each store a copy (and a peer's version of a copy with another
-- type or value stored a second one). The apply finds a copy by its origin id
-- (OriginsOf) and found one of them; the other was never updated again, and
-- stayed live after its origin revoked it. Applies now take a federation lock
-- that holds across replicas, and this index makes a second copy an error.
--
-- Copies already doubled: the one the apply found is kept — the copy whose
-- local id is the origin id, else (the apply's choice was arbitrary) the
-- newest by the origin's time, then by the relaying peer's, then the smallest
-- local id. The others are revoked where live, each with a "revoked" change,
-- so that streams, sensors and peers take them out of use, and lose their
-- origin record (the kept copy carries the origin).
--
-- The change-log lock (0x68646e02, as every writer of changes takes it) first,
-- since replicas of the previous version may be writing changes meanwhile.
SELECT pg_advisory_xact_lock(1751412226, hashtext(current_schema()));

CREATE TEMP TABLE fed_origins_extra ON COMMIT DROP AS
	SELECT r.indicator_id FROM (
		SELECT indicator_id, row_number() OVER (PARTITION BY origin_id
			ORDER BY indicator_id = origin_id DESC, origin_modified DESC, via_modified DESC, indicator_id) AS rank
		FROM fed_origins) r
	WHERE r.rank > 1;

WITH live AS (
	SELECT i.n, row_number() OVER (ORDER BY i.n) AS k
	FROM indicators i JOIN fed_origins_extra e ON e.indicator_id = i.id
	WHERE i.revoked = 0
), base AS (
	SELECT value AS last FROM meta WHERE key = 'last_seq'
), stamp AS (
	SELECT (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint AS at
), revoked AS (
	UPDATE indicators i SET revoked = 1, modified = stamp.at, touched = stamp.at, seq = base.last + live.k
	FROM live, base, stamp
	WHERE i.n = live.n
	RETURNING i.n, i.seq
)
INSERT INTO changes (seq, indicator_n, kind, at)
	SELECT revoked.seq, revoked.n, 'revoked', stamp.at FROM revoked, stamp;

DELETE FROM fed_origins WHERE indicator_id IN (SELECT indicator_id FROM fed_origins_extra);

DROP INDEX fed_origins_origin;
CREATE UNIQUE INDEX fed_origins_origin ON fed_origins(origin_id);
