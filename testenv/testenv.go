// Package testenv gives tests a real PostgreSQL database (fresh and migrated
// per call) and a real Redis (flushed per call), from the servers `make
// test` starts. It exists for tests only.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/switchboardhq/switchboard/postgres"
)

// Defaults match the Makefile's test stack.
const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:25433/switchboard?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:26380/0"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// DatabaseURL creates a fresh database, applies migrations, and returns its
// URL; the database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	base := env("SWITCHBOARD_DATABASE_URL", defaultDatabaseURL)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL not reachable at %s (run `make test`): %v", base, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "sbtest_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	conn.Close(ctx)
	u, _ := url.Parse(base)
	u.Path = "/" + name
	dbURL := u.String()
	db, err := postgres.Open(ctx, dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return dbURL
}

// RedisURL returns the test Redis, flushed. Each test package gets its own
// Redis database (chosen from its directory), so packages that `go test
// ./...` runs in parallel do not flush each other's queues.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := env("SWITCHBOARD_REDIS_URL", defaultRedisURL)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	if pkg, ok := packageDir(); ok {
		h := fnv.New32a()
		h.Write([]byte(pkg))
		opt.DB = 1 + int(h.Sum32()%15)
		parsed, _ := url.Parse(u)
		parsed.Path = "/" + strconv.Itoa(opt.DB)
		u = parsed.String()
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("testenv: Redis not reachable at %s (run `make test`): %v", u, err)
	}
	return u
}

// packageDir is the test's package directory relative to the module root.
func packageDir() (string, bool) {
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for root := wd; ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			rel, err := filepath.Rel(root, wd)
			return filepath.ToSlash(rel), err == nil
		}
		if filepath.Dir(root) == root {
			return "", false
		}
	}
}
