package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	sb "github.com/switchboardhq/switchboard"
)

// apiKeyPrefix marks Switchboard secret keys so secret scanners can find
// leaked ones.
const apiKeyPrefix = "sk_"

// CreateAccount creates an account and its first API key. The key is
// returned once; only its SHA-256 is stored (the key is 256 random bits, so
// a fast hash is enough and keeps authentication cheap).
func (db *DB) CreateAccount(ctx context.Context, name, callbackSecret string) (accountID, apiKey string, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("generate api key: %w", err)
	}
	apiKey = apiKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(apiKey))
	accountID = newID()
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return "", "", err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, callback_secret) VALUES ($1, $2, $3)`, accountID, name, callbackSecret); err != nil {
		return "", "", fmt.Errorf("insert account: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, account_id, key_hash, prefix) VALUES ($1, $2, $3, $4)`,
		newID(), accountID, hash[:], apiKey[:7]); err != nil {
		return "", "", fmt.Errorf("insert api key: %w", err)
	}
	return accountID, apiKey, tx.Commit(ctx)
}

// Authenticate returns the account an API key belongs to.
func (db *DB) Authenticate(ctx context.Context, apiKey string) (string, error) {
	hash := sha256.Sum256([]byte(apiKey))
	var accountID string
	err := db.pool.QueryRow(ctx,
		`SELECT account_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hash[:]).Scan(&accountID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", sb.Errorf(sb.EUNAUTHORIZED, "unknown API key")
	}
	return accountID, err
}

// CallbackSecret returns the secret that signs the account's status
// callbacks.
func (db *DB) CallbackSecret(ctx context.Context, accountID string) (string, error) {
	var s string
	err := db.pool.QueryRow(ctx, `SELECT callback_secret FROM accounts WHERE id = $1`, accountID).Scan(&s)
	return s, notFound(err)
}
