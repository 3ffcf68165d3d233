package sinks

import (
	"strconv"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// htmlExceptions is the exceptions register's part of the HTML report
// (SPEC 14): both coverage figures' counts, the entries by state, and the
// entries that need a decision (expired, expiring, stale), at most
// Options.HTMLMaxRows of them.
type htmlExceptions struct {
	Coverage                                            string // coverage with exceptions, as shown
	Excepted, Unexcepted                                int64
	Active, Expiring, Expired, Unneeded, Stale, Unknown int64
	OtherShard                                          int64
	StaleKnown                                          bool
	WarnDays                                            int
	AsOf, Register                                      string
	Entries                                             []htmlExceptionEntry
	More                                                int64
}

// htmlExceptionEntry is one register entry in the HTML list, masked and cut.
type htmlExceptionEntry struct {
	UserID, IDType, State, Expires, When, Reason, ApprovedBy, Ticket, MFA string
}

// exceptions builds the report's exceptions part; nil without a register.
func (h *HTML) exceptions(s *pipeline.Summary) *htmlExceptions {
	rep := s.Exceptions
	if rep == nil {
		return nil
	}
	d := &htmlExceptions{
		Coverage:   s.CoverageWithExceptionsShare().String(),
		Excepted:   s.Excepted,
		Unexcepted: s.Unexcepted(),
		Active:     rep.Active, Expiring: rep.Expiring, Expired: rep.Expired, Unneeded: rep.Unneeded,
		Stale: rep.Stale, Unknown: rep.Unknown, OtherShard: rep.OtherShard,
		StaleKnown: !rep.FromStored,
		WarnDays:   rep.WarnDays,
		Register:   cut(rep.Register),
	}
	if !rep.AsOf.IsZero() {
		d.AsOf = rep.AsOf.Format("2006-01-02")
	}
	for _, e := range sortedExceptionEntries(rep) {
		switch e.State {
		case pipeline.ExceptionExpired, pipeline.ExceptionExpiring, pipeline.ExceptionStale:
		default:
			continue
		}
		if len(d.Entries) >= h.max {
			d.More++
			continue
		}
		mfa := e.MFA
		if e.Outcome == "" {
			mfa = "not in this run"
		} else if e.Outcome != pipeline.OutcomeOK {
			mfa = outcomeLabel(e.Outcome)
		}
		d.Entries = append(d.Entries, htmlExceptionEntry{
			UserID: h.text(e.UserID), IDType: cut(e.IDType), State: e.State, Expires: cut(e.Expires),
			When:   whenText(e.Expires, rep),
			Reason: h.text(e.Reason), ApprovedBy: h.text(e.ApprovedBy), Ticket: h.text(e.Ticket), MFA: mfa,
		})
	}
	return d
}

// whenText says how far an expiry is from the run's date: "in 12 days",
// "today", "20 days ago".
func whenText(expires string, rep *pipeline.ExceptionReport) string {
	d, ok := daysLeft(expires, rep.AsOf)
	switch {
	case !ok:
		return ""
	case d == 0:
		return "last day today"
	case d == 1:
		return "in 1 day"
	case d > 0:
		return "in " + strconv.Itoa(d) + " days"
	case d == -1:
		return "1 day ago"
	}
	return strconv.Itoa(-d) + " days ago"
}

// exceptionWords says what a result's exception means, for the
// non-compliant list: its words, its state and whether it excepts the user.
func exceptionWords(x *pipeline.Exception) (words, state string, excepted bool) {
	if x == nil {
		return "", "", false
	}
	switch x.State {
	case pipeline.ExceptionActive:
		return "excepted until " + cut(x.Expires), x.State, true
	case pipeline.ExceptionExpired:
		return "exception expired " + cut(x.Expires), x.State, false
	case pipeline.ExceptionUnneeded:
		return "exception unneeded", x.State, false
	}
	return cut(x.State), x.State, false
}
