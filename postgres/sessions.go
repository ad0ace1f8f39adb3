package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/routing"
)

const sessionColumns = `id, account_id, coalesce(customer_id::text, ''), coalesce(conversation_id::text, ''), coalesce(flow_id::text, ''),
	flow_version, coalesce(call_id::text, ''), channel, coalesce(channel_id::text, ''), address, sender, status, resume_on, state,
	seq, created_at, updated_at`

func scanSession(row pgx.Row) (*sb.BotSession, error) {
	var s sb.BotSession
	var resume []string
	var state []byte
	if err := row.Scan(&s.ID, &s.AccountID, &s.CustomerID, &s.ConversationID, &s.FlowID,
		&s.FlowVersion, &s.CallID, &s.Channel, &s.ChannelID, &s.Address, &s.Sender, &s.Status, &resume, &state,
		&s.Seq, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	for _, ch := range resume {
		s.ResumeOn = append(s.ResumeOn, sb.Channel(ch))
	}
	if len(state) > 0 {
		s.State = state
	}
	return &s, nil
}

func channelStrings(chs []sb.Channel) []string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = string(ch)
	}
	return out
}

// CreateSession stores a new bot session: id minted unless set, status
// active unless set, seq 1.
func (db *DB) CreateSession(ctx context.Context, s *sb.BotSession) (*sb.BotSession, error) {
	out := *s
	if out.ID == "" {
		out.ID = newID()
	}
	if out.Status == "" {
		out.Status = sb.SessionActive
	}
	now := db.now()
	out.Seq, out.CreatedAt, out.UpdatedAt = 1, now, now
	got, err := scanSession(db.pool.QueryRow(ctx, `INSERT INTO bot_sessions (id, account_id, customer_id, conversation_id, flow_id,
			flow_version, call_id, channel, channel_id, address, sender, status, resume_on, state, seq, created_at, updated_at)
		VALUES ($1, $2, NULLIF($3, '')::uuid, NULLIF($4, '')::uuid, NULLIF($5, '')::uuid, $6, NULLIF($7, '')::uuid, $8,
			NULLIF($9, '')::uuid, $10, $11, $12, $13, $14, 1, $15, $15)
		RETURNING `+sessionColumns,
		out.ID, out.AccountID, out.CustomerID, out.ConversationID, out.FlowID, out.FlowVersion, out.CallID, out.Channel,
		out.ChannelID, out.Address, out.Sender, out.Status, channelStrings(out.ResumeOn), []byte(out.State), now))
	if isUniqueViolation(err) {
		return nil, sb.Errorf(sb.ECONFLICT, "session %s already exists", out.ID)
	}
	if err != nil {
		return nil, customerGone(fmt.Errorf("create session: %w", err))
	}
	return got, nil
}

