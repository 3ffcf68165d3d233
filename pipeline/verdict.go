package pipeline

import (
	"strconv"
	"strings"
)

// Ending is how a run ended, in the words every report, the banner and the
// final log line use: they tell "stopped early" (a systemic failure),
// "interrupted" and "incomplete" (the input was not all read, or an
// output failed) apart from a complete run with unknowns, a complete run
// that found nobody, and a complete run. Whether a complete run is "below
// policy" is for AUDIT_FAIL_UNDER to say, not the summary.
type Ending string

const (
	EndComplete    Ending = "complete"        // every subject has a final outcome
	EndUnknowns    Ending = "unknowns"        // complete, but some subjects' state is unknown
	EndNoneFound   Ending = "none found"      // complete, but every subject was not_found or invalid
	EndNothing     Ending = "nothing audited" // complete, but the source yielded no subject (for this shard)
	EndInterrupted Ending = "interrupted"     // a signal (or a stored run that was itself interrupted)
	EndStopped     Ending = "stopped early"   // a systemic failure: asking more would not help
	EndFailed      Ending = "incomplete"      // the source, an output or the credentials failed
)

// stoppedPrefix starts the words of a SystemicError, also when a stored run
// is read back with only its Incomplete text.
const stoppedPrefix = "stopped early"

// Ending returns how the run ended.
func (s *Summary) Ending() Ending {
	switch {
	case s.Stopped || !s.Complete && strings.HasPrefix(s.Incomplete, stoppedPrefix):
		return EndStopped
	case !s.Complete && !s.Failed:
		return EndInterrupted
	case !s.Complete:
		return EndFailed
	case s.Unique == 0:
		return EndNothing
	case s.Error > 0:
		return EndUnknowns
	case s.OK == 0:
		return EndNoneFound
	}
	return EndComplete
}

// reason is Incomplete, or a default.
func (s *Summary) reason() string {
	if s.Incomplete != "" {
		return s.Incomplete
	}
	return "the run did not finish"
}

// interruptedWords is the reason of an interrupted run after the word
// INTERRUPTED: "INTERRUPTED (SIGTERM) after 30 of 1,000 users".
func (s *Summary) interruptedWords() string {
	r := s.reason()
	if len(r) >= len("interrupted") && strings.EqualFold(r[:len("interrupted")], "interrupted") {
		return "INTERRUPTED" + r[len("interrupted"):]
	}
	return "INTERRUPTED: " + r
}

// answered says how far an unfinished run got: "1,234 users were answered;
// the rest of the input was not read."
func (s *Summary) answered() string {
	return count(s.Unique) + " " + plural(s.Unique, "user was", "users were") +
		" answered; the rest of the input was not read."
}

// Caveat says in words why the figures are not final, for the top of every
// report and the runs row; "" when they are.
func (s *Summary) Caveat() string {
	switch s.Ending() {
	case EndStopped:
		return "STOPPED EARLY: " + strings.TrimPrefix(s.reason(), stoppedPrefix+" ") + ". " + s.answered() + " No figure is final."
	case EndInterrupted:
		return s.interruptedWords() + ". " + s.answered() + " No figure is final."
	case EndFailed:
		return "INCOMPLETE RUN: " + s.reason() + ". Coverage is not final."
	case EndNothing:
		return "NOTHING AUDITED: " + s.nobody() + "."
	case EndUnknowns:
		return count(s.Error) + " " + plural(s.Error, "subject", "subjects") +
			" could not be checked (MFA state unknown). Coverage is not final."
	case EndNoneFound:
		return "No user was found: every subject is not_found or invalid, so coverage and completeness are n/a."
	}
	return ""
}

// nobody says what an audit of nobody read.
func (s *Summary) nobody() string {
	if s.Run.Shard.Sharded() && s.RowsRead > 0 {
		return "no subject of the input falls in shard " + s.Run.Shard.String() + " (" + count(s.OtherShard) +
			" rows belong to the other shards)"
	}
	if s.RowsRead > 0 {
		return "every row of the source was a repeat or skipped; no subject was audited"
	}
	return "the source yielded no subject"
}

// Banner is the completeness banner at the top of the HTML report and the
// workbook's Summary sheet.
type Banner struct {
	Class    string // complete, unknown, incomplete (a CSS class)
	Headline string
	Detail   string
}

// Banner returns the run's banner in words.
func (s *Summary) Banner() Banner {
	scope := "the input"
	if s.Run.Shard.Sharded() {
		scope = "shard " + s.Run.Shard.String() + " of the input (one of " + strconv.Itoa(s.Run.Shard.Count) +
			" parts; the other shards' reports cover the rest)"
	}
	again := " Fix the cause and run the audit again; with the same AUDIT_RUN_ID and outputs it continues this run."
	switch s.Ending() {
	case EndStopped:
		return Banner{Class: "incomplete",
			Headline: "STOPPED EARLY: " + strings.TrimPrefix(s.reason(), stoppedPrefix+" "),
			Detail:   "The run's first answers showed it could not succeed, so it stopped asking. " + s.answered() + " No figure in this report is final." + again}
	case EndInterrupted:
		return Banner{Class: "incomplete",
			Headline: s.interruptedWords() + " — no figure is final",
			Detail:   "The run was stopped before it finished. " + s.answered() + " Completeness is not known: this report covers only the users answered." + again}
	case EndFailed:
		return Banner{Class: "incomplete",
			Headline: "INCOMPLETE RUN: " + s.reason() + " — coverage is not final",
			Detail: "This report covers only the users answered before the run stopped (" + count(s.Unique) +
				" users). Coverage and all other figures are not final; run the audit again to complete it."}
	case EndNothing:
		return Banner{Class: "incomplete",
			Headline: "NOTHING AUDITED: " + s.nobody(),
			Detail:   "An audit of nobody is not a result. Check AUDIT_SOURCE (and AUDIT_SOURCE_QUERY or AUDIT_SHARD)."}
	case EndUnknowns:
		return Banner{Class: "unknown",
			Headline: "Run complete, but the MFA state of " + count(s.Error) + " " + plural(s.Error, "user", "users") +
				" is unknown — coverage is not final",
			Detail: "The GenAuth API gave no answer for them after the retries. They are listed under Issues; coverage counts only the users whose state is known."}
	case EndNoneFound:
		return Banner{Class: "unknown",
			Headline: "Run complete, but no user was found — coverage and completeness are n/a",
			Detail: "Every user of " + scope + " is not found (" + count(s.NotFound) + ") or invalid (" + count(s.Invalid) +
				"). Check that the identifiers belong to this user pool and that their id type (AUDIT_ID_TYPE) is right."}
	}
	if s.Run.Shard.Sharded() {
		return Banner{Class: "complete",
			Headline: "Complete shard " + s.Run.Shard.String() + ": every user of this shard has a final outcome",
			Detail:   "Every user of " + scope + " was checked against GenAuth, or found to be missing or invalid."}
	}
	return Banner{Class: "complete",
		Headline: "Complete run: every user has a final outcome",
		Detail:   "Every user in the input was checked against GenAuth, or found to be missing or invalid."}
}

// count renders n with thousands separators: 1,234,567.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// CompletenessShare is the completeness of the run (SPEC 6). A run that did
// not read its whole input (interrupted, stopped early, or failed) cannot
// tell how much of the input is known, so its completeness is undefined
// ("n/a", never 100 %); the banner says why. Otherwise it is
// Counts.CompletenessShare.
func (s *Summary) CompletenessShare() Share {
	switch s.Ending() {
	case EndInterrupted, EndStopped, EndFailed:
		return Share{}
	}
	return s.Counts.CompletenessShare()
}
