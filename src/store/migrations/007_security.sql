-- Security state shared by every instance on one database.
-- `jti`: JWT ids already accepted (SMART client assertions, CDS Hooks JWTs), each kept until the token
-- expires; a second insert of the same key conflicts, which is how a replay is detected across instances.
CREATE TABLE jti (
  key         text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX jti_expires_idx ON jti (expires_at);

-- SMART Backend Services access tokens: opaque, stored only as their SHA-256, so a database read does
-- not yield a usable token; any instance can check a token another issued.
CREATE TABLE access_tokens (
  token_hash    text PRIMARY KEY,
  client_id     text NOT NULL,
  scope         text NOT NULL,
  expires_at    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);
