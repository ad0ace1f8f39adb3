package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

const messageColumns = `id, account_id, channel, direction, from_addr, to_addr, body, media_urls, metadata,
	status, coalesce(status_callback_url, ''), coalesce(encoding, ''), coalesce(segments, 0), provider,
	coalesce(provider_message_id, ''), coalesce(error_code, ''), coalesce(error_message, ''),
	attempts, sequence, created_at, updated_at, coalesce(customer_id::text, ''), coalesce(conversation_id::text, ''),
	coalesce(category, ''), routing, coalesce(parent_id::text, ''), failover, deferred_until, coalesce(channel_id::text, '')`

// scanMessage reads messageColumns, then any extra columns into extra.
func scanMessage(row pgx.Row, extra ...any) (*sb.Message, error) {
	var m sb.Message
	var media, routing, failover []byte
	var deferred *time.Time
	dest := append([]any{&m.ID, &m.AccountID, &m.Channel, &m.Direction, &m.From, &m.To, &m.Text, &media, &m.Metadata,
		&m.Status, &m.StatusCallbackURL, &m.Encoding, &m.Segments, &m.Provider,
		&m.ProviderMessageID, &m.ErrorCode, &m.ErrorMessage, &m.Attempts, &m.Sequence, &m.CreatedAt, &m.UpdatedAt,
		&m.CustomerID, &m.ConversationID, &m.Category, &routing, &m.ParentID, &failover, &deferred, &m.ChannelID}, extra...)
	err := row.Scan(dest...)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(media, &m.MediaURLs); err != nil {
		return nil, fmt.Errorf("decode media_urls: %w", err)
	}
	if err := decodeRouting(&m, routing, failover); err != nil {
		return nil, err
	}
	if deferred != nil {
		m.DeferredUntil = *deferred
	}
	return &m, nil
}