// GetSession returns one bot session of the account.
func (db *DB) GetSession(ctx context.Context, accountID, id string) (*sb.BotSession, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM bot_sessions WHERE id = $1 AND account_id = $2`, id, accountID))
	if err != nil {
		return nil, notFound(err)
	}
	return s, nil
}

// UpdateSession runs fn on the session inside a transaction holding its
// row, then saves every mutable field, bumps Seq and updated_at. Concurrent
// inputs to one session (a DTMF and a timer, two chat replies) thus apply
// one after the other, each to what the previous one saved. An error from
// fn rolls back and is returned as it is.
func (db *DB) UpdateSession(ctx context.Context, accountID, id string, fn func(s *sb.BotSession) error) (*sb.BotSession, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// NO KEY UPDATE: transcript and call writes referencing the session's
	// customer or conversation never wait on it.
	s, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM bot_sessions WHERE id = $1 AND account_id = $2 FOR NO KEY UPDATE`,
		id, accountID))
	if err != nil {
		return nil, notFound(err)
	}
	if err := fn(s); err != nil {
		return nil, err
	}
	got, err := scanSession(tx.QueryRow(ctx, `UPDATE bot_sessions SET flow_id = NULLIF($3, '')::uuid, flow_version = $4,
			call_id = NULLIF($5, '')::uuid, channel = $6, channel_id = NULLIF($7, '')::uuid, address = $8, sender = $9, status = $10,
			resume_on = $11, state = $12, conversation_id = NULLIF($13, '')::uuid, seq = seq + 1, updated_at = $14
		WHERE id = $1 AND account_id = $2 RETURNING `+sessionColumns,
		id, accountID, s.FlowID, s.FlowVersion, s.CallID, s.Channel, s.ChannelID, s.Address, s.Sender, s.Status,
		channelStrings(s.ResumeOn), []byte(s.State), s.ConversationID, db.now()))
	if err != nil {
		return nil, customerGone(fmt.Errorf("update session: %w", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit session: %w", err)
	}
	return got, nil
}

// OpenSession returns the conversation's newest session that has not
// ended: the one an inbound message continues.
func (db *DB) OpenSession(ctx context.Context, accountID, conversationID string) (*sb.BotSession, error) {
	if !validID(conversationID) {
		return nil, sb.ErrNotFound
	}
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM bot_sessions
		WHERE conversation_id = $2 AND account_id = $1 AND status <> 'ended' ORDER BY id DESC LIMIT 1`, accountID, conversationID))
	if err != nil {
		return nil, notFound(err)
	}
	return s, nil
}

const transcriptColumns = `id, account_id, session_id, coalesce(call_id::text, ''), coalesce(customer_id::text, ''),
	coalesce(conversation_id::text, ''), channel, role, kind, text, coalesce(step_id, ''), created_at`

func scanTranscriptEntry(row pgx.Row) (sb.TranscriptEntry, error) {
	var e sb.TranscriptEntry
	err := row.Scan(&e.ID, &e.AccountID, &e.SessionID, &e.CallID, &e.CustomerID, &e.ConversationID, &e.Channel, &e.Role, &e.Kind,
		&e.Text, &e.StepID, &e.CreatedAt)
	return e, err
}

// AppendTranscript stores entries in one statement, in order: each gets a
// UUIDv7 id (minted here, so monotonic across the batch) and a creation
// time unless set, written back into entries. A customer a merge folded
// away stands for the survivor; a customer or conversation deleted since
// the session started leaves the entry detached rather than failing it.
func (db *DB) AppendTranscript(ctx context.Context, entries []sb.TranscriptEntry) error {
	n := len(entries)
	if n == 0 {
		return nil
	}
	ids, accts, sessions := make([]string, n), make([]string, n), make([]string, n)
	calls, customers, convs := make([]string, n), make([]string, n), make([]string, n)
	chans, roles, kinds, texts, steps := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	now := db.now()
	for i := range entries {
		e := &entries[i]
		if e.ID == "" {
			e.ID = newID()
		}
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		for _, id := range []string{e.ID, e.AccountID, e.SessionID} {
			if !validID(id) {
				return fmt.Errorf("append transcript: entry %d: %q is not a UUID", i, id)
			}
		}
		for _, id := range []string{e.CallID, e.CustomerID, e.ConversationID} {
			if id != "" && !validID(id) {
				return fmt.Errorf("append transcript: entry %d: %q is not a UUID", i, id)
			}
		}
		ids[i], accts[i], sessions[i], calls[i], customers[i], convs[i] = e.ID, e.AccountID, e.SessionID, e.CallID, e.CustomerID, e.ConversationID
		chans[i], roles[i], kinds[i], texts[i], steps[i], ats[i] = string(e.Channel), e.Role, e.Kind, e.Text, e.StepID, e.CreatedAt
	}
	// A merge racing the insert fails its foreign key (the customer row is
	// gone): resolve again, which now finds the forwarding.
	return routing.Retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO transcript_entries (id, account_id, session_id, call_id, customer_id, conversation_id,
				channel, role, kind, text, step_id, created_at)
			SELECT u.id, u.acct, u.sess, NULLIF(u.call, '')::uuid,
				(SELECT c.id FROM customers c WHERE c.account_id = u.acct AND c.id = coalesce(
					(SELECT m.into_customer_id FROM customer_merges m WHERE m.account_id = u.acct AND m.from_customer_id = NULLIF(u.cust, '')::uuid),
					NULLIF(u.cust, '')::uuid)),
				(SELECT v.id FROM conversations v WHERE v.account_id = u.acct AND v.id = NULLIF(u.conv, '')::uuid),
				u.ch, u.role, u.kind, u.txt, NULLIF(u.step, ''), u.at
			FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
				$10::text[], $11::text[], $12::timestamptz[]) AS u(id, acct, sess, call, cust, conv, ch, role, kind, txt, step, at)`,
			ids, accts, sessions, calls, customers, convs, chans, roles, kinds, texts, steps, ats)
		if err != nil {
			return customerGone(fmt.Errorf("append transcript: %w", err))
		}
		return nil
	})
}

func scanTranscript(rows pgx.Rows, err error) ([]sb.TranscriptEntry, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sb.TranscriptEntry
	for rows.Next() {
		e, err := scanTranscriptEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CallTranscript returns what was said and heard on a call, in order.
func (db *DB) CallTranscript(ctx context.Context, accountID, callID string) ([]sb.TranscriptEntry, error) {
	if !validID(callID) {
		return nil, sb.ErrNotFound
	}
	out, err := scanTranscript(db.pool.Query(ctx, `SELECT `+transcriptColumns+` FROM transcript_entries
		WHERE call_id = $2 AND account_id = $1 ORDER BY id`, accountID, callID))
	if err != nil {
		return nil, fmt.Errorf("call transcript: %w", err)
	}
	if len(out) == 0 { // no entries yet, or no such call?
		if _, err := db.GetCall(ctx, accountID, callID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SessionTranscript returns a bot session's transcript across every
// channel it ran on, in order.
func (db *DB) SessionTranscript(ctx context.Context, accountID, sessionID string) ([]sb.TranscriptEntry, error) {
	if !validID(sessionID) {
		return nil, sb.ErrNotFound
	}
	out, err := scanTranscript(db.pool.Query(ctx, `SELECT `+transcriptColumns+` FROM transcript_entries
		WHERE session_id = $2 AND account_id = $1 ORDER BY id`, accountID, sessionID))
	if err != nil {
		return nil, fmt.Errorf("session transcript: %w", err)
	}
	if len(out) == 0 {
		if _, err := db.GetSession(ctx, accountID, sessionID); err != nil {
			return nil, err
		}
	}
	return out, nil
}
