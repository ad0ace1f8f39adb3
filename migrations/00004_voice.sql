-- +goose Up
-- Voice: versioned bot flows, calls with their status events, bot sessions
-- (one run of a flow, which may move from a call to a chat) and their
-- transcripts. Calls, sessions and transcript entries belong to a customer
-- and a conversation like messages do.

-- Every upload of a flow is a new row; running sessions pin the version
-- they started on, so old versions are never changed. A delete marks every
-- version of the flow.
CREATE TABLE flows (
    id          uuid NOT NULL,
    account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    version     int NOT NULL,
    name        text NOT NULL DEFAULT '',
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    PRIMARY KEY (id, version)
);
-- Listing reads the latest version of each live flow, newest flow first.
CREATE INDEX flows_account ON flows (account_id, id DESC, version DESC) WHERE deleted_at IS NULL;

CREATE TABLE calls (
    id                  uuid PRIMARY KEY, -- UUIDv7: id order is time order
    account_id          uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- NULL once the customer is deleted: the call stays as history
    customer_id         uuid REFERENCES customers(id),
    conversation_id     uuid REFERENCES conversations(id),
    direction           text NOT NULL,
    channel             text NOT NULL,
    from_addr           text NOT NULL,
    to_addr             text NOT NULL,
    status              text NOT NULL CHECK (status IN
        ('queued', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled')),
    provider            text NOT NULL DEFAULT '',
    channel_id          uuid REFERENCES channels(id) ON DELETE SET NULL,
    provider_call_id    text,
    flow_id             uuid,
    flow_version        int,
    flow                jsonb, -- an inline flow given with the call
    -- not foreign keys: a session and its call point at each other, and
    -- transcript writes must not queue behind a locked row
    session_id          uuid,
    parent_call_id      uuid,
    callback_id         uuid,
    status_callback_url text,
    record              boolean NOT NULL DEFAULT false,
    timeout             int NOT NULL DEFAULT 0,
    machine_detection   text,
    answered_by         text,
    answered_at         timestamptz,
    ended_at            timestamptz,
    duration            int NOT NULL DEFAULT 0,
    hangup_by           text,
    recording_url       text,
    error_code          text,
    error_message       text,
    sequence            int NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_account ON calls (account_id, id DESC);
CREATE INDEX calls_account_status ON calls (account_id, status, id DESC);
-- The customer timeline and customer filter; the conversation index also
-- serves detaching a deleted customer's conversations.
CREATE INDEX calls_customer ON calls (customer_id, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX calls_conversation ON calls (conversation_id, id) WHERE conversation_id IS NOT NULL;
-- A provider's callbacks name the call by its own id on a channel.
CREATE UNIQUE INDEX calls_channel_provider_id ON calls (channel_id, provider_call_id) WHERE provider_call_id IS NOT NULL;
CREATE INDEX calls_provider_id ON calls (provider, provider_call_id) WHERE provider_call_id IS NOT NULL;
-- The legs dialled from a call (transfer) and the legs of a callback.
CREATE INDEX calls_parent ON calls (parent_call_id, id DESC) WHERE parent_call_id IS NOT NULL;
CREATE INDEX calls_callback ON calls (callback_id, id DESC) WHERE callback_id IS NOT NULL;
-- Calls accepted but never dialled (Redis was down): the sweeper's scan.
CREATE INDEX calls_undialled ON calls (updated_at) WHERE status = 'queued' AND provider_call_id IS NULL;

CREATE TABLE call_events (
    call_id     uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    sequence    int NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, sequence)
);

CREATE TABLE bot_sessions (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    customer_id     uuid REFERENCES customers(id),
    conversation_id uuid REFERENCES conversations(id),
    flow_id         uuid,
    flow_version    int NOT NULL DEFAULT 0,
    call_id         uuid,
    channel         text NOT NULL,
    channel_id      uuid REFERENCES channels(id) ON DELETE SET NULL,
    address         text NOT NULL DEFAULT '',
    sender          text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('active', 'waiting', 'suspended', 'ended')),
    resume_on       text[] NOT NULL DEFAULT '{}',
    state           jsonb,
    seq             int NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- The session an inbound message continues: the conversation's newest one
-- not ended. Not partial, so detaching a deleted customer's conversations
-- finds ended sessions too.
CREATE INDEX bot_sessions_conversation ON bot_sessions (conversation_id, id DESC) WHERE conversation_id IS NOT NULL;
-- A customer's resumable sessions, most recently active first.
CREATE INDEX bot_sessions_customer_open ON bot_sessions (customer_id, updated_at DESC) WHERE status <> 'ended';
-- Merges and deletes move every session of a customer.
CREATE INDEX bot_sessions_customer ON bot_sessions (customer_id) WHERE customer_id IS NOT NULL;

-- What the bot said and what it heard, in order (UUIDv7 ids, monotonic per
-- batch). session_id and call_id are not foreign keys: appending must not
-- wait for a session or call row locked by its own update.
CREATE TABLE transcript_entries (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id      uuid NOT NULL,
    call_id         uuid,
    customer_id     uuid REFERENCES customers(id),
    conversation_id uuid REFERENCES conversations(id),
    channel         text NOT NULL,
    role            text NOT NULL,
    kind            text NOT NULL,
    text            text NOT NULL DEFAULT '',
    step_id         text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transcript_entries_call ON transcript_entries (call_id, id) WHERE call_id IS NOT NULL;
CREATE INDEX transcript_entries_session ON transcript_entries (session_id, id);
CREATE INDEX transcript_entries_customer ON transcript_entries (customer_id, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX transcript_entries_conversation ON transcript_entries (conversation_id, id) WHERE conversation_id IS NOT NULL;

-- Who took the conversation over from the bot (an operator), if anyone.
ALTER TABLE conversations ADD COLUMN agent text;

-- +goose Down
ALTER TABLE conversations DROP COLUMN agent;
DROP TABLE transcript_entries;
DROP TABLE bot_sessions;
DROP TABLE call_events;
DROP TABLE calls;
DROP TABLE flows;
