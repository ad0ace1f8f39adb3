package postgres

import (
	"context"
	"fmt"
	"strings"

	sb "github.com/switchboardhq/switchboard"
)

// GetConversation returns one conversation of the account.
func (db *DB) GetConversation(ctx context.Context, accountID, id string) (*sb.Conversation, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	c, err := scanConversation(db.pool.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1 AND account_id = $2`, id, accountID))
	return c, notFound(err)
}

// ListConversations returns a page of the account's conversations, newest
// first, and the cursor of the next page ("" at the end). A customer id
// that a merge folded away lists the survivor's conversations.
func (db *DB) ListConversations(ctx context.Context, accountID string, f sb.ConversationFilter) ([]*sb.Conversation, string, error) {
	after, err := afterCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	where := []string{"account_id = $1", "id < $2"}
	args := []any{accountID, after}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.CustomerID != "" {
		if !validID(f.CustomerID) {
			return nil, "", nil
		}
		add(`customer_id = coalesce((SELECT into_customer_id FROM customer_merges m WHERE m.account_id = $1 AND m.from_customer_id = $%[1]d), $%[1]d)`, f.CustomerID)
	}
	if f.Channel != "" {
		add("$%d = ANY(channels)", string(f.Channel))
	}
	args = append(args, f.Limit+1)
	q := fmt.Sprintf(`SELECT %s FROM conversations WHERE %s ORDER BY id DESC LIMIT $%d`, conversationColumns, strings.Join(where, " AND "), len(args))
	out, err := scanConversations(db.pool.Query(ctx, q, args...))
	if err != nil {
		return nil, "", fmt.Errorf("list conversations: %w", err)
	}
	out, next := page(out, f.Limit, func(c *sb.Conversation) string { return c.ID })
	return out, next, nil
}

// CloseConversation closes an open conversation with reason and a
// conversation.closed event; the customer's next interaction opens a new
// one. A closed conversation is returned as it is, with no event.
func (db *DB) CloseConversation(ctx context.Context, accountID, id, reason string) (*sb.Conversation, []string, error) {
	if !validID(id) {
		return nil, nil, sb.ErrNotFound
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	now := db.now()
	closed, err := scanConversations(tx.Query(ctx, `UPDATE conversations SET status = 'closed', closed_at = $3, closed_reason = $4, updated_at = $3
		WHERE id = $1 AND account_id = $2 AND status = 'open' RETURNING `+conversationColumns, id, accountID, now, reason))
	if err != nil {
		return nil, nil, fmt.Errorf("close conversation: %w", err)
	}
	if len(closed) == 0 {
		tx.Rollback(ctx)
		c, err := db.GetConversation(ctx, accountID, id)
		return c, nil, err
	}
	c := closed[0]
	deliveries, err := db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: accountID, CustomerID: c.CustomerID, ConversationID: c.ID,
		Type: sb.EventConversationClosed, Data: mustJSON(map[string]string{"reason": reason}), CreatedAt: now}, c)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("commit close conversation: %w", err)
	}
	return c, deliveries, nil
}

// inactivity is an account's conversation inactivity period as an
// interval: settings store Go duration strings ("24h0m0s"), which
// PostgreSQL parses, but not the "µs" of sub-millisecond ones, and a value
// it cannot parse must not stop the sweep for every account.
const inactivity = `CASE WHEN a.settings->>'conversation_inactivity' ~ '^([0-9]+(\.[0-9]+)?(h|ms|m|s))+$'
	THEN (a.settings->>'conversation_inactivity')::interval ELSE interval '24 hours' END`

// CloseIdleConversations closes up to limit open conversations that have
// been idle longer than their account's inactivity period, each with a
// conversation.closed event, and returns the webhook deliveries to
// enqueue. Rows another process is closing or joining are skipped, so
// many processes can sweep at once.
func (db *DB) CloseIdleConversations(ctx context.Context, limit int) ([]string, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	now := db.now()
	closed, err := scanConversations(tx.Query(ctx, `UPDATE conversations SET status = 'closed', closed_at = $1, closed_reason = 'inactivity', updated_at = $1
		WHERE id IN (
			SELECT c.id FROM conversations c JOIN accounts a ON a.id = c.account_id
			WHERE c.status = 'open' AND c.last_activity_at <= $1::timestamptz - `+inactivity+`
			ORDER BY c.last_activity_at LIMIT $2 FOR UPDATE OF c SKIP LOCKED)
		RETURNING `+conversationColumns, now, limit))
	if err != nil {
		return nil, fmt.Errorf("close idle conversations: %w", err)
	}
	var deliveries []string
	for _, c := range closed {
		d, err := db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: c.AccountID, CustomerID: c.CustomerID, ConversationID: c.ID,
			Type: sb.EventConversationClosed, Data: mustJSON(map[string]string{"reason": "inactivity"}), CreatedAt: now}, c)
		if err != nil {
			return nil, err
		}
		deliveries = append(deliveries, d...)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit idle conversations: %w", err)
	}
	return deliveries, nil
}

// SetConversationAgent hands a conversation to agent (a person answering
// in the inbox), ending any bot session on it, or back to the bot with
// agent "". The next inbound message then starts the address's flow again.
func (db *DB) SetConversationAgent(ctx context.Context, accountID, id, agent string) (*sb.Conversation, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	c, err := scanConversation(tx.QueryRow(ctx, `UPDATE conversations SET agent = NULLIF($3, ''), updated_at = $4
		WHERE id = $1 AND account_id = $2 RETURNING `+conversationColumns, id, accountID, agent, db.now()))
	if err != nil {
		return nil, notFound(err)
	}
	if agent != "" {
		if _, err := tx.Exec(ctx, `UPDATE bot_sessions SET status = 'ended', seq = seq + 1, updated_at = $3
			WHERE conversation_id = $1 AND account_id = $2 AND status <> 'ended'`, id, accountID, db.now()); err != nil {
			return nil, fmt.Errorf("end bot sessions: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return c, nil
}
