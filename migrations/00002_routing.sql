-- +goose Up
-- Routing: one customer record per person, the identities (channel,
-- address) that reach them, cross-channel conversations, opt-outs and the
-- per-account routing settings. The routing package owns the rules; these
-- tables are its memory.

-- Account-level routing settings (quiet hours, conversation inactivity,
-- opt-out keywords, default senders per channel) as one JSON document: read
-- together, changed rarely.
ALTER TABLE accounts ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';

CREATE TABLE customers (
    id                uuid PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name              text NOT NULL DEFAULT '',
    email             text NOT NULL DEFAULT '',
    locale            text NOT NULL DEFAULT '',
    timezone          text NOT NULL DEFAULT '',
    attributes        jsonb NOT NULL DEFAULT '{}',
    preferred_channel text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_account ON customers (account_id, id DESC);

-- An identity is one way to reach a customer: (channel, address) with the
-- address normalised per channel. It is unique per account, so two
-- concurrent first contacts from the same address resolve to one row and
-- one customer.
CREATE TABLE identities (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    customer_id     uuid NOT NULL REFERENCES customers(id),
    channel         text NOT NULL,
    address         text NOT NULL,
    -- our address the customer last wrote to on this identity: the sender
    -- a reply on this channel goes out from.
    last_inbound_to text,
    last_inbound_at timestamptz,
    last_seen_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, channel, address)
);
CREATE INDEX identities_customer ON identities (customer_id);
-- Phone numbers are shared across sms, whatsapp and voice: a new identity
-- on one of them joins the customer that already has the number on another.
CREATE INDEX identities_address ON identities (account_id, address);

-- One open conversation per customer (the partial unique index), spanning
-- every channel it used.
CREATE TABLE conversations (
    id                   uuid PRIMARY KEY,
    account_id           uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    customer_id          uuid NOT NULL REFERENCES customers(id),
    status               text NOT NULL DEFAULT 'open', -- open | closed
    channels             text[] NOT NULL DEFAULT '{}',
    current_channel      text NOT NULL,
    -- the channel the customer last wrote on: where a reply without a
    -- channel goes
    last_inbound_channel text,
    last_activity_at     timestamptz NOT NULL,
    closed_at            timestamptz,
    closed_reason        text, -- inactivity | api | merged
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX conversations_one_open ON conversations (customer_id) WHERE status = 'open';
CREATE INDEX conversations_account ON conversations (account_id, id DESC);
CREATE INDEX conversations_customer ON conversations (customer_id, id DESC);
-- The idle sweeper closes open conversations past the inactivity period.
CREATE INDEX conversations_idle ON conversations (last_activity_at) WHERE status = 'open';

-- Customer-level events for the timeline and webhooks: customer.created,
-- customer.merged, conversation.opened, conversation.closed,
-- customer.opted_out, customer.opted_in.
CREATE TABLE customer_events (
    id              uuid PRIMARY KEY, -- UUIDv7: id order is time order
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    customer_id     uuid NOT NULL,
    conversation_id uuid,
    type            text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_events_customer ON customer_events (customer_id, id DESC);

-- A merge leaves a forwarding record so that repeating it (or an old id in
-- a client's hands) resolves to the surviving customer.
CREATE TABLE customer_merges (
    account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    from_customer_id uuid NOT NULL,
    into_customer_id uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, from_customer_id)
);
CREATE INDEX customer_merges_into ON customer_merges (account_id, into_customer_id);

-- Opted-out identities. Keyed by (channel, address) rather than by
-- identity row, so an operator can opt out an address never seen before.
CREATE TABLE opt_outs (
    account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    channel     text NOT NULL,
    address     text NOT NULL,
    customer_id uuid,
    source      text NOT NULL, -- keyword | api | provider
    keyword     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, channel, address)
);
CREATE INDEX opt_outs_account ON opt_outs (account_id, created_at DESC);

-- Messages attach to a customer and a conversation. routing records how an
-- automatic channel was chosen; a failover parent (provider 'failover')
-- carries its plan and state in failover, and its steps point back to it
-- with parent_id.
ALTER TABLE messages
    ADD COLUMN customer_id     uuid REFERENCES customers(id),
    ADD COLUMN conversation_id uuid REFERENCES conversations(id),
    ADD COLUMN category        text,
    ADD COLUMN routing         jsonb,
    ADD COLUMN parent_id       uuid,
    ADD COLUMN failover        jsonb,
    ADD COLUMN deferred_until  timestamptz;
CREATE INDEX messages_customer ON messages (customer_id, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, id) WHERE conversation_id IS NOT NULL;
CREATE INDEX messages_parent ON messages (parent_id) WHERE parent_id IS NOT NULL;
-- Failover parents waiting for their next check.
CREATE INDEX messages_failover_due ON messages (next_attempt_at)
    WHERE provider = 'failover' AND status IN ('accepted', 'queued', 'sending', 'sent');

-- +goose Down
DROP INDEX messages_failover_due;
DROP INDEX messages_parent;
DROP INDEX messages_conversation;
DROP INDEX messages_customer;
ALTER TABLE messages
    DROP COLUMN deferred_until, DROP COLUMN failover, DROP COLUMN parent_id, DROP COLUMN routing,
    DROP COLUMN category, DROP COLUMN conversation_id, DROP COLUMN customer_id;
DROP TABLE opt_outs;
DROP TABLE customer_merges;
DROP TABLE customer_events;
DROP TABLE conversations;
DROP TABLE identities;
DROP TABLE customers;
ALTER TABLE accounts DROP COLUMN settings;
