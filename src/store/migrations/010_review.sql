-- Clinical review (src/review): every reviewer action on a pended request, with who, when, why and
-- what changed. The ClaimResponse versions themselves are in claim_response_versions (008); this is
-- the reviewer's record beside them. Reviewer names are staff, not patients; `note` and `reason` are
-- the reviewer's words to the provider and belong to the request's record like the ClaimResponse.
CREATE TABLE review_actions (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id       text NOT NULL REFERENCES claims (id),
  action         text NOT NULL CHECK (action IN ('approve', 'deny', 'request-info', 'assign')),
  reviewer_name  text NOT NULL,
  reviewer_role  text NOT NULL CHECK (reviewer_role IN ('physician-reviewer', 'medical-director', 'committee')),
  reason         text,
  note           text,
  -- Citations the action names (unmet criteria of a deny, documentation asked for).
  criteria       jsonb NOT NULL DEFAULT '[]',
  -- What changed: {"outcome": {"from", "to"}, "version": {...}, "dueAt": {...}, "assignee": {...}, ...}.
  changes        jsonb NOT NULL DEFAULT '{}',
  -- The ClaimResponse version the action produced (null for an assignment).
  version        integer,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_actions_claim_idx ON review_actions (claim_id, id);
