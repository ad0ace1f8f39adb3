package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

const endpointColumns = `id, account_id, url, events, description, enabled, coalesce(disabled_reason, ''), secret,
	coalesce(previous_secret, ''), coalesce(previous_secret_expires_at, 'epoch'), created_at, updated_at`

func scanEndpoint(row pgx.Row) (*sb.WebhookEndpoint, error) {
	var e sb.WebhookEndpoint
	err := row.Scan(&e.ID, &e.AccountID, &e.URL, &e.Events, &e.Description, &e.Enabled, &e.DisabledReason, &e.Secret,
		&e.PreviousSecret, &e.PreviousSecretExpiresAt, &e.CreatedAt, &e.UpdatedAt)
	return &e, err
}

// CreateEndpoint stores a new webhook endpoint.
func (db *DB) CreateEndpoint(ctx context.Context, e *sb.WebhookEndpoint) (*sb.WebhookEndpoint, error) {
	e.ID = newID()
	return scanEndpoint(db.pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (id, account_id, url, events, description, secret)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+endpointColumns, e.ID, e.AccountID, e.URL, e.Events, e.Description, e.Secret))
}

// GetEndpoint returns one endpoint of the account.
func (db *DB) GetEndpoint(ctx context.Context, accountID, id string) (*sb.WebhookEndpoint, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	e, err := scanEndpoint(db.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1 AND account_id = $2`, id, accountID))
	return e, notFound(err)
}

// ListEndpoints returns a page of the account's endpoints, newest first.
func (db *DB) ListEndpoints(ctx context.Context, accountID, cursor string, limit int) ([]*sb.WebhookEndpoint, string, error) {
	after, err := afterCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		accountID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list endpoints: %w", err)
	}
	defer rows.Close()
	var out []*sb.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	out, next := page(out, limit, func(e *sb.WebhookEndpoint) string { return e.ID })
	return out, next, rows.Err()
}

// UpdateEndpoint applies u. Re-enabling clears the reason it was disabled.
func (db *DB) UpdateEndpoint(ctx context.Context, accountID, id string, u sb.EndpointUpdate) (*sb.WebhookEndpoint, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	e, err := scanEndpoint(db.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET
		url = coalesce($3, url), events = coalesce($4, events), description = coalesce($5, description),
		enabled = coalesce($6, enabled),
		disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
		updated_at = now()
		WHERE id = $1 AND account_id = $2 RETURNING `+endpointColumns, id, accountID, u.URL, u.Events, u.Description, u.Enabled))
	return e, notFound(err)
}

