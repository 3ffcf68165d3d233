package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/internal/pgrow"
	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// ResultsPostgres is a pipeline.ResultSource over a run stored by the
// Postgres sink (audit report): the results of every shard of the run,
// merged in input order (line, then id_type and user_id), streamed from a
// read-only transaction whose snapshot also holds the runs row read at open.
type ResultsPostgres struct {
	pgQuery

	run      pipeline.RunInfo
	stored   pipeline.Summary
	complete bool
	reason   string
	lastErr  error
}

var _ pipeline.ResultSource = (*ResultsPostgres)(nil)

// OpenResultsPostgres opens run runID in schema (empty: mfa_audit) of the
// database at url (AUDIT_REPORT_FROM). An unknown run id is an error naming
// AUDIT_RUN_ID; errors never contain the password of url.
func OpenResultsPostgres(ctx context.Context, url, schema, runID string) (*ResultsPostgres, error) {
	safe := redact.URL(url)
	if schema == "" {
		schema = "mfa_audit"
	}
	if runID == "" {
		return nil, errors.New("AUDIT_RUN_ID is empty: audit report needs the id of the stored run")
	}
	r := &ResultsPostgres{}
	// Repeatable read: the runs row and the results come from one snapshot.
	qctx, stop, err := r.begin(ctx, "AUDIT_REPORT_FROM", url, pgx.RepeatableRead)
	if err != nil {
		return nil, err
	}
	defer stop()
	fail := func(err error) (*ResultsPostgres, error) {
		r.Close()
		return nil, redact.Error(err, url)
	}
	s := pgx.Identifier{schema}.Sanitize()
	var exists bool
	if err := r.tx.QueryRow(qctx, "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
		s+".runs", s+".results").Scan(&exists); err != nil {
		return fail(fmt.Errorf("AUDIT_REPORT_FROM %s: %w", safe, err))
	}
	if !exists {
		return fail(fmt.Errorf("AUDIT_REPORT_FROM %s: schema %s holds no mfa-audit tables (see AUDIT_PG_SCHEMA)", safe, s))
	}
	if err := r.readRun(qctx, s, runID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fail(fmt.Errorf("AUDIT_RUN_ID %q: no such run in %s (schema %s)", runID, safe, s))
		}
		return fail(fmt.Errorf("AUDIT_REPORT_FROM %s: reading run %s: %w", safe, runID, err))
	}
	if len(r.run.AttrNames) == 0 {
		// Written by a tool that did not record them: the union of the keys,
		// by first appearance.
		rows, err := r.tx.Query(qctx, `SELECT k FROM (
			SELECT jsonb_object_keys(attrs) AS k, line FROM `+s+`.results WHERE run_id = $1) t
			GROUP BY k ORDER BY min(line), k`, runID)
		if err == nil {
			r.run.AttrNames, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return fail(fmt.Errorf("AUDIT_REPORT_FROM %s: reading attribute names: %w", safe, err))
		}
	}
	r.rows, err = r.tx.Query(qctx, "SELECT "+pgrow.Columns+" FROM "+s+
		".results WHERE run_id = $1 ORDER BY line, id_type, user_id", runID)
	if err != nil {
		return fail(fmt.Errorf("AUDIT_REPORT_FROM %s: reading results: %w", safe, err))
	}
	return r, nil
}

func (r *ResultsPostgres) readRun(ctx context.Context, s, runID string) error {
	var (
		status, policy string
		shardCount     int
		config         []byte
		finishedAt     *time.Time
		sum            = &r.stored
		c              = &sum.Counts
	)
	err := r.tx.QueryRow(ctx, `SELECT run_id, started_at, finished_at, status, source, host, hostname,
		version, policy, group_by, shard_count, attr_names, config, incomplete_reason,
		rows_read, duplicates, unique_subjects, ok, not_found, invalid, error, compliant, non_compliant,
		totp, face, sms, email, strong, weak, none
		FROM `+s+`.runs WHERE run_id = $1`, runID).Scan(
		&r.run.RunID, &r.run.StartedAt, &finishedAt, &status, &r.run.Source, &r.run.Host, &r.run.Hostname,
		&r.run.Version, &policy, &r.run.GroupBy, &shardCount, &r.run.AttrNames, &config, &r.reason,
		&sum.RowsRead, &sum.Duplicates, &c.Unique, &c.OK, &c.NotFound, &c.Invalid, &c.Error,
		&c.Compliant, &c.NonCompliant, &c.TOTP, &c.Face, &c.SMS, &c.Email, &c.Strong, &c.Weak, &c.None)
	if err != nil {
		return err
	}
	r.run.StartedAt = r.run.StartedAt.UTC()
	r.run.Policy = pipeline.Policy(policy)
	if len(config) > 0 {
		if err := json.Unmarshal(config, &r.run.Config); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	r.complete = status == "complete"
	if r.complete {
		r.reason = ""
	} else if r.reason == "" {
		r.reason = status
	}
	if finishedAt != nil {
		sum.FinishedAt = finishedAt.UTC()
	}
	sum.Run = r.run
	sum.Complete, sum.Incomplete = r.complete, r.reason
	return nil
}

// Run describes the stored run. Shard is the zero value: the results of all
// shards are merged.
func (r *ResultsPostgres) Run() pipeline.RunInfo { return r.run }

// Stored reports whether the run's status is complete and, if not, the
// reason recorded ("running", "shard 2/4 incomplete: interrupted", ...).
func (r *ResultsPostgres) Stored() (complete bool, incomplete string) { return r.complete, r.reason }

// Summary returns the figures of the runs row as stored (counts, rows read,
// duplicates, finish time, status); the group breakdown is not stored.
func (r *ResultsPostgres) Summary() pipeline.Summary { return r.stored }

var _ pipeline.StoredCounts = (*ResultsPostgres)(nil)

// Counts returns the stored run's rows read, duplicates, rows of other
// shards and finish time, which results alone cannot tell.
func (r *ResultsPostgres) Counts() (rowsRead, duplicates, otherShard int64, finishedAt time.Time) {
	return r.stored.RowsRead, r.stored.Duplicates, r.stored.OtherShard, r.stored.FinishedAt
}

// Next returns the next stored result (Resumed is false), or pipeline.EOF.
func (r *ResultsPostgres) Next(ctx context.Context) (pipeline.Result, error) {
	if r.done {
		if r.lastErr != nil {
			return pipeline.Result{}, r.lastErr
		}
		return pipeline.Result{}, pipeline.EOF
	}
	stop := context.AfterFunc(ctx, r.cancel)
	defer stop()
	if !r.rows.Next() {
		r.done = true
		if err := r.rows.Err(); err != nil {
			r.lastErr = fmt.Errorf("AUDIT_REPORT_FROM: reading results of run %s: %w", r.run.RunID, err)
			return pipeline.Result{}, r.lastErr
		}
		return pipeline.Result{}, pipeline.EOF
	}
	res, err := pgrow.Scan(r.rows, r.run.AttrNames)
	if err != nil {
		r.done = true
		r.lastErr = fmt.Errorf("AUDIT_REPORT_FROM: reading results of run %s: %w", r.run.RunID, err)
		return pipeline.Result{}, r.lastErr
	}
	return res, nil
}

// Close ends the transaction and closes the connection; results not read
// are not fetched.
func (r *ResultsPostgres) Close() error { return r.pgQuery.close() }
