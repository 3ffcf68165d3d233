package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sources"
)

// AUDIT_BASELINE words.
const (
	baselinePrevious = "previous"
	baselineNone     = "none"
)

// checkBaseline checks the form of AUDIT_BASELINE: empty (the default), a
// word, a .jsonl file or a run id. Whether it can be read is checked by
// loadChanges.
func checkBaseline(b string) error {
	switch {
	case b == "", b == baselinePrevious, b == baselineNone, isJSONLPath(b), validRunID(b):
		return nil
	}
	return fmt.Errorf("AUDIT_BASELINE: %q is not a results .jsonl file, a run id, %s or %s", b, baselinePrevious, baselineNone)
}

func isJSONLPath(s string) bool { return strings.HasSuffix(strings.ToLower(s), ".jsonl") }

// history is where earlier runs are looked up: the Postgres report source,
// else the first Postgres output. Its URL is "" when there is none.
func (c *Config) history() sources.RunHistory {
	if isPostgresURL(c.ReportFrom) {
		return sources.RunHistory{URL: c.ReportFrom, Schema: c.PGSchema, Env: "AUDIT_REPORT_FROM"}
	}
	for _, o := range c.outputs {
		if o.kind == "postgres" {
			return sources.RunHistory{URL: o.path, Schema: c.PGSchema, Env: "AUDIT_OUTPUT"}
		}
	}
	return sources.RunHistory{}
}

// changeSetup is what a run or report compares with: the baseline (nil for
// none) and the earlier runs of the trend.
type changeSetup struct {
	baseline *pipeline.Baseline
	trend    []pipeline.TrendPoint
	file     *os.File // a baseline file, held open
}

// close releases the baseline file.
func (cs changeSetup) close() {
	if cs.file != nil {
		cs.file.Close()
	}
}

// loadChanges resolves AUDIT_BASELINE and reads the baseline, and with a
// Postgres history the trend, for a run of source identified as runID,
// started at before. Every error names AUDIT_BASELINE (or the variable of
// the database) and is a configuration error: exit 2 before any API call.
// An incomplete baseline is used, and logged.
func loadChanges(ctx context.Context, cfg *Config, log *slog.Logger, source, runID string, before time.Time) (changeSetup, error) {
	var cs changeSetup
	hist := cfg.history()
	if hist.URL != "" {
		trend, err := hist.Trend(ctx, source, runID, before, pipeline.MaxTrend-1)
		if err != nil {
			return cs, err
		}
		cs.trend = trend
	}
	choice := cfg.Baseline
	if choice == "" {
		choice = baselineNone
		if hist.URL != "" {
			choice = baselinePrevious
		}
	}
	policy, shard := pipeline.Policy(cfg.Policy), cfg.shard
	var err error
	switch {
	case choice == baselineNone:
		return cs, nil
	case isJSONLPath(choice):
		n, cerr := sources.CountLines(choice)
		if cerr != nil {
			return cs, fmt.Errorf("AUDIT_BASELINE: cannot read %s: %w", choice, unwrapPath(cerr))
		}
		// Kept open for the run: Left reads it again at the end, when a
		// JSON Lines output of the same name may already have replaced it.
		f, oerr := os.Open(choice)
		if oerr != nil {
			return cs, fmt.Errorf("AUDIT_BASELINE: cannot read %s: %w", choice, unwrapPath(oerr))
		}
		cs.file = f
		open := func(context.Context) (pipeline.ResultSource, error) {
			return sources.ReadResultsJSONL(choice, io.NewSectionReader(f, 0, 1<<62))
		}
		cs.baseline, err = pipeline.LoadBaseline(ctx, pipeline.BaselineInfo{File: choice}, open, policy, shard, n)
		if err != nil {
			cs.close()
			return changeSetup{}, fmt.Errorf("AUDIT_BASELINE: %w", unwrapPath(err))
		}
	default:
		if hist.URL == "" {
			return cs, fmt.Errorf("AUDIT_BASELINE: %q needs a Postgres output (AUDIT_OUTPUT postgres://...) to look runs up in; or give a results .jsonl file", choice)
		}
		id := choice
		if choice == baselinePrevious {
			if id, err = hist.Previous(ctx, source, runID, before); err != nil {
				return cs, fmt.Errorf("AUDIT_BASELINE: %w", err)
			}
			if id == "" {
				log.Info("no baseline: no earlier complete run of this source in the database", "source", source)
				return cs, nil
			}
		} else if id == runID {
			return cs, fmt.Errorf("AUDIT_BASELINE: %q is this run itself", id)
		} else if ok, err := hist.Exists(ctx, id); err != nil {
			return cs, fmt.Errorf("AUDIT_BASELINE: %w", err)
		} else if !ok {
			return cs, fmt.Errorf("AUDIT_BASELINE: no run %q in %s %s (schema %s)", id, hist.Env, redact.URL(hist.URL), cfg.PGSchema)
		}
		open := func(ctx context.Context) (pipeline.ResultSource, error) {
			return sources.OpenResultsPostgres(ctx, hist.URL, hist.Schema, id)
		}
		cs.baseline, err = pipeline.LoadBaseline(ctx, pipeline.BaselineInfo{RunID: id}, open, policy, shard, 0)
		if err != nil {
			return cs, fmt.Errorf("AUDIT_BASELINE %s: %w", id, err)
		}
	}
	info := cs.baseline.Info()
	attrs := []any{"baseline", info.Name(), "run_id", info.RunID, "data_as_of", info.DataAsOf.Format(time.RFC3339),
		"subjects", cs.baseline.Len()}
	if !info.Complete {
		log.Warn("the baseline run is incomplete; it is used, and the reports say so", append(attrs, "reason", info.Incomplete)...)
	} else {
		log.Info("baseline loaded", attrs...)
	}
	return cs, nil
}

