package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

// execQuerier is what both a pool and a transaction offer.
type execQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// recordEvent stores a customer-level event for the timeline and, for the
// announced types, one webhook delivery per subscribed endpoint carrying
// data as its payload. It returns the deliveries to enqueue after commit.
func (db *DB) recordEvent(ctx context.Context, q execQuerier, ev sb.CustomerEvent, data any) ([]string, error) {
	if ev.ID == "" {
		ev.ID = newID()
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = db.now()
	}
	if len(ev.Data) == 0 {
		ev.Data = json.RawMessage("{}")
	}
	payload, err := sb.EventPayload(ev.Type, data, ev.CreatedAt)
	if err != nil {
		return nil, err
	}
	var ids []string
	err = q.QueryRow(ctx, `WITH ev AS (
			INSERT INTO customer_events (id, account_id, customer_id, conversation_id, type, data, created_at)
			VALUES ($1, $2, $3, NULLIF($4, '')::uuid, $5, $6, $7)),
		dl AS (
			INSERT INTO webhook_deliveries (id, account_id, endpoint_id, url, event_type, payload, created_at, next_attempt_at)
			SELECT gen_random_uuid(), e.account_id, e.id, e.url, $5, $8, $7, $7 FROM webhook_endpoints e
			WHERE e.account_id = $2 AND e.enabled AND ($5 = ANY(e.events) OR '*' = ANY(e.events))
			RETURNING id)
		SELECT coalesce(array_agg(id::text), '{}') FROM dl`,
		ev.ID, ev.AccountID, ev.CustomerID, ev.ConversationID, ev.Type, []byte(ev.Data), ev.CreatedAt, payload).Scan(&ids)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", ev.Type, err)
	}
	return ids, nil
}

// AccountSettings returns the account's stored routing settings (without
// defaults).
func (db *DB) AccountSettings(ctx context.Context, accountID string) (sb.AccountSettings, error) {
	var raw []byte
	err := db.pool.QueryRow(ctx, `SELECT settings FROM accounts WHERE id = $1`, accountID).Scan(&raw)
	if err != nil {
		return sb.AccountSettings{}, notFound(err)
	}
	var s sb.AccountSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		return sb.AccountSettings{}, fmt.Errorf("decode settings: %w", err)
	}
	return s, nil
}

