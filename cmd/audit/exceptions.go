package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/mfa-audit/mfa-audit/exceptions"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// loadExceptions reads and validates the exceptions register: AUDIT_EXCEPTIONS,
// or the register the demo embeds. It returns nil without one. Every
// problem of the file comes back as one error naming the variable, the file
// and the line, so they are all reported before any API call (exit 2).
func (j *job) loadExceptions() (*exceptions.Register, error) {
	var (
		reg *exceptions.Register
		err error
	)
	switch {
	case j.exceptionsData != nil:
		reg, err = exceptions.Parse(j.exceptionsName, j.exceptionsData, j.cfg.IDType)
	case j.cfg.Exceptions != "":
		reg, err = exceptions.Load(j.cfg.Exceptions, j.cfg.IDType)
	default:
		return nil, nil
	}
	if err != nil {
		var re *exceptions.Error
		if !errors.As(err, &re) {
			return nil, fmt.Errorf("AUDIT_EXCEPTIONS: %w", err)
		}
		errs := make([]error, len(re.Problems))
		for i, p := range re.Problems {
			errs[i] = errors.New("AUDIT_EXCEPTIONS: " + p)
		}
		return nil, errors.Join(errs...)
	}
	return reg, nil
}

// exceptionsJudge is the judge of a run with register reg (nil: none),
// judged against the day the run started.
func (j *job) exceptionsJudge(reg *exceptions.Register, run *pipeline.RunInfo) pipeline.ExceptionJudge {
	if reg == nil {
		return nil
	}
	run.Exceptions = true
	if run.Config != nil && run.Config["AUDIT_EXCEPTIONS"] == "" {
		run.Config["AUDIT_EXCEPTIONS"] = reg.Name
	}
	j.log.Info("exceptions register", "file", reg.Name, "entries", len(reg.Entries), "sha256", reg.SHA256,
		"judged_as_of", exceptions.Day(run.StartedAt).Format(exceptions.DateLayout), "warn_days", j.cfg.ExceptionWarn)
	return exceptions.NewJudge(reg, run.StartedAt, j.cfg.ExceptionWarn, run.Shard)
}

// reportJudge is the judge of `audit report`: the register given again
// (AUDIT_EXCEPTIONS), judged against the stored run's date over all its
// shards; else the exceptions the stored results carry, judged again; nil
// when the stored run had no register.
func reportJudge(cfg *Config, rs pipeline.ResultSource) (pipeline.ExceptionJudge, error) {
	asOf := rs.Run().StartedAt
	if asOf.IsZero() {
		asOf = time.Now()
	}
	if cfg.Exceptions != "" {
		j := &job{cfg: cfg}
		reg, err := j.loadExceptions()
		if err != nil {
			return nil, err
		}
		return exceptions.NewJudge(reg, asOf, cfg.ExceptionWarn, pipeline.Shard{}), nil
	}
	if !storedHasExceptions(cfg, rs) {
		return nil, nil
	}
	return exceptions.NewStored(asOf, cfg.ExceptionWarn), nil
}

// storedHasExceptions tells whether the stored run applied a register: the
// configuration a Postgres run recorded says so; a results file is scanned
// for an exception object (a quick pass over the file).
func storedHasExceptions(cfg *Config, rs pipeline.ResultSource) bool {
	if c := rs.Run().Config; c != nil {
		return c["AUDIT_EXCEPTIONS"] != ""
	}
	if isPostgresURL(cfg.ReportFrom) {
		return false
	}
	f, err := os.Open(cfg.ReportFrom)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	needle := []byte(`"exception":{`)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), needle) {
			return true
		}
	}
	return false
}

// judgedCoverage is the coverage AUDIT_FAIL_UNDER judges, in percent as
// every report shows it (one decimal): with a register, coverage with
// exceptions (SPEC 8, 14). Nobody checked counts as 0.
func judgedCoverage(s *pipeline.Summary) float64 {
	sh := s.CoverageShare()
	if s.Exceptions != nil {
		sh = s.CoverageWithExceptionsShare()
	}
	p, _ := sh.Percent()
	return p
}

// exceptionLogAttrs are the exceptions figures of the final log line.
func exceptionLogAttrs(s *pipeline.Summary) []any {
	x := s.Exceptions
	if x == nil {
		return nil
	}
	return []any{
		"excepted", s.Excepted, "non_compliant_without_exception", s.Unexcepted(),
		"coverage_with_exceptions_pct", logShare(s.CoverageWithExceptionsShare()),
		"exceptions_active", x.Active, "exceptions_expiring", x.Expiring, "exceptions_expired", x.Expired,
		"exceptions_unneeded", x.Unneeded, "exceptions_stale", x.Stale,
	}
}

// logExceptionNotes warns about expired and expiring entries, so that the
// log of a nightly job says which waivers need a decision.
func logExceptionNotes(log *slog.Logger, s *pipeline.Summary) {
	x := s.Exceptions
	if x == nil || (x.Expired == 0 && x.Expiring == 0) {
		return
	}
	log.Warn("exceptions need a decision", "expired", x.Expired, "expiring", x.Expiring,
		"warn_days", x.WarnDays, "register", x.Register)
}

// judgedCoverageText names the coverage AUDIT_FAIL_UNDER judged, with its
// value: "coverage 72.3%" or "coverage with exceptions 73.1%".
func judgedCoverageText(s *pipeline.Summary) string {
	if s.Exceptions != nil {
		return "coverage with exceptions " + s.CoverageWithExceptionsShare().String()
	}
	return "coverage " + s.CoverageShare().String()
}

// finishExceptionLine is the exceptions line (without its newline) of the
// summary for people at the end of a run on a terminal; "" without a
// register.
func finishExceptionLine(s *pipeline.Summary) string {
	x := s.Exceptions
	if x == nil {
		return ""
	}
	stale := fmt.Sprintf("%d stale", x.Stale)
	if x.FromStored {
		stale = "stale not known"
	}
	return fmt.Sprintf("  exceptions    %s with exceptions  (%d excepted; %d expired, %d expiring within %d days, %s)",
		s.CoverageWithExceptionsShare(), s.Excepted, x.Expired, x.Expiring, x.WarnDays, stale)
}
