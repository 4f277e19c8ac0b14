-- TAXII 2.1 feeds: the collection a feed reads, the credential it reads it
-- with, and the audience of what it stores. The poll cursor (the newest
-- date_added taken) is kept in feed_events under the reserved event uuid
-- "taxii:added_after", its timestamp in unix microseconds.
ALTER TABLE feeds ADD COLUMN collection TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN auth TEXT NOT NULL DEFAULT '';      -- '', 'basic' or 'bearer'
ALTER TABLE feeds ADD COLUMN auth_user TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN secret TEXT NOT NULL DEFAULT '';    -- password or token; never shown
ALTER TABLE feeds ADD COLUMN audience_kind TEXT NOT NULL DEFAULT 'network';
ALTER TABLE feeds ADD COLUMN audience_group TEXT;                -- a sharing group id; NULL unless kind is 'group'
ALTER TABLE feeds ADD COLUMN audience_orgs TEXT;                 -- JSON array of organisation ids; NULL unless kind is 'orgs'
