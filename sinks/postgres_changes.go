package sinks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// storeShardChanges records on this shard's run_shards row what the results
// cannot tell about the change since the baseline: which baseline, how many
// of its subjects left, and its coverage then (counts of this shard). Without
// a baseline (or with classes only recorded) the columns stay null.
func (s *Postgres) storeShardChanges(ctx context.Context, tx pgx.Tx, c *pipeline.ChangeSummary) error {
	if c == nil || c.Recorded {
		return nil
	}
	var asOf *time.Time
	if !c.Baseline.DataAsOf.IsZero() {
		asOf = &c.Baseline.DataAsOf
	}
	_, err := tx.Exec(ctx, `UPDATE `+s.schema+`.run_shards SET
		baseline = $3, baseline_as_of = $4, left_subjects = $5, then_ok = $6, then_compliant = $7
		WHERE run_id = $1 AND shard_index = $2`,
		s.run.RunID, s.shard.Index, c.Baseline.Name(), asOf, c.Count(pipeline.ChangeLeft), c.Then.OK, c.Then.Compliant)
	if err != nil {
		return fmt.Errorf("updating run_shards (baseline): %w", err)
	}
	return nil
}

// recomputeChanges sets runs.baseline, baseline_as_of and changes (a jsonb
// object: a count per change class and left, coverage_then) from the stored
// results and the run_shards rows. Nothing when no shard had a baseline.
func (s *Postgres) recomputeChanges(ctx context.Context, tx pgx.Tx) error {
	var (
		baseline          *string
		asOf              *time.Time
		left, thenOK, thC *int64
	)
	err := tx.QueryRow(ctx, `SELECT max(baseline), max(baseline_as_of), sum(left_subjects)::bigint,
		sum(then_ok)::bigint, sum(then_compliant)::bigint
		FROM `+s.schema+`.run_shards WHERE run_id = $1`, s.run.RunID).Scan(&baseline, &asOf, &left, &thenOK, &thC)
	if err != nil {
		return fmt.Errorf("reading run_shards (baseline): %w", err)
	}
	if baseline == nil {
		return nil
	}
	counts := map[string]any{}
	for _, c := range pipeline.ChangeClasses {
		counts[string(c)] = int64(0)
	}
	rows, err := tx.Query(ctx, `SELECT change, count(*) FROM `+s.schema+`.results
		WHERE run_id = $1 AND change IS NOT NULL GROUP BY change`, s.run.RunID)
	if err != nil {
		return fmt.Errorf("counting changes: %w", err)
	}
	var (
		class string
		n     int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&class, &n}, func() error {
		counts[class] = n
		return nil
	}); err != nil {
		return fmt.Errorf("counting changes: %w", err)
	}
	counts[string(pipeline.ChangeLeft)] = derefInt(left)
	then := pipeline.Counts{OK: derefInt(thenOK), Compliant: derefInt(thC)}
	counts["then_ok"], counts["then_compliant"], counts["coverage_then"] = then.OK, then.Compliant, then.CoverageShare().Value()
	b, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE `+s.schema+`.runs SET baseline = $2, baseline_as_of = $3, changes = $4
		WHERE run_id = $1`, s.run.RunID, *baseline, asOf, b); err != nil {
		return fmt.Errorf("updating runs (changes): %w", err)
	}
	return nil
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
