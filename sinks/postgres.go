package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mfa-audit/mfa-audit/internal/pgrow"
	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// PostgresSinkOptions configure the Postgres sink.
type PostgresSinkOptions struct {
	// Schema holds the tables (AUDIT_PG_SCHEMA); default mfa_audit.
	Schema string
	// BatchSize is the number of results written per COPY batch (one
	// transaction each); default 5000. It bounds the sink's memory.
	BatchSize int
}

// DefaultPGBatchSize is the default PostgresSinkOptions.BatchSize.
const DefaultPGBatchSize = 5000

// pgCloseTimeout bounds Close when the caller's context is already cancelled
// (SIGTERM): the shard must still be marked incomplete within the pod's
// grace period.
const pgCloseTimeout = 10 * time.Second

// Postgres is a pipeline.Sink writing a run into the tables of SPEC section
// 7: one runs row per run, one run_shards row per shard, one results row per
// subject. Results are written in batches, each one transaction: COPY into a
// temporary table, then INSERT ... ON CONFLICT into results, so a batch is
// stored entirely or not at all, a subject is stored once per run, and a
// final outcome is never overwritten by a later error.
//
// A run id that already has rows resumes: Prior returns its final results
// so they are not asked again; they come back with Resumed set and are not
// written twice.
type Postgres struct {
	pool      *pgxpool.Pool
	schema    string // quoted
	desc      string // URL without password
	batchSize int

	conn       *pgxpool.Conn // held for the writes: the temporary table lives on it
	run        pipeline.RunInfo
	shard      pipeline.Shard
	opened     bool
	closed     bool
	batch      []pipeline.Result
	batchSince time.Time // when the oldest buffered result arrived
	written    int64
	sqlInsert  string
	values     []any
	attrBuf    bytes.Buffer
	excBuf     bytes.Buffer
}

var _ pipeline.Sink = (*Postgres)(nil)

// pgLoadTable is the per-connection temporary table batches are copied into.
const pgLoadTable = "mfa_audit_results_load"

// pgResultColumns are the results columns written by the sink, in table order.
var pgResultColumns = []string{
	"run_id", "user_id", "id_type", "outcome", "totp", "face", "sms", "email",
	"factors", "mfa", "compliant", "attrs", "error", "api_code", "request_id",
	"attempts", "checked_at", "line", "shard", "exception", "change", "non_compliant_since",
}

// NewPostgres connects to url (an AUDIT_OUTPUT entry) and creates or
// upgrades the schema, so that a bad URL or missing rights are a
// configuration error before the first API call. Errors name AUDIT_OUTPUT
// and never contain the password of url. The sink keeps a temporary table
// on its connection between batches: connect directly or through a
// session-pooling PgBouncer, not a transaction-pooling one.
func NewPostgres(ctx context.Context, url string, opt PostgresSinkOptions) (*Postgres, error) {
	safe := redact.URL(url)
	if opt.Schema == "" {
		opt.Schema = DefaultPGSchema
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultPGBatchSize
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, redact.Error(fmt.Errorf("AUDIT_OUTPUT %s: not a valid Postgres URL: %w", safe, err), url)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Prior lookups run from the workers concurrently; one more for the writes.
		cfg.MaxConns = 9
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, redact.Error(fmt.Errorf("AUDIT_OUTPUT %s: %w", safe, err), url)
	}
	if err := EnsurePGSchema(ctx, pool, opt.Schema); err != nil {
		pool.Close()
		return nil, redact.Error(fmt.Errorf("AUDIT_OUTPUT %s (AUDIT_PG_SCHEMA %s): %w", safe, opt.Schema, err), url)
	}
	s := &Postgres{
		pool:      pool,
		schema:    pgx.Identifier{opt.Schema}.Sanitize(),
		desc:      safe,
		batchSize: opt.BatchSize,
		values:    make([]any, len(pgResultColumns)),
	}
	s.sqlInsert = s.insertSQL()
	return s, nil
}

// Describe names the output without its password.
func (s *Postgres) Describe() string { return s.desc }