// PutAccountSettings replaces the account's routing settings.
func (db *DB) PutAccountSettings(ctx context.Context, accountID string, s sb.AccountSettings) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE accounts SET settings = $2 WHERE id = $1`, accountID, raw)
	if err != nil {
		return fmt.Errorf("store settings: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return sb.ErrNotFound
	}
	return nil
}

// matchKey is what concurrent first contacts of one person serialise on:
// the phone number for every phone channel (so sms and whatsapp from the
// same number make one customer), else the channel's own address.
func matchKey(accountID string, ch sb.Channel, address string) string {
	if ch.UsesPhoneNumbers() {
		return accountID + "/tel:" + address
	}
	return accountID + "/" + string(ch) + ":" + address
}

// ResolveIdentity finds the customer (ch, address) belongs to. The common
// case is one indexed read. On first contact it creates the identity and,
// unless a phone channel already knows the number, the customer, under a
// transaction-scoped advisory lock on the person's match key: concurrent
// first contacts queue on the lock, and the second finds the first's rows.
// The identity's unique constraint backs the lock up.
func (db *DB) ResolveIdentity(ctx context.Context, accountID string, ch sb.Channel, address string) (sb.Resolution, error) {
	var res sb.Resolution
	err := routing.Retry(ctx, func() error {
		var err error
		res, _, err = db.resolveIdentity(ctx, accountID, ch, address, nil)
		return err
	})
	return res, err
}

// Attach resolves an interaction's identity and joins its conversation. For
// a known identity with an open, recent conversation — nearly every
// interaction — that is one statement, which writes the conversation and
// identity rows only when something visible changes (a new channel, an
// inbound message) or their activity time is more than a hundredth of the
// inactivity period old. An opted-out identity joins nothing: the send will
// be refused.
func (db *DB) Attach(ctx context.Context, a routing.AttachRequest) (sb.Resolution, sb.Join, error) {
	var res sb.Resolution
	var join sb.Join
	err := routing.Retry(ctx, func() error {
		var err error
		res, join, err = db.attach(ctx, a)
		return err
	})
	return res, join, err
}

func (db *DB) attach(ctx context.Context, a routing.AttachRequest) (sb.Resolution, sb.Join, error) {
	var res sb.Resolution
	var join sb.Join
	at := a.At.UTC().Truncate(time.Microsecond)
	inbound := a.Direction == sb.Inbound
	var conv *string
	var lastIn *time.Time
	err := db.fast.QueryRow(ctx, `WITH i AS (
			SELECT i.id, i.customer_id, coalesce(i.last_inbound_to, '') AS lit, i.last_seen_at, i.last_inbound_at,
				EXISTS (SELECT 1 FROM opt_outs o WHERE o.account_id = i.account_id AND o.channel = i.channel AND o.address = i.address) AS opted
			FROM identities i WHERE i.account_id = $1 AND i.channel = $2 AND i.address = $3),
		c AS (
			SELECT c.id, c.last_activity_at, c.current_channel, c.channels, c.last_inbound_channel
			FROM conversations c JOIN i ON c.customer_id = i.customer_id
			-- Not locked: an interaction racing a close may join the
			-- conversation as it closes (as it would a moment earlier);
			-- locking it cost 15-20 % of accepts (docs/PERFORMANCE.md).
			WHERE NOT i.opted AND c.status = 'open' AND c.last_activity_at > $4::timestamptz - $7::interval),
		cu AS (
			UPDATE conversations SET last_activity_at = greatest(conversations.last_activity_at, $4), updated_at = $4, current_channel = $2,
				channels = CASE WHEN $2 = ANY(conversations.channels) THEN conversations.channels ELSE conversations.channels || $2::text END,
				last_inbound_channel = CASE WHEN $5 THEN $2 ELSE conversations.last_inbound_channel END
			FROM c WHERE conversations.id = c.id AND conversations.status = 'open'
			  AND (c.last_activity_at < $4::timestamptz - $7::interval / 100 OR c.current_channel <> $2 OR NOT $2 = ANY(c.channels)
			       OR ($5 AND c.last_inbound_channel IS DISTINCT FROM $2))
			RETURNING conversations.id),
		-- Reading cu in its condition makes the conversation update run
		-- (and lock) before the identity's: every path locks conversation,
		-- then identity, so concurrent first contacts cannot deadlock.
		iu AS (
			UPDATE identities SET last_seen_at = $4,
				last_inbound_at = CASE WHEN $5 THEN $4 ELSE identities.last_inbound_at END,
				last_inbound_to = CASE WHEN $5 AND $6 <> '' THEN $6 ELSE identities.last_inbound_to END
			FROM i WHERE identities.id = i.id AND EXISTS (SELECT 1 FROM c) AND (SELECT count(*) FROM cu) >= 0
			  AND ($5 OR i.last_seen_at IS NULL OR i.last_seen_at < $4::timestamptz - $7::interval / 100))
		SELECT i.id, i.customer_id, i.opted, i.lit, i.last_inbound_at, (SELECT c.id::text FROM c LIMIT 1) FROM i`,
		a.AccountID, a.Channel, a.Address, at, inbound, a.InboundTo, a.Idle).Scan(&res.IdentityID, &res.CustomerID, &res.OptedOut, &res.LastInboundTo, &lastIn, &conv)
	if lastIn != nil {
		res.LastInboundAt = *lastIn
	}
	jr := routing.JoinRequest{AccountID: a.AccountID, Channel: a.Channel, Direction: a.Direction, InboundTo: a.InboundTo, At: at, Idle: a.Idle}
	switch {
	case err == nil && res.OptedOut:
		return res, join, nil
	case err == nil && conv != nil:
		join.ConversationID = *conv
		return res, join, nil
	case err == nil:
		jr.CustomerID, jr.IdentityID = res.CustomerID, res.IdentityID
		join, err = db.joinSlow(ctx, jr)
		return res, join, err
	case !errors.Is(err, pgx.ErrNoRows):
		return res, join, customerGone(fmt.Errorf("attach: %w", err))
	}
	// First contact: the customer, identity and conversation in one
	// transaction where the customer is new.
	res, joined, err := db.resolveIdentity(ctx, a.AccountID, a.Channel, a.Address, &jr)
	if err != nil || res.OptedOut {
		return res, sb.Join{}, err
	}
	if joined != nil {
		return res, *joined, nil
	}
	jr.CustomerID, jr.IdentityID = res.CustomerID, res.IdentityID
	join, err = db.JoinConversation(ctx, jr)
	return res, join, err
}

const identityLookup = `SELECT i.id, i.customer_id,
		EXISTS (SELECT 1 FROM opt_outs o WHERE o.account_id = i.account_id AND o.channel = i.channel AND o.address = i.address),
		coalesce(i.last_inbound_to, '')
	FROM identities i WHERE i.account_id = $1 AND i.channel = $2 AND i.address = $3`

// resolveIdentity is ResolveIdentity; with join set, a customer it creates
// also gets its first conversation in the same transaction (returned;
// nil when the customer already existed).
func (db *DB) resolveIdentity(ctx context.Context, accountID string, ch sb.Channel, address string, join *routing.JoinRequest) (sb.Resolution, *sb.Join, error) {
	var res sb.Resolution
	if join == nil { // Attach has just looked
		err := db.fast.QueryRow(ctx, identityLookup, accountID, ch, address).Scan(&res.IdentityID, &res.CustomerID, &res.OptedOut, &res.LastInboundTo)
		if err == nil {
			return res, nil, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return res, nil, fmt.Errorf("find identity: %w", err)
		}
	}
	tx, err := db.fast.Begin(ctx)
	if err != nil {
		return res, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, matchKey(accountID, ch, address)); err != nil {
		return res, nil, fmt.Errorf("lock identity: %w", err)
	}
	err = tx.QueryRow(ctx, identityLookup, accountID, ch, address).Scan(&res.IdentityID, &res.CustomerID, &res.OptedOut, &res.LastInboundTo)
	if err == nil {
		return res, nil, nil // created by whoever held the lock before us
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return res, nil, fmt.Errorf("find identity: %w", err)
	}
	now := db.now()
	if ch.UsesPhoneNumbers() {
		err = tx.QueryRow(ctx, `SELECT customer_id FROM identities WHERE account_id = $1 AND address = $2
			AND channel IN ('sms', 'whatsapp', 'voice') ORDER BY created_at LIMIT 1`, accountID, address).Scan(&res.CustomerID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return res, nil, fmt.Errorf("find number: %w", err)
		}
	}
	if res.CustomerID == "" {
		c := &sb.Customer{ID: newID(), AccountID: accountID, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.Exec(ctx, `INSERT INTO customers (id, account_id, created_at, updated_at) VALUES ($1, $2, $3, $3)`,
			c.ID, accountID, now); err != nil {
			return res, nil, fmt.Errorf("create customer: %w", err)
		}
		res.CustomerID, res.CustomerCreated = c.ID, true
		c.Identities = []sb.Identity{{Channel: ch, Address: address, CreatedAt: now}}
		if res.Deliveries, err = db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: accountID, CustomerID: c.ID, Type: sb.EventCustomerCreated,
			Data: mustJSON(map[string]any{"channel": ch, "address": address}), CreatedAt: now}, c); err != nil {
			return res, nil, err
		}
	}
	res.IdentityID = newID()
	if _, err := tx.Exec(ctx, `INSERT INTO identities (id, account_id, customer_id, channel, address, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		res.IdentityID, accountID, res.CustomerID, ch, address, now); err != nil {
		return res, nil, customerGone(fmt.Errorf("create identity: %w", err))
	}
	// An opt-out outlives the identity it was made on (a deleted customer,
	// a removed identity): a new identity for that address starts opted out.
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM opt_outs WHERE account_id = $1 AND channel = $2 AND address = $3)`,
		accountID, ch, address).Scan(&res.OptedOut); err != nil {
		return res, nil, fmt.Errorf("check opt-out: %w", err)
	}
	var joined *sb.Join
	if join != nil && res.CustomerCreated && !res.OptedOut {
		j := *join
		j.CustomerID, j.IdentityID = res.CustomerID, res.IdentityID
		opened, err := db.openConversation(ctx, tx, j, false)
		if err != nil {
			return res, nil, err
		}
		joined = &opened
	}
	if err := tx.Commit(ctx); err != nil {
		return res, nil, customerGone(fmt.Errorf("commit identity: %w", err))
	}
	return res, joined, nil
}

// lockCustomer takes a FOR KEY SHARE lock on a customer for the rest of
// the transaction, the lock a foreign key would take, or returns
// sb.ErrCustomerGone when a merge or delete removed it.
func lockCustomer(ctx context.Context, tx pgx.Tx, accountID, customerID string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM customers WHERE id = $1 AND account_id = $2 FOR KEY SHARE`, customerID, accountID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return sb.ErrCustomerGone
	}
	if err != nil {
		return fmt.Errorf("lock customer: %w", err)
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// JoinConversation attaches an interaction to the customer's open
// conversation. The common case is one statement: bump the open
// conversation if it is not idle (and note the interaction on the
// identity). Otherwise a transaction closes the idle one and opens a new
// one; the partial unique index on open conversations makes a concurrent
// opener join the same row.
func (db *DB) JoinConversation(ctx context.Context, j routing.JoinRequest) (sb.Join, error) {
	var out sb.Join
	at := j.At.UTC().Truncate(time.Microsecond)
	inbound := j.Direction == sb.Inbound
	// Conversation first, then identity, as everywhere (see Attach).
	err := db.fast.QueryRow(ctx, `WITH cu AS (
			UPDATE conversations SET last_activity_at = greatest(last_activity_at, $4), updated_at = $4, current_channel = $3,
				channels = CASE WHEN $3 = ANY(channels) THEN channels ELSE channels || $3::text END,
				last_inbound_channel = CASE WHEN $5 THEN $3 ELSE last_inbound_channel END
			WHERE customer_id = $2 AND account_id = $1 AND status = 'open' AND last_activity_at > $4::timestamptz - $8::interval
			RETURNING id),
		idn AS (
			UPDATE identities SET last_seen_at = $4,
				last_inbound_at = CASE WHEN $5 THEN $4 ELSE last_inbound_at END,
				last_inbound_to = CASE WHEN $5 AND $6 <> '' THEN $6 ELSE last_inbound_to END
			WHERE id = NULLIF($7, '')::uuid AND account_id = $1 AND EXISTS (SELECT 1 FROM cu))
		SELECT id FROM cu`, j.AccountID, j.CustomerID, j.Channel, at, inbound, j.InboundTo, j.IdentityID, j.Idle).Scan(&out.ConversationID)
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return out, customerGone(fmt.Errorf("join conversation: %w", err))
	}
	return db.joinSlow(ctx, j)
}

