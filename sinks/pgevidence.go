package sinks

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/internal/redact"
)

// pgEvidenceTimeout bounds the short connections of the evidence step.
const pgEvidenceTimeout = 30 * time.Second

// PGRunRows returns the number of results stored for runID (every shard's),
// for the manifest's Postgres output entry.
func PGRunRows(ctx context.Context, url, schema, runID string) (int64, error) {
	var n int64
	err := withPGConn(ctx, url, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schemaOr(schema)}.Sanitize()+".results WHERE run_id = $1", runID).Scan(&n)
	})
	return n, err
}

// StorePGManifest stores the evidence manifest of one shard of runID in
// its run_shards row, and in the runs row (the latest shard's manifest).
func StorePGManifest(ctx context.Context, url, schema, runID string, shard int, manifest []byte) error {
	s := pgx.Identifier{schemaOr(schema)}.Sanitize()
	return withPGConn(ctx, url, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "UPDATE "+s+".run_shards SET manifest = $3 WHERE run_id = $1 AND shard_index = $2", runID, shard, string(manifest)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "UPDATE "+s+".runs SET manifest = $2 WHERE run_id = $1", runID, string(manifest))
			return err
		})
	})
}

func schemaOr(schema string) string {
	if schema == "" {
		return DefaultPGSchema
	}
	return schema
}

// withPGConn runs fn on a fresh connection to url; errors never hold its
// password.
func withPGConn(ctx context.Context, url string, fn func(*pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, pgEvidenceTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return redact.Error(fmt.Errorf("postgres output %s: %w", redact.URL(url), err), url)
	}
	defer c.Close(context.WithoutCancel(ctx))
	if err := fn(c); err != nil {
		return redact.Error(fmt.Errorf("postgres output %s: %w", redact.URL(url), err), url)
	}
	return nil
}
