-- A removal names the sender's id of an indicator: the copy is found by
-- the peer that delivered it and that id (remote_id), not by origin id.

CREATE INDEX fed_origins_remote ON fed_origins(via_peer, remote_id);
