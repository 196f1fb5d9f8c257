-- A pend is not an end: a claim's answer changes after review, update or cancel. `claims` keeps the
-- current ClaimResponse; every version (1 = the $submit answer) stays in `claim_response_versions`;
-- `claim_events` is the outbox source, written in the same transaction as each later version.

ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_outcome_check;
ALTER TABLE claims ADD CONSTRAINT claims_outcome_check CHECK (outcome IN ('approve', 'pend', 'deny', 'cancelled'));
ALTER TABLE decisions DROP CONSTRAINT IF EXISTS decisions_source_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_source_check CHECK (source IN ('pas', 'crd', 'dtr', 'cli', 'review'));

ALTER TABLE claims
  ADD COLUMN version              integer NOT NULL DEFAULT 1,
  -- Claim.provider identifiers (system|value), written once at submit: isolation and the
  -- Subscription orgIdentifier filter read this instead of re-parsing the request.
  ADD COLUMN submitter_keys       text[] NOT NULL DEFAULT '{}',
  -- sha-256 of the request's resources: a resend of the same request replays the stored answer.
  ADD COLUMN content_hash         text,
  -- Submitter scope + first Claim identifier; unique, so concurrent duplicates make one decision.
  ADD COLUMN submission_key       text,
  ADD COLUMN expedited            boolean NOT NULL DEFAULT false,
  -- CMS-0057-F: received + 72 hours (expedited) or + 7 calendar days (standard).
  ADD COLUMN due_at               timestamptz,
  ADD COLUMN review_route         text,
  -- When the request reached a final decision (approve, deny, cancel); null while pended.
  ADD COLUMN decided_at           timestamptz,
  ADD COLUMN assignee             text,
  ADD COLUMN replaces_claim_id    text REFERENCES claims (id),
  ADD COLUMN replaced_by_claim_id text REFERENCES claims (id),
  ADD COLUMN updated_at           timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX claims_submission_key_idx ON claims (submission_key);
CREATE INDEX claims_outcome_due_idx ON claims (outcome, due_at);
CREATE INDEX claims_submitters_gin ON claims USING gin (submitter_keys);

CREATE TABLE claim_response_versions (
  claim_id              text NOT NULL REFERENCES claims (id),
  version               integer NOT NULL,
  outcome               text NOT NULL CHECK (outcome IN ('approve', 'pend', 'deny', 'cancelled')),
  claim_response        jsonb NOT NULL,
  response_bundle       jsonb NOT NULL,
  decision_id           uuid REFERENCES decisions (id),
  authorization_number  text REFERENCES authorizations (number),
  event                 text NOT NULL,
  actor                 text,
  note                  text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (claim_id, version)
);

CREATE TABLE claim_events (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id       text NOT NULL REFERENCES claims (id),
  version        integer NOT NULL,
  event          text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  dispatched_at  timestamptz
);
CREATE INDEX claim_events_pending_idx ON claim_events (id) WHERE dispatched_at IS NULL;

-- Existing rows: their answer is version 1.
INSERT INTO claim_response_versions (claim_id, version, outcome, claim_response, response_bundle, decision_id, authorization_number, event, created_at)
  SELECT id, 1, coalesce(outcome, 'pend'), claim_response, response_bundle, decision_id, authorization_number, 'submit', created_at FROM claims;
UPDATE claims SET due_at = created_at + interval '7 days' WHERE outcome = 'pend';
UPDATE claims SET decided_at = created_at WHERE outcome IN ('approve', 'deny');
