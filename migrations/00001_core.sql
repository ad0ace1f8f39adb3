-- +goose Up
CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    -- signs deliveries to per-message status_callback_url targets
    callback_secret text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as SHA-256 of a 256-bit random secret: the key itself
-- is shown once and cannot be recovered from the table.
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE messages (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    channel             text NOT NULL,
    direction           text NOT NULL,
    from_addr           text NOT NULL,
    to_addr             text NOT NULL,
    body                text NOT NULL,
    media_urls          jsonb NOT NULL DEFAULT '[]',
    metadata            jsonb NOT NULL DEFAULT '{}',
    status              text NOT NULL,
    status_callback_url text,
    encoding            text,
    segments            int,
    provider            text NOT NULL DEFAULT '',
    provider_message_id text,
    error_code          text,
    error_message       text,
    attempts            int NOT NULL DEFAULT 0,
    sequence            int NOT NULL DEFAULT 1,
    -- when the message is next due for a delivery attempt (retry or throttle);
    -- the sweeper leaves messages alone until then.
    next_attempt_at     timestamptz,
    -- a worker that claimed the message for sending holds it until then;
    -- after that another worker may take over (the first one died).
    lease_until         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- Listing is newest first per account; ids are UUIDv7 so id order is time order.
CREATE INDEX messages_account_id ON messages (account_id, id DESC);
CREATE INDEX messages_account_to ON messages (account_id, to_addr, id DESC);
-- The sweeper scans only unfinished outbound messages.
CREATE INDEX messages_pending ON messages (updated_at)
    WHERE status IN ('accepted', 'queued', 'sending');
CREATE INDEX messages_provider_id ON messages (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

CREATE TABLE message_events (
    message_id    uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    sequence      int NOT NULL,
    status        text NOT NULL,
    error_code    text,
    error_message text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, sequence)
);

CREATE TABLE idempotency_keys (
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    message_id      uuid NOT NULL,
    response_status int NOT NULL,
    response_body   bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);

CREATE TABLE webhook_endpoints (
    id                          uuid PRIMARY KEY,
    account_id                  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url                         text NOT NULL,
    events                      text[] NOT NULL,
    description                 text NOT NULL DEFAULT '',
    enabled                     boolean NOT NULL DEFAULT true,
    disabled_reason             text,
    secret                      text NOT NULL,
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, id DESC);

-- One row per (event, endpoint): the outbox the webhook queue drains. The id
-- is the webhook-id header, stable across retries. A message event is
-- stored by reference (message_id, sequence) and rendered when sent, from
-- the message row and that event, so a status change and its fan-out are
-- one INSERT; other events carry their payload.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint_id     uuid REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    url             text NOT NULL,
    event_type      text NOT NULL,
    message_id      uuid,
    sequence        int,
    payload         bytea,
    status          text NOT NULL DEFAULT 'pending', -- pending | delivered | failed | discarded
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id           uuid PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id  uuid REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    account_id   uuid NOT NULL,
    event_type   text NOT NULL,
    attempt      int NOT NULL,
    status_code  int,
    error        text,
    duration_ms  int NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id DESC);

CREATE TABLE sandbox_rules (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    channel         text,
    to_addr         text,
    from_addr       text,
    outcome         text,
    delay_ms        int,
    rate_per_second double precision,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- PUT replaces the rule for the same (channel, to, from).
CREATE UNIQUE INDEX sandbox_rules_key ON sandbox_rules
    (account_id, coalesce(channel, ''), coalesce(to_addr, ''), coalesce(from_addr, ''));

-- What the sandbox carrier received: every attempt, so a duplicate send shows.
CREATE TABLE sandbox_submissions (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL,
    message_id          uuid NOT NULL,
    channel             text NOT NULL,
    from_addr           text NOT NULL,
    to_addr             text NOT NULL,
    body                text NOT NULL,
    attempt             int NOT NULL,
    result              text NOT NULL,
    provider_message_id text,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_submissions_message ON sandbox_submissions (message_id, created_at);

-- +goose Down
DROP TABLE sandbox_submissions;
DROP TABLE sandbox_rules;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE idempotency_keys;
DROP TABLE message_events;
DROP TABLE messages;
DROP TABLE api_keys;
DROP TABLE accounts;
