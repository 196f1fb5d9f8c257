-- Rate-limit counters (fixed windows) shared by every instance on the database. Keys are
-- "ip:<address>" or "client:<client id>"; rows whose window has ended are reused or pruned.
CREATE TABLE rate_limits (
  key text PRIMARY KEY,
  hits integer NOT NULL,
  reset_at timestamptz NOT NULL
);
