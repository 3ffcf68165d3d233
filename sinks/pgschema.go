package sinks

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPGSchema is the schema of the Postgres tables (AUDIT_PG_SCHEMA).
const DefaultPGSchema = "mfa_audit"

// pgMigration is one step of the schema. Steps are applied in order, once
// each; a step is never edited after release: changes are new steps.
type pgMigration struct {
	version     int
	description string
	sql         string // {{S}} stands for the quoted schema name
}

var pgMigrations = []pgMigration{
	{1, "runs, run_shards and results", `
CREATE TABLE {{S}}.runs (
	run_id            text PRIMARY KEY,
	started_at        timestamptz NOT NULL,
	finished_at       timestamptz,
	status            text NOT NULL CHECK (status IN ('running', 'complete', 'incomplete', 'failed')),
	source            text NOT NULL DEFAULT '',
	host              text NOT NULL DEFAULT '',
	hostname          text NOT NULL DEFAULT '',
	version           text NOT NULL DEFAULT '',
	policy            text NOT NULL DEFAULT '',
	group_by          text NOT NULL DEFAULT '',
	shard_count       int NOT NULL DEFAULT 1,
	rows_read         bigint NOT NULL DEFAULT 0,
	unique_subjects   bigint NOT NULL DEFAULT 0,
	duplicates        bigint NOT NULL DEFAULT 0,
	ok                bigint NOT NULL DEFAULT 0,
	not_found         bigint NOT NULL DEFAULT 0,
	invalid           bigint NOT NULL DEFAULT 0,
	error             bigint NOT NULL DEFAULT 0,
	compliant         bigint NOT NULL DEFAULT 0,
	non_compliant     bigint NOT NULL DEFAULT 0,
	totp              bigint NOT NULL DEFAULT 0,
	face              bigint NOT NULL DEFAULT 0,
	sms               bigint NOT NULL DEFAULT 0,
	email             bigint NOT NULL DEFAULT 0,
	strong            bigint NOT NULL DEFAULT 0,
	weak              bigint NOT NULL DEFAULT 0,
	none              bigint NOT NULL DEFAULT 0,
	coverage          double precision NOT NULL DEFAULT 0,
	completeness      double precision NOT NULL DEFAULT 0,
	incomplete_reason text NOT NULL DEFAULT '',
	attr_names        text[] NOT NULL DEFAULT '{}',
	config            jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE {{S}}.run_shards (
	run_id            text NOT NULL REFERENCES {{S}}.runs (run_id) ON DELETE CASCADE,
	shard_index       int NOT NULL,
	shard_count       int NOT NULL,
	status            text NOT NULL CHECK (status IN ('running', 'complete', 'incomplete', 'failed')),
	started_at        timestamptz NOT NULL,
	finished_at       timestamptz,
	hostname          text NOT NULL DEFAULT '',
	version           text NOT NULL DEFAULT '',
	rows_read         bigint NOT NULL DEFAULT 0,
	unique_subjects   bigint NOT NULL DEFAULT 0,
	duplicates        bigint NOT NULL DEFAULT 0,
	other_shard       bigint NOT NULL DEFAULT 0,
	resumed           bigint NOT NULL DEFAULT 0,
	ok                bigint NOT NULL DEFAULT 0,
	not_found         bigint NOT NULL DEFAULT 0,
	invalid           bigint NOT NULL DEFAULT 0,
	error             bigint NOT NULL DEFAULT 0,
	compliant         bigint NOT NULL DEFAULT 0,
	non_compliant     bigint NOT NULL DEFAULT 0,
	totp              bigint NOT NULL DEFAULT 0,
	face              bigint NOT NULL DEFAULT 0,
	sms               bigint NOT NULL DEFAULT 0,
	email             bigint NOT NULL DEFAULT 0,
	strong            bigint NOT NULL DEFAULT 0,
	weak              bigint NOT NULL DEFAULT 0,
	none              bigint NOT NULL DEFAULT 0,
	coverage          double precision NOT NULL DEFAULT 0,
	completeness      double precision NOT NULL DEFAULT 0,
	incomplete_reason text NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, shard_index)
);

CREATE TABLE {{S}}.results (
	run_id     text NOT NULL,
	user_id    text NOT NULL,
	id_type    text NOT NULL,
	outcome    text NOT NULL CHECK (outcome IN ('ok', 'not_found', 'invalid', 'error')),
	totp       boolean,
	face       boolean,
	sms        boolean,
	email      boolean,
	factors    int,
	mfa        text NOT NULL,
	compliant  boolean,
	attrs      jsonb NOT NULL DEFAULT '{}',
	error      text,
	api_code   text,
	request_id text,
	attempts   int NOT NULL DEFAULT 0,
	checked_at timestamptz,
	line       bigint NOT NULL DEFAULT 0,
	shard      int NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, id_type, user_id)
);

-- audit report streams a run in input order.
CREATE INDEX results_run_line ON {{S}}.results (run_id, line);
`},
	{2, "coverage and completeness hold the shown share, NULL when undefined", `
ALTER TABLE {{S}}.runs ALTER coverage DROP NOT NULL, ALTER coverage DROP DEFAULT,
	ALTER completeness DROP NOT NULL, ALTER completeness DROP DEFAULT;
ALTER TABLE {{S}}.run_shards ALTER coverage DROP NOT NULL, ALTER coverage DROP DEFAULT,
	ALTER completeness DROP NOT NULL, ALTER completeness DROP DEFAULT;
`},
	{3, "exceptions register (SPEC 14)", `
ALTER TABLE {{S}}.results ADD COLUMN exception jsonb;
ALTER TABLE {{S}}.runs
	ADD COLUMN excepted                 bigint NOT NULL DEFAULT 0,
	ADD COLUMN coverage_with_exceptions double precision,
	ADD COLUMN exceptions_expired       bigint NOT NULL DEFAULT 0,
	ADD COLUMN exceptions_expiring      bigint NOT NULL DEFAULT 0,
	ADD COLUMN exceptions_stale         bigint NOT NULL DEFAULT 0;
ALTER TABLE {{S}}.run_shards
	ADD COLUMN excepted                 bigint NOT NULL DEFAULT 0,
	ADD COLUMN coverage_with_exceptions double precision,
	ADD COLUMN exceptions_expired       bigint NOT NULL DEFAULT 0,
	ADD COLUMN exceptions_expiring      bigint NOT NULL DEFAULT 0,
	ADD COLUMN exceptions_stale         bigint NOT NULL DEFAULT 0;
`},
	{4, "change since the baseline (results.change, non_compliant_since; runs.baseline, changes)", `
ALTER TABLE {{S}}.results
	ADD COLUMN change text CHECK (change IN ('unknown', 'joined', 'new_gap', 'fixed', 'weakened', 'strengthened', 'unchanged')),
	ADD COLUMN non_compliant_since date;
ALTER TABLE {{S}}.runs
	ADD COLUMN baseline text NOT NULL DEFAULT '',
	ADD COLUMN baseline_as_of timestamptz,
	ADD COLUMN changes jsonb;
ALTER TABLE {{S}}.run_shards
	ADD COLUMN baseline text,
	ADD COLUMN baseline_as_of timestamptz,
	ADD COLUMN left_subjects bigint,
	ADD COLUMN then_ok bigint,
	ADD COLUMN then_compliant bigint;
-- AUDIT_BASELINE=previous and the trend look runs up by source.
CREATE INDEX runs_source_started ON {{S}}.runs (source, started_at);
`},
	{5, "the evidence manifest of each run and shard", `
ALTER TABLE {{S}}.runs ADD COLUMN manifest jsonb;
ALTER TABLE {{S}}.run_shards ADD COLUMN manifest jsonb;
`},
}