// joinSlow closes the customer's idle conversation, if any, and opens a
// new one (or joins the one a concurrent caller just opened).
func (db *DB) joinSlow(ctx context.Context, j routing.JoinRequest) (sb.Join, error) {
	j.At = j.At.UTC().Truncate(time.Microsecond)
	tx, err := db.fast.Begin(ctx)
	if err != nil {
		return sb.Join{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// Take the customer's key-share lock first: a merge holding the
	// customer makes us wait here, before we hold any row it will need
	// (otherwise each waits on the other), and a merge that removed it
	// makes us resolve again.
	if err := lockCustomer(ctx, tx, j.AccountID, j.CustomerID); err != nil {
		return sb.Join{}, err
	}
	out, err := db.openConversation(ctx, tx, j, true)
	if err != nil {
		return out, err
	}
	if err := tx.Commit(ctx); err != nil {
		return out, customerGone(fmt.Errorf("commit conversation: %w", err))
	}
	return out, nil
}

// openConversation, inside tx, closes the customer's idle open
// conversation (when closeIdle), opens a new one or joins the open one,
// and notes the interaction on the identity.
func (db *DB) openConversation(ctx context.Context, tx pgx.Tx, j routing.JoinRequest, closeIdle bool) (sb.Join, error) {
	var out sb.Join
	at := j.At.UTC().Truncate(time.Microsecond)
	inbound := j.Direction == sb.Inbound
	if closeIdle {
		closed, err := scanConversations(tx.Query(ctx, `UPDATE conversations SET status = 'closed', closed_at = $3::timestamptz, closed_reason = 'inactivity', updated_at = $3::timestamptz
			WHERE customer_id = $2 AND account_id = $1 AND status = 'open' AND last_activity_at <= $3::timestamptz - $4::interval
			RETURNING `+conversationColumns, j.AccountID, j.CustomerID, at, j.Idle))
		if err != nil {
			return out, customerGone(fmt.Errorf("close idle conversation: %w", err))
		}
		for _, c := range closed {
			d, err := db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: c.AccountID, CustomerID: c.CustomerID, ConversationID: c.ID,
				Type: sb.EventConversationClosed, Data: mustJSON(map[string]string{"reason": "inactivity"}), CreatedAt: at}, c)
			if err != nil {
				return out, err
			}
			out.Deliveries = append(out.Deliveries, d...)
		}
	}
	var inboundCh *sb.Channel
	if inbound {
		inboundCh = &j.Channel
	}
	var opened bool
	var conv *sb.Conversation
	rows, err := tx.Query(ctx, `INSERT INTO conversations (id, account_id, customer_id, status, channels, current_channel,
			last_inbound_channel, last_activity_at, created_at, updated_at)
		VALUES ($1, $2, $3, 'open', ARRAY[$4::text], $4, $5, $6, $6, $6)
		ON CONFLICT (customer_id) WHERE status = 'open' DO UPDATE SET
			last_activity_at = greatest(conversations.last_activity_at, EXCLUDED.last_activity_at), updated_at = EXCLUDED.updated_at,
			current_channel = EXCLUDED.current_channel,
			channels = CASE WHEN EXCLUDED.current_channel = ANY(conversations.channels) THEN conversations.channels
				ELSE conversations.channels || EXCLUDED.current_channel END,
			last_inbound_channel = coalesce(EXCLUDED.last_inbound_channel, conversations.last_inbound_channel)
		RETURNING `+conversationColumns+`, xmax = 0`, newID(), j.AccountID, j.CustomerID, j.Channel, inboundCh, at)
	if err != nil {
		return out, customerGone(fmt.Errorf("open conversation: %w", err))
	}
	for rows.Next() {
		if conv, err = scanConversation(rows, &opened); err != nil {
			rows.Close()
			return out, customerGone(err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, customerGone(fmt.Errorf("open conversation: %w", err))
	}
	if conv == nil {
		return out, fmt.Errorf("open conversation: no row")
	}
	out.ConversationID, out.Opened = conv.ID, opened
	if opened {
		d, err := db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: conv.AccountID, CustomerID: conv.CustomerID, ConversationID: conv.ID,
			Type: sb.EventConversationOpened, Data: mustJSON(map[string]any{"channel": j.Channel, "direction": j.Direction}), CreatedAt: at}, conv)
		if err != nil {
			return out, err
		}
		out.Deliveries = append(out.Deliveries, d...)
	}
	if j.IdentityID != "" {
		if _, err := tx.Exec(ctx, `UPDATE identities SET last_seen_at = $2,
				last_inbound_at = CASE WHEN $3 THEN $2 ELSE last_inbound_at END,
				last_inbound_to = CASE WHEN $3 AND $4 <> '' THEN $4 ELSE last_inbound_to END
			WHERE id = $1`, j.IdentityID, at, inbound, j.InboundTo); err != nil {
			return out, customerGone(fmt.Errorf("note identity: %w", err))
		}
	}
	return out, nil
}