// DeleteEndpoint removes an endpoint and its pending deliveries.
func (db *DB) DeleteEndpoint(ctx context.Context, accountID, id string) error {
	if !validID(id) {
		return sb.ErrNotFound
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("delete endpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return sb.ErrNotFound
	}
	return nil
}

// RotateSecret makes secret current; the old secret keeps signing until
// grace has passed, so receivers can switch without dropping events.
func (db *DB) RotateSecret(ctx context.Context, accountID, id, secret string, grace time.Duration) (*sb.WebhookEndpoint, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	e, err := scanEndpoint(db.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET previous_secret = secret,
		previous_secret_expires_at = now() + $4::interval, secret = $3, updated_at = now()
		WHERE id = $1 AND account_id = $2 RETURNING `+endpointColumns, id, accountID, secret, grace))
	return e, notFound(err)
}

// DisableEndpoint turns an endpoint off, e.g. after it answered 410 Gone.
func (db *DB) DisableEndpoint(ctx context.Context, id, reason string) error {
	_, err := db.pool.Exec(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now() WHERE id = $1`, id, reason)
	return err
}

// LoadDelivery returns a delivery with its body and signing secrets: the
// endpoint's, or for a status_callback_url the account's callback secret.
// A message event is rendered from the message row as it stands with the
// event's own status, sequence, time and error, i.e. the message as of
// that event.
func (db *DB) LoadDelivery(ctx context.Context, id string) (*sb.DeliveryTarget, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	ds, err := db.LoadDeliveries(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, sb.ErrNotFound
	}
	return ds[0], nil
}

// LoadDeliveries is LoadDelivery for a batch, in one query; deliveries that
// no longer exist (their endpoint was deleted) are left out.
func (db *DB) LoadDeliveries(ctx context.Context, ids []string) ([]*sb.DeliveryTarget, error) {
	rows, err := db.pool.Query(ctx, `SELECT d.id, d.account_id, d.endpoint_id, coalesce(e.url, d.url), d.event_type, d.payload, d.status, d.attempts, d.created_at,
		coalesce(e.secret, a.callback_secret), e.previous_secret, e.previous_secret_expires_at, e.enabled,
		d.message_id, d.sequence, ev.status, ev.error_code, ev.error_message, ev.created_at,
		coalesce(m.account_id::text, ''), coalesce(m.channel, ''), coalesce(m.direction, ''), coalesce(m.from_addr, ''), coalesce(m.to_addr, ''),
		coalesce(m.body, ''), coalesce(m.media_urls, '[]'), coalesce(m.metadata, '{}'), coalesce(m.status_callback_url, ''),
		coalesce(m.encoding, ''), coalesce(m.segments, 0), coalesce(m.provider, ''), coalesce(m.provider_message_id, ''),
		coalesce(m.attempts, 0), coalesce(m.created_at, 'epoch'),
		coalesce(m.customer_id::text, ''), coalesce(m.conversation_id::text, ''), coalesce(m.category, ''),
		m.routing, coalesce(m.parent_id::text, ''), m.failover, m.deferred_until, coalesce(m.channel_id::text, '')
		FROM webhook_deliveries d
		JOIN accounts a ON a.id = d.account_id
		LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
		LEFT JOIN messages m ON m.id = d.message_id
		LEFT JOIN message_events ev ON ev.message_id = d.message_id AND ev.sequence = d.sequence
		WHERE d.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	defer rows.Close()
	var out []*sb.DeliveryTarget
	for rows.Next() {
		var d sb.DeliveryTarget
		var endpointID, secret, prev, evStatus, evCode, evMsg *string
		var prevExp, evAt *time.Time
		var enabled *bool
		var seq *int
		var m sb.Message
		var media []byte
		var msgID *string
		var routing, failover []byte
		var deferred *time.Time
		if err := rows.Scan(
			&d.ID, &d.AccountID, &endpointID, &d.URL, &d.EventType, &d.Payload, &d.Status, &d.Attempts, &d.CreatedAt,
			&secret, &prev, &prevExp, &enabled,
			&msgID, &seq, &evStatus, &evCode, &evMsg, &evAt,
			&m.AccountID, &m.Channel, &m.Direction, &m.From, &m.To, &m.Text, &media, &m.Metadata, &m.StatusCallbackURL,
			&m.Encoding, &m.Segments, &m.Provider, &m.ProviderMessageID, &m.Attempts, &m.CreatedAt,
			&m.CustomerID, &m.ConversationID, &m.Category, &routing, &m.ParentID, &failover, &deferred, &m.ChannelID); err != nil {
			return nil, err
		}
		ep := sb.WebhookEndpoint{Secret: *secret}
		if prev != nil && prevExp != nil {
			ep.PreviousSecret, ep.PreviousSecretExpiresAt = *prev, *prevExp
		}
		d.Secrets = ep.SigningSecrets(db.now())
		d.Enabled = enabled == nil || *enabled
		if endpointID != nil {
			d.EndpointID = *endpointID
		}
		if msgID != nil && evStatus != nil {
			m.ID, m.Sequence, m.Status, m.UpdatedAt = *msgID, *seq, sb.Status(*evStatus), *evAt
			if evCode != nil {
				m.ErrorCode = *evCode
			}
			if evMsg != nil {
				m.ErrorMessage = *evMsg
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
			if d.Payload, err = sb.WebhookPayload(d.EventType, &m, *evAt); err != nil {
				return nil, err
			}
		}
		if d.Payload == nil {
			return nil, fmt.Errorf("delivery %s: nothing to deliver", d.ID)
		}
		out = append(out, &d)
	}
	return out, rows.Err()
}

// RecordAttempts stores a batch of attempts and their deliveries' new
// states in one statement.
func (db *DB) RecordAttempts(ctx context.Context, recs []sb.AttemptRecord) error {
	n := len(recs)
	if n == 0 {
		return nil
	}
	ids, dids, eps, accts, types, errs, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	attempts, codes := make([]int32, n), make([]int32, n)
	durs := make([]int64, n)
	nexts := make([]time.Time, n)
	for i, r := range recs {
		ids[i], dids[i], eps[i], accts[i], types[i] = newID(), r.Delivery.ID, r.Delivery.EndpointID, r.Delivery.AccountID, r.Delivery.EventType
		errs[i], statuses[i], attempts[i], codes[i] = r.Attempt.Error, r.Status, int32(r.Attempt.Attempt), int32(r.Attempt.StatusCode)
		durs[i], nexts[i] = r.Attempt.Duration.Milliseconds(), r.Next
	}
	_, err := db.pool.Exec(ctx, `WITH u AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::int[], $7::int[], $8::text[], $9::bigint[], $10::text[], $11::timestamptz[])
			AS u(id, did, ep, acct, typ, att, code, err, dur, st, nxt)),
		att AS (
			INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, account_id, event_type, attempt, status_code, error, duration_ms)
			SELECT id, did, NULLIF(ep, '')::uuid, acct, typ, att, NULLIF(code, 0), NULLIF(err, ''), dur FROM u)
		UPDATE webhook_deliveries d SET status = u.st, attempts = u.att, next_attempt_at = u.nxt, updated_at = now()
		FROM u WHERE d.id = u.did`,
		ids, dids, eps, accts, types, attempts, codes, errs, durs, statuses, nexts)
	if err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	return nil
}

// ListAttempts returns a page of an endpoint's attempts, newest first.
func (db *DB) ListAttempts(ctx context.Context, accountID, endpointID, cursor string, limit int) ([]sb.WebhookAttempt, string, error) {
	if _, err := db.GetEndpoint(ctx, accountID, endpointID); err != nil {
		return nil, "", err
	}
	after, err := afterCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT id, delivery_id, endpoint_id, event_type, attempt, coalesce(status_code, 0), coalesce(error, ''), duration_ms, created_at
		FROM webhook_attempts WHERE endpoint_id = $1 AND account_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4`, endpointID, accountID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	var out []sb.WebhookAttempt
	for rows.Next() {
		var a sb.WebhookAttempt
		var ms int64
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.EndpointID, &a.EventType, &a.Attempt, &a.StatusCode, &a.Error, &ms, &a.CreatedAt); err != nil {
			return nil, "", err
		}
		a.Duration = time.Duration(ms) * time.Millisecond
		out = append(out, a)
	}
	out, next := page(out, limit, func(a sb.WebhookAttempt) string { return a.ID })
	return out, next, rows.Err()
}
