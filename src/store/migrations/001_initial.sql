-- The payer's record: every decision, claim submission, authorization, CRD coverage assertion,
-- CDS Hooks feedback and audit event. FHIR payloads are JSONB; what is queried has a column.
-- `seq` orders rows created in the same transaction (they share created_at = now()).

CREATE TABLE decisions (
  id          uuid PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  source      text NOT NULL CHECK (source IN ('pas', 'crd', 'dtr', 'cli')),
  policy_id   text,
  outcome     text NOT NULL CHECK (outcome IN ('approve', 'pend', 'deny')),
  decision    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_policy_idx ON decisions (policy_id, created_at);

CREATE TABLE authorizations (
  number       text PRIMARY KEY,
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  member_key   text NOT NULL,
  policy_id    text,
  drug_key     text NOT NULL,
  order_key    text,
  status       text NOT NULL CHECK (status IN ('approved', 'pended', 'denied', 'cancelled')),
  start_date   date,
  end_date     date,
  decision_id  uuid REFERENCES decisions (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- An approval always says for how long.
  CONSTRAINT authorizations_approved_has_period
    CHECK (status <> 'approved' OR (start_date IS NOT NULL AND end_date IS NOT NULL)),
  CONSTRAINT authorizations_period_order CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);
CREATE INDEX authorizations_member_drug_idx ON authorizations (member_key, drug_key, seq DESC);
CREATE INDEX authorizations_order_idx ON authorizations (order_key, seq DESC) WHERE order_key IS NOT NULL;

CREATE TABLE claims (
  id                    text PRIMARY KEY,
  seq                   bigint GENERATED ALWAYS AS IDENTITY,
  identifier_system     text,
  identifier_value      text,
  patient_key           text,
  payer_id              text,
  policy_id             text,
  -- Claim.status as received; `outcome` is what we decided.
  status                text NOT NULL,
  outcome               text CHECK (outcome IN ('approve', 'pend', 'deny')),
  claim                 jsonb NOT NULL,
  request_bundle        jsonb NOT NULL,
  claim_response_id     text NOT NULL UNIQUE,
  claim_response        jsonb NOT NULL,
  response_bundle       jsonb NOT NULL,
  decision_id           uuid REFERENCES decisions (id),
  authorization_number  text REFERENCES authorizations (number),
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_identifier_idx ON claims (identifier_value, identifier_system);
-- Finds a claim by any of its identifiers, not only the first.
CREATE INDEX claims_identifiers_gin ON claims USING gin ((claim -> 'identifier') jsonb_path_ops);

CREATE TABLE coverage_assertions (
  id                    uuid PRIMARY KEY,
  seq                   bigint GENERATED ALWAYS AS IDENTITY,
  hook_instance         text NOT NULL,
  policy_id             text,
  order_key             text,
  patient_key           text,
  decision_id           uuid REFERENCES decisions (id),
  questionnaire         text,
  authorization_number  text REFERENCES authorizations (number),
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coverage_assertions_order_idx ON coverage_assertions (order_key, seq DESC) WHERE order_key IS NOT NULL;

CREATE TABLE cds_feedback (
  id          uuid PRIMARY KEY,
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  service_id  text NOT NULL,
  feedback    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cds_feedback_service_idx ON cds_feedback (service_id, seq DESC);

-- Operational audit trail. Deliberately no PHI: no names, birth dates, addresses or free text
-- about the patient; patient data is reachable only through the opaque ids in other tables.
CREATE TABLE audit_events (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id     text NOT NULL,
  action         text NOT NULL,
  actor          text,
  hook_instance  text,
  payer_id       text,
  policy_id      text,
  outcome        text,
  latency_ms     integer,
  status         integer,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_created_idx ON audit_events (created_at DESC);