// CreateMessage stores a new outbound or inbound message with its first
// event. With idem set, the insert and the key are committed together: a
// concurrent duplicate waits on the key's row and then gets the original
// answer (or a conflict) instead of a second message. render turns the
// stored message into the response body that later replays return.
func (db *DB) CreateMessage(ctx context.Context, m *sb.Message, idem *sb.Idempotency, render func(*sb.Message) (int, []byte, error)) (*sb.Message, *sb.Replay, []string, error) {
	now := db.now()
	m.CreatedAt, m.UpdatedAt, m.Sequence = now, now, 1
	if len(m.Metadata) == 0 {
		m.Metadata = json.RawMessage("{}")
	}
	typ := m.Status.EventType()
	if idem == nil && typ == "" && db.batch != nil && m.Failover == nil && m.ParentID == "" {
		if err := db.batch.insert(ctx, m); err != nil {
			return nil, nil, nil, err
		}
		return m, nil, nil, nil
	}
	if idem == nil {
		// One statement: one round trip and one commit.
		deliveries, err := insertMessage(ctx, db.pool, m, typ)
		if err != nil {
			return nil, nil, nil, err
		}
		return m, nil, deliveries, nil
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// Claim the key first; a concurrent holder blocks us until it commits.
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (account_id, key, request_hash, message_id, response_status, response_body)
		VALUES ($1, $2, $3, $4, 0, '') ON CONFLICT DO NOTHING`, m.AccountID, idem.Key, idem.RequestHash, m.ID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		tx.Rollback(ctx)
		_, r, err := db.replay(ctx, m.AccountID, idem)
		return nil, r, nil, err
	}
	deliveries, err := insertMessage(ctx, tx, m, typ)
	if err != nil {
		return nil, nil, nil, err
	}
	if idem != nil {
		status, body, err := render(m)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE account_id = $1 AND key = $2`,
			m.AccountID, idem.Key, status, body); err != nil {
			return nil, nil, nil, fmt.Errorf("store idempotent response: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("commit message: %w", err)
	}
	return m, nil, deliveries, nil
}

// decodeRouting fills the message's routing decision and failover plan
// from their jsonb columns (NULL for most messages).
func decodeRouting(m *sb.Message, routing, failover []byte) error {
	if len(routing) > 0 {
		m.Routing = new(sb.RoutingDecision)
		if err := json.Unmarshal(routing, m.Routing); err != nil {
			return fmt.Errorf("decode routing: %w", err)
		}
	}
	if len(failover) > 0 {
		m.Failover = new(sb.FailoverPlan)
		if err := json.Unmarshal(failover, m.Failover); err != nil {
			return fmt.Errorf("decode failover: %w", err)
		}
	}
	return nil
}

// routingColumns encodes the routing decision and failover plan for their
// jsonb columns, nil (NULL) when unset.
func routingColumns(m *sb.Message) (routing, failover []byte) {
	if m.Routing != nil {
		routing, _ = json.Marshal(m.Routing)
	}
	if m.Failover != nil {
		failover, _ = json.Marshal(m.Failover)
	}
	return routing, failover
}

// nullTime is t, or nil for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertMessage writes the message, its first event and, for an announced
// status (inbound "received"), its webhook deliveries in one statement.
func insertMessage(ctx context.Context, q querier, m *sb.Message, typ string) ([]string, error) {
	media, _ := json.Marshal(m.MediaURLs)
	routing, failover := routingColumns(m)
	var deliveries []string
	_, err := scanMessage(q.QueryRow(ctx, `WITH upd AS (
		INSERT INTO messages (id, account_id, channel, direction, from_addr, to_addr, body, media_urls, metadata,
			status, status_callback_url, encoding, segments, provider, provider_message_id, sequence, created_at, updated_at,
			customer_id, conversation_id, category, routing, parent_id, failover, deferred_until, next_attempt_at, channel_id)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,NULLIF($11,''),NULLIF($12,''),NULLIF($13,0),$14,NULLIF($16,''),1,$15,$15,
			NULLIF($18,'')::uuid, NULLIF($19,'')::uuid, NULLIF($20,''), $21, NULLIF($22,'')::uuid, $23, $24,
			-- a failover parent is due for its first look at once
			coalesce($24, CASE WHEN $14 = 'failover' THEN $15::timestamptz END), NULLIF($25, '')::uuid)
		RETURNING *)`+fanOutSQL("$17::text", "$15::timestamptz", "''", "''"),
		m.ID, m.AccountID, m.Channel, m.Direction, m.From, m.To, m.Text, media, []byte(m.Metadata),
		m.Status, m.StatusCallbackURL, m.Encoding, m.Segments, m.Provider, m.CreatedAt, m.ProviderMessageID, typ,
		m.CustomerID, m.ConversationID, m.Category, routing, m.ParentID, failover, nullTime(m.DeferredUntil), m.ChannelID), &deliveries)
	if err != nil {
		return nil, customerGone(fmt.Errorf("insert message: %w", err))
	}
	return deliveries, nil
}

func (db *DB) replay(ctx context.Context, accountID string, idem *sb.Idempotency) (*sb.Message, *sb.Replay, error) {
	var hash []byte
	var r sb.Replay
	err := db.pool.QueryRow(ctx, `SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE account_id = $1 AND key = $2`,
		accountID, idem.Key).Scan(&hash, &r.Status, &r.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read idempotency key: %w", err)
	}
	if string(hash) != string(idem.RequestHash) {
		return nil, nil, sb.Errorf(sb.ECONFLICT, "Idempotency-Key %q was used with a different request body", idem.Key)
	}
	return nil, &r, nil
}

// GetMessage returns one message of the account.
func (db *DB) GetMessage(ctx context.Context, accountID, id string) (*sb.Message, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	m, err := scanMessage(db.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1 AND account_id = $2`, id, accountID))
	return m, notFound(err)
}

// LoadMessage reads a message by id for the delivery worker.
func (db *DB) LoadMessage(ctx context.Context, id string) (*sb.Message, error) {
	m, err := scanMessage(db.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id))
	return m, notFound(err)
}

// EncodeCursor and DecodeCursor make the keyset cursor (the last id seen)
// opaque to clients.
func EncodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// DecodeCursor reverses EncodeCursor.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !validID(string(b)) {
		return "", sb.Invalid(sb.FieldError{Field: "cursor", Message: "not a cursor returned by this API"})
	}
	return string(b), nil
}

// afterCursor decodes a cursor into the id to list below; an empty cursor
// starts above every id.
func afterCursor(cursor string) (string, error) {
	if cursor == "" {
		return "ffffffff-ffff-ffff-ffff-ffffffffffff", nil
	}
	return DecodeCursor(cursor)
}

// page trims a result fetched with limit+1 rows to limit and returns the
// cursor of the next page, or "" when this is the last.
func page[T any](out []T, limit int, id func(T) string) ([]T, string) {
	if len(out) <= limit {
		return out, ""
	}
	out = out[:limit]
	return out, EncodeCursor(id(out[limit-1]))
}

// ListMessages returns a page of the account's messages, newest first, and
// the cursor of the next page ("" at the end). Keyset pagination on the
// time-ordered id means rows inserted while a client pages land before its
// cursor and never shift or repeat later pages.
func (db *DB) ListMessages(ctx context.Context, accountID string, f sb.MessageFilter) ([]*sb.Message, string, error) {
	where := []string{"account_id = $1"}
	args := []any{accountID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Channel != "" {
		add("channel = $%d", f.Channel)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.Direction != "" {
		add("direction = $%d", f.Direction)
	}
	if f.To != "" {
		add("to_addr = $%d", f.To)
	}
	if !f.CreatedAfter.IsZero() {
		add("created_at > $%d", f.CreatedAfter)
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at < $%d", f.CreatedBefore)
	}
	if f.Cursor != "" {
		id, err := DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		add("id < $%d", id)
	}
	args = append(args, f.Limit+1)
	q := fmt.Sprintf(`SELECT %s FROM messages WHERE %s ORDER BY id DESC LIMIT $%d`, messageColumns, strings.Join(where, " AND "), len(args))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var out []*sb.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := page(out, f.Limit, func(m *sb.Message) string { return m.ID })
	return out, next, nil
}

// ListEvents returns a message's status events, oldest first.
func (db *DB) ListEvents(ctx context.Context, accountID, id string) ([]sb.Event, error) {
	if _, err := db.GetMessage(ctx, accountID, id); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT message_id, sequence, status, coalesce(error_code, ''), coalesce(error_message, ''), created_at
		FROM message_events WHERE message_id = $1 ORDER BY sequence`, id)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []sb.Event
	for rows.Next() {
		var e sb.Event
		if err := rows.Scan(&e.MessageID, &e.Sequence, &e.Status, &e.ErrorCode, &e.ErrorMessage, &e.Timestamp); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
