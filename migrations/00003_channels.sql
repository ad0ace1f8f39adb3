-- +goose Up
-- Connected provider accounts. Credentials are sealed (AES-256-GCM under
-- SWITCHBOARD_MASTER_KEY, bound to the row id) by the store before they
-- reach this table; only a masked hint is kept in the clear.
CREATE TABLE channels (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type             text NOT NULL,
    name             text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'active', -- active | disabled
    senders          jsonb NOT NULL DEFAULT '[]',
    config           jsonb NOT NULL DEFAULT '{}',
    credentials      bytea NOT NULL,
    credentials_hint jsonb NOT NULL DEFAULT '{}',
    -- the unguessable part of the inbound URL /hooks/{id}/{secret}, sealed
    -- like the credentials (providers are given it, so it is a secret)
    hook_secret      bytea NOT NULL,
    webhook_status   text NOT NULL DEFAULT 'manual', -- registered | manual | failed
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_account ON channels (account_id, id DESC);

-- The connected channel a message goes out on (NULL: the sandbox).
ALTER TABLE messages ADD COLUMN channel_id uuid REFERENCES channels(id) ON DELETE SET NULL;

-- Providers retry webhooks: an inbound message is stored once per provider
-- message id.
CREATE UNIQUE INDEX messages_inbound_dedup ON messages (account_id, provider, provider_message_id)
    WHERE direction = 'inbound' AND provider_message_id IS NOT NULL;

-- +goose Down
DROP INDEX messages_inbound_dedup;
ALTER TABLE messages DROP COLUMN channel_id;
DROP TABLE channels;
