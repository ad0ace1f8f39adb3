package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

// lowerStatuses lists the statuses a message may leave for to.
func lowerStatuses(to sb.Status) []string {
	var out []string
	for _, s := range []sb.Status{sb.StatusAccepted, sb.StatusQueued, sb.StatusSending, sb.StatusSent, sb.StatusDelivered} {
		if s.CanMoveTo(to) {
			out = append(out, string(s))
		}
	}
	return out
}

// Transition moves message id to c.Status if that moves it forward, records
// the event with the next sequence number, and fans the event out to the
// account's webhook endpoints, all in one transaction.
func (db *DB) Transition(ctx context.Context, id string, c sb.Change) (sb.TransitionResult, error) {
	if !validID(id) {
		return sb.TransitionResult{}, sb.ErrNotFound
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return sb.TransitionResult{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	res, err := db.transitionTx(ctx, tx, id, c)
	if err != nil {
		return sb.TransitionResult{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return sb.TransitionResult{}, fmt.Errorf("commit transition: %w", err)
	}
	return res, nil
}

func (db *DB) transitionTx(ctx context.Context, tx pgx.Tx, id string, c sb.Change) (sb.TransitionResult, error) {
	now := db.now()
	m, err := scanMessage(tx.QueryRow(ctx, `UPDATE messages SET status = $2, sequence = sequence + 1, updated_at = $3,
		provider = CASE WHEN $4 = '' THEN provider ELSE $4 END,
		provider_message_id = coalesce(NULLIF($5, ''), provider_message_id),
		error_code = coalesce(NULLIF($6, ''), error_code),
		error_message = coalesce(NULLIF($7, ''), error_message),
		lease_until = NULL
		WHERE id = $1 AND status = ANY($8)
		RETURNING `+messageColumns, id, c.Status, now, c.Provider, c.ProviderMessageID, c.ErrorCode, c.ErrorMessage, lowerStatuses(c.Status)))
	if err == pgx.ErrNoRows {
		// Not applied: a receipt overtook this transition. Keep the
		// provider's id all the same, or later receipts could not find it.
		if c.ProviderMessageID != "" {
			if _, err := tx.Exec(ctx, `UPDATE messages SET provider_message_id = coalesce(provider_message_id, $2),
				provider = CASE WHEN $3 = '' THEN provider ELSE $3 END WHERE id = $1`, id, c.ProviderMessageID, c.Provider); err != nil {
				return sb.TransitionResult{}, fmt.Errorf("keep provider id: %w", err)
			}
		}
		cur, err := db.loadMessage(ctx, tx, id)
		return sb.TransitionResult{Message: cur}, err
	}
	if err != nil {
		return sb.TransitionResult{}, fmt.Errorf("update status: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO message_events (message_id, sequence, status, error_code, error_message, created_at)
		VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6)`, m.ID, m.Sequence, m.Status, c.ErrorCode, c.ErrorMessage, now); err != nil {
		return sb.TransitionResult{}, fmt.Errorf("insert event: %w", err)
	}
	res := sb.TransitionResult{Message: m, Applied: true}
	if typ := m.Status.EventType(); typ != "" {
		if res.Deliveries, err = db.fanOut(ctx, tx, m, typ, now); err != nil {
			return sb.TransitionResult{}, err
		}
	}
	return res, nil
}

// MarkQueued moves freshly enqueued messages from accepted to queued in one
// transaction, so the enqueue path costs one commit per batch, not per
// message.
func (db *DB) MarkQueued(ctx context.Context, ids []string) ([]string, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	now := db.now()
	rows, err := tx.Query(ctx, `UPDATE messages SET status = 'queued', sequence = sequence + 1, updated_at = $2
		WHERE id = ANY($1) AND status = 'accepted' RETURNING `+messageColumns, ids, now)
	if err != nil {
		return nil, fmt.Errorf("mark queued: %w", err)
	}
	var msgs []*sb.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	evIDs := make([]string, len(msgs))
	seqs := make([]int32, len(msgs))
	for i, m := range msgs {
		evIDs[i], seqs[i] = m.ID, int32(m.Sequence)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO message_events (message_id, sequence, status, created_at)
		SELECT unnest($1::uuid[]), unnest($2::int[]), 'queued', $3`, evIDs, seqs, now); err != nil {
		return nil, fmt.Errorf("insert queued events: %w", err)
	}
	var deliveries []string
	endpoints := map[string][]endpointTarget{}
	for _, m := range msgs {
		targets, ok := endpoints[m.AccountID]
		if !ok {
			if targets, err = subscribedEndpoints(ctx, tx, m.AccountID, "message.queued"); err != nil {
				return nil, err
			}
			endpoints[m.AccountID] = targets
		}
		d, err := db.insertDeliveries(ctx, tx, m, "message.queued", now, targets)
		if err != nil {
			return nil, err
		}
		deliveries = append(deliveries, d...)
	}
	return deliveries, tx.Commit(ctx)
}

// Claim takes message id for sending: it moves to sending (once) and is
// leased to the caller until lease runs out, so two workers never send it at
// the same time. ok is false when the message is already past sending or
// another worker holds a live lease.
func (db *DB) Claim(ctx context.Context, id string, lease time.Duration) (m *sb.Message, ok bool, err error) {
	now := db.now()
	// One statement: lock the row (the CTE's FOR UPDATE reads its latest
	// version), take it if free, and write the "sending" event only when
	// the status actually changes (a takeover after a lapsed lease does not).
	row := db.pool.QueryRow(ctx, `WITH prev AS (
			SELECT id, status, lease_until FROM messages WHERE id = $1 FOR UPDATE),
		upd AS (
			UPDATE messages m SET status = 'sending',
				sequence = m.sequence + CASE WHEN prev.status = 'sending' THEN 0 ELSE 1 END,
				attempts = m.attempts + 1, lease_until = $2, next_attempt_at = NULL, updated_at = $3
			FROM prev WHERE m.id = prev.id
			  AND (prev.status IN ('accepted', 'queued')
			       OR (prev.status = 'sending' AND (prev.lease_until IS NULL OR prev.lease_until < $3)))
			RETURNING m.*, prev.status AS prev_status),
		ev AS (
			INSERT INTO message_events (message_id, sequence, status, created_at)
			SELECT id, sequence, 'sending', $3 FROM upd WHERE prev_status <> 'sending')
		SELECT `+messageColumns+` FROM upd`, id, now.Add(lease), now)
	m, err = scanMessage(row)
	if err == pgx.ErrNoRows {
		m, err := db.LoadMessage(ctx, id)
		return m, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("claim: %w", err)
	}
	return m, true, nil
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

// FindByProviderID returns the id of the message a provider knows as
// providerID.
func (db *DB) FindByProviderID(ctx context.Context, provider, providerID string) (string, error) {
	var id string
	err := db.pool.QueryRow(ctx, `SELECT id FROM messages WHERE provider = $1 AND provider_message_id = $2`, provider, providerID).Scan(&id)
	return id, notFound(err)
}
