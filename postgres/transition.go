package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

// lowerStatuses lists the statuses a message may leave for to: lower
// ranked ones, and with after set only those at or above after.
func lowerStatuses(to, after sb.Status) []string {
	var out []string
	for _, s := range []sb.Status{sb.StatusAccepted, sb.StatusQueued, sb.StatusSending, sb.StatusSent, sb.StatusDelivered} {
		if s.CanMoveTo(to) && (after == "" || s.Rank() >= after.Rank()) {
			out = append(out, string(s))
		}
	}
	return out
}

// Transition moves message id to c.Status if that moves it forward, records
// the event with the next sequence number, and fans the event out to the
// account's webhook endpoints: one statement, so one round trip and one
// commit.
func (db *DB) Transition(ctx context.Context, id string, c sb.Change) (sb.TransitionResult, error) {
	if !validID(id) {
		return sb.TransitionResult{}, sb.ErrNotFound
	}
	now := db.now()
	res := sb.TransitionResult{Applied: true}
	var err error
	res.Message, err = scanMessage(db.pool.QueryRow(ctx, `WITH upd AS (
		UPDATE messages SET status = $2, sequence = sequence + 1, updated_at = $3,
			provider = CASE WHEN $4 = '' THEN provider ELSE $4 END,
			provider_message_id = coalesce(NULLIF($5, ''), provider_message_id),
			error_code = CASE WHEN $2 = 'sent' THEN NULLIF($6, '') ELSE coalesce(NULLIF($6, ''), error_code) END,
			error_message = CASE WHEN $2 = 'sent' THEN NULLIF($7, '') ELSE coalesce(NULLIF($7, ''), error_message) END,
			lease_until = NULL
		WHERE id = $1 AND status = ANY($8)
		RETURNING *)`+fanOutSQL("$9::text", "$3::timestamptz", "$6::text", "$7::text"),
		id, c.Status, now, c.Provider, c.ProviderMessageID, c.ErrorCode, c.ErrorMessage, lowerStatuses(c.Status, c.After), c.Status.EventType()),
		&res.Deliveries)
	if err == nil {
		return res, nil
	}
	if err != pgx.ErrNoRows {
		return sb.TransitionResult{}, fmt.Errorf("transition to %s: %w", c.Status, err)
	}
	// Not applied: late, duplicate, or overtaken by a receipt. Keep the
	// provider's id all the same, or later receipts could not find it.
	var m *sb.Message
	if c.ProviderMessageID != "" {
		m, err = scanMessage(db.pool.QueryRow(ctx, `UPDATE messages SET provider_message_id = coalesce(provider_message_id, $2),
			provider = CASE WHEN $3 = '' THEN provider ELSE $3 END WHERE id = $1 RETURNING `+messageColumns, id, c.ProviderMessageID, c.Provider))
	} else {
		m, err = db.LoadMessage(ctx, id)
	}
	return sb.TransitionResult{Message: m}, notFound(err)
}

// MarkQueued moves freshly enqueued messages from accepted to queued, with
// their events and webhooks, in one statement for the whole batch. The
// filter is written "status || ”" on purpose: a plain "status = 'accepted'"
// lets the planner pick the messages_pending partial index whenever its
// statistics think few messages are pending, and then walk the whole
// backlog on every call (10 ms instead of 0.03 ms at 30,000 pending).
func (db *DB) MarkQueued(ctx context.Context, ids []string) ([]string, error) {
	rows, err := db.pool.Query(ctx, `WITH lk AS (
		SELECT id FROM messages WHERE id = ANY($1) AND status || '' = 'accepted' ORDER BY id FOR UPDATE),
	upd AS (
		UPDATE messages m SET status = 'queued', sequence = m.sequence + 1, updated_at = $2
		FROM lk WHERE m.id = lk.id AND m.status || '' = 'accepted' RETURNING m.*)`+fanOutSQL("'message.queued'::text", "$2::timestamptz", "''", "''"),
		ids, db.now())
	if err != nil {
		return nil, fmt.Errorf("mark queued: %w", err)
	}
	defer rows.Close()
	var all []string
	for rows.Next() {
		var d []string
		if _, err := scanMessage(rows, &d); err != nil {
			return nil, err
		}
		all = append(all, d...)
	}
	return all, rows.Err()
}

// Claim takes message id for sending: it moves to sending (once) and is
// leased to the caller until lease runs out, so two workers never send it at
// the same time. ok is false when the message is already past sending or
// another worker holds a live lease.
func (db *DB) Claim(ctx context.Context, id string, lease time.Duration) (*sb.Message, bool, error) {
	if !validID(id) {
		return nil, false, sb.ErrNotFound
	}
	ms, err := db.ClaimMany(ctx, []string{id}, lease)
	if err != nil {
		return nil, false, err
	}
	if len(ms) == 0 {
		m, err := db.LoadMessage(ctx, id)
		return m, false, err
	}
	return ms[0], true, nil
}

// Release gives up the lease on a message after a transient failure or a
// throttle and notes when it is next due, so the sweeper leaves it alone
// until then.
func (db *DB) Release(ctx context.Context, id string, due time.Time, errCode, errMsg string) error {
	_, err := db.pool.Exec(ctx, `UPDATE messages SET lease_until = NULL, next_attempt_at = $2, updated_at = $3,
		error_code = coalesce(NULLIF($4, ''), error_code), error_message = coalesce(NULLIF($5, ''), error_message)
		WHERE id = $1 AND status IN ('accepted', 'queued', 'sending')`, id, due, db.now(), errCode, errMsg)
	if err != nil {
		return fmt.Errorf("release message: %w", err)
	}
	return nil
}

// Defer notes that a message waiting for its sender's rate-limit slot is
// next due at due, so the sweeper and other tasks leave it alone until then.
// Unlike Release it never touches a message another worker holds.
func (db *DB) Defer(ctx context.Context, id string, due time.Time) error {
	now := db.now()
	_, err := db.pool.Exec(ctx, `UPDATE messages SET next_attempt_at = $2, updated_at = $3
		WHERE id = $1 AND status IN ('accepted', 'queued', 'sending') AND (lease_until IS NULL OR lease_until < $3)`, id, due, now)
	if err != nil {
		return fmt.Errorf("defer message: %w", err)
	}
	return nil
}

// FindByProviderID returns the id of the message a provider knows as
// providerID.
func (db *DB) FindByProviderID(ctx context.Context, accountID, provider, providerID string) (string, error) {
	var id string
	// A receipt from a connected channel's webhook names its account: a
	// provider id is matched only among that account's messages.
	err := db.pool.QueryRow(ctx, `SELECT id FROM messages WHERE provider = $1 AND provider_message_id = $2
		AND ($3 = '' OR account_id = NULLIF($3, '')::uuid) AND direction = 'outbound' LIMIT 1`, provider, providerID, accountID).Scan(&id)
	return id, notFound(err)
}
