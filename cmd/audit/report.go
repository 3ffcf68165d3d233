package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/delivery"
	"github.com/mfa-audit/mfa-audit/internal/progress"
	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sources"
)

// report is `audit report`: re-render AUDIT_OUTPUT from a stored run
// (AUDIT_REPORT_FROM=postgres://... with AUDIT_RUN_ID) or from a results
// JSON Lines file, without calling the API. It is also the migration path:
// JSONL into Postgres, Postgres into a workbook.
func (e *cmdEnv) report(args []string) int {
	fs := flag.NewFlagSet("audit report", flag.ContinueOnError)
	cfg, problems, err := loadConfig("report", fs, args, e.environ)
	log := newLogger(cfg.LogFormat, e.stdout, cfg.redactor())
	if code, done := e.helpOrUsageError("report", fs, err, usageLogger(log)); done {
		return code
	}
	if err := cfg.requireReport(); err != nil && !cfg.isBlamed("AUDIT_REPORT_FROM", "AUDIT_RUN_ID") {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return logProblems(log, "report", problems)
	}
	j := &job{cmd: "report", cfg: cfg, log: log}
	ctx, stop := signalContext()
	defer stop()

	var rs pipeline.ResultSource
	if isPostgresURL(cfg.ReportFrom) {
		err = j.budget().Connect(ctx, "Postgres (AUDIT_REPORT_FROM "+redact.URL(cfg.ReportFrom)+")", func(ctx context.Context) (err error) {
			rs, err = sources.OpenResultsPostgres(ctx, cfg.ReportFrom, cfg.PGSchema, cfg.RunID) // names its variables
			return err
		})
	} else if rs, err = sources.OpenResultsJSONL(cfg.ReportFrom); err != nil {
		err = fmt.Errorf("AUDIT_REPORT_FROM: %w", err)
	}
	if err != nil {
		return j.usage(err)
	}
	defer rs.Close()
	runID := cfg.RunID
	var bad []error
	if cfg.RunID == "" {
		// From JSON Lines: the file's run_id, never its name (SPEC 2).
		if cfg.RunID = rs.Run().RunID; cfg.RunID == "" {
			bad = append(bad, fmt.Errorf(
				"AUDIT_RUN_ID: required: the results in %s carry no run_id (written by an older version, or empty); name the run, e.g. AUDIT_RUN_ID=%s",
				cfg.ReportFrom, suggestRunID(cfg.ReportFrom)))
		}
	}
	judge, err := reportJudge(cfg, rs)
	if err != nil {
		bad = append(bad, err)
	}
	if len(bad) > 0 {
		return j.usage(errors.Join(bad...))
	}
	fin, err := prepareFinish(ctx, cfg, environMap(e.environ), log, "report", j.budget())
	if err == nil {
		err = fin.describeReportSource(cfg)
	}
	if errors.Is(err, delivery.ErrUnreachable) {
		fin.discard()
		log.Error("a service the report needs did not answer; a later try may succeed", "err", err.Error(), "exit_code", exitFailed)
		return exitFailed
	}
	if err != nil {
		fin.discard()
		return j.usage(err)
	}
	outs, _, err := openOutputs(ctx, cfg, &j.dirs, j.budget())
	if err != nil {
		fin.discard()
		return j.usage(err)
	}
	stored := rs.Run()
	if stored.Policy != "" {
		cfg.Policy = string(stored.Policy) // Replay applies the stored run's policy
	}
	changes, err := loadChanges(ctx, cfg, log, stored.Source, stored.RunID, reportBefore(stored))
	if err != nil {
		closeAll(outs)
		fin.discard()
		return j.usage(err)
	}
	defer changes.close()
	fin.describeBaseline(changes.baseline)
	start := time.Now()
	sum, runErr := pipeline.Replay(ctx, rs, outs, pipeline.ReplayOptions{
		Policy: pipeline.Policy(cfg.Policy), RunID: runID, GroupBy: cfg.GroupBy, MaxUnknown: cfg.MaxUnknown,
		Exceptions: judge,
		Baseline:   changes.baseline, Trend: changes.trend, Evidence: fin.evidence(),
	})
	logExceptionNotes(log, &sum)
	code := fin.finish(ctx, finishInputs{sum: &sum, code: exitCode(cfg, &sum, runErr)})
	attrs := []any{"run_id", sum.Run.RunID, "from", redact.URL(cfg.ReportFrom), "results", sum.Unique,
		"complete", sum.Complete, "coverage_pct", logShare(sum.CoverageShare())}
	attrs = append(attrs, exceptionLogAttrs(&sum)...)
	attrs = append(attrs, changeLogAttrs(&sum)...)
	log.Info("report written", append(attrs, "took", time.Since(start).Round(time.Millisecond).String(), "exit_code", code)...)
	if !sum.Complete {
		log.Error("the stored run is incomplete; the reports say so", "reason", sum.Incomplete)
	}
	logOutputs(log, cfg)
	if progress.IsTerminal(e.stderr) {
		printFinish(e.stderr, progress.Width(e.stderr)-1, cfg, &sum, code, "report")
	}
	return code
}

// requireReport checks what `audit report` needs.
func (c *Config) requireReport() error {
	switch {
	case c.ReportFrom == "":
		return errors.New("AUDIT_REPORT_FROM: required (a postgres:// URL with AUDIT_RUN_ID, or a results .jsonl file)")
	case isPostgresURL(c.ReportFrom) && c.RunID == "":
		return errors.New("AUDIT_RUN_ID: required to report from Postgres")
	case !isPostgresURL(c.ReportFrom) && !strings.HasSuffix(strings.ToLower(c.ReportFrom), ".jsonl"):
		return fmt.Errorf("AUDIT_REPORT_FROM: %q is neither a postgres:// URL nor a .jsonl file", c.ReportFrom)
	}
	return nil
}

// suggestRunID proposes a run id for a results file without one: its
// folder and name ("reports/2024-05-01/mfa.jsonl" gives 2024-05-01-mfa).
func suggestRunID(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != "/" {
		base = dir + "-" + base
	}
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r) {
			return r
		}
		return '-'
	}, base)
	if id == "" || !validRunID(id) {
		return "2024-05-01"
	}
	return id
}
