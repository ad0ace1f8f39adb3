package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	sb "github.com/switchboardhq/switchboard"
)

const customerColumns = `id, account_id, name, email, locale, timezone, attributes, preferred_channel, created_at, updated_at`

func scanCustomer(row pgx.Row) (*sb.Customer, error) {
	var c sb.Customer
	var attrs []byte
	if err := row.Scan(&c.ID, &c.AccountID, &c.Name, &c.Email, &c.Locale, &c.Timezone, &attrs, &c.PreferredChannel,
		&c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.Attributes = attrs
	return &c, nil
}

// forwardedID is the customer $2 stands for in account $1: the customer a
// merge folded it into, or $2 itself. A merge repoints older forwardings,
// so one hop always reaches the survivor.
const forwardedID = `coalesce((SELECT into_customer_id FROM customer_merges WHERE account_id = $1 AND from_customer_id = $2), $2)`

const identityColumns = `i.id, i.customer_id, i.channel, i.address, coalesce(i.last_inbound_to, ''), i.last_inbound_at, i.last_seen_at,
	i.created_at, EXISTS (SELECT 1 FROM opt_outs o WHERE o.account_id = i.account_id AND o.channel = i.channel AND o.address = i.address)`

// loadIdentities fills the identities of customers, oldest first.
func loadIdentities(ctx context.Context, q execQuerier, accountID string, customers ...*sb.Customer) error {
	if len(customers) == 0 {
		return nil
	}
	ids := make([]string, len(customers))
	byID := make(map[string]*sb.Customer, len(customers))
	for i, c := range customers {
		ids[i], byID[c.ID] = c.ID, c
		c.Identities = nil
	}
	rows, err := q.Query(ctx, `SELECT `+identityColumns+` FROM identities i
		WHERE i.account_id = $1 AND i.customer_id = ANY($2::uuid[]) ORDER BY i.created_at, i.id`, accountID, ids)
	if err != nil {
		return fmt.Errorf("load identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id sb.Identity
		var inboundAt, seenAt *time.Time
		if err := rows.Scan(&id.ID, &id.CustomerID, &id.Channel, &id.Address, &id.LastInboundTo, &inboundAt, &seenAt,
			&id.CreatedAt, &id.OptedOut); err != nil {
			return err
		}
		if inboundAt != nil {
			id.LastInboundAt = *inboundAt
		}
		if seenAt != nil {
			id.LastSeenAt = *seenAt
		}
		if c := byID[id.CustomerID]; c != nil {
			c.Identities = append(c.Identities, id)
		}
	}
	return rows.Err()
}

// getCustomer reads a customer, following merge forwarding, with its
// identities.
func getCustomer(ctx context.Context, q execQuerier, accountID, id string) (*sb.Customer, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	c, err := scanCustomer(q.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE account_id = $1 AND id = `+forwardedID, accountID, id))
	if err != nil {
		return nil, notFound(err)
	}
	if err := loadIdentities(ctx, q, accountID, c); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCustomer returns a customer of the account with its identities. An id
// that a merge folded into another customer returns the survivor, so ids
// kept by clients (and repeated merges) keep working.
func (db *DB) GetCustomer(ctx context.Context, accountID, id string) (*sb.Customer, error) {
	return getCustomer(ctx, db.pool, accountID, id)
}

// lockIdentities takes the advisory locks ResolveIdentity takes for each
// identity, in one order so that two writers naming the same identities
// cannot deadlock.
func lockIdentities(ctx context.Context, tx pgx.Tx, accountID string, ids []sb.Identity) error {
	keys := make([]string, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, matchKey(accountID, id.Channel, id.Address))
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, k); err != nil {
			return fmt.Errorf("lock identity: %w", err)
		}
	}
	return nil
}

// identityOwner returns the customer that owns (ch, address), or "".
func identityOwner(ctx context.Context, q execQuerier, accountID string, ch sb.Channel, address string) (string, error) {
	var owner string
	err := q.QueryRow(ctx, `SELECT customer_id FROM identities WHERE account_id = $1 AND channel = $2 AND address = $3`,
		accountID, ch, address).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find identity: %w", err)
	}
	return owner, nil
}

func identityTaken(field string, ch sb.Channel, address, owner string) error {
	return &sb.Error{Code: sb.EEXISTS,
		Message: fmt.Sprintf("identity %s:%s belongs to customer %s; merge the customers instead", ch, address, owner),
		Fields:  []sb.FieldError{{Field: field, Message: "belongs to customer " + owner}}}
}

func insertIdentity(ctx context.Context, tx pgx.Tx, accountID, customerID string, id *sb.Identity, at time.Time) error {
	id.ID, id.CustomerID, id.CreatedAt = newID(), customerID, at
	_, err := tx.Exec(ctx, `INSERT INTO identities (id, account_id, customer_id, channel, address, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id.ID, accountID, customerID, id.Channel, id.Address, at)
	return err
}

// CreateCustomer stores a new customer with its identities (normalised by
// the caller) and a customer.created event. An identity that already
// belongs to another customer is a conflict: the two are one person, and
// merging them is the way to say so. It returns the webhook deliveries to
// enqueue after commit.
func (db *DB) CreateCustomer(ctx context.Context, c *sb.Customer) (*sb.Customer, []string, error) {
	now := db.now()
	c.ID, c.CreatedAt, c.UpdatedAt = newID(), now, now
	if len(c.Attributes) == 0 {
		c.Attributes = json.RawMessage("{}")
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := lockIdentities(ctx, tx, c.AccountID, c.Identities); err != nil {
		return nil, nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO customers (`+customerColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
		c.ID, c.AccountID, c.Name, c.Email, c.Locale, c.Timezone, []byte(c.Attributes), c.PreferredChannel, now); err != nil {
		return nil, nil, fmt.Errorf("create customer: %w", err)
	}
	for i := range c.Identities {
		id := &c.Identities[i]
		field := fmt.Sprintf("identities[%d]", i)
		owner, err := identityOwner(ctx, tx, c.AccountID, id.Channel, id.Address)
		if err != nil {
			return nil, nil, err
		}
		if owner == c.ID {
			return nil, nil, sb.Invalid(sb.FieldError{Field: field, Message: "is listed twice"})
		}
		if owner != "" {
			return nil, nil, identityTaken(field, id.Channel, id.Address, owner)
		}
		if err := insertIdentity(ctx, tx, c.AccountID, c.ID, id, now); err != nil {
			return nil, nil, fmt.Errorf("create identity: %w", err)
		}
	}
	created, err := getCustomer(ctx, tx, c.AccountID, c.ID)
	if err != nil {
		return nil, nil, err
	}
	deliveries, err := db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: c.AccountID, CustomerID: c.ID, Type: sb.EventCustomerCreated,
		Data: mustJSON(map[string]string{"source": "api"}), CreatedAt: now}, created)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("commit customer: %w", err)
	}
	return created, deliveries, nil
}

// ListCustomers returns a page of the account's customers, newest first,
// and the cursor of the next page ("" at the end).
func (db *DB) ListCustomers(ctx context.Context, accountID string, f sb.CustomerFilter) ([]*sb.Customer, string, error) {
	after, err := afterCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+customerColumns+` FROM customers WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		accountID, after, f.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	var out []*sb.Customer
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			rows.Close()
			return nil, "", err
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list customers: %w", err)
	}
	out, next := page(out, f.Limit, func(c *sb.Customer) string { return c.ID })
	if err := loadIdentities(ctx, db.pool, accountID, out...); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// FindCustomerByIdentity returns the customer (ch, address) belongs to;
// the address must be normalised.
func (db *DB) FindCustomerByIdentity(ctx context.Context, accountID string, ch sb.Channel, address string) (*sb.Customer, error) {
	owner, err := identityOwner(ctx, db.pool, accountID, ch, address)
	if err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, sb.ErrNotFound
	}
	return db.GetCustomer(ctx, accountID, owner)
}

// UpdateCustomer applies u to the customer (or to the one it was merged
// into).
func (db *DB) UpdateCustomer(ctx context.Context, accountID, id string, u sb.CustomerUpdate) (*sb.Customer, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	var attrs []byte
	if u.Attributes != nil {
		attrs = u.Attributes
	}
	var preferred *string
	if u.PreferredChannel != nil {
		p := string(*u.PreferredChannel)
		preferred = &p
	}
	var target string
	err := db.pool.QueryRow(ctx, `UPDATE customers SET name = coalesce($3, name), email = coalesce($4, email),
			locale = coalesce($5, locale), timezone = coalesce($6, timezone), attributes = coalesce($7::jsonb, attributes),
			preferred_channel = coalesce($8, preferred_channel), updated_at = $9
		WHERE account_id = $1 AND id = `+forwardedID+` RETURNING id`,
		accountID, id, u.Name, u.Email, u.Locale, u.Timezone, attrs, preferred, db.now()).Scan(&target)
	if err != nil {
		return nil, notFound(err)
	}
	return db.GetCustomer(ctx, accountID, target)
}

// DeleteCustomer removes a customer with its identities, conversations,
// events, opt-outs and forwardings. Its messages, calls, bot sessions and
// transcripts stay, as history, detached from it. The row lock waits for interactions being attached to it;
// later ones fail their foreign key and resolve afresh.
func (db *DB) DeleteCustomer(ctx context.Context, accountID, id string) error {
	if !validID(id) {
		return sb.ErrNotFound
	}
	for attempt := 1; ; attempt++ {
		err := db.deleteCustomer(ctx, accountID, id)
		// A worker recording a status holds message rows and waits for a
		// key-share lock on the customer while the delete holds the
		// customer and updates those messages: PostgreSQL aborts one side.
		if !isDeadlock(err) || attempt == 3 {
			return err
		}
	}
}

func (db *DB) deleteCustomer(ctx context.Context, accountID, id string) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	var locked string
	if err := tx.QueryRow(ctx, `SELECT id FROM customers WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, id).Scan(&locked); err != nil {
		return notFound(err)
	}
	for _, q := range []string{
		`UPDATE messages SET customer_id = NULL, conversation_id = NULL WHERE account_id = $1 AND customer_id = $2`,
		`UPDATE messages SET conversation_id = NULL WHERE conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND customer_id = $2)`,
		// Calls, bot sessions and transcripts stay as history too. A
		// session running on a live call carries on, detached.
		`UPDATE calls SET customer_id = NULL, conversation_id = NULL WHERE account_id = $1 AND customer_id = $2`,
		`UPDATE calls SET conversation_id = NULL WHERE conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND customer_id = $2)`,
		`UPDATE bot_sessions SET customer_id = NULL, conversation_id = NULL WHERE account_id = $1 AND customer_id = $2`,
		`UPDATE bot_sessions SET conversation_id = NULL WHERE conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND customer_id = $2)`,
		`UPDATE transcript_entries SET customer_id = NULL, conversation_id = NULL WHERE account_id = $1 AND customer_id = $2`,
		`UPDATE transcript_entries SET conversation_id = NULL WHERE conversation_id IN (SELECT id FROM conversations WHERE account_id = $1 AND customer_id = $2)`,
		`DELETE FROM conversations WHERE account_id = $1 AND customer_id = $2`,
		`DELETE FROM identities WHERE account_id = $1 AND customer_id = $2`,
		`DELETE FROM customer_events WHERE account_id = $1 AND customer_id = $2`,
		// An opt-out outlives the record: the number stays opted out.
		`UPDATE opt_outs SET customer_id = NULL WHERE account_id = $1 AND customer_id = $2`,
		`DELETE FROM customer_merges WHERE account_id = $1 AND into_customer_id = $2`,
		`DELETE FROM customers WHERE account_id = $1 AND id = $2`,
	} {
		if _, err := tx.Exec(ctx, q, accountID, id); err != nil {
			return fmt.Errorf("delete customer: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit delete customer: %w", err)
	}
	return nil
}

// AddIdentity attaches (ch, address), normalised, to a customer. created
// is false when the customer already had it; another customer's identity
// is a conflict (merge them instead).
func (db *DB) AddIdentity(ctx context.Context, accountID, customerID string, ch sb.Channel, address string) (*sb.Customer, bool, error) {
	if !validID(customerID) {
		return nil, false, sb.ErrNotFound
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	id := sb.Identity{Channel: ch, Address: address}
	if err := lockIdentities(ctx, tx, accountID, []sb.Identity{id}); err != nil {
		return nil, false, err
	}
	var target string
	now := db.now()
	// The row lock keeps a concurrent merge or delete from removing the
	// customer under the new identity.
	if err := tx.QueryRow(ctx, `UPDATE customers SET updated_at = $3 WHERE account_id = $1 AND id = `+forwardedID+` RETURNING id`,
		accountID, customerID, now).Scan(&target); err != nil {
		return nil, false, notFound(err)
	}
	owner, err := identityOwner(ctx, tx, accountID, ch, address)
	if err != nil {
		return nil, false, err
	}
	switch owner {
	case target:
		tx.Rollback(ctx) // leave updated_at be
		c, err := db.GetCustomer(ctx, accountID, target)
		return c, false, err
	case "":
	default:
		return nil, false, identityTaken("address", ch, address, owner)
	}
	if err := insertIdentity(ctx, tx, accountID, target, &id, now); err != nil {
		return nil, false, customerGone(fmt.Errorf("add identity: %w", err))
	}
	c, err := getCustomer(ctx, tx, accountID, target)
	if err != nil {
		return nil, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("commit identity: %w", err)
	}
	return c, true, nil
}

// RemoveIdentity detaches (ch, address) from the customer; the next
// interaction from it resolves to a new customer. Its opt-out, if any,
// stays: it is keyed by address.
func (db *DB) RemoveIdentity(ctx context.Context, accountID, customerID string, ch sb.Channel, address string) error {
	if !validID(customerID) {
		return sb.ErrNotFound
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM identities WHERE account_id = $1 AND customer_id = `+forwardedID+` AND channel = $3 AND address = $4`,
		accountID, customerID, ch, address)
	if err != nil {
		return fmt.Errorf("remove identity: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return sb.Errorf(sb.ENOTFOUND, "customer %s has no identity %s:%s", customerID, ch, address)
	}
	return nil
}

// MergeCustomers folds customer fromID into intoID: identities,
// conversations, messages, calls, bot sessions, transcripts, events and
// opt-outs move, empty profile fields are filled from it, and a forwarding
// record makes its id resolve to the survivor. It is one transaction that
// first locks both customer rows.
//
// Interactions keep flowing meanwhile without loss: inserting a message
// (or identity, or conversation) for `from` takes a key-share lock on its
// row through the foreign key, so the merge's FOR UPDATE waits for
// in-flight inserts to commit and then moves them; inserts that come after
// the lock wait on it and then fail the foreign key, which the store
// reports as sb.ErrCustomerGone, and the caller resolves again (to the
// survivor). Repeating a merge is a no-op that returns the survivor.
func (db *DB) MergeCustomers(ctx context.Context, accountID, intoID, fromID string) (*sb.Customer, []string, error) {
	for attempt := 1; ; attempt++ {
		c, deliveries, err := db.mergeCustomers(ctx, accountID, intoID, fromID)
		// A deadlock needs a writer holding a key-share lock on one of the
		// two rows while waiting for the other (a multi-row message batch);
		// PostgreSQL aborts one side, and the merge simply runs again.
		if !isDeadlock(err) || attempt == 3 {
			return c, deliveries, err
		}
	}
}

func isDeadlock(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40P01"
}

func (db *DB) mergeCustomers(ctx context.Context, accountID, intoID, fromID string) (*sb.Customer, []string, error) {
	if intoID == fromID {
		return nil, nil, sb.Invalid(sb.FieldError{Field: "from_customer_id", Message: "must be another customer than the one merged into"})
	}
	if !validID(intoID) {
		return nil, nil, sb.ErrNotFound
	}
	fromMissing := &sb.Error{Code: sb.ENOTFOUND, Message: fmt.Sprintf("customer %s not found", fromID),
		Fields: []sb.FieldError{{Field: "from_customer_id", Message: "no such customer"}}}
	if !validID(fromID) {
		return nil, nil, fromMissing
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	// An old id of the survivor stands for it.
	var into string
	if err := tx.QueryRow(ctx, `SELECT `+forwardedID+`::text`, accountID, intoID).Scan(&into); err != nil {
		return nil, nil, fmt.Errorf("resolve customer: %w", err)
	}
	if into == fromID {
		c, err := getCustomer(ctx, tx, accountID, into) // already one customer
		return c, nil, err
	}
	rows, err := tx.Query(ctx, `SELECT id::text FROM customers WHERE account_id = $1 AND id IN ($2, $3) ORDER BY id FOR UPDATE`,
		accountID, into, fromID)
	if err != nil {
		return nil, nil, fmt.Errorf("lock customers: %w", err)
	}
	locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, fmt.Errorf("lock customers: %w", err)
	}
	if !slices.Contains(locked, into) {
		return nil, nil, sb.ErrNotFound
	}
	if !slices.Contains(locked, fromID) {
		var was string
		err := tx.QueryRow(ctx, `SELECT into_customer_id::text FROM customer_merges WHERE account_id = $1 AND from_customer_id = $2`,
			accountID, fromID).Scan(&was)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil, nil, fromMissing
		case err != nil:
			return nil, nil, fmt.Errorf("find merge: %w", err)
		case was != into:
			return nil, nil, &sb.Error{Code: sb.EEXISTS,
				Message: fmt.Sprintf("customer %s was already merged into customer %s", fromID, was),
				Fields:  []sb.FieldError{{Field: "from_customer_id", Message: "was merged into customer " + was}}}
		}
		c, err := getCustomer(ctx, tx, accountID, into) // a repeated merge
		return c, nil, err
	}

	now := db.now()
	// One open conversation per customer: when both have one, from's
	// closes before it moves.
	closed, err := scanConversations(tx.Query(ctx, `UPDATE conversations SET status = 'closed', closed_at = $3, closed_reason = 'merged', updated_at = $3
		WHERE account_id = $1 AND customer_id = $2 AND status = 'open'
			AND EXISTS (SELECT 1 FROM conversations o WHERE o.customer_id = $4 AND o.status = 'open')
		RETURNING `+conversationColumns, accountID, fromID, now, into))
	if err != nil {
		return nil, nil, fmt.Errorf("close merged conversation: %w", err)
	}
	moves := []string{
		`UPDATE identities SET customer_id = $2 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE messages SET customer_id = $2 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE calls SET customer_id = $2 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE bot_sessions SET customer_id = $2 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE transcript_entries SET customer_id = $2 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE customer_events SET customer_id = $2 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE opt_outs SET customer_id = $2 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE customer_merges SET into_customer_id = $2 WHERE account_id = $1 AND into_customer_id = $3`,
	}
	for _, q := range moves {
		if _, err := tx.Exec(ctx, q, accountID, into, fromID); err != nil {
			return nil, nil, fmt.Errorf("merge customers: %w", err)
		}
	}
	for _, q := range []string{
		`UPDATE conversations SET customer_id = $2, updated_at = $4 WHERE account_id = $1 AND customer_id = $3`,
		`UPDATE customers i SET name = CASE WHEN i.name = '' THEN f.name ELSE i.name END,
			email = CASE WHEN i.email = '' THEN f.email ELSE i.email END,
			locale = CASE WHEN i.locale = '' THEN f.locale ELSE i.locale END,
			timezone = CASE WHEN i.timezone = '' THEN f.timezone ELSE i.timezone END,
			preferred_channel = CASE WHEN i.preferred_channel = '' THEN f.preferred_channel ELSE i.preferred_channel END,
			attributes = f.attributes || i.attributes, updated_at = $4
		FROM customers f WHERE i.account_id = $1 AND i.id = $2 AND f.id = $3`,
		`INSERT INTO customer_merges (account_id, from_customer_id, into_customer_id, created_at) VALUES ($1, $3, $2, $4)`,
	} {
		if _, err := tx.Exec(ctx, q, accountID, into, fromID, now); err != nil {
			return nil, nil, fmt.Errorf("merge customers: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM customers WHERE account_id = $1 AND id = $2`, accountID, fromID); err != nil {
		return nil, nil, fmt.Errorf("merge customers: %w", err)
	}
	var deliveries []string
	for _, c := range closed {
		c.CustomerID, c.UpdatedAt = into, now
		d, err := db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: accountID, CustomerID: into, ConversationID: c.ID,
			Type: sb.EventConversationClosed, Data: mustJSON(map[string]string{"reason": "merged"}), CreatedAt: now}, c)
		if err != nil {
			return nil, nil, err
		}
		deliveries = append(deliveries, d...)
	}
	survivor, err := getCustomer(ctx, tx, accountID, into)
	if err != nil {
		return nil, nil, err
	}
	d, err := db.recordEvent(ctx, tx, sb.CustomerEvent{AccountID: accountID, CustomerID: into, Type: sb.EventCustomerMerged,
		Data: mustJSON(map[string]string{"from_customer_id": fromID, "into_customer_id": into}), CreatedAt: now}, survivor)
	if err != nil {
		return nil, nil, err
	}
	deliveries = append(deliveries, d...)
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("commit merge: %w", err)
	}
	return survivor, deliveries, nil
}
