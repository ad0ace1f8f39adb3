package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

// timelineCustomer is the customer $2 of account $1, after merge
// forwarding, or NULL.
const timelineCustomer = `(SELECT id FROM customers WHERE account_id = $1 AND id = ` + forwardedID + `)`

// The timeline reads the newest limit+1 messages and the newest limit+1
// events below the cursor, each one ordered range scan of its
// (customer_id, id DESC) index, and merges them: a page costs the same for
// a customer with ten interactions or a million.
const (
	timelineExistsSQL = `SELECT ` + timelineCustomer + `::text`
	// A failover parent is the plan, not something the customer received:
	// its steps are on the timeline, it is not.
	timelineMessagesSQL = `SELECT ` + messageColumns + ` FROM messages
		WHERE customer_id = ` + timelineCustomer + ` AND id < $3 AND provider <> 'failover' ORDER BY id DESC LIMIT $4`
	timelineEventsSQL = `SELECT id, account_id, customer_id, coalesce(conversation_id::text, ''), type, data, created_at FROM customer_events
		WHERE customer_id = ` + timelineCustomer + ` AND id < $3 ORDER BY id DESC LIMIT $4`
)

// Timeline returns a page of the customer's messages and customer events,
// newest first, and the cursor of the next page ("" at the end). Ids are
// UUIDv7 on both sides, so id order is time order and one keyset cursor
// pages through both. A merged-away customer id reads the survivor's.
func (db *DB) Timeline(ctx context.Context, accountID, customerID, cursor string, limit int) ([]sb.TimelineEntry, string, error) {
	if !validID(customerID) {
		return nil, "", sb.ErrNotFound
	}
	after, err := afterCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	args := []any{accountID, customerID, after, limit + 1}
	// One round trip for the three statements.
	b := &pgx.Batch{}
	b.Queue(timelineExistsSQL, accountID, customerID)
	b.Queue(timelineMessagesSQL, args...)
	b.Queue(timelineEventsSQL, args...)
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()
	var found *string
	if err := br.QueryRow().Scan(&found); err != nil {
		return nil, "", fmt.Errorf("timeline: %w", err)
	}
	if found == nil {
		return nil, "", sb.ErrNotFound
	}
	rows, err := br.Query()
	if err != nil {
		return nil, "", fmt.Errorf("timeline messages: %w", err)
	}
	var msgs []*sb.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, "", err
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("timeline messages: %w", err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, "", fmt.Errorf("timeline events: %w", err)
	}
	var events []*sb.CustomerEvent
	for rows.Next() {
		var e sb.CustomerEvent
		var data []byte
		if err := rows.Scan(&e.ID, &e.AccountID, &e.CustomerID, &e.ConversationID, &e.Type, &data, &e.CreatedAt); err != nil {
			rows.Close()
			return nil, "", err
		}
		e.Data = data
		events = append(events, &e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("timeline events: %w", err)
	}
	// Merge the two newest-first lists.
	out := make([]sb.TimelineEntry, 0, min(len(msgs)+len(events), limit+1))
	for len(out) <= limit && (len(msgs) > 0 || len(events) > 0) {
		if len(events) == 0 || (len(msgs) > 0 && msgs[0].ID > events[0].ID) {
			m := msgs[0]
			msgs = msgs[1:]
			out = append(out, sb.TimelineEntry{Type: "message", ID: m.ID, At: m.CreatedAt, Message: m})
		} else {
			e := events[0]
			events = events[1:]
			out = append(out, sb.TimelineEntry{Type: "event", ID: e.ID, At: e.CreatedAt, Event: e})
		}
	}
	out, next := page(out, limit, func(t sb.TimelineEntry) string { return t.ID })
	return out, next, nil
}

// ExplainTimeline runs the timeline's two range scans for the customer's
// first page under EXPLAIN (ANALYZE, BUFFERS) and returns the plans, for
// docs/PERFORMANCE.md and the test that keeps them on their indexes.
func (db *DB) ExplainTimeline(ctx context.Context, accountID, customerID string, limit int) (string, error) {
	after, _ := afterCursor("")
	var b strings.Builder
	for _, q := range []string{timelineMessagesSQL, timelineEventsSQL} {
		rows, err := db.pool.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+q, accountID, customerID, after, limit+1)
		if err != nil {
			return "", fmt.Errorf("explain timeline: %w", err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", fmt.Errorf("explain timeline: %w", err)
		}
		b.WriteString(strings.Join(lines, "\n") + "\n\n")
	}
	return b.String(), nil
}