// pgLockKey is the advisory lock serialising schema changes of one schema
// across processes (several shards start at once).
func pgLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mfa-audit schema\x00" + schema))
	return int64(h.Sum64())
}

// EnsurePGSchema creates the schema and its tables if missing and applies
// pending migrations. It is idempotent and safe when several processes call
// it at once: everything happens in one transaction holding an advisory lock
// (concurrent CREATE ... IF NOT EXISTS alone can fail with 23505).
func EnsurePGSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		schema = DefaultPGSchema
	}
	s := pgx.Identifier{schema}.Sanitize()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", pgLockKey(schema)); err != nil {
			return fmt.Errorf("locking schema %s: %w", s, err)
		}
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+s); err != nil {
			return fmt.Errorf("creating schema %s: %w", s, err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s+`.schema_migrations (
			version     int PRIMARY KEY,
			description text NOT NULL,
			applied_at  timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("creating %s.schema_migrations: %w", s, err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+s+".schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("reading schema version of %s: %w", s, err)
		}
		// A newer schema (written by a newer release) is left alone: its
		// steps only ever add to what this release uses.
		for _, m := range pgMigrations {
			if m.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{{S}}", s)); err != nil {
				return fmt.Errorf("schema %s migration %d (%s): %w", s, m.version, m.description, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+s+".schema_migrations (version, description) VALUES ($1, $2)", m.version, m.description); err != nil {
				return fmt.Errorf("schema %s migration %d: %w", s, m.version, err)
			}
		}
		return nil
	})
}
