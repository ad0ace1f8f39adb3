package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

const flowColumns = `id, account_id, name, version, definition, created_at`

func scanFlow(row pgx.Row) (*sb.FlowRecord, error) {
	var f sb.FlowRecord
	var def []byte
	if err := row.Scan(&f.ID, &f.AccountID, &f.Name, &f.Version, &def, &f.CreatedAt); err != nil {
		return nil, err
	}
	f.Definition = def
	return &f, nil
}

func scanFlows(rows pgx.Rows, err error) ([]*sb.FlowRecord, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sb.FlowRecord
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// CreateFlow stores version 1 of a new flow, minting its id unless set.
func (db *DB) CreateFlow(ctx context.Context, f *sb.FlowRecord) (*sb.FlowRecord, error) {
	out := *f
	if out.ID == "" {
		out.ID = newID()
	} else if !validID(out.ID) {
		return nil, sb.Invalid(sb.FieldError{Field: "id", Message: "must be a UUID"})
	}
	out.Version, out.CreatedAt = 1, db.now()
	got, err := scanFlow(db.pool.QueryRow(ctx, `INSERT INTO flows (id, account_id, version, name, definition, created_at)
		VALUES ($1, $2, 1, $3, $4, $5) RETURNING `+flowColumns, out.ID, out.AccountID, out.Name, []byte(out.Definition), out.CreatedAt))
	if isUniqueViolation(err) {
		return nil, sb.Errorf(sb.ECONFLICT, "flow %s already exists", out.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("create flow: %w", err)
	}
	return got, nil
}

// AddFlowVersion stores def as the flow's next version. An empty name keeps
// the latest version's. Concurrent uploads queue on the lock of version 1
// (a row that never changes but for a delete), so each reads the version
// the previous one committed and none collide.
func (db *DB) AddFlowVersion(ctx context.Context, accountID, id, name string, def json.RawMessage) (*sb.FlowRecord, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	var deleted bool
	if err := tx.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM flows WHERE account_id = $1 AND id = $2 AND version = 1 FOR UPDATE`,
		accountID, id).Scan(&deleted); err != nil {
		return nil, notFound(err)
	}
	if deleted {
		return nil, sb.ErrNotFound
	}
	// A new statement after the lock: it sees every version committed
	// before we got it.
	f, err := scanFlow(tx.QueryRow(ctx, `INSERT INTO flows (id, account_id, version, name, definition, created_at)
		SELECT id, account_id, version + 1, CASE WHEN $3 = '' THEN name ELSE $3 END, $4, $5
		FROM flows WHERE account_id = $1 AND id = $2 ORDER BY version DESC LIMIT 1
		RETURNING `+flowColumns, accountID, id, name, []byte(def), db.now()))
	if err != nil {
		return nil, fmt.Errorf("add flow version: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit flow version: %w", err)
	}
	return f, nil
}

// GetFlow returns one version of a flow, or its latest with version 0. A
// deleted flow has no latest version, but its versions stay readable for
// the sessions that pinned them.
func (db *DB) GetFlow(ctx context.Context, accountID, id string, version int) (*sb.FlowRecord, error) {
	if !validID(id) || version < 0 {
		return nil, sb.ErrNotFound
	}
	var row pgx.Row
	if version == 0 {
		row = db.pool.QueryRow(ctx, `SELECT `+flowColumns+` FROM flows WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL
			ORDER BY version DESC LIMIT 1`, accountID, id)
	} else {
		row = db.pool.QueryRow(ctx, `SELECT `+flowColumns+` FROM flows WHERE account_id = $1 AND id = $2 AND version = $3`, accountID, id, version)
	}
	f, err := scanFlow(row)
	if err != nil {
		return nil, notFound(err)
	}
	return f, nil
}

// ListFlows returns a page of the account's live flows, each at its latest
// version, newest flow first, and the cursor of the next page.
func (db *DB) ListFlows(ctx context.Context, accountID, cursor string, limit int) ([]*sb.FlowRecord, string, error) {
	after, err := afterCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		limit = defaultLimit
	}
	out, err := scanFlows(db.pool.Query(ctx, `SELECT DISTINCT ON (id) `+flowColumns+` FROM flows
		WHERE account_id = $1 AND deleted_at IS NULL AND id < $2 ORDER BY id DESC, version DESC LIMIT $3`, accountID, after, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("list flows: %w", err)
	}
	out, next := page(out, limit, func(f *sb.FlowRecord) string { return f.ID })
	return out, next, nil
}

// ListFlowVersions returns every version of a live flow, oldest first.
func (db *DB) ListFlowVersions(ctx context.Context, accountID, id string) ([]*sb.FlowRecord, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	out, err := scanFlows(db.pool.Query(ctx, `SELECT `+flowColumns+` FROM flows
		WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL ORDER BY version`, accountID, id))
	if err != nil {
		return nil, fmt.Errorf("list flow versions: %w", err)
	}
	if len(out) == 0 {
		return nil, sb.ErrNotFound
	}
	return out, nil
}

// DeleteFlow marks every version of a flow deleted. Sessions running it
// keep reading their pinned version.
func (db *DB) DeleteFlow(ctx context.Context, accountID, id string) error {
	if !validID(id) {
		return sb.ErrNotFound
	}
	tag, err := db.pool.Exec(ctx, `UPDATE flows SET deleted_at = $3 WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL`,
		accountID, id, db.now())
	if err != nil {
		return fmt.Errorf("delete flow: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return sb.ErrNotFound
	}
	return nil
}

// defaultLimit is the page size when a caller passes none.
const defaultLimit = 20
