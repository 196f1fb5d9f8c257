-- PAS Subscriptions (R4 Subscriptions backport) and their per-subscription notifications.
-- `claim_events` (008) is the outbox source; the dispatcher fans each event out into one
-- `subscription_notifications` row per matching subscription, in one transaction, and marks it dispatched.

CREATE TABLE subscriptions (
  id                  text PRIMARY KEY,
  seq                 bigint GENERATED ALWAYS AS IDENTITY,
  -- The SMART client's organization (`system|value`) that owns it; null when created in open mode.
  owner               text,
  status              text NOT NULL CHECK (status IN ('requested', 'active', 'error', 'off')),
  topic               text NOT NULL,
  -- orgIdentifier filter: the value, with its system when the filter gave one (`system|value`).
  filter_system       text,
  filter_value        text NOT NULL,
  endpoint            text NOT NULL,
  -- `channel.header` lines, sent as HTTP headers.
  headers             jsonb NOT NULL DEFAULT '[]',
  resource            jsonb NOT NULL,
  -- Events numbered since the subscription started; the last number handed out.
  events_since_start  bigint NOT NULL DEFAULT 0,
  last_error          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_active_idx ON subscriptions (topic, filter_value) WHERE status = 'active';
CREATE INDEX subscriptions_owner_idx ON subscriptions (owner, seq);

CREATE TABLE subscription_notifications (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subscription_id  text NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
  event_number     bigint NOT NULL,
  claim_event_id   bigint NOT NULL,
  claim_id         text NOT NULL,
  claim_version    int NOT NULL,
  event_at         timestamptz NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         int NOT NULL DEFAULT 0,
  -- Due time of the next attempt; while a sender holds it, the end of its lease.
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (subscription_id, event_number),
  -- An outbox event reaches a subscription once, whatever happens to the dispatcher.
  UNIQUE (subscription_id, claim_event_id)
);
CREATE INDEX subscription_notifications_due_idx ON subscription_notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX subscription_notifications_sub_idx ON subscription_notifications (subscription_id, event_number) WHERE status = 'pending';
