package main

import (
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/mfa-audit/mfa-audit/sinks"
	"github.com/mfa-audit/mfa-audit/sources"
)

// jsonlPrior resumes run cfg.RunID without a database (SPEC 9): it indexes
// the final results an earlier attempt of the run left at the JSON Lines
// outputs, in the finished file (an interrupted attempt) and in the
// temporary files of a killed one, newest first. It returns nil when there
// is none. Files of other runs are passed over; the new outputs replace
// them and the sinks remove the killed attempts' temporary files once the
// new ones are in place.
func jsonlPrior(cfg *Config, log *slog.Logger) (*sources.JSONLPrior, error) {
	type cand struct {
		path string
		mod  int64
	}
	var cands []cand
	for _, o := range cfg.outputs {
		if o.kind != "jsonl" {
			continue
		}
		left, err := sinks.TempLeftovers(o.path)
		if err != nil {
			return nil, fmt.Errorf("AUDIT_OUTPUT %s: %w", o.path, err)
		}
		for _, p := range append(left, o.path) {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				cands = append(cands, cand{p, st.ModTime().UnixNano()})
			}
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		switch {
		case a.mod > b.mod:
			return -1
		case a.mod < b.mod:
			return 1
		}
		return 0
	})
	paths := make([]string, len(cands))
	for i, c := range cands {
		paths[i] = c.path
	}
	p, err := sources.OpenJSONLPrior(cfg.RunID, paths)
	if err != nil {
		return nil, fmt.Errorf("AUDIT_OUTPUT: cannot resume run %s: %w (move the file away, or choose another AUDIT_RUN_ID)", cfg.RunID, err)
	}
	for _, why := range p.Passed() {
		log.Debug("not resuming from", "file", why)
	}
	if len(p.Files()) == 0 {
		p.Close()
		return nil, nil
	}
	log.Info("resuming the run from its JSON Lines", "run_id", cfg.RunID, "files", p.Files(), "final_results", p.Len())
	return p, nil
}
