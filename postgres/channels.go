package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

// Sealer encrypts secrets before they reach a table and decrypts them on
// the way out (keyring.Keyring). aad binds a sealed value to its row.
type Sealer interface {
	Seal(plain, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
	Current(sealed []byte) bool
}

// SetSealer gives the store the master keyring. Without one, channels
// cannot be connected (their credentials could not be stored encrypted).
func (db *DB) SetSealer(s Sealer) { db.sealer = s }

// ErrNoMasterKey refuses to store credentials in the clear.
var ErrNoMasterKey = &sb.Error{Code: sb.EUNAVAILABLE,
	Message: "SWITCHBOARD_MASTER_KEY is not set, so provider credentials cannot be stored encrypted; set it and restart"}

const channelColumns = `id, account_id, type, name, status, senders, config, credentials, credentials_hint, hook_secret,
	webhook_status, created_at, updated_at`

func (db *DB) scanChannel(row pgx.Row) (*sb.ConnectedChannel, error) {
	var c sb.ConnectedChannel
	var senders, hint, creds, hook []byte
	if err := row.Scan(&c.ID, &c.AccountID, &c.Type, &c.Name, &c.Status, &senders, &c.Config, &creds, &hint, &hook,
		&c.WebhookStatus, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(senders, &c.Senders); err != nil {
		return nil, fmt.Errorf("decode senders: %w", err)
	}
	if err := json.Unmarshal(hint, &c.CredentialsHint); err != nil {
		return nil, fmt.Errorf("decode hint: %w", err)
	}
	if db.sealer == nil {
		return nil, ErrNoMasterKey
	}
	var err error
	if c.Credentials, err = db.sealer.Open(creds, []byte("credentials:"+c.ID)); err != nil {
		return nil, fmt.Errorf("channel %s credentials: %w", c.ID, err)
	}
	secret, err := db.sealer.Open(hook, []byte("hook:"+c.ID))
	if err != nil {
		return nil, fmt.Errorf("channel %s hook secret: %w", c.ID, err)
	}
	c.HookSecret = string(secret)
	return &c, nil
}

func (db *DB) seal(c *sb.ConnectedChannel) (creds, hook []byte, err error) {
	if db.sealer == nil {
		return nil, nil, ErrNoMasterKey
	}
	if creds, err = db.sealer.Seal(c.Credentials, []byte("credentials:"+c.ID)); err != nil {
		return nil, nil, err
	}
	if hook, err = db.sealer.Seal([]byte(c.HookSecret), []byte("hook:"+c.ID)); err != nil {
		return nil, nil, err
	}
	return creds, hook, nil
}

// NewHookSecret returns the random part of a channel's inbound URL.
func NewHookSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateChannel stores a connected channel with its credentials and hook
// secret sealed. c.ID must be set (the sealed values are bound to it).
func (db *DB) CreateChannel(ctx context.Context, c *sb.ConnectedChannel) (*sb.ConnectedChannel, error) {
	if c.HookSecret == "" {
		c.HookSecret = NewHookSecret()
	}
	creds, hook, err := db.seal(c)
	if err != nil {
		return nil, err
	}
	senders, _ := json.Marshal(nonNil(c.Senders))
	hint, _ := json.Marshal(c.CredentialsHint)
	if len(c.Config) == 0 {
		c.Config = json.RawMessage("{}")
	}
	if c.Status == "" {
		c.Status = "active"
	}
	if c.WebhookStatus == "" {
		c.WebhookStatus = "manual"
	}
	now := db.now()
	_, err = db.pool.Exec(ctx, `INSERT INTO channels (id, account_id, type, name, status, senders, config, credentials, credentials_hint,
			hook_secret, webhook_status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
		c.ID, c.AccountID, c.Type, c.Name, c.Status, senders, []byte(c.Config), creds, hint, hook, c.WebhookStatus, now)
	if err != nil {
		return nil, fmt.Errorf("insert channel: %w", err)
	}
	c.CreatedAt, c.UpdatedAt = now, now
	return c, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// GetChannel returns one of the account's channels, credentials opened.
func (db *DB) GetChannel(ctx context.Context, accountID, id string) (*sb.ConnectedChannel, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	c, err := db.scanChannel(db.pool.QueryRow(ctx, `SELECT `+channelColumns+` FROM channels WHERE id = $1 AND account_id = $2`, id, accountID))
	return c, notFound(err)
}

// LoadChannel returns a channel by id alone, for inbound webhooks (which
// authenticate with the channel's hook secret) and workers.
func (db *DB) LoadChannel(ctx context.Context, id string) (*sb.ConnectedChannel, error) {
	if !validID(id) {
		return nil, sb.ErrNotFound
	}
	c, err := db.scanChannel(db.pool.QueryRow(ctx, `SELECT `+channelColumns+` FROM channels WHERE id = $1`, id))
	return c, notFound(err)
}

// ListChannels returns the account's channels, newest first.
func (db *DB) ListChannels(ctx context.Context, accountID, cursor string, limit int) ([]*sb.ConnectedChannel, string, error) {
	after, err := afterCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+channelColumns+` FROM channels WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		accountID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()
	var out []*sb.ConnectedChannel
	for rows.Next() {
		c, err := db.scanChannel(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := page(out, limit, func(c *sb.ConnectedChannel) string { return c.ID })
	return out, next, nil
}

// UpdateChannel applies u to one of the account's channels.
func (db *DB) UpdateChannel(ctx context.Context, accountID, id string, u sb.ChannelUpdate) (*sb.ConnectedChannel, error) {
	c, err := db.GetChannel(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	if u.Name != nil {
		c.Name = *u.Name
	}
	if u.Status != nil {
		c.Status = *u.Status
	}
	if u.Senders != nil {
		c.Senders = u.Senders
	}
	if u.Config != nil {
		c.Config = u.Config
	}
	if u.Credentials != nil {
		c.Credentials, c.CredentialsHint = u.Credentials, u.CredentialsHint
	}
	if u.WebhookStatus != nil {
		c.WebhookStatus = *u.WebhookStatus
	}
	creds, hook, err := db.seal(c)
	if err != nil {
		return nil, err
	}
	senders, _ := json.Marshal(nonNil(c.Senders))
	hint, _ := json.Marshal(c.CredentialsHint)
	c.UpdatedAt = db.now()
	tag, err := db.pool.Exec(ctx, `UPDATE channels SET name = $3, status = $4, senders = $5, config = $6, credentials = $7,
			credentials_hint = $8, hook_secret = $9, webhook_status = $10, updated_at = $11
		WHERE id = $1 AND account_id = $2`,
		id, accountID, c.Name, c.Status, senders, []byte(c.Config), creds, hint, hook, c.WebhookStatus, c.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("update channel: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, sb.ErrNotFound
	}
	return c, nil
}

// DeleteChannel disconnects a channel; its messages keep their history
// (channel_id becomes NULL).
func (db *DB) DeleteChannel(ctx context.Context, accountID, id string) error {
	if !validID(id) {
		return sb.ErrNotFound
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM channels WHERE id = $1 AND account_id = $2`, id, accountID)
	if err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return sb.ErrNotFound
	}
	return nil
}

// ChannelForSender finds the active channel that carries message channel
// ch from address from — or, with from empty, the one holding the default
// sender for ch (else the first sender for ch). Not found: the sandbox
// carries the message.
func (db *DB) ChannelForSender(ctx context.Context, accountID string, ch sb.Channel, from string) (*sb.ConnectedChannel, error) {
	filter, _ := json.Marshal([]map[string]any{{"channel": ch}})
	if from != "" {
		filter, _ = json.Marshal([]map[string]any{{"channel": ch, "address": from}})
	}
	rows, err := db.pool.Query(ctx, `SELECT `+channelColumns+` FROM channels
		WHERE account_id = $1 AND status = 'active' AND senders @> $2::jsonb
		ORDER BY (senders @> $3::jsonb) DESC, id LIMIT 1`,
		accountID, filter, fmt.Sprintf(`[{"channel":%q,"default":true}]`, ch))
	if err != nil {
		return nil, fmt.Errorf("find channel: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, sb.ErrNotFound
	}
	return db.scanChannel(rows)
}

// RotateChannelKeys re-seals every channel's secrets that are not under the
// keyring's current key; progress reports each row done.
func (db *DB) RotateChannelKeys(ctx context.Context, progress func(done, total int)) (int, error) {
	if db.sealer == nil {
		return 0, ErrNoMasterKey
	}
	rows, err := db.pool.Query(ctx, `SELECT id::text, credentials, hook_secret FROM channels`)
	if err != nil {
		return 0, fmt.Errorf("list channels: %w", err)
	}
	type row struct {
		id          string
		creds, hook []byte
	}
	var stale []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.creds, &r.hook); err != nil {
			rows.Close()
			return 0, err
		}
		if !db.sealer.Current(r.creds) || !db.sealer.Current(r.hook) {
			stale = append(stale, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for i, r := range stale {
		plain, err := db.sealer.Open(r.creds, []byte("credentials:"+r.id))
		if err != nil {
			return i, fmt.Errorf("channel %s: %w", r.id, err)
		}
		secret, err := db.sealer.Open(r.hook, []byte("hook:"+r.id))
		if err != nil {
			return i, fmt.Errorf("channel %s: %w", r.id, err)
		}
		creds, err := db.sealer.Seal(plain, []byte("credentials:"+r.id))
		if err != nil {
			return i, err
		}
		hook, err := db.sealer.Seal(secret, []byte("hook:"+r.id))
		if err != nil {
			return i, err
		}
		// Only if nobody changed it meanwhile (they sealed under the new key).
		if _, err := db.pool.Exec(ctx, `UPDATE channels SET credentials = $2, hook_secret = $3 WHERE id = $1 AND credentials = $4`,
			r.id, creds, hook, r.creds); err != nil {
			return i, fmt.Errorf("re-seal channel %s: %w", r.id, err)
		}
		if progress != nil {
			progress(i+1, len(stale))
		}
	}
	return len(stale), nil
}

// FindInbound returns the inbound message a provider already delivered
// with this id, so a retried webhook stores nothing twice.
func (db *DB) FindInbound(ctx context.Context, accountID, provider, providerMessageID string) (*sb.Message, error) {
	m, err := scanMessage(db.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE account_id = $1 AND provider = $2 AND provider_message_id = $3 AND direction = 'inbound'`, accountID, provider, providerMessageID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sb.ErrNotFound
	}
	return m, err
}
