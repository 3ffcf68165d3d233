package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// ResultsPostgres is a pipeline.ResultSource over a run stored by the
// Postgres sink (audit report): the results of every shard of the run,
// merged in input order (line, then id_type and user_id), streamed from a
// read-only transaction whose snapshot also holds the runs row read at open.
type ResultsPostgres struct {
	conn   *pgx.Conn
	tx     pgx.Tx
	rows   pgx.Rows
	cancel context.CancelFunc

	run      pipeline.RunInfo
	stored   pipeline.Summary
	complete bool
	reason   string
	done     bool
	lastErr  error
}

var _ pipeline.ResultSource = (*ResultsPostgres)(nil)

// OpenResultsPostgres opens run runID in schema (empty: mfa_audit) of the
// database at url (AUDIT_REPORT_FROM). An unknown run id is an error naming
// AUDIT_RUN_ID; errors never contain the password of url.
func OpenResultsPostgres(ctx context.Context, url, schema, runID string) (*ResultsPostgres, error) {
	safe := RedactURL(url)
	if schema == "" {
		schema = "mfa_audit"
	}
	if runID == "" {
		return nil, errors.New("AUDIT_RUN_ID is empty: audit report needs the id of the stored run")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, pgScrub(fmt.Errorf("AUDIT_REPORT_FROM %s: not a valid Postgres URL: %w", safe, err), url)
	}
	qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	r := &ResultsPostgres{cancel: cancel}
	fail := func(err error) (*ResultsPostgres, error) {
		r.Close()
		return nil, pgScrub(err, url)
	}
	r.conn, err = pgx.ConnectConfig(qctx, cfg)
	if err != nil {
		cancel()
		return nil, pgScrub(fmt.Errorf("AUDIT_REPORT_FROM %s: connecting: %w", safe, err), url)
	}
	// Repeatable read: the runs row and the results come from one snapshot.
	r.tx, err = r.conn.BeginTx(qctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return fail(fmt.Errorf("AUDIT_REPORT_FROM %s: starting a read-only transaction: %w", safe, err))
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
	r.rows, err = r.tx.Query(qctx, "SELECT "+resultsReadColumns+" FROM "+s+
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
	res, err := scanStoredResult(r.rows, r.run.AttrNames)
	if err != nil {
		r.done = true
		r.lastErr = fmt.Errorf("AUDIT_REPORT_FROM: reading results of run %s: %w", r.run.RunID, err)
		return pipeline.Result{}, r.lastErr
	}
	return res, nil
}

// Close ends the transaction and closes the connection; results not read
// are not fetched.
func (r *ResultsPostgres) Close() error {
	if r.rows != nil && !r.done {
		r.cancel() // rows.Close would drain the rest
	}
	if r.rows != nil {
		r.rows.Close()
	}
	ctx := context.Background()
	if r.tx != nil && !r.conn.IsClosed() {
		_ = r.tx.Rollback(ctx)
	}
	var err error
	if r.conn != nil {
		err = r.conn.Close(ctx)
	}
	r.cancel()
	return err
}

// resultsReadColumns must match scanStoredResult (and the results table of
// sinks/pgschema.go).
const resultsReadColumns = `user_id, id_type, outcome, totp, face, sms, email, factors, mfa,
	compliant, attrs, coalesce(error, ''), coalesce(api_code, ''), coalesce(request_id, ''),
	attempts, checked_at, line`

func scanStoredResult(row pgx.Row, attrOrder []string) (pipeline.Result, error) {
	var (
		r         pipeline.Result
		outcome   string
		attrs     []byte
		checkedAt *time.Time
		factors   *int32
	)
	err := row.Scan(&r.UserID, &r.IDType, &outcome, &r.TOTP, &r.Face, &r.SMS, &r.Email, &factors,
		&r.MFA, &r.Compliant, &attrs, &r.Error, &r.APICode, &r.RequestID, &r.Attempts, &checkedAt, &r.Line)
	if err != nil {
		return r, err
	}
	r.Outcome = pipeline.Outcome(outcome)
	if factors != nil {
		n := int(*factors)
		r.Factors = &n
	}
	if checkedAt != nil {
		r.CheckedAt = checkedAt.UTC()
	}
	r.Attrs, err = decodeStoredAttrs(attrs, attrOrder)
	return r, err
}

// decodeStoredAttrs turns a jsonb object back into attributes in the order
// of the run's attribute names, then any others by name.
func decodeStoredAttrs(b []byte, order []string) (pipeline.Attrs, error) {
	if len(b) == 0 || string(b) == "{}" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("attrs: %w", err)
	}
	value := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		if string(raw) == "null" {
			return ""
		}
		return string(raw)
	}
	out := make(pipeline.Attrs, 0, len(m))
	for _, k := range order {
		if raw, ok := m[k]; ok {
			out = append(out, pipeline.Attr{Key: k, Value: value(raw)})
			delete(m, k)
		}
	}
	if len(m) > 0 {
		rest := make([]string, 0, len(m))
		for k := range m {
			rest = append(rest, k)
		}
		sort.Strings(rest)
		for _, k := range rest {
			out = append(out, pipeline.Attr{Key: k, Value: value(m[k])})
		}
	}
	return out, nil
}
