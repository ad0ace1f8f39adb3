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

// The timeline reads the newest limit+1 messages, events, calls and
// transcript entries below the cursor, each one ordered range scan of its
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
	timelineCallsSQL = `SELECT ` + callColumns + ` FROM calls
		WHERE customer_id = ` + timelineCustomer + ` AND id < $3 ORDER BY id DESC LIMIT $4`
	timelineTranscriptSQL = `SELECT ` + transcriptColumns + ` FROM transcript_entries
		WHERE customer_id = ` + timelineCustomer + ` AND id < $3 ORDER BY id DESC LIMIT $4`
)

// Timeline returns a page of the customer's messages, customer events,
// calls and voice-bot transcript entries, newest first, and the cursor of
// the next page ("" at the end). Ids are UUIDv7 on every side, so id order
// is time order and one keyset cursor pages through all four. A
// merged-away customer id reads the survivor's.
func (db *DB) Timeline(ctx context.Context, accountID, customerID, cursor string, limit int) ([]sb.TimelineEntry, string, error) {
	if !validID(customerID) {
		return nil, "", sb.ErrNotFound
	}
	after, err := afterCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	args := []any{accountID, customerID, after, limit + 1}
	// One round trip for the five statements.
	b := &pgx.Batch{}
	b.Queue(timelineExistsSQL, accountID, customerID)
	b.Queue(timelineMessagesSQL, args...)
	b.Queue(timelineEventsSQL, args...)
	b.Queue(timelineCallsSQL, args...)
	b.Queue(timelineTranscriptSQL, args...)
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()
	var found *string
	if err := br.QueryRow().Scan(&found); err != nil {
		return nil, "", fmt.Errorf("timeline: %w", err)
	}
	if found == nil {
		return nil, "", sb.ErrNotFound
	}
	// Each source, newest first, as timeline entries.
	sources := make([][]sb.TimelineEntry, 4)
	read := func(i int, what string, scan func(pgx.Rows) (sb.TimelineEntry, error)) error {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("timeline %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scan(rows)
			if err != nil {
				return fmt.Errorf("timeline %s: %w", what, err)
			}
			sources[i] = append(sources[i], e)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("timeline %s: %w", what, err)
		}
		return nil
	}
	if err := read(0, "messages", func(r pgx.Rows) (sb.TimelineEntry, error) {
		m, err := scanMessage(r)
		if err != nil {
			return sb.TimelineEntry{}, err
		}
		return sb.TimelineEntry{Type: "message", ID: m.ID, At: m.CreatedAt, Message: m}, nil
	}); err != nil {
		return nil, "", err
	}
	if err := read(1, "events", func(r pgx.Rows) (sb.TimelineEntry, error) {
		var e sb.CustomerEvent
		var data []byte
		if err := r.Scan(&e.ID, &e.AccountID, &e.CustomerID, &e.ConversationID, &e.Type, &data, &e.CreatedAt); err != nil {
			return sb.TimelineEntry{}, err
		}
		e.Data = data
		return sb.TimelineEntry{Type: "event", ID: e.ID, At: e.CreatedAt, Event: &e}, nil
	}); err != nil {
		return nil, "", err
	}
	if err := read(2, "calls", func(r pgx.Rows) (sb.TimelineEntry, error) {
		c, err := scanCall(r)
		if err != nil {
			return sb.TimelineEntry{}, err
		}
		return sb.TimelineEntry{Type: "call", ID: c.ID, At: c.CreatedAt, Call: c}, nil
	}); err != nil {
		return nil, "", err
	}
	if err := read(3, "transcript", func(r pgx.Rows) (sb.TimelineEntry, error) {
		e, err := scanTranscriptEntry(r)
		if err != nil {
			return sb.TimelineEntry{}, err
		}
		return sb.TimelineEntry{Type: "transcript", ID: e.ID, At: e.CreatedAt, Transcript: &e}, nil
	}); err != nil {
		return nil, "", err
	}
	// Merge the newest-first lists: take the largest head each time.
	total := 0
	for _, s := range sources {
		total += len(s)
	}
	out := make([]sb.TimelineEntry, 0, min(total, limit+1))
	for len(out) <= limit {
		best := -1
		for i, s := range sources {
			if len(s) > 0 && (best < 0 || s[0].ID > sources[best][0].ID) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out = append(out, sources[best][0])
		sources[best] = sources[best][1:]
	}
	out, next := page(out, limit, func(t sb.TimelineEntry) string { return t.ID })
	return out, next, nil
}

// ExplainTimeline runs the timeline's range scans for the customer's
// first page under EXPLAIN (ANALYZE, BUFFERS) and returns the plans, for
// docs/PERFORMANCE.md and the test that keeps them on their indexes.
func (db *DB) ExplainTimeline(ctx context.Context, accountID, customerID string, limit int) (string, error) {
	after, _ := afterCursor("")
	var b strings.Builder
	for _, q := range []string{timelineMessagesSQL, timelineEventsSQL, timelineCallsSQL, timelineTranscriptSQL} {
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
