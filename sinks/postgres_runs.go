package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CompleteRunError is a run id that already names a complete run in a
// Postgres output: storing more results under it would merge two runs
// (two nights' JSON Lines migrated as one), so it is refused (SPEC 2, 5).
type CompleteRunError struct {
	RunID      string
	Output     string // the output without its password
	Schema     string
	FinishedAt time.Time
	Subjects   int64
}

func (e *CompleteRunError) Error() string {
	finished := ""
	if !e.FinishedAt.IsZero() {
		finished = "finished " + e.FinishedAt.UTC().Format(time.RFC3339) + ", "
	}
	return fmt.Sprintf("AUDIT_RUN_ID %q: AUDIT_OUTPUT %s (schema %s) already holds the complete run %q (%s%d subjects); "+
		"a run id names one run, so two runs never merge: give this one its own AUDIT_RUN_ID",
		e.RunID, e.Output, e.Schema, e.RunID, finished, e.Subjects)
}

// CheckNotComplete returns a *CompleteRunError when runID already names a
// complete run in the output; nil when the run is new, or was left running,
// incomplete or failed (storing into it resumes it).
func (s *Postgres) CheckNotComplete(ctx context.Context, runID string) error {
	var (
		status   string
		finished *time.Time
		unique   int64
	)
	err := s.pool.QueryRow(ctx, "SELECT status, finished_at, unique_subjects FROM "+s.schema+".runs WHERE run_id = $1", runID).
		Scan(&status, &finished, &unique)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("AUDIT_OUTPUT %s: reading run %s: %w", s.desc, runID, err)
	case status != "complete":
		return nil
	}
	e := &CompleteRunError{RunID: runID, Output: s.desc, Schema: s.schema, Subjects: unique}
	if finished != nil {
		e.FinishedAt = *finished
	}
	return e
}
