-- A return of sightings to a peer hub saved before it is sent and cleared
-- when it is marked returned: after a crash in between it is sent again,
-- as it was and under its key, before anything new (so the peer counts it
-- once, whatever arrived since).

CREATE TABLE fed_return_pending (
	peer_id TEXT PRIMARY KEY,
	key     TEXT NOT NULL, -- its Idempotency-Key
	sums    TEXT NOT NULL  -- JSON: the sums it returns (model.FedSighting)
);
