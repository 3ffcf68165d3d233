// Package pgtest gives tests a real PostgreSQL: the database named by
// AUDIT_TEST_DATABASE_URL, and a fresh schema per test, dropped when the
// test ends. Tests skip, saying why, when the variable is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvVar names the database the tests use, e.g.
// postgres://postgres@127.0.0.1:5432/test.
const EnvVar = "AUDIT_TEST_DATABASE_URL"

// DB is a test's view of the test database.
type DB struct {
	// URL is the connection string from EnvVar.
	URL string
	// Schema is a schema created for this test alone (unquoted name).
	Schema string
	// Pool is connected to URL, for setting up and checking data.
	Pool *pgxpool.Pool
}

// URL returns the test database URL, or skips tb when EnvVar is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvVar)
	if u == "" && os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
		tb.Fatalf("%s is not set but AUDIT_TEST_REQUIRE_ALL is: the Postgres tests must run here", EnvVar)
	}
	if u == "" {
		tb.Skipf("%s is not set: skipping this test against a real PostgreSQL "+
			"(e.g. %s=postgres://postgres@127.0.0.1:5432/test)", EnvVar, EnvVar)
	}
	return u
}

// New connects to the test database and creates a fresh schema for tb; the
// schema (with everything in it) is dropped and the pool closed when tb
// ends. It skips tb when EnvVar is unset and fails it when the database
// cannot be reached.
func New(tb testing.TB) *DB {
	tb.Helper()
	u := URL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		tb.Fatalf("%s: %v", EnvVar, err)
	}
	if cfg.MaxConns < 4 {
		cfg.MaxConns = 4
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("%s: %v", EnvVar, err)
	}
	tb.Cleanup(pool.Close)
	db := &DB{URL: u, Pool: pool}
	db.Schema = db.SchemaName(tb)
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+db.Quoted()); err != nil {
		tb.Fatalf("%s: creating schema %s: %v", EnvVar, db.Schema, err)
	}
	return db
}

// Quoted is Schema quoted as an identifier.
func (db *DB) Quoted() string { return pgx.Identifier{db.Schema}.Sanitize() }

// SchemaName returns a new unique schema name for tb without creating it,
// and drops that schema (if it exists then) when tb ends. For tests of code
// that creates schemas itself.
func (db *DB) SchemaName(tb testing.TB) string {
	tb.Helper()
	name := schemaName(tb.Name())
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.Pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("dropping test schema %s: %v", name, err)
		}
	})
	return name
}

// SearchPathURL is URL with search_path set to Schema, so that unqualified
// table names in queries resolve to the test's schema.
func (db *DB) SearchPathURL() string {
	sep := "?"
	if strings.Contains(db.URL, "?") {
		sep = "&"
	}
	return db.URL + sep + "search_path=" + db.Schema
}

// Exec runs sql (setup statements) or fails tb.
func (db *DB) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// schemaName makes "t_<test name>_<random>", at most 63 bytes.
func schemaName(test string) string {
	n := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(test), "_"), "_")
	if len(n) > 40 {
		n = n[:40]
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t_" + n + "_" + hex.EncodeToString(b[:])
}
