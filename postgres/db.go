// Package postgres is Switchboard's store: every table lives in PostgreSQL
// and every query here is scoped to an account. It speaks domain types and
// translates pgx errors into domain errors; nothing above it sees pgx.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	sb "github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/migrations"
)

// DB is the store, backed by a pgx pool.
type DB struct {
	pool *pgxpool.Pool
	// fast is a small pool whose sessions commit without waiting for the
	// WAL flush (synchronous_commit off). Routing writes the rows an
	// interaction attaches to (a new customer, identity, conversation) on
	// it: the message that follows commits synchronously, and flushing its
	// commit flushes all WAL before it, so once a 202 is answered those rows
	// are durable too; a crash before that loses only rows no accepted
	// message points at, which the client's retry recreates. It saves two
	// WAL flushes per first contact.
	fast   *pgxpool.Pool
	now    func() time.Time
	batch  *batcher // nil unless EnableGroupCommit was called
	sealer Sealer   // nil: no master key, channels cannot be stored
}

// Open connects to url and checks the connection.
func Open(ctx context.Context, url string, maxConns int32) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	fcfg := cfg.Copy()
	fcfg.MaxConns = max(2, cfg.MaxConns/4)
	fcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	fast, err := pgxpool.NewWithConfig(ctx, fcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &DB{pool: pool, fast: fast, now: now}, nil
}

// Close stops group commit, if running, and releases the pool.
func (db *DB) Close() {
	if db.batch != nil {
		db.batch.stop()
	}
	db.fast.Close()
	db.pool.Close()
}

// Ping reports whether PostgreSQL answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Migrate applies every embedded migration not yet applied.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []string
	for _, r := range res {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// now is truncated to PostgreSQL's microsecond precision so that what an
// insert returns equals what a later read returns.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// validID reports whether s parses as a UUID, so malformed ids become 404s
// rather than database errors.
func validID(s string) bool { _, err := uuid.Parse(s); return err == nil }

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return sb.ErrNotFound
	}
	return err
}

// customerGone turns a foreign-key violation on a message's or identity's
// customer or conversation into sb.ErrCustomerGone: a merge removed the
// customer between resolving and writing, and the caller resolves again.
func customerGone(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" && (strings.Contains(pe.ConstraintName, "customer") || strings.Contains(pe.ConstraintName, "conversation")) {
		return fmt.Errorf("%w: %s", sb.ErrCustomerGone, pe.ConstraintName)
	}
	// A deadlock between routing writes (a merge against a join, say):
	// PostgreSQL aborted one side, which resolves again.
	if errors.As(err, &pe) && pe.Code == "40P01" {
		return fmt.Errorf("%w: %v", sb.ErrCustomerGone, err)
	}
	return err
}
