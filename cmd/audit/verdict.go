package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sources"
)

// peekedSource yields the subject peekSource read ahead, then the rest.
type peekedSource struct {
	pipeline.Source
	first *pipeline.Subject
}

func (p *peekedSource) Next(ctx context.Context) (pipeline.Subject, error) {
	if s := p.first; s != nil {
		p.first = nil
		return *s, nil
	}
	return p.Source.Next(ctx)
}

// peekSource reads the first subject of a file or SQL source, so that a
// source that yields no subject at all (a header and no rows, a query
// without rows) is a configuration error before any API call: an audit of
// nobody is never a success (SPEC 4). The returned source yields that
// subject first. A read error other than the end is left to the run.
func peekSource(ctx context.Context, src pipeline.Source, name string) (pipeline.Source, error) {
	s, err := src.Next(ctx)
	switch {
	case errors.Is(err, pipeline.EOF):
		return nil, fmt.Errorf("AUDIT_SOURCE: %s yields no subject (a header and no rows, or a query without rows): there is nobody to audit",
			describeSource(src, name))
	case err != nil:
		return nil, fmt.Errorf("AUDIT_SOURCE: reading %s: %w", describeSource(src, name), err)
	}
	return &peekedSource{Source: src, first: &s}, nil
}

// exitCode maps a finished run to SPEC section 8. A run that audited nobody
// (an empty pool listing; a file or query without subjects is exit 2 before
// the run) is not a success: exit 1. A run that found nobody (every subject
// not_found or invalid) has findings, not a failure: its words say so.
// AUDIT_FAIL_UNDER applies only when coverage is defined.
func exitCode(cfg *Config, sum *pipeline.Summary, runErr error) int {
	switch {
	case errors.As(runErr, new(*sources.EncodingError)):
		return exitUsage // a person must fix the file; what was answered is written
	case runErr != nil || !sum.Complete || sum.Failed:
		return exitFailed
	}
	if sum.Ending() == pipeline.EndNothing {
		return exitFailed
	}
	switch {
	case cfg.FailUnder > 0 && sum.OK > 0 && judgedCoverage(sum) < cfg.FailUnder:
		return exitBelowFloor
	case cfg.FailOnNewGaps && newGaps(sum) > 0:
		return exitBelowFloor
	}
	return exitOK
}

// verdictLine is the message of the final log line: how the run ended, in
// words that tell "stopped early", "interrupted", "incomplete", "nobody
// audited" and "below policy" apart, and for a systemic stop the cause and
// the fix (also as attributes, for log collectors).
func verdictLine(cfg *Config, s *pipeline.Summary, code int, runErr error) (slog.Level, string, []any) {
	var se *pipeline.SystemicError
	if errors.As(runErr, &se) {
		return slog.LevelError, "audit stopped early: " + se.Cause + "; fix: " + se.Fix,
			[]any{"cause", se.Cause, "fix", se.Fix}
	}
	answered := fmt.Sprintf("%d users answered, the rest of the input was not read", s.Unique)
	switch s.Ending() {
	case pipeline.EndStopped:
		return slog.LevelError, "audit stopped early: " + s.Incomplete, nil
	case pipeline.EndInterrupted:
		return slog.LevelError, "audit interrupted: " + answered, nil
	case pipeline.EndFailed:
		return slog.LevelError, "audit incomplete: " + s.Incomplete, nil
	case pipeline.EndNothing:
		return slog.LevelError, "audit of nobody: " + s.Caveat(), nil
	case pipeline.EndNoneFound:
		return slog.LevelWarn, fmt.Sprintf("audit found no user: all %d subjects are not_found or invalid, so coverage and completeness are n/a; check the id type (AUDIT_ID_TYPE) and that the users belong to this pool", s.Unique), nil
	case pipeline.EndUnknowns:
		if code == exitFailed {
			return slog.LevelError, fmt.Sprintf("audit incomplete: the MFA state of %d users is unknown, more than AUDIT_MAX_UNKNOWN=%d", s.Error, cfg.MaxUnknown), nil
		}
		return slog.LevelWarn, fmt.Sprintf("audit finished, but the MFA state of %d users is unknown (within AUDIT_MAX_UNKNOWN=%d); coverage is not final", s.Error, cfg.MaxUnknown), nil
	}
	if code == exitBelowFloor {
		if cfg.FailUnder > 0 && judgedCoverage(s) < cfg.FailUnder {
			return slog.LevelWarn, fmt.Sprintf("audit finished below policy: %s is below AUDIT_FAIL_UNDER=%g", judgedCoverageText(s), cfg.FailUnder), nil
		}
		return slog.LevelWarn, fmt.Sprintf("audit finished with %d new gaps (AUDIT_FAIL_ON_NEW_GAPS)", newGaps(s)), nil
	}
	return slog.LevelInfo, "audit finished", nil
}
