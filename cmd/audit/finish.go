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

// printFinish is the end of a run (or report, cmd) on a terminal, for people: the verdict,
// the headline figures, every report with its path and what to do next
// (SPEC 12), in lines of at most width columns (paths excepted). The log's
// last lines say the same for machines.
func printFinish(w io.Writer, width int, cfg *Config, s *pipeline.Summary, code int, cmd string) {
	var b strings.Builder
	say := func(format string, a ...any) { b.WriteString(wrap(fmt.Sprintf(format, a...), width, "  ")) }
	switch caveat := s.Caveat(); {
	case !s.Complete || code == exitFailed:
		if caveat == "" {
			caveat = "the run failed (see the log above)."
		}
		say("MFA audit NOT COMPLETE. %s", strings.TrimPrefix(caveat, "INCOMPLETE RUN: "))
	case code == exitBelowFloor:
		if cfg.FailUnder > 0 && judgedCoverage(s) < cfg.FailUnder {
			say("MFA audit complete, BELOW POLICY: %s is under AUDIT_FAIL_UNDER %v %%.", judgedCoverageText(s), cfg.FailUnder)
		} else {
			say("MFA audit complete, BELOW POLICY: %d new gap(s) since the baseline, and AUDIT_FAIL_ON_NEW_GAPS is set.", newGaps(s))
		}
	case caveat != "":
		say("MFA audit complete, with a caveat: %s", caveat)
	default:
		say("MFA audit complete: every subject has a final outcome.")
	}
	say("  coverage      %s  (%d of %d checked users compliant, policy %s)", s.CoverageShare(), s.Compliant, s.OK, policyName(s, cfg))
	if s.Complete {
		say("  completeness  %s  (%d unknown)", s.CompletenessShare(), s.Error)
	} else {
		say("  completeness  not known: the run stopped before the end of its input")
	}
	if line := finishExceptionLine(s); line != "" {
		say("%s", line)
	}
	say("  subjects      %d unique of %d rows read (%d repeats)", s.Unique, s.RowsRead, s.Duplicates)
	say("  outcomes      %d checked, %d not found, %d invalid, %d unknown", s.OK, s.NotFound, s.Invalid, s.Error)
	say("  MFA           %d strong, %d weak, %d none", s.Strong, s.Weak, s.None)
	b.WriteString("Reports:\n")
	for _, o := range outputsShown(cfg) {
		fmt.Fprintf(&b, "  %s\n", o)
	}
	if !s.Complete {
		say("Each file written has a .incomplete marker beside it saying why.")
		if cmd == "run" && resumable(cfg) {
			say("To finish this run, run again with AUDIT_RUN_ID=%s: subjects already answered are not asked again.", cfg.RunID)
		}
	} else if s.NonCompliant > 0 && (hasOutput(cfg, "xlsx") || hasOutput(cfg, "html")) {
		say("The non-compliant users are listed in the reports above, for follow-up.")
	}
	say("Exit code %d.", code)
	io.WriteString(w, b.String())
}

// wrap breaks a text wider than width columns into lines of at most width
// at spaces, the lines after the first indented; a word longer than a line
// stays whole.
func wrap(text string, width int, indent string) string {
	if len([]rune(text)) <= width {
		return text + "\n" // as it is, alignment included
	}
	var b strings.Builder
	lead := ""
	if t := strings.TrimLeft(text, " "); len(t) < len(text) {
		lead, text = text[:len(text)-len(t)], t // keep a line's own indentation
	}
	line := lead
	for _, word := range strings.Fields(text) {
		switch {
		case line == lead || line == indent:
			line += word
		case len([]rune(line))+1+len([]rune(word)) > width:
			b.WriteString(line + "\n")
			line = indent + lead + word
		default:
			line += " " + word
		}
	}
	b.WriteString(line + "\n")
	return b.String()
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
		if strings.Contains(p, "://") { // s3://bucket/key and the like
			out = append(out, redact.URL(p))
			continue
		}
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

// resumable reports whether a run with the same id would resume: it keeps
// a JSON Lines or Postgres output.
func resumable(cfg *Config) bool { return hasOutput(cfg, "jsonl") || hasOutput(cfg, "postgres") }

func hasOutput(cfg *Config, kind string) bool {
	for _, o := range cfg.outputs {
		if o.kind == kind {
			return true
		}
	}
	return false
}
