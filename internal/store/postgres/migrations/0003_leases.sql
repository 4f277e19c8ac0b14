-- 0003: leases elect one hub replica for the jobs that must run once
-- (expiry, signal, feeds, federation, webhooks, sessions): store.Leases.
-- As the SQLite store's migration 0013.

CREATE TABLE leases (
	name    TEXT PRIMARY KEY,
	holder  TEXT NOT NULL,
	expires BIGINT NOT NULL -- unix nanoseconds UTC
);
