-- Leases elect one hub replica for the jobs that must run once (expiry,
-- signal, feeds, federation, webhooks, sessions): store.Leases.

CREATE TABLE leases (
	name    TEXT PRIMARY KEY,
	holder  TEXT NOT NULL,
	expires INTEGER NOT NULL  -- unix nanoseconds UTC
);
