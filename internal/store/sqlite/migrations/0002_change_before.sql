-- 0002: who could see an indicator before a change (model.Change.Before),
-- so that a stream can tell a reader who could see it and no longer can.

-- The policy facts of an indicator before its latest upsert: the upsert
-- sets them from the old row, and its RETURNING hands them back, which is
-- how an ingest learns, without another lookup, whether it changed who may
-- see the indicator.
ALTER TABLE indicators ADD COLUMN prev_tlp TEXT;
ALTER TABLE indicators ADD COLUMN prev_audience_kind TEXT;
ALTER TABLE indicators ADD COLUMN prev_audience_group TEXT;

-- The policy facts before a change that altered them (TLP, audience, the
-- members of the audience group); before_tlp is NULL when the change left
-- visibility alone. Lists are JSON arrays.
ALTER TABLE changes ADD COLUMN before_tlp TEXT;
ALTER TABLE changes ADD COLUMN before_audience_kind TEXT;
ALTER TABLE changes ADD COLUMN before_audience_group TEXT;
ALTER TABLE changes ADD COLUMN before_orgs TEXT;
ALTER TABLE changes ADD COLUMN before_members TEXT;

-- A change of a group's members is a change for every indicator shared with
-- the group.
CREATE INDEX indicators_group ON indicators(audience_group) WHERE audience_group IS NOT NULL;
