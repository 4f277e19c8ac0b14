-- A copy is found by the peer that delivered it (via_peer): its removals
-- and resynchronisations look it up so. Copies filed under a peer since
-- removed, or under their organisation while it had no peer here
-- ('org:' || id), are filed under the organisation's peer when it has one
-- now, and under the organisation otherwise; copies another live peer has
-- taken over stay with it.

UPDATE fed_origins SET via_peer = COALESCE(
		(SELECT p.id FROM peers p JOIN indicators i ON i.source = p.org_id WHERE i.id = fed_origins.indicator_id),
		(SELECT 'org:' || i.source FROM indicators i WHERE i.id = fed_origins.indicator_id))
	WHERE via_peer NOT IN (SELECT id FROM peers)
	AND EXISTS (SELECT 1 FROM indicators i WHERE i.id = fed_origins.indicator_id);
