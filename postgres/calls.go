package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

const callColumns = `id, account_id, coalesce(customer_id::text, ''), coalesce(conversation_id::text, ''), direction, channel,
	from_addr, to_addr, status, provider, coalesce(channel_id::text, ''), coalesce(provider_call_id, ''),
	coalesce(flow_id::text, ''), coalesce(flow_version, 0), flow, coalesce(session_id::text, ''), coalesce(parent_call_id::text, ''),
	coalesce(callback_id::text, ''), coalesce(status_callback_url, ''), record, timeout, coalesce(machine_detection, ''),
	coalesce(answered_by, ''), answered_at, ended_at, duration, coalesce(hangup_by, ''), coalesce(recording_url, ''),
	coalesce(error_code, ''), coalesce(error_message, ''), sequence, created_at, updated_at`

func scanCall(row pgx.Row) (*sb.Call, error) {
	var c sb.Call
	var flow []byte
	if err := row.Scan(&c.ID, &c.AccountID, &c.CustomerID, &c.ConversationID, &c.Direction, &c.Channel,
		&c.From, &c.To, &c.Status, &c.Provider, &c.ChannelID, &c.ProviderCallID,
		&c.FlowID, &c.FlowVersion, &flow, &c.SessionID, &c.ParentCallID,
		&c.CallbackID, &c.StatusCallbackURL, &c.Record, &c.Timeout, &c.MachineDetection,
		&c.AnsweredBy, &c.AnsweredAt, &c.EndedAt, &c.Duration, &c.HangupBy, &c.RecordingURL,
		&c.ErrorCode, &c.ErrorMessage, &c.Sequence, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	if len(flow) > 0 {
		c.Flow = flow
	}
	return &c, nil
}

func scanCalls(rows pgx.Rows, err error) ([]*sb.Call, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sb.Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// callEventSQL continues a WITH query that writes a call: it records the
// call's status event and one webhook delivery per enabled endpoint
// subscribed to typ (or '*') plus one to the call's status_callback_url
// (cb, empty for none), each carrying payload, and ends selecting the ids of
// the deliveries written. The arguments are SQL expressions, placeholders
// mostly. A delivery to cb has no endpoint, so the webhook worker signs it
// with the account's callback secret, as it does a message's.
func callEventSQL(id, acct, seq, status, at, typ, payload, cb string) string {
	return `,
	ev AS (
		INSERT INTO call_events (call_id, sequence, status, created_at) VALUES (` + id + `, ` + seq + `, ` + status + `, ` + at + `)),
	tgt AS (
		SELECT e.id AS endpoint_id, e.url FROM webhook_endpoints e
		WHERE e.account_id = ` + acct + ` AND e.enabled AND (` + typ + ` = ANY(e.events) OR '*' = ANY(e.events))
		UNION ALL
		SELECT NULL, ` + cb + ` WHERE ` + cb + ` <> ''),
	dl AS (
		INSERT INTO webhook_deliveries (id, account_id, endpoint_id, url, event_type, payload, created_at, next_attempt_at)
		SELECT gen_random_uuid(), ` + acct + `, endpoint_id, url, ` + typ + `, ` + payload + `, ` + at + `, ` + at + ` FROM tgt
		RETURNING id)
	SELECT coalesce(array_agg(id::text), '{}') FROM dl`
}

// CreateCall stores a new call with its first status event (queued unless
// c.Status is set) and that status's webhook deliveries, in one statement.
// It fills c's id (a UUIDv7, unless set), sequence and timestamps, and
// returns the delivery ids for the caller to enqueue after it returns.
func (db *DB) CreateCall(ctx context.Context, c *sb.Call) (*sb.Call, []string, error) {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.Status == "" {
		c.Status = sb.CallQueued
	}
	if !c.Status.Valid() {
		return nil, nil, sb.Invalid(sb.FieldError{Field: "status", Message: fmt.Sprintf("unknown call status %q", c.Status)})
	}
	now := db.now()
	c.Sequence, c.CreatedAt, c.UpdatedAt = 1, now, now
	typ := sb.CallEventType(c.Status)
	payload, err := sb.EventPayload(typ, c, now)
	if err != nil {
		return nil, nil, err
	}
	var deliveries []string
	err = db.pool.QueryRow(ctx, `WITH c AS (
		INSERT INTO calls (id, account_id, customer_id, conversation_id, direction, channel, from_addr, to_addr, status, provider,
			channel_id, provider_call_id, flow_id, flow_version, flow, session_id, parent_call_id, callback_id, status_callback_url,
			record, timeout, machine_detection, answered_by, answered_at, ended_at, duration, hangup_by, recording_url,
			error_code, error_message, sequence, created_at, updated_at)
		VALUES ($1, $2, NULLIF($3, '')::uuid, NULLIF($4, '')::uuid, $5, $6, $7, $8, $9, $10,
			NULLIF($11, '')::uuid, NULLIF($12, ''), NULLIF($13, '')::uuid, NULLIF($14::int, 0), $15, NULLIF($16, '')::uuid,
			NULLIF($17, '')::uuid, NULLIF($18, '')::uuid, NULLIF($19, ''),
			$20, $21, NULLIF($22, ''), NULLIF($23, ''), $24, $25, $26, NULLIF($27, ''), NULLIF($28, ''),
			NULLIF($29, ''), NULLIF($30, ''), 1, $31, $31))`+
		callEventSQL("$1::uuid", "$2::uuid", "1", "$9::text", "$31::timestamptz", "$32::text", "$33::bytea", "$19::text"),
		c.ID, c.AccountID, c.CustomerID, c.ConversationID, c.Direction, c.Channel, c.From, c.To, c.Status, c.Provider,
		c.ChannelID, c.ProviderCallID, c.FlowID, c.FlowVersion, []byte(c.Flow), c.SessionID,
		c.ParentCallID, c.CallbackID, c.StatusCallbackURL,
		c.Record, c.Timeout, c.MachineDetection, c.AnsweredBy, c.AnsweredAt, c.EndedAt, c.Duration, c.HangupBy, c.RecordingURL,
		c.ErrorCode, c.ErrorMessage, now, typ, payload).Scan(&deliveries)
	if isUniqueViolation(err) {
		return nil, nil, sb.Errorf(sb.ECONFLICT, "call %s (provider call %q) already exists", c.ID, c.ProviderCallID)
	}
	if err != nil {
		return nil, nil, customerGone(fmt.Errorf("create call: %w", err))
	}
	return c, deliveries, nil
}

// GetCall returns one call of the account.
func (db *DB) GetCall(ctx context.Context, accountID, id string) (*sb.Call, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	c, err := scanCall(db.pool.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = $1 AND account_id = $2`, id, accountID))
	if err != nil {
		return nil, notFound(err)
	}
	return c, nil
}

// FindCallByProviderID returns the call a provider knows as providerCallID
// on a connected channel ("" for the sandbox). It is not scoped to an
// account: the provider's callback arrives on the channel, which is.
func (db *DB) FindCallByProviderID(ctx context.Context, channelID, providerCallID string) (*sb.Call, error) {
	if providerCallID == "" {
		return nil, sb.ErrNotFound
	}
	var row pgx.Row
	if channelID == "" {
		row = db.pool.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE channel_id IS NULL AND provider_call_id = $1
			ORDER BY id DESC LIMIT 1`, providerCallID)
	} else {
		if !validID(channelID) {
			return nil, sb.ErrNotFound
		}
		row = db.pool.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE channel_id = $1 AND provider_call_id = $2`, channelID, providerCallID)
	}
	c, err := scanCall(row)
	if err != nil {
		return nil, notFound(err)
	}
	return c, nil
}

// ListCalls returns a page of the account's calls, newest first, and the
// cursor of the next page ("" at the end). A customer id that a merge
// folded away lists the survivor's calls.
func (db *DB) ListCalls(ctx context.Context, accountID string, f sb.CallFilter) ([]*sb.Call, string, error) {
	after, err := afterCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
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
	if f.Direction != "" {
		add("direction = $%d", f.Direction)
	}
	if f.To != "" {
		add("to_addr = $%d", f.To)
	}
	if f.FlowID != "" {
		if !validID(f.FlowID) {
			return nil, "", nil
		}
		add("flow_id = $%d", f.FlowID)
	}
	for _, ref := range []struct{ column, id string }{{"parent_call_id", f.ParentCallID}, {"callback_id", f.CallbackID}} {
		if ref.id == "" {
			continue
		}
		if !validID(ref.id) {
			return nil, "", nil
		}
		add(ref.column+" = $%d", ref.id)
	}
	args = append(args, limit+1)
	q := fmt.Sprintf(`SELECT %s FROM calls WHERE %s ORDER BY id DESC LIMIT $%d`, callColumns, strings.Join(where, " AND "), len(args))
	out, err := scanCalls(db.pool.Query(ctx, q, args...))
	if err != nil {
		return nil, "", fmt.Errorf("list calls: %w", err)
	}
	out, next := page(out, limit, func(c *sb.Call) string { return c.ID })
	return out, next, nil
}

// UpdateCall applies a provider's, a flow's or the API's change to a call
// in one transaction holding the call's row. Fields set in u replace the
// stored ones (ProviderCallID, SessionID, AnsweredBy and HangupBy only
// while unset: the first report wins). A status moves only forward
// (sb.CallTransitionAllowed); a duplicate or stale one changes no status
// and is no error. A status change bumps the sequence, stamps answered_at
// or ended_at (and the duration, u.Duration or the time since the answer),
// records an event and writes its webhook deliveries, whose ids are
// returned for the caller to enqueue.
func (db *DB) UpdateCall(ctx context.Context, accountID, id string, u sb.CallUpdate) (*sb.Call, bool, []string, error) {
	if !validID(id) {
		return nil, false, nil, sb.ErrNotFound
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, false, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// NO KEY UPDATE: foreign-key checks of rows pointing at the call do
	// not wait for it.
	c, err := scanCall(tx.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = $1 AND account_id = $2 FOR NO KEY UPDATE`, id, accountID))
	if err != nil {
		return nil, false, nil, notFound(err)
	}
	at := u.At.UTC().Truncate(time.Microsecond)
	if u.At.IsZero() {
		at = db.now()
	}
	dirty := false
	setOnce := func(dst *string, v string) {
		if v != "" && *dst == "" {
			*dst, dirty = v, true
		}
	}
	set := func(dst *string, v string) {
		if v != "" && *dst != v {
			*dst, dirty = v, true
		}
	}
	setOnce(&c.ProviderCallID, u.ProviderCallID)
	setOnce(&c.SessionID, u.SessionID)
	setOnce(&c.AnsweredBy, u.AnsweredBy)
	// Who hung up belongs to the status change that ends the call: a
	// refused one (a late timeout, a hangup racing an answer) must not
	// name someone for a call that goes on.
	if u.Status == "" || sb.CallTransitionAllowed(c.Status, u.Status) {
		setOnce(&c.HangupBy, u.HangupBy)
	}
	set(&c.RecordingURL, u.RecordingURL)
	set(&c.ErrorCode, u.ErrorCode)
	set(&c.ErrorMessage, u.ErrorMessage)
	if u.Duration != nil && *u.Duration != c.Duration {
		c.Duration, dirty = *u.Duration, true
	}
	changed := u.Status != "" && sb.CallTransitionAllowed(c.Status, u.Status)
	if changed {
		c.Status = u.Status
		c.Sequence++
		if u.Status == sb.CallInProgress {
			c.AnsweredAt = &at
		}
		if u.Status.Final() {
			c.EndedAt = &at
			switch {
			case u.Duration != nil:
				c.Duration = *u.Duration
			case c.AnsweredAt != nil:
				c.Duration = max(0, int(at.Sub(*c.AnsweredAt).Round(time.Second)/time.Second))
			default:
				c.Duration = 0
			}
		}
	}
	if !dirty && !changed {
		return c, false, nil, nil
	}
	c.UpdatedAt = db.now()
	q := `WITH c AS (
		UPDATE calls SET provider_call_id = NULLIF($3, ''), session_id = NULLIF($4, '')::uuid, answered_by = NULLIF($5, ''),
			hangup_by = NULLIF($6, ''), recording_url = NULLIF($7, ''), error_code = NULLIF($8, ''), error_message = NULLIF($9, ''),
			status = $10, sequence = $11, answered_at = $12, ended_at = $13, duration = $14, updated_at = $15
		WHERE id = $1 AND account_id = $2)`
	args := []any{c.ID, c.AccountID, c.ProviderCallID, c.SessionID, c.AnsweredBy, c.HangupBy, c.RecordingURL, c.ErrorCode, c.ErrorMessage,
		c.Status, c.Sequence, c.AnsweredAt, c.EndedAt, c.Duration, c.UpdatedAt}
	if changed {
		typ := sb.CallEventType(c.Status)
		payload, err := sb.EventPayload(typ, c, at)
		if err != nil {
			return nil, false, nil, err
		}
		q += callEventSQL("$1::uuid", "$2::uuid", "$11::int", "$10::text", "$16::timestamptz", "$17::text", "$18::bytea", "$19::text")
		args = append(args, at, typ, payload, c.StatusCallbackURL)
	} else {
		q += ` SELECT '{}'::text[]`
	}
	var deliveries []string
	err = tx.QueryRow(ctx, q, args...).Scan(&deliveries)
	if isUniqueViolation(err) {
		return nil, false, nil, sb.Errorf(sb.ECONFLICT, "provider call %q belongs to another call", c.ProviderCallID)
	}
	if err != nil {
		return nil, false, nil, fmt.Errorf("update call: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, nil, fmt.Errorf("commit call: %w", err)
	}
	return c, changed, deliveries, nil
}

// CallEvents returns a call's status changes, oldest first.
func (db *DB) CallEvents(ctx context.Context, accountID, id string) ([]sb.CallEvent, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	rows, err := db.pool.Query(ctx, `SELECT e.call_id, e.sequence, e.status, e.created_at FROM calls c
		LEFT JOIN call_events e ON e.call_id = c.id WHERE c.id = $1 AND c.account_id = $2 ORDER BY e.sequence`, id, accountID)
	if err != nil {
		return nil, fmt.Errorf("call events: %w", err)
	}
	defer rows.Close()
	found := false
	var out []sb.CallEvent
	for rows.Next() {
		found = true
		var callID *string
		var seq *int
		var status *string
		var at *time.Time
		if err := rows.Scan(&callID, &seq, &status, &at); err != nil {
			return nil, err
		}
		if callID != nil {
			out = append(out, sb.CallEvent{CallID: *callID, Sequence: *seq, Status: sb.CallStatus(*status), CreatedAt: *at})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("call events: %w", err)
	}
	if !found {
		return nil, sb.ErrNotFound
	}
	return out, nil
}

// ClaimUndialledCalls returns calls still queued and never handed to a
// provider grace after their last change (their dial task was lost), and
// marks them touched so the next sweep leaves them to the task it queues.
func (db *DB) ClaimUndialledCalls(ctx context.Context, grace time.Duration, limit int) ([]sb.CallRef, error) {
	now := db.now()
	return db.claimCalls(ctx, "claim undialled calls", "status = 'queued' AND provider_call_id IS NULL", now, now.Add(-grace), limit)
}

// claimCalls touches up to limit calls matching cond that nothing changed
// since before, oldest first, and returns them.
func (db *DB) claimCalls(ctx context.Context, what, cond string, now, before time.Time, limit int) ([]sb.CallRef, error) {
	rows, err := db.pool.Query(ctx, `UPDATE calls SET updated_at = $1 WHERE id IN (
			SELECT id FROM calls WHERE `+cond+` AND updated_at < $2
			ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING account_id::text, id::text`, now, before, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []sb.CallRef
	for rows.Next() {
		var r sb.CallRef
		if err := rows.Scan(&r.AccountID, &r.ID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// TouchCalls marks the calls a process carries as alive (their lease: a
// call in progress whose carrier stops touching it is ended by the
// sweeper) and returns those of ids that have ended meanwhile, elsewhere.
func (db *DB) TouchCalls(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `UPDATE calls SET updated_at = $2
		WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'ringing', 'in-progress') RETURNING id::text`, ids, db.now())
	if err != nil {
		return nil, fmt.Errorf("touch calls: %w", err)
	}
	alive := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		alive[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("touch calls: %w", err)
	}
	var ended []string
	for _, id := range ids {
		if !alive[id] {
			ended = append(ended, id)
		}
	}
	return ended, nil
}

// ClaimStaleLiveCalls returns browser calls in progress that no process has
// touched for stale (their carrier died), and touches them so the next sweep
// leaves them to the task it queues.
func (db *DB) ClaimStaleLiveCalls(ctx context.Context, stale time.Duration, limit int) ([]sb.CallRef, error) {
	now := db.now()
	return db.claimCalls(ctx, "claim stale live calls", "provider = 'webrtc' AND status = 'in-progress'", now, now.Add(-stale), limit)
}
