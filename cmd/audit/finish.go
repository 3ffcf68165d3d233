package main

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// printFinish is the end of a run on a terminal, for people: the verdict,
// the headline figures and every report with its path (SPEC 12). The log's
// last line says the same for machines.
func printFinish(w io.Writer, cfg *Config, s *pipeline.Summary, code int) {
	var b strings.Builder
	switch caveat := s.Caveat(); {
	case !s.Complete || code == exitFailed:
		if caveat == "" {
			caveat = "the run failed (see the log above)."
		}
		fmt.Fprintf(&b, "MFA audit NOT COMPLETE: %s\n", caveat)
	case code == exitBelowFloor:
		fmt.Fprintf(&b, "MFA audit complete, BELOW POLICY: coverage %s is under AUDIT_FAIL_UNDER %v %%.\n", s.CoverageShare(), cfg.FailUnder)
	case caveat != "":
		fmt.Fprintf(&b, "MFA audit complete, with a caveat: %s\n", caveat)
	default:
		b.WriteString("MFA audit complete: every subject has a final outcome.\n")
	}
	fmt.Fprintf(&b, "  coverage      %s  (%d of %d checked users compliant, policy %s)\n",
		s.CoverageShare(), s.Compliant, s.OK, policyName(s, cfg))
	fmt.Fprintf(&b, "  completeness  %s  (%d unknown)\n", s.CompletenessShare(), s.Error)
	fmt.Fprintf(&b, "  subjects      %d unique of %d rows read (%d repeats)\n", s.Unique, s.RowsRead, s.Duplicates)
	fmt.Fprintf(&b, "  outcomes      %d checked, %d not found, %d invalid, %d unknown\n", s.OK, s.NotFound, s.Invalid, s.Error)
	fmt.Fprintf(&b, "  MFA           %d strong, %d weak, %d none\n", s.Strong, s.Weak, s.None)
	b.WriteString("Reports:\n")
	for _, o := range outputsShown(cfg) {
		fmt.Fprintf(&b, "  %s\n", o)
	}
	if !s.Complete {
		b.WriteString("Each file written has a .incomplete marker beside it saying why.\n")
	}
	fmt.Fprintf(&b, "Exit code %d.\n", code)
	io.WriteString(w, b.String())
}

// logOutputs writes one log line naming every output of the run.
func logOutputs(log *slog.Logger, cfg *Config) {
	log.Info("audit outputs", "outputs", strings.Join(outputsShown(cfg), ", "))
}

// outputsShown lists AUDIT_OUTPUT for people: files as absolute paths,
// URLs without passwords.
func outputsShown(cfg *Config) []string {
	var out []string
	for _, o := range cfg.outputs {
		if o.kind == "postgres" {
			out = append(out, fmt.Sprintf("%s (schema %s, run %s)", redact.URL(o.path), cfg.PGSchema, cfg.RunID))
			continue
		}
		p := o.path
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		out = append(out, p)
	}
	return out
}

func policyName(s *pipeline.Summary, cfg *Config) string {
	if s.Run.Policy != "" {
		return string(s.Run.Policy)
	}
	return cfg.Policy
}
