package postgres

import (
	"context"
	"fmt"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// ClaimStale picks outbound messages that should be moving but are not:
// accepted ones never enqueued (Redis was down), sending ones whose worker
// died (lease run out), and queued ones idle for grace and at least
// queuedAge old (the caller passes a long age while a backlog explains the
// wait). It touches them so concurrent sweepers in other processes skip
// them for grace.
func (db *DB) ClaimStale(ctx context.Context, grace, queuedAge time.Duration, limit int) ([]sb.StaleMessage, error) {
	now := db.now()
	rows, err := db.pool.Query(ctx, `UPDATE messages SET updated_at = $1 WHERE id IN (
			SELECT id FROM messages
			WHERE status IN ('accepted', 'queued', 'sending') AND direction = 'outbound' AND provider <> 'failover'
			  AND updated_at < $2
			  AND (next_attempt_at IS NULL OR next_attempt_at < $2)
			  AND (lease_until IS NULL OR lease_until < $1)
			  AND (status <> 'queued' OR created_at < $4)
			ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING id, account_id, channel, from_addr, status, created_at`, now, now.Add(-grace), limit, now.Add(-queuedAge))
	if err != nil {
		return nil, fmt.Errorf("claim stale messages: %w", err)
	}
	defer rows.Close()
	var out []sb.StaleMessage
	for rows.Next() {
		var s sb.StaleMessage
		if err := rows.Scan(&s.ID, &s.AccountID, &s.Channel, &s.From, &s.Status, &s.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ClaimStaleDeliveries picks pending webhook deliveries overdue by grace
// (their task was lost) and pushes their due time forward by grace.
func (db *DB) ClaimStaleDeliveries(ctx context.Context, grace time.Duration, limit int) ([]string, error) {
	now := db.now()
	rows, err := db.pool.Query(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id IN (
			SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at < $2
			ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING id`, now.Add(grace), now.Add(-grace), limit)
	if err != nil {
		return nil, fmt.Errorf("claim stale deliveries: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
