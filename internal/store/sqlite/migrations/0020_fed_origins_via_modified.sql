-- The delivering peer's own modification time of the version a copy holds:
-- of two states with the same origin time (a relaying peer stores a version
-- and then revokes, quarantines, releases or expires it in a second write,
-- and its stream and push may read the first state last), the one the peer
-- wrote later wins. 0: not known (copies stored before this column).

ALTER TABLE fed_origins ADD COLUMN via_modified INTEGER NOT NULL DEFAULT 0;