// unwrapPath drops the Go operation word from a path error ("open x: no
// such file" stays, "open" does not).
func unwrapPath(err error) error {
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) && strings.HasPrefix(err.Error(), "open ") {
		return errors.New(strings.TrimPrefix(err.Error(), "open "))
	}
	return err
}

// newGaps reports whether the run gained a new gap (AUDIT_FAIL_ON_NEW_GAPS).
func newGaps(s *pipeline.Summary) int64 {
	if s.Changes == nil {
		return 0
	}
	return s.Changes.Count(pipeline.ChangeNewGap)
}

// changeLogAttrs are the change figures of the final log line.
func changeLogAttrs(s *pipeline.Summary) []any {
	c := s.Changes
	if c == nil {
		return nil
	}
	var attrs []any
	if !c.Recorded {
		attrs = append(attrs, "baseline", c.Baseline.Name(), "baseline_as_of", c.Baseline.DataAsOf.Format(time.RFC3339))
		if !c.Baseline.Complete {
			attrs = append(attrs, "baseline_incomplete", c.Baseline.Incomplete)
		}
		attrs = append(attrs, "coverage_then_pct", logShare(c.Then.CoverageShare()))
		if d, ok := c.CoveragePoints(s.Counts); ok {
			attrs = append(attrs, "coverage_change_points", float64(d)/10)
		} else {
			attrs = append(attrs, "coverage_change_points", pipeline.NA)
		}
	}
	for _, class := range pipeline.ChangeClasses {
		attrs = append(attrs, "change_"+string(class), c.Count(class))
	}
	return attrs
}

// bytes is the memory the baseline holds during the run.
func (cs changeSetup) bytes() int64 {
	if cs.baseline == nil {
		return 0
	}
	return cs.baseline.Bytes()
}

// reportBefore bounds the runs a re-rendered run is compared with: those
// started before it (now when the stored run does not say).
func reportBefore(run pipeline.RunInfo) time.Time {
	if run.StartedAt.IsZero() {
		return time.Now()
	}
	return run.StartedAt
}
