package pipeline

import (
	"strings"
	"testing"
)

// The words of every ending (issue 12 part 3, issue 17 part 2): an audit of
// nobody is never complete, an interrupted run says how far it got and
// never shows completeness 100 %, one shard says which shard it covers.
func TestBannerWords(t *testing.T) {
	counts := func(unique, ok, nf int64) Counts {
		return Counts{Unique: unique, OK: ok, NotFound: nf, Compliant: ok}
	}
	shard := RunInfo{Shard: Shard{Index: 1, Count: 4}}
	for _, tc := range []struct {
		name     string
		sum      Summary
		ending   Ending
		headline string
		detail   string
	}{
		{"interrupted", Summary{Counts: counts(112, 112, 0), RowsRead: 5000, Incomplete: "interrupted: interrupt signal received"},
			EndInterrupted, "INTERRUPTED: interrupt signal received — no figure is final", "112 users were answered; the rest of the input was not read."},
		{"stopped", Summary{Counts: counts(50, 0, 0), Failed: true, Stopped: true, Incomplete: "stopped early after the first 50 answers: x; fix: y"},
			EndStopped, "STOPPED EARLY: after the first 50 answers: x; fix: y", "the rest of the input was not read"},
		{"stored stopped run", Summary{Counts: counts(50, 0, 0), Failed: true, Incomplete: "stopped early after the first 50 answers: x; fix: y"},
			EndStopped, "STOPPED EARLY", ""},
		{"header only", Summary{Complete: true},
			EndNothing, "NOTHING AUDITED: the source yielded no subject", "An audit of nobody is not a result"},
		{"empty shard", Summary{Complete: true, RowsRead: 3, OtherShard: 3, Run: shard},
			EndNothing, "NOTHING AUDITED: no subject of the input falls in shard 1/4", ""},
		{"one shard", Summary{Complete: true, Counts: counts(10, 10, 0), RowsRead: 40, OtherShard: 30, Run: shard},
			EndComplete, "Complete shard 1/4: every user of this shard has a final outcome", "shard 1/4 of the input (one of 4 parts; the other shards' reports cover the rest)"},
		{"none found", Summary{Complete: true, Counts: counts(10, 0, 10)},
			EndNoneFound, "no user was found — coverage and completeness are n/a", "not found (10)"},
		{"complete", Summary{Complete: true, Counts: counts(10, 10, 0)},
			EndComplete, "Complete run: every user has a final outcome", "Every user in the input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.sum
			if got := s.Ending(); got != tc.ending {
				t.Errorf("Ending = %q, want %q", got, tc.ending)
			}
			b := s.Banner()
			if !strings.Contains(b.Headline, tc.headline) || !strings.Contains(b.Detail, tc.detail) {
				t.Errorf("banner %q / %q; want %q / %q", b.Headline, b.Detail, tc.headline, tc.detail)
			}
			if tc.ending == EndComplete && s.Run.Shard.Sharded() && strings.Contains(b.Detail, "Every user in the input") {
				t.Errorf("a shard's report claims the whole input: %q", b.Detail)
			}
			if tc.ending == EndInterrupted || tc.ending == EndStopped {
				if s.CompletenessShare().Defined() {
					t.Errorf("an unfinished run's completeness is %s, want n/a", s.CompletenessShare())
				}
				if !strings.Contains(s.Caveat(), "the rest of the input was not read") {
					t.Errorf("caveat %q", s.Caveat())
				}
			}
		})
	}
}
