-- A copy is found by the peer that delivered it last (via_peer): its
-- removals and resynchronisations look it up so. Hubs filed a copy under
-- the id of a peer even after the peer was removed, and under
-- 'org:' || organisation id when its organisation had no peer; a peer added
-- again for the organisation (a new id) no longer found them.
--
-- From now on a removed peer's copies are filed under its organisation, and
-- a new peer of the organisation takes them. Here: copies filed under an
-- organisation that has a peer go to that peer; copies filed under a peer
-- id that is gone go to the peer of their source organisation, or are
-- filed under that organisation (the peer that delivered them last cannot
-- be told any more; nearly always it is the source's).

UPDATE fed_origins SET via_peer = COALESCE(
		(SELECT p.id FROM peers p WHERE 'org:' || p.org_id = fed_origins.via_peer),
		(SELECT p.id FROM peers p JOIN indicators i ON i.source = p.org_id
			WHERE i.id = fed_origins.indicator_id AND fed_origins.via_peer NOT LIKE 'org:%'),
		(SELECT 'org:' || i.source FROM indicators i
			WHERE i.id = fed_origins.indicator_id AND fed_origins.via_peer NOT LIKE 'org:%'),
		via_peer)
	WHERE via_peer NOT IN (SELECT id FROM peers);
