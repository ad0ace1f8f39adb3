package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	sb "github.com/switchboardhq/switchboard"
)

// SaveFailover applies one step of a failover parent's progress in one
// transaction — the new plan, the next step's message, the parent's status
// — but only if the stored plan still has s.Version. saved is false when
// another evaluation got there first.
func (db *DB) SaveFailover(ctx context.Context, s sb.FailoverSave) (bool, []string, error) {
	plan, err := json.Marshal(s.Plan)
	if err != nil {
		return false, nil, err
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `UPDATE messages SET failover = $2, next_attempt_at = $3, updated_at = $5,
			conversation_id = coalesce(conversation_id, NULLIF($6, '')::uuid)
		WHERE id = $1 AND provider = 'failover' AND (failover->>'version')::int = $4`,
		s.ParentID, plan, nullTime(s.CheckAt), s.Version, db.now(), s.ConversationID)
	if err != nil {
		return false, nil, customerGone(fmt.Errorf("save failover: %w", err))
	}
	if tag.RowsAffected() == 0 {
		return false, nil, nil
	}
	// The decision was made on these statuses: hold the step messages (a
	// receipt or a claim waits for our commit) and give up if one moved.
	if len(s.Observed) > 0 {
		ids := make([]string, 0, len(s.Observed))
		for id := range s.Observed {
			ids = append(ids, id)
		}
		rows, err := tx.Query(ctx, `SELECT id::text, status FROM messages WHERE id = ANY($1) ORDER BY id FOR SHARE`, ids)
		if err != nil {
			return false, nil, fmt.Errorf("lock failover steps: %w", err)
		}
		changed := false
		for rows.Next() {
			var id string
			var st sb.Status
			if err := rows.Scan(&id, &st); err != nil {
				rows.Close()
				return false, nil, err
			}
			changed = changed || s.Observed[id] != st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, nil, err
		}
		if changed {
			return false, nil, nil
		}
	}
	var hooks []string
	if len(s.Cancel) > 0 {
		// Held above as accepted or queued: none of them reached a provider.
		items := make([]sb.ChangeItem, len(s.Cancel))
		for i, id := range s.Cancel {
			items[i] = sb.ChangeItem{ID: id, ErrorCode: "failover_cancelled", ErrorMessage: "another failover step went out instead"}
		}
		res, err := db.transitionMany(ctx, tx, sb.StatusFailed, items)
		if err != nil {
			return false, nil, err
		}
		for _, r := range res {
			hooks = append(hooks, r.Deliveries...)
		}
	}
	if c := s.Child; c != nil {
		now := db.now()
		c.CreatedAt, c.UpdatedAt, c.Sequence = now, now, 1
		if len(c.Metadata) == 0 {
			c.Metadata = json.RawMessage("{}")
		}
		if _, err := insertMessage(ctx, tx, c, ""); err != nil {
			return false, nil, err
		}
	}
	if s.Status != "" {
		res, err := db.transitionMany(ctx, tx, s.Status, []sb.ChangeItem{{ID: s.ParentID, ErrorCode: s.ErrorCode, ErrorMessage: s.ErrorMessage}})
		if err != nil {
			return false, nil, err
		}
		for _, r := range res {
			hooks = append(hooks, r.Deliveries...)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, nil, customerGone(fmt.Errorf("commit failover: %w", err))
	}
	return true, hooks, nil
}

// ClaimDueFailovers returns undecided failover parents whose next look is
// overdue by grace (the timer task was lost) and pushes their due time on
// by grace, so concurrent sweepers do not pick them too.
func (db *DB) ClaimDueFailovers(ctx context.Context, grace time.Duration, limit int) ([]string, error) {
	now := db.now()
	rows, err := db.pool.Query(ctx, `UPDATE messages SET next_attempt_at = $1 WHERE id IN (
			SELECT id FROM messages
			WHERE provider = 'failover' AND status IN ('accepted', 'queued', 'sending', 'sent') AND next_attempt_at < $2
			ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING id::text`, now.Add(grace), now.Add(-grace), limit)
	if err != nil {
		return nil, fmt.Errorf("claim due failovers: %w", err)
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