// insertSQL moves the rows of the load table into results. DISTINCT ON keeps
// one row per subject should a batch hold it twice (preferring a final
// outcome); the WHERE of DO UPDATE lets a stored error be replaced but never
// a stored final outcome.
func (s *Postgres) insertSQL() string {
	cols := strings.Join(pgResultColumns, ", ")
	var set []string
	for _, c := range pgResultColumns {
		switch c {
		case "run_id", "id_type", "user_id":
		default:
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	return "INSERT INTO " + s.schema + ".results AS r (" + cols + ")\n" +
		"SELECT DISTINCT ON (run_id, id_type, user_id) " + cols + " FROM pg_temp." + pgLoadTable + "\n" +
		"ORDER BY run_id, id_type, user_id, outcome = 'error', line\n" +
		"ON CONFLICT (run_id, id_type, user_id) DO UPDATE SET " + strings.Join(set, ", ") + "\n" +
		"WHERE r.outcome = 'error'"
}

// Open records the run as running: it creates or updates the runs row
// (keeping the start time of the earliest attempt) and this shard's
// run_shards row.
func (s *Postgres) Open(ctx context.Context, run pipeline.RunInfo) error {
	if run.RunID == "" {
		return errors.New("postgres output: empty run id")
	}
	if run.StartedAt.IsZero() {
		run.StartedAt = time.Now()
	}
	s.run = run
	s.shard = run.Shard
	if s.shard.Count < 1 {
		s.shard = pipeline.Shard{Index: 0, Count: 1}
	}
	config, err := json.Marshal(pgSafeConfig(run.Config))
	if err != nil {
		return fmt.Errorf("postgres output: encoding the configuration: %w", err)
	}
	attrNames := run.AttrNames
	if attrNames == nil {
		attrNames = []string{}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The runs row first (its lock orders concurrent shards), then the shard.
		_, err := tx.Exec(ctx, `INSERT INTO `+s.schema+`.runs AS r
			(run_id, started_at, status, source, host, hostname, version, policy, group_by,
			 shard_count, attr_names, config, incomplete_reason)
			VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running')
			ON CONFLICT (run_id) DO UPDATE SET
				started_at = least(r.started_at, EXCLUDED.started_at),
				finished_at = NULL,
				status = 'running',
				source = EXCLUDED.source,
				host = EXCLUDED.host,
				hostname = EXCLUDED.hostname,
				version = EXCLUDED.version,
				policy = EXCLUDED.policy,
				group_by = EXCLUDED.group_by,
				shard_count = EXCLUDED.shard_count,
				attr_names = r.attr_names || ARRAY(
					SELECT a FROM unnest(EXCLUDED.attr_names) WITH ORDINALITY AS u(a, i)
					WHERE a <> ALL (r.attr_names) ORDER BY i),
				config = EXCLUDED.config,
				incomplete_reason = 'running'`,
			run.RunID, run.StartedAt, run.Source, run.Host, run.Hostname, run.Version,
			string(run.Policy), run.GroupBy, s.shard.Count, attrNames, config)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO `+s.schema+`.run_shards AS r
			(run_id, shard_index, shard_count, status, started_at, hostname, version, incomplete_reason)
			VALUES ($1, $2, $3, 'running', $4, $5, $6, 'running')
			ON CONFLICT (run_id, shard_index) DO UPDATE SET
				shard_count = EXCLUDED.shard_count,
				status = 'running',
				started_at = EXCLUDED.started_at,
				finished_at = NULL,
				hostname = EXCLUDED.hostname,
				version = EXCLUDED.version,
				incomplete_reason = 'running'`,
			run.RunID, s.shard.Index, s.shard.Count, run.StartedAt, run.Hostname, run.Version)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres output %s: recording run %s: %w", s.desc, run.RunID, err)
	}
	s.opened = true
	return nil
}

// pgFlushInterval bounds how long an answered result may wait in memory:
// a process killed mid-run loses at most this much work (resume asks those
// subjects again).
const pgFlushInterval = 2 * time.Second

// Write buffers r and writes a batch when BatchSize results are waiting or
// the oldest has waited pgFlushInterval. Results with Resumed set are
// already stored and are skipped.
func (s *Postgres) Write(ctx context.Context, r pipeline.Result) error {
	if r.Resumed {
		return nil
	}
	if len(s.batch) == 0 {
		s.batchSince = time.Now()
	}
	s.batch = append(s.batch, r)
	if len(s.batch) >= s.batchSize || time.Since(s.batchSince) >= pgFlushInterval {
		return s.flush(ctx)
	}
	return nil
}

// flush writes the buffered results in one transaction. On failure the batch
// is kept (Close tries again) and the connection is dropped.
func (s *Postgres) flush(ctx context.Context) error {
	if len(s.batch) == 0 {
		return nil
	}
	if err := s.writeBatch(ctx); err != nil {
		if s.conn != nil {
			s.conn.Conn().Close(context.Background())
			s.conn.Release()
			s.conn = nil
		}
		return fmt.Errorf("postgres output %s: writing %d results (lines %d-%d): %w",
			s.desc, len(s.batch), s.batch[0].Line, s.batch[len(s.batch)-1].Line, err)
	}
	s.written += int64(len(s.batch))
	clear(s.batch) // drop references to attributes
	s.batch = s.batch[:0]
	return nil
}

func (s *Postgres) writeBatch(ctx context.Context) error {
	if s.conn == nil {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		// Created once per connection; ON COMMIT DELETE ROWS empties it after
		// every batch, and a rolled-back batch leaves nothing behind either.
		if _, err := c.Exec(ctx, "CREATE TEMPORARY TABLE IF NOT EXISTS "+pgLoadTable+
			" (LIKE "+s.schema+".results INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"); err != nil {
			c.Release()
			return fmt.Errorf("creating the load table: %w", err)
		}
		s.conn = c
	}
	return pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{pgLoadTable}, pgResultColumns, &pgBatchRows{s: s, i: -1}); err != nil {
			return fmt.Errorf("COPY: %w", err)
		}
		if _, err := tx.Exec(ctx, s.sqlInsert); err != nil {
			return fmt.Errorf("INSERT INTO results: %w", err)
		}
		return nil
	})
}

// pgBatchRows feeds the batch to CopyFrom, reusing one values slice (CopyFrom
// encodes a row before asking for the next).
type pgBatchRows struct {
	s *Postgres
	i int
}

func (b *pgBatchRows) Next() bool { b.i++; return b.i < len(b.s.batch) }
func (b *pgBatchRows) Err() error { return nil }
func (b *pgBatchRows) Values() ([]any, error) {
	s := b.s
	r := &s.batch[b.i]
	v := s.values
	v[0] = s.run.RunID
	v[1] = pgText(r.UserID)
	v[2] = pgText(r.IDType)
	v[3] = string(r.Outcome)
	v[4], v[5], v[6], v[7] = r.TOTP, r.Face, r.SMS, r.Email
	v[8] = r.Factors
	v[9] = r.MFA
	if r.MFA == "" {
		v[9] = pipeline.MFAUnknown
	}
	v[10] = r.Compliant
	v[11] = s.attrsJSON(r.Attrs)
	v[12] = pgNullText(r.Error)
	v[13] = pgNullText(r.APICode)
	v[14] = pgNullText(r.RequestID)
	v[15] = r.Attempts
	if r.CheckedAt.IsZero() {
		v[16] = nil
	} else {
		v[16] = r.CheckedAt
	}
	v[17] = r.Line
	v[18] = s.shard.Index
	v[19] = s.exceptionJSON(r.Exception)
	v[20] = pgNullText(string(r.Change))
	if r.NonCompliantSince.IsZero() {
		v[21] = nil
	} else {
		v[21] = r.NonCompliantSince
	}
	return v, nil
}

// exceptionJSON encodes a result's exception as the jsonb object of SPEC 14
// (nil for SQL NULL).
func (s *Postgres) exceptionJSON(x *pipeline.Exception) any {
	if x == nil {
		return nil
	}
	b := &s.excBuf
	b.Reset()
	for i, kv := range [][2]string{{"state", x.State}, {"reason", x.Reason}, {"approved_by", x.ApprovedBy}, {"expires", x.Expires}, {"ticket", x.Ticket}} {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		pgJSONString(b, kv[0])
		b.WriteByte(':')
		pgJSONString(b, pgText(kv[1]))
	}
	b.WriteByte('}')
	return b.Bytes() // encoded by CopyFrom before the next row reuses it
}

// attrsJSON encodes attributes as a JSON object (jsonb keeps one value per
// key, the last).
func (s *Postgres) attrsJSON(a pipeline.Attrs) []byte {
	b := &s.attrBuf
	b.Reset()
	b.WriteByte('{')
	for i, kv := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		pgJSONString(b, pgText(kv.Key))
		b.WriteByte(':')
		pgJSONString(b, pgText(kv.Value))
	}
	b.WriteByte('}')
	return b.Bytes() // encoded by CopyFrom before the next row reuses it
}

func pgJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a valid UTF-8 string always encodes
	b.Write(enc)
}

// pgText makes s storable as PostgreSQL text: no NUL bytes, valid UTF-8.
func pgText(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func pgNullText(s string) any {
	if s == "" {
		return nil
	}
	return pgText(s)
}

// Close writes the buffered results, records this shard as complete or
// incomplete (Summary.Complete, Summary.Incomplete) with its counts, and
// recomputes the runs row: counts over all stored results of the run,
// status complete only when every shard of the run is complete. It closes
// the connections; a Prior of this sink must not be used afterwards.
func (s *Postgres) Close(ctx context.Context, sum pipeline.Summary) error {
	if s.closed {
		return nil
	}
	s.closed = true
	defer s.pool.Close()
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), pgCloseTimeout)
		defer cancel()
	}
	if !s.opened {
		return nil
	}
	flushErr := s.flush(ctx)
	if s.conn != nil {
		s.conn.Release()
		s.conn = nil
	}
	status, reason := "complete", ""
	switch {
	case flushErr != nil:
		status, reason = "failed", "writing results failed: "+flushErr.Error()
	case !sum.Complete:
		status, reason = "incomplete", sum.Incomplete
		if sum.Failed {
			status = "failed"
		}
		if reason == "" {
			reason = "incomplete"
		}
	case sum.Failed: // complete, but more unknowns than allowed
		status, reason = "failed", sum.Caveat()
	}
	finished := sum.FinishedAt
	if finished.IsZero() {
		finished = time.Now()
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var shardCount int
		if err := tx.QueryRow(ctx, "SELECT shard_count FROM "+s.schema+".runs WHERE run_id = $1 FOR UPDATE",
			s.run.RunID).Scan(&shardCount); err != nil {
			return fmt.Errorf("locking the runs row: %w", err)
		}
		c := sum.Counts
		var exc pipeline.ExceptionReport
		if sum.Exceptions != nil {
			exc = *sum.Exceptions
		}
		_, err := tx.Exec(ctx, `UPDATE `+s.schema+`.run_shards SET
			status = $3, finished_at = $4, incomplete_reason = $5,
			rows_read = $6, duplicates = $7, other_shard = $8, resumed = $9,
			unique_subjects = $10, ok = $11, not_found = $12, invalid = $13, error = $14,
			compliant = $15, non_compliant = $16, totp = $17, face = $18, sms = $19, email = $20,
			strong = $21, weak = $22, none = $23, coverage = $24, completeness = $25,
			excepted = $26, coverage_with_exceptions = $27, exceptions_expired = $28,
			exceptions_expiring = $29, exceptions_stale = $30
			WHERE run_id = $1 AND shard_index = $2`,
			s.run.RunID, s.shard.Index, status, finished, reason,
			sum.RowsRead, sum.Duplicates, sum.OtherShard, sum.Resumed,
			c.Unique, c.OK, c.NotFound, c.Invalid, c.Error,
			c.Compliant, c.NonCompliant, c.TOTP, c.Face, c.SMS, c.Email,
			c.Strong, c.Weak, c.None, c.CoverageShare().Value(), c.CompletenessShare().Value(),
			c.Excepted, pgCoverageWithExceptions(&sum), exc.Expired, exc.Expiring, exc.Stale)
		if err != nil {
			return fmt.Errorf("updating run_shards: %w", err)
		}
		if err := s.storeShardChanges(ctx, tx, sum.Changes); err != nil {
			return err
		}
		if err := s.recomputeRun(ctx, tx, shardCount); err != nil {
			return err
		}
		return s.recomputeChanges(ctx, tx)
	})
	if err != nil {
		err = fmt.Errorf("postgres output %s: finishing run %s: %w", s.desc, s.run.RunID, err)
	}
	return errors.Join(flushErr, err)
}

// pgCoverageWithExceptions is the shard's coverage with exceptions, or
// NULL when it applied no register.
func pgCoverageWithExceptions(sum *pipeline.Summary) any {
	if sum.Exceptions == nil {
		return nil
	}
	return sum.CoverageWithExceptionsShare().Value()
}

// Discard releases the connections of a sink that will not run (another
// output failed its checks): nothing is recorded.
func (s *Postgres) Discard() {
	if s.closed {
		return
	}
	s.closed = true
	if s.conn != nil {
		s.conn.Release()
		s.conn = nil
	}
	s.pool.Close()
}

// recomputeRun sets the runs row from the stored results (counts) and the
// run_shards rows (status, reason, rows read). The caller holds the row
// lock on runs.
func (s *Postgres) recomputeRun(ctx context.Context, tx pgx.Tx, shardCount int) error {
	var (
		c            pipeline.Counts
		expired      int64
		anyException *bool
	)
	err := tx.QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE outcome = 'ok'),
		count(*) FILTER (WHERE outcome = 'not_found'),
		count(*) FILTER (WHERE outcome = 'invalid'),
		count(*) FILTER (WHERE outcome = 'error'),
		count(*) FILTER (WHERE compliant),
		count(*) FILTER (WHERE NOT compliant),
		count(*) FILTER (WHERE totp),
		count(*) FILTER (WHERE face),
		count(*) FILTER (WHERE sms),
		count(*) FILTER (WHERE email),
		count(*) FILTER (WHERE mfa = 'strong'),
		count(*) FILTER (WHERE mfa = 'weak'),
		count(*) FILTER (WHERE mfa = 'none'),
		count(*) FILTER (WHERE NOT compliant AND exception->>'state' = 'active'),
		count(*) FILTER (WHERE exception->>'state' = 'expired'),
		bool_or(exception IS NOT NULL)
		FROM `+s.schema+`.results WHERE run_id = $1`, s.run.RunID).Scan(
		&c.Unique, &c.OK, &c.NotFound, &c.Invalid, &c.Error, &c.Compliant, &c.NonCompliant,
		&c.TOTP, &c.Face, &c.SMS, &c.Email, &c.Strong, &c.Weak, &c.None,
		&c.Excepted, &expired, &anyException)
	if err != nil {
		return fmt.Errorf("counting results: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT shard_index, shard_count, status, incomplete_reason,
		rows_read, duplicates, finished_at, exceptions_expiring, exceptions_stale, coverage_with_exceptions IS NOT NULL
		FROM `+s.schema+`.run_shards WHERE run_id = $1`, s.run.RunID)
	if err != nil {
		return fmt.Errorf("reading run_shards: %w", err)
	}
	shards, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pgShardState]) // at most shard-count rows
	if err != nil {
		return fmt.Errorf("reading run_shards: %w", err)
	}
	st := pgRunStatus(shards, shardCount)
	// The exceptions figures: excepted and expired from the results,
	// expiring and stale (entries, not results) summed over the shards,
	// each of which judged the entries of its own subjects.
	var expiring, stale int64
	register := anyException != nil && *anyException
	for _, sh := range shards {
		expiring += sh.ExceptionsExpiring
		stale += sh.ExceptionsStale
		register = register || sh.Register
	}
	var covExc any
	if register {
		covExc = c.CoverageWithExceptionsShare().Value()
	}
	_, err = tx.Exec(ctx, `UPDATE `+s.schema+`.runs SET
		status = $2, finished_at = $3, incomplete_reason = $4, rows_read = $5, duplicates = $6,
		unique_subjects = $7, ok = $8, not_found = $9, invalid = $10, error = $11,
		compliant = $12, non_compliant = $13, totp = $14, face = $15, sms = $16, email = $17,
		strong = $18, weak = $19, none = $20, coverage = $21, completeness = $22,
		excepted = $23, coverage_with_exceptions = $24, exceptions_expired = $25,
		exceptions_expiring = $26, exceptions_stale = $27
		WHERE run_id = $1`,
		s.run.RunID, st.status, st.finishedAt, st.reason, st.rowsRead, st.duplicates,
		c.Unique, c.OK, c.NotFound, c.Invalid, c.Error, c.Compliant, c.NonCompliant,
		c.TOTP, c.Face, c.SMS, c.Email, c.Strong, c.Weak, c.None, c.CoverageShare().Value(), c.CompletenessShare().Value(),
		c.Excepted, covExc, expired, expiring, stale)
	if err != nil {
		return fmt.Errorf("updating runs: %w", err)
	}
	return nil
}

type pgShardState struct {
	Index      int
	Count      int
	Status     string
	Reason     string
	RowsRead   int64
	Duplicates int64
	FinishedAt *time.Time
	// The shard's exceptions figures (SPEC 14); Register is true when it
	// applied a register.
	ExceptionsExpiring int64
	ExceptionsStale    int64
	Register           bool
}

type pgRunState struct {
	status, reason       string
	finishedAt           *time.Time
	rowsRead, duplicates int64
}

// pgRunStatus derives the run's status from its shards: complete when all
// shardCount shards are complete, running while any is running, failed when
// one failed, incomplete otherwise (including shards never started). Rows
// read and duplicates are per shard figures over the whole source, so the
// run's are their maximum.
func pgRunStatus(shards []pgShardState, count int) pgRunState {
	if count < 1 {
		count = 1
	}
	byIndex := make(map[int]pgShardState, len(shards))
	for _, sh := range shards {
		if sh.Count == count && sh.Index >= 0 && sh.Index < count {
			byIndex[sh.Index] = sh
		}
	}
	var st pgRunState
	var running, problems []string
	failed := false
	for i := range count {
		name := "shard " + strconv.Itoa(i) + "/" + strconv.Itoa(count)
		sh, ok := byIndex[i]
		if !ok {
			problems = append(problems, name+" not started")
			continue
		}
		st.rowsRead = max(st.rowsRead, sh.RowsRead)
		st.duplicates = max(st.duplicates, sh.Duplicates)
		if sh.FinishedAt != nil && (st.finishedAt == nil || sh.FinishedAt.After(*st.finishedAt)) {
			st.finishedAt = sh.FinishedAt
		}
		switch sh.Status {
		case "complete":
		case "running":
			running = append(running, name)
		default:
			failed = failed || sh.Status == "failed"
			reason := sh.Reason
			if count == 1 {
				problems = append(problems, reason)
			} else {
				problems = append(problems, name+" "+sh.Status+": "+reason)
			}
		}
	}
	switch {
	case len(running) > 0:
		st.status, st.finishedAt = "running", nil
		st.reason = "running"
		if count > 1 {
			st.reason = strings.Join(running, ", ") + " running"
			if len(problems) > 0 {
				st.reason += "; " + strings.Join(problems, "; ")
			}
		}
	case len(problems) == 0:
		st.status = "complete"
	case failed:
		st.status, st.reason = "failed", strings.Join(problems, "; ")
	default:
		st.status, st.reason = "incomplete", strings.Join(problems, "; ")
	}
	return st
}

// Prior returns the final results already stored for runID, for a resumed
// run. It loads the keys of those results into a sorted set of 64-bit hashes
// (8 bytes per stored subject, streamed); a lookup of a subject not in the
// set costs no query, one in it reads its row by primary key. Safe for
// concurrent use; it uses the sink's connections, so it must not be used
// after Close.
func (s *Postgres) Prior(ctx context.Context, runID string) (pipeline.Prior, error) {
	p := &PostgresPrior{
		pool:  s.pool,
		runID: runID,
		query: "SELECT " + pgrow.Columns + " FROM " + s.schema +
			".results WHERE run_id = $1 AND id_type = $2 AND user_id = $3 AND outcome <> 'error'",
		// An e-mail stored as first written in another case (the input
		// changed between attempts): found by its folded form.
		queryFolded: "SELECT " + pgrow.Columns + " FROM " + s.schema +
			".results WHERE run_id = $1 AND id_type = $2 AND lower(user_id) = $3 AND outcome <> 'error' LIMIT 1",
	}
	rows, err := s.pool.Query(ctx, "SELECT id_type, user_id FROM "+s.schema+
		".results WHERE run_id = $1 AND outcome <> 'error'", runID)
	if err != nil {
		return nil, fmt.Errorf("postgres output %s: loading run %s: %w", s.desc, runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		if string(raw[0]) == "email" { // compared by pipeline.KeyOf
			k := pipeline.KeyOf("email", string(raw[1]))
			p.keys = append(p.keys, pgKeyHash(k.IDType, k.UserID))
			continue
		}
		p.keys = append(p.keys, pgKeyHash(raw[0], raw[1]))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres output %s: loading run %s: %w", s.desc, runID, err)
	}
	slices.Sort(p.keys)
	p.keys = slices.Compact(p.keys)
	p.keys = slices.Clip(p.keys)
	return p, nil
}

// PostgresPrior is the pipeline.Prior of a run stored in Postgres.
type PostgresPrior struct {
	pool        *pgxpool.Pool
	runID       string
	query       string
	queryFolded string
	keys        []uint64 // sorted hashes of the keys (pipeline.KeyOf) with a final outcome
}

var _ pipeline.Prior = (*PostgresPrior)(nil)

// Len is the number of final results stored for the run.
func (p *PostgresPrior) Len() int { return len(p.keys) }

// Lookup returns the stored final result of subj with Resumed set; found is
// false when the run has none (never answered, or answered with an error).
func (p *PostgresPrior) Lookup(ctx context.Context, subj pipeline.Subject) (pipeline.Result, bool, error) {
	k := subj.Key()
	h := pgKeyHash(k.IDType, k.UserID)
	if _, ok := slices.BinarySearch(p.keys, h); !ok {
		return pipeline.Result{}, false, nil
	}
	order := make([]string, len(subj.Attrs))
	for i, a := range subj.Attrs {
		order[i] = a.Key
	}
	r, err := pgrow.Scan(p.pool.QueryRow(ctx, p.query, p.runID, subj.IDType, subj.UserID), order)
	if errors.Is(err, pgx.ErrNoRows) && k.IDType == "email" {
		r, err = pgrow.Scan(p.pool.QueryRow(ctx, p.queryFolded, p.runID, k.IDType, k.UserID), order)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return pipeline.Result{}, false, nil // a hash collision
	}
	if err != nil {
		return pipeline.Result{}, false, fmt.Errorf("reading the stored result of %s %q: %w", subj.IDType, subj.UserID, err)
	}
	r.Resumed = true
	return r, true, nil
}

// pgKeyHash is FNV-1a 64 over id_type, a zero byte and user_id, without
// allocating (T is string or []byte).
func pgKeyHash[T string | []byte](idType, userID T) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(idType); i++ {
		h = (h ^ uint64(idType[i])) * prime
	}
	h *= prime // the zero byte
	for i := 0; i < len(userID); i++ {
		h = (h ^ uint64(userID[i])) * prime
	}
	return h
}

// pgSafeConfig drops keys that look secret and passwords inside URL values:
// RunInfo.Config has no secrets by contract; this is a second line.
func pgSafeConfig(c map[string]string) map[string]string {
	out := make(map[string]string, len(c))
	for k, v := range c {
		u := strings.ToUpper(k)
		if strings.Contains(u, "SECRET") || strings.Contains(u, "TOKEN") || strings.Contains(u, "PASSWORD") {
			continue
		}
		if strings.Contains(v, "://") || strings.Contains(strings.ToLower(v), "password") {
			parts := strings.Split(v, ",")
			for i, p := range parts {
				parts[i] = redact.URL(p)
			}
			v = strings.Join(parts, ",")
		}
		out[k] = v
	}
	return out
}
