package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

// ClaimMany is Claim for a batch: one statement takes every message in ids
// that is free (not past sending, no live lease) and returns those it took.
// Rows are locked in id order so concurrent batches cannot deadlock.
func (db *DB) ClaimMany(ctx context.Context, ids []string, lease time.Duration) ([]*sb.Message, error) {
	now := db.now()
	rows, err := db.pool.Query(ctx, `WITH prev AS (
			SELECT id, status, lease_until, next_attempt_at FROM messages WHERE id = ANY($1) ORDER BY id FOR UPDATE),
		upd AS (
			UPDATE messages m SET status = 'sending',
				sequence = m.sequence + CASE WHEN prev.status = 'sending' THEN 0 ELSE 1 END,
				attempts = m.attempts + 1, lease_until = $2, next_attempt_at = NULL, updated_at = $3
			FROM prev WHERE m.id = prev.id
			  AND (prev.status IN ('accepted', 'queued')
			       OR (prev.status = 'sending' AND (prev.lease_until IS NULL OR prev.lease_until < $3)))
			  -- not before a retry or throttle slot is due (1 s of clock slack)
			  AND (prev.next_attempt_at IS NULL OR prev.next_attempt_at <= $3 + interval '1 second')
			RETURNING m.*, prev.status AS prev_status),
		ev AS (
			INSERT INTO message_events (message_id, sequence, status, created_at)
			SELECT id, sequence, 'sending', $3 FROM upd WHERE prev_status <> 'sending')
		SELECT `+messageColumns+` FROM upd`, ids, now.Add(lease), now)
	if err != nil {
		return nil, fmt.Errorf("claim batch: %w", err)
	}
	defer rows.Close()
	var out []*sb.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// TransitionMany moves a batch of messages to the same status in one
// statement, each with its own provider id or error, with the same
// forward-only rule, events and webhook fan-out as Transition. Messages the
// change would move backwards are left alone and not returned.
func (db *DB) TransitionMany(ctx context.Context, status sb.Status, items []sb.ChangeItem) ([]sb.TransitionResult, error) {
	return db.transitionMany(ctx, db.pool, status, items)
}

// TransitionSteps applies several batch transitions in one transaction,
// in order: "sent" and the receipt a provider gave with it commit together,
// so a crash cannot leave the one without the other.
func (db *DB) TransitionSteps(ctx context.Context, steps []sb.TransitionStep) ([][]sb.TransitionResult, error) {
	out := make([][]sb.TransitionResult, len(steps))
	if len(steps) == 1 {
		r, err := db.TransitionMany(ctx, steps[0].Status, steps[0].Items)
		out[0] = r
		return out, err
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	for i, st := range steps {
		if out[i], err = db.transitionMany(ctx, tx, st.Status, st.Items); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit transitions: %w", err)
	}
	return out, nil
}

type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (db *DB) transitionMany(ctx context.Context, q rowsQuerier, status sb.Status, items []sb.ChangeItem) ([]sb.TransitionResult, error) {
	n := len(items)
	ids, provs, pids, codes, msgs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, it := range items {
		ids[i], provs[i], pids[i], codes[i], msgs[i] = it.ID, it.Provider, it.ProviderMessageID, it.ErrorCode, it.ErrorMessage
	}
	now := db.now()
	rows, err := q.Query(ctx, `WITH lk AS (
			-- lock in id order, as ClaimMany does, so batches cannot deadlock
			SELECT id FROM messages WHERE id = ANY($1) ORDER BY id FOR UPDATE),
		u AS (
			SELECT u.* FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, prov, pid, ec, em)
			JOIN lk ON lk.id = u.id),
		upd AS (
			UPDATE messages m SET status = $6, sequence = m.sequence + 1, updated_at = $7,
				provider = CASE WHEN u.prov = '' THEN m.provider ELSE u.prov END,
				provider_message_id = coalesce(NULLIF(u.pid, ''), m.provider_message_id),
				error_code = CASE WHEN $6 = 'sent' THEN NULLIF(u.ec, '') ELSE coalesce(NULLIF(u.ec, ''), m.error_code) END,
				error_message = CASE WHEN $6 = 'sent' THEN NULLIF(u.em, '') ELSE coalesce(NULLIF(u.em, ''), m.error_message) END,
				lease_until = NULL
			FROM u WHERE m.id = u.id AND m.status = ANY($8)
			RETURNING m.*, u.ec AS ev_code, u.em AS ev_message)`+fanOutSQL("$9::text", "$7::timestamptz", "ev_code", "ev_message"),
		ids, provs, pids, codes, msgs, status, now, lowerStatuses(status, ""), status.EventType())
	if err != nil {
		return nil, fmt.Errorf("transition batch to %s: %w", status, err)
	}
	defer rows.Close()
	var out []sb.TransitionResult
	for rows.Next() {
		r := sb.TransitionResult{Applied: true}
		if r.Message, err = scanMessage(rows, &r.Deliveries); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
