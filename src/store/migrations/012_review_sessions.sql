-- Reviewer sign-in (src/review/auth): sign-ins in progress and sessions, shared by every instance
-- on the database. Both are keyed by the SHA-256 of a random id that only the browser's cookie
-- holds; the id itself is never stored.

-- One row per sign-in started at the OpenID provider, taken (deleted) by its callback.
CREATE TABLE review_logins (
  id_hash        text PRIMARY KEY,
  state          text NOT NULL,
  nonce          text NOT NULL,
  code_verifier  text NOT NULL,
  return_to      text NOT NULL,
  expires_at     timestamptz NOT NULL
);

CREATE TABLE review_sessions (
  id_hash       text PRIMARY KEY,
  issuer        text NOT NULL,
  subject       text NOT NULL,
  name          text NOT NULL,
  role          text NOT NULL,
  created_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  -- Absolute end; the idle end is last_seen_at plus the configured idle time.
  expires_at    timestamptz NOT NULL
);
CREATE INDEX review_sessions_expires_at ON review_sessions (expires_at);
