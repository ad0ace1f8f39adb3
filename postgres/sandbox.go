package postgres

import (
	"context"
	"encoding/json"
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
	if err != pgx.ErrNoRows {
		return rate, err
	}
	// A connected channel's sender: its configured rate, else the
	// provider's usual limit.
	var typ string
	var configured *float64
	filter, _ := json.Marshal([]map[string]any{{"channel": ch, "address": from}})
	err = db.pool.QueryRow(ctx, `SELECT type, CASE WHEN jsonb_typeof(config->'rate_per_second') = 'number' THEN (config->>'rate_per_second')::float8 END FROM channels
		WHERE account_id = $1 AND status = 'active' AND senders @> $2::jsonb ORDER BY id LIMIT 1`, accountID, filter).Scan(&typ, &configured)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if configured != nil && *configured > 0 {
		return *configured, nil
	}
	return sb.DefaultSenderRate(typ), nil
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

// SandboxLookupMany answers, in one round trip for a batch of sends, the
// outcome rule for each message's destination (absent if none) and what the
// carrier already received for each.
func (db *DB) SandboxLookupMany(ctx context.Context, ms []*sb.Message) (map[string]*sb.SandboxRule, map[string][]sb.SandboxSubmission, error) {
	n := len(ms)
	ids, accounts, channels, tos := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, m := range ms {
		ids[i], accounts[i], channels[i], tos[i] = m.ID, m.AccountID, string(m.Channel), m.To
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT DISTINCT ON (u.mid) u.mid, r.id, r.account_id, coalesce(r.channel, ''), coalesce(r.to_addr, ''), coalesce(r.from_addr, ''),
			coalesce(r.outcome, ''), r.delay_ms, coalesce(r.rate_per_second, 0), r.created_at
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS u(mid, acc, ch, dest)
		JOIN sandbox_rules r ON r.account_id = u.acc AND r.to_addr = u.dest AND (r.channel = u.ch OR r.channel IS NULL) AND r.outcome IS NOT NULL
		ORDER BY u.mid, r.channel NULLS LAST`, ids, accounts, channels, tos)
	b.Queue(`SELECT message_id, result, coalesce(provider_message_id, '') FROM sandbox_submissions
		WHERE message_id = ANY($1) ORDER BY created_at, id`, ids)
	res := db.pool.SendBatch(ctx, b)
	defer res.Close()
	rules := map[string]*sb.SandboxRule{}
	rows, err := res.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox rules: %w", err)
	}
	for rows.Next() {
		var mid string
		var r sb.SandboxRule
		if err := rows.Scan(&mid, &r.ID, &r.AccountID, &r.Channel, &r.To, &r.From, &r.Outcome, &r.DelayMS, &r.RatePerSecond, &r.CreatedAt); err != nil {
			rows.Close()
			return nil, nil, err
		}
		rules[mid] = &r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	subs := map[string][]sb.SandboxSubmission{}
	rows, err = res.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox submissions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x sb.SandboxSubmission
		if err := rows.Scan(&x.MessageID, &x.Result, &x.ProviderMessageID); err != nil {
			return nil, nil, err
		}
		subs[x.MessageID] = append(subs[x.MessageID], x)
	}
	return rules, subs, rows.Err()
}

// RecordSubmissions stores a batch of what the carrier received, in one
// statement.
func (db *DB) RecordSubmissions(ctx context.Context, subs []*sb.SandboxSubmission) error {
	n := len(subs)
	if n == 0 {
		return nil
	}
	ids, accounts, msgs, channels, froms, tos, bodies, results, pids := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts := make([]int32, n)
	for i, s := range subs {
		s.ID = newID()
		ids[i], accounts[i], msgs[i], channels[i], froms[i] = s.ID, s.AccountID, s.MessageID, string(s.Channel), s.From
		tos[i], bodies[i], results[i], pids[i], attempts[i] = s.To, s.Text, s.Result, s.ProviderMessageID, int32(s.Attempt)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO sandbox_submissions (id, account_id, message_id, channel, from_addr, to_addr, body, attempt, result, provider_message_id)
		SELECT id, acc, mid, ch, fr, dest, body, att, res, NULLIF(pid, '')
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[])
			AS u(id, acc, mid, ch, fr, dest, body, att, res, pid)`,
		ids, accounts, msgs, channels, froms, tos, bodies, attempts, results, pids)
	if err != nil {
		return fmt.Errorf("record submissions: %w", err)
	}
	return nil
}
