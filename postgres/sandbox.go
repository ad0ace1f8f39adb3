package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

const ruleColumns = `id, account_id, coalesce(channel, ''), coalesce(to_addr, ''), coalesce(from_addr, ''),
	coalesce(outcome, ''), delay_ms, coalesce(rate_per_second, 0), created_at`

func scanRule(row pgx.Row) (*sb.SandboxRule, error) {
	var r sb.SandboxRule
	err := row.Scan(&r.ID, &r.AccountID, &r.Channel, &r.To, &r.From, &r.Outcome, &r.DelayMS, &r.RatePerSecond, &r.CreatedAt)
	return &r, err
}

// PutRule creates or replaces the rule for the same channel, to and from.
func (db *DB) PutRule(ctx context.Context, r *sb.SandboxRule) (*sb.SandboxRule, error) {
	var rate any
	if r.RatePerSecond > 0 {
		rate = r.RatePerSecond
	}
	return scanRule(db.pool.QueryRow(ctx, `INSERT INTO sandbox_rules (id, account_id, channel, to_addr, from_addr, outcome, delay_ms, rate_per_second)
		VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), $7, $8)
		ON CONFLICT (account_id, coalesce(channel, ''), coalesce(to_addr, ''), coalesce(from_addr, ''))
		DO UPDATE SET outcome = EXCLUDED.outcome, delay_ms = EXCLUDED.delay_ms, rate_per_second = EXCLUDED.rate_per_second, created_at = now()
		RETURNING `+ruleColumns, newID(), r.AccountID, r.Channel, r.To, r.From, r.Outcome, r.DelayMS, rate))
}

// ListRules returns the account's sandbox rules.
func (db *DB) ListRules(ctx context.Context, accountID string) ([]*sb.SandboxRule, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+ruleColumns+` FROM sandbox_rules WHERE account_id = $1 ORDER BY created_at`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	defer rows.Close()
	var out []*sb.SandboxRule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteRule removes one rule.
func (db *DB) DeleteRule(ctx context.Context, accountID, id string) error {
	if !validID(id) {
		return sb.ErrNotFound
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM sandbox_rules WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("delete rule: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return sb.ErrNotFound
	}
	return nil
}

// SenderRate returns the per-second limit a rule sets on a sender, or 0.
func (db *DB) SenderRate(ctx context.Context, accountID string, ch sb.Channel, from string) (float64, error) {
	var rate float64
	err := db.pool.QueryRow(ctx, `SELECT rate_per_second FROM sandbox_rules
		WHERE account_id = $1 AND from_addr = $3 AND (channel = $2 OR channel IS NULL) AND rate_per_second IS NOT NULL
		ORDER BY channel NULLS LAST LIMIT 1`, accountID, ch, from).Scan(&rate)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	return rate, err
}

// RecordSubmission stores what the sandbox carrier received.
func (db *DB) RecordSubmission(ctx context.Context, s *sb.SandboxSubmission) error {
	s.ID = newID()
	_, err := db.pool.Exec(ctx, `INSERT INTO sandbox_submissions (id, account_id, message_id, channel, from_addr, to_addr, body, attempt, result, provider_message_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, ''))`,
		s.ID, s.AccountID, s.MessageID, s.Channel, s.From, s.To, s.Text, s.Attempt, s.Result, s.ProviderMessageID)
	if err != nil {
		return fmt.Errorf("record submission: %w", err)
	}
	return nil
}

// Submissions lists what the carrier received for a message, oldest first.
func (db *DB) Submissions(ctx context.Context, accountID, messageID string) ([]sb.SandboxSubmission, error) {
	if !validID(messageID) {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, account_id, message_id, channel, from_addr, to_addr, body, attempt, result, coalesce(provider_message_id, ''), created_at
		FROM sandbox_submissions WHERE account_id = $1 AND message_id = $2 ORDER BY created_at, id`, accountID, messageID)
	if err != nil {
		return nil, fmt.Errorf("list submissions: %w", err)
	}
	defer rows.Close()
	var out []sb.SandboxSubmission
	for rows.Next() {
		var s sb.SandboxSubmission
		if err := rows.Scan(&s.ID, &s.AccountID, &s.MessageID, &s.Channel, &s.From, &s.To, &s.Text, &s.Attempt, &s.Result, &s.ProviderMessageID, &s.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SandboxLookup answers, in one round trip, what the sandbox needs to decide
// a send: the outcome rule for the destination (nil if none) and what the
// carrier already received for the message.
func (db *DB) SandboxLookup(ctx context.Context, accountID string, ch sb.Channel, to, messageID string) (*sb.SandboxRule, []sb.SandboxSubmission, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT `+ruleColumns+` FROM sandbox_rules
		WHERE account_id = $1 AND to_addr = $3 AND (channel = $2 OR channel IS NULL) AND outcome IS NOT NULL
		ORDER BY channel NULLS LAST LIMIT 1`, accountID, ch, to)
	b.Queue(`SELECT result, coalesce(provider_message_id, '') FROM sandbox_submissions
		WHERE account_id = $1 AND message_id = $2 ORDER BY created_at, id`, accountID, messageID)
	res := db.pool.SendBatch(ctx, b)
	defer res.Close()
	rule, err := scanRule(res.QueryRow())
	if err == pgx.ErrNoRows {
		rule, err = nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox rule: %w", err)
	}
	rows, err := res.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox submissions: %w", err)
	}
	defer rows.Close()
	var subs []sb.SandboxSubmission
	for rows.Next() {
		var x sb.SandboxSubmission
		if err := rows.Scan(&x.Result, &x.ProviderMessageID); err != nil {
			return nil, nil, err
		}
		subs = append(subs, x)
	}
	return rule, subs, rows.Err()
}