// conversationColumns and scanConversation read a conversation row; the
// message count is computed, not stored, so replays and merges keep it true.
const conversationColumns = `id, account_id, customer_id, status, channels, current_channel,
	coalesce(last_inbound_channel, ''), (SELECT count(*) FROM messages mc WHERE mc.conversation_id = conversations.id AND mc.provider <> 'failover'),
	last_activity_at, closed_at, coalesce(closed_reason, ''), created_at, updated_at, coalesce(agent, '')`

func scanConversation(row pgx.Row, extra ...any) (*sb.Conversation, error) {
	var c sb.Conversation
	var closedAt *time.Time
	var channels []string
	dest := append([]any{&c.ID, &c.AccountID, &c.CustomerID, &c.Status, &channels, &c.CurrentChannel, &c.LastInboundChannel,
		&c.MessageCount, &c.LastActivityAt, &closedAt, &c.ClosedReason, &c.CreatedAt, &c.UpdatedAt, &c.Agent}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	for _, ch := range channels {
		c.Channels = append(c.Channels, sb.Channel(ch))
	}
	if closedAt != nil {
		c.ClosedAt = *closedAt
	}
	return &c, nil
}

// scanConversations reads every row of a conversation query.
func scanConversations(rows pgx.Rows, err error) ([]*sb.Conversation, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sb.Conversation
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// OptOut records that (channel, address) opted out, attaching it to the
// identity's customer when known, with a customer.opted_out event.
// created is false when it was already opted out.
func (db *DB) OptOut(ctx context.Context, o sb.OptOut) (bool, []string, error) {
	return db.changeOptOut(ctx, o, true)
}

// OptIn removes an opt-out; removed is false when there was none. source
// says who asked: keyword (START) or api.
func (db *DB) OptIn(ctx context.Context, accountID string, ch sb.Channel, address, source string) (bool, []string, error) {
	return db.changeOptOut(ctx, sb.OptOut{AccountID: accountID, Channel: ch, Address: address, Source: source}, false)
}

func (db *DB) changeOptOut(ctx context.Context, o sb.OptOut, out bool) (changed bool, deliveries []string, err error) {
	err = routing.Retry(ctx, func() error {
		var err error
		changed, deliveries, err = db.changeOptOutOnce(ctx, o, out)
		return err
	})
	return changed, deliveries, err
}

func (db *DB) changeOptOutOnce(ctx context.Context, o sb.OptOut, out bool) (bool, []string, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	now := db.now()
	var customerID *string
	var tag interface{ RowsAffected() int64 }
	if out {
		t, err := tx.Exec(ctx, `INSERT INTO opt_outs (account_id, channel, address, customer_id, source, keyword, created_at)
			VALUES ($1, $2, $3, coalesce(NULLIF($4, '')::uuid,
				(SELECT customer_id FROM identities WHERE account_id = $1 AND channel = $2 AND address = $3)), $5, NULLIF($6, ''), $7)
			ON CONFLICT DO NOTHING`, o.AccountID, o.Channel, o.Address, o.CustomerID, o.Source, o.Keyword, now)
		if err != nil {
			return false, nil, fmt.Errorf("opt out: %w", err)
		}
		tag = t
	} else {
		t, err := tx.Exec(ctx, `DELETE FROM opt_outs WHERE account_id = $1 AND channel = $2 AND address = $3`, o.AccountID, o.Channel, o.Address)
		if err != nil {
			return false, nil, fmt.Errorf("opt in: %w", err)
		}
		tag = t
	}
	if tag.RowsAffected() == 0 {
		return false, nil, nil
	}
	err = tx.QueryRow(ctx, `SELECT customer_id::text FROM identities WHERE account_id = $1 AND channel = $2 AND address = $3`,
		o.AccountID, o.Channel, o.Address).Scan(&customerID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, nil, fmt.Errorf("find identity: %w", err)
	}
	if customerID != nil {
		// Hold the customer so a concurrent merge cannot leave the event
		// and the opt-out pointing at a removed record.
		if err := lockCustomer(ctx, tx, o.AccountID, *customerID); err != nil {
			return false, nil, err
		}
		if out {
			if _, err := tx.Exec(ctx, `UPDATE opt_outs SET customer_id = $4 WHERE account_id = $1 AND channel = $2 AND address = $3`,
				o.AccountID, o.Channel, o.Address, *customerID); err != nil {
				return false, nil, fmt.Errorf("opt out: %w", err)
			}
		}
	}
	var deliveries []string
	if customerID != nil {
		typ := sb.EventCustomerOptedIn
		if out {
			typ = sb.EventCustomerOptedOut
		}
		o.CustomerID, o.CreatedAt = *customerID, now
		if deliveries, err = db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: o.AccountID, CustomerID: *customerID, Type: typ,
			Data: mustJSON(map[string]any{"channel": o.Channel, "address": o.Address, "source": o.Source, "keyword": o.Keyword}), CreatedAt: now}, &o); err != nil {
			return false, nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, nil, fmt.Errorf("commit opt-out: %w", err)
	}
	return true, deliveries, nil
}

// OptedOutMessages returns which of the given messages go to an opted-out
// identity, so the worker fails them instead of sending.
func (db *DB) OptedOutMessages(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT m.id::text FROM messages m JOIN opt_outs o
			ON o.account_id = m.account_id AND o.channel = m.channel AND o.address = m.to_addr
		WHERE m.id = ANY($1) AND coalesce(m.routing->>'mode', '') <> 'keyword'`, ids)
	if err != nil {
		return nil, fmt.Errorf("check opt-outs: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

const optOutColumns = `account_id, channel, address, coalesce(customer_id::text, ''), source, coalesce(keyword, ''), created_at`

func scanOptOut(row pgx.Row) (*sb.OptOut, error) {
	var o sb.OptOut
	err := row.Scan(&o.AccountID, &o.Channel, &o.Address, &o.CustomerID, &o.Source, &o.Keyword, &o.CreatedAt)
	return &o, err
}

// GetOptOut returns the opt-out of (ch, address).
func (db *DB) GetOptOut(ctx context.Context, accountID string, ch sb.Channel, address string) (*sb.OptOut, error) {
	o, err := scanOptOut(db.pool.QueryRow(ctx, `SELECT `+optOutColumns+` FROM opt_outs WHERE account_id = $1 AND channel = $2 AND address = $3`,
		accountID, ch, address))
	if err != nil {
		return nil, notFound(err)
	}
	return o, nil
}

// ListOptOuts returns the account's opt-outs, newest first. The cursor is
// the last row's (created_at, channel, address), encoded opaquely.
func (db *DB) ListOptOuts(ctx context.Context, accountID string, f sb.OptOutFilter) ([]*sb.OptOut, string, error) {
	type key struct {
		At      time.Time  `json:"t"`
		Channel sb.Channel `json:"c"`
		Address string     `json:"a"`
	}
	after := key{At: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || json.Unmarshal(b, &after) != nil {
			return nil, "", sb.Invalid(sb.FieldError{Field: "cursor", Message: "not a cursor returned by this API"})
		}
	}
	rows, err := db.pool.Query(ctx, `SELECT `+optOutColumns+` FROM opt_outs
		WHERE account_id = $1 AND ($2 = '' OR channel = $2) AND (created_at, channel, address) < ($3, $4, $5)
		ORDER BY created_at DESC, channel DESC, address DESC LIMIT $6`,
		accountID, f.Channel, after.At, after.Channel, after.Address, f.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list opt-outs: %w", err)
	}
	defer rows.Close()
	var out []*sb.OptOut
	for rows.Next() {
		o, err := scanOptOut(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(out) <= f.Limit {
		return out, "", nil
	}
	out = out[:f.Limit]
	last := out[len(out)-1]
	b, _ := json.Marshal(key{last.CreatedAt, last.Channel, last.Address})
	return out, base64.RawURLEncoding.EncodeToString(b), nil
}

// ChannelRoutes lists the account's active connected channels with their
// senders, without opening their credentials: routing only needs to know
// which provider carries which sender.
func (db *DB) ChannelRoutes(ctx context.Context, accountID string) ([]sb.ConnectedChannel, error) {
	rows, err := db.pool.Query(ctx, `SELECT id::text, type, senders FROM channels WHERE account_id = $1 AND status = 'active' ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("channel routes: %w", err)
	}
	defer rows.Close()
	var out []sb.ConnectedChannel
	for rows.Next() {
		var c sb.ConnectedChannel
		var senders []byte
		if err := rows.Scan(&c.ID, &c.Type, &senders); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(senders, &c.Senders); err != nil {
			return nil, fmt.Errorf("decode senders: %w", err)
		}
		c.AccountID, c.Status = accountID, "active"
		out = append(out, c)
	}
	return out, rows.Err()
}
