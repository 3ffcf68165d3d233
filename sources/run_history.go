package sources

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// RunHistory reads earlier runs from the runs table of a Postgres schema
// (the Postgres output of a run, or the source of audit report): the
// baseline AUDIT_BASELINE=previous picks and the trend.
type RunHistory struct {
	URL    string // the database; errors never show its password
	Schema string // AUDIT_PG_SCHEMA; empty: mfa_audit
	Env    string // the variable URL came from, for errors
}

// Previous returns the id of the latest run of source with status
// complete, other than exclude, started before before; "" when there is
// none (or the schema has no tables yet).
func (h RunHistory) Previous(ctx context.Context, source, exclude string, before time.Time) (string, error) {
	var id string
	err := h.query(ctx, func(conn *pgx.Conn, s string) error {
		err := conn.QueryRow(ctx, `SELECT run_id FROM `+s+`.runs
			WHERE status = 'complete' AND source = $1 AND run_id <> $2 AND started_at < $3
			ORDER BY started_at DESC, run_id DESC LIMIT 1`, source, exclude, before).Scan(&id)
		if err == pgx.ErrNoRows {
			return nil
		}
		return err
	})
	return id, err
}

// Exists reports whether runID is a run in the schema.
func (h RunHistory) Exists(ctx context.Context, runID string) (bool, error) {
	var ok bool
	err := h.query(ctx, func(conn *pgx.Conn, s string) error {
		return conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+s+`.runs WHERE run_id = $1)`, runID).Scan(&ok)
	})
	return ok, err
}

// Trend returns coverage and completeness of the latest limit complete runs
// of source other than exclude, started before before, oldest first.
func (h RunHistory) Trend(ctx context.Context, source, exclude string, before time.Time, limit int) ([]pipeline.TrendPoint, error) {
	var out []pipeline.TrendPoint
	err := h.query(ctx, func(conn *pgx.Conn, s string) error {
		rows, err := conn.Query(ctx, `SELECT run_id, coalesce(finished_at, started_at),
			coalesce(coverage, 'NaN'), coalesce(completeness, 'NaN')
			FROM `+s+`.runs
			WHERE status = 'complete' AND source = $1 AND run_id <> $2 AND started_at < $3
			ORDER BY started_at DESC, run_id DESC LIMIT $4`, source, exclude, before, limit)
		if err != nil {
			return err
		}
		var p pipeline.TrendPoint
		_, err = pgx.ForEachRow(rows, []any{&p.RunID, &p.DataAsOf, &p.Coverage, &p.Completeness}, func() error {
			p.DataAsOf = p.DataAsOf.UTC()
			out = append(out, p)
			return nil
		})
		return err
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// query runs fn on a connection of its own when the schema has the runs
// table; without it there is no history and fn is not called.
func (h RunHistory) query(ctx context.Context, fn func(conn *pgx.Conn, schema string) error) error {
	schema := h.Schema
	if schema == "" {
		schema = "mfa_audit"
	}
	safe := redact.URL(h.URL)
	conn, err := pgx.Connect(ctx, h.URL)
	if err != nil {
		return redact.Error(fmt.Errorf("%s %s: connecting: %w", h.Env, safe, err), h.URL)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s := pgx.Identifier{schema}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", s+".runs").Scan(&exists); err != nil {
		return redact.Error(fmt.Errorf("%s %s: %w", h.Env, safe, err), h.URL)
	}
	if !exists {
		return nil
	}
	if err := fn(conn, s); err != nil {
		return redact.Error(fmt.Errorf("%s %s: reading runs of schema %s: %w", h.Env, safe, s, err), h.URL)
	}
	return nil
}
