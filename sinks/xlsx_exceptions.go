package sinks

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// SheetExceptions lists every entry of the exceptions register with its
// state (SPEC 14); the workbook has it only for a run with a register.
const SheetExceptions = "Exceptions"

// exceptionStateOrder puts the entries that need a decision first.
var exceptionStateOrder = map[string]int{
	pipeline.ExceptionExpired:  0,
	pipeline.ExceptionExpiring: 1,
	pipeline.ExceptionStale:    2,
	pipeline.ExceptionUnknown:  3,
	pipeline.ExceptionActive:   4,
	pipeline.ExceptionUnneeded: 5,
}

// exceptionStateText says what a state means, for the sheet and the HTML.
func exceptionStateText(state string, warnDays int) string {
	switch state {
	case pipeline.ExceptionActive:
		return "active: non-compliant, excepted"
	case pipeline.ExceptionExpiring:
		return fmt.Sprintf("expiring within %d days: non-compliant, excepted", warnDays)
	case pipeline.ExceptionExpired:
		return "expired: counts as non-compliant"
	case pipeline.ExceptionUnneeded:
		return "unneeded: the user is compliant"
	case pipeline.ExceptionStale:
		return "stale: names nobody this run could audit"
	case pipeline.ExceptionUnknown:
		return "unknown: the user's MFA state is unknown"
	}
	return state
}

// sortedExceptionEntries returns the report's entries, those needing a
// decision first (expired, expiring, stale, unknown, active, unneeded),
// then by expiry and register line. The report is shared by the sinks and
// is not changed.
func sortedExceptionEntries(rep *pipeline.ExceptionReport) []*pipeline.ExceptionEntry {
	out := make([]*pipeline.ExceptionEntry, len(rep.Entries))
	for i := range rep.Entries {
		out[i] = &rep.Entries[i]
	}
	slices.SortStableFunc(out, func(a, b *pipeline.ExceptionEntry) int {
		return cmp.Or(
			cmp.Compare(exceptionStateOrder[a.State], exceptionStateOrder[b.State]),
			cmp.Compare(a.Expires, b.Expires),
			cmp.Compare(a.Line, b.Line),
		)
	})
	return out
}

// daysLeft is the days from the run's date to an entry's expiry (0 on its
// last day, negative once expired); ok is false for a malformed date.
func daysLeft(expires string, asOf time.Time) (int, bool) {
	t, err := time.Parse("2006-01-02", expires)
	if err != nil || asOf.IsZero() {
		return 0, false
	}
	return int(t.Sub(asOf).Hours() / 24), true
}

// exceptionRowKind highlights an entry like the Users rows: expired red,
// expiring and unknown amber, stale grey, active blue (excepted).
func exceptionRowKind(state string) rowKind {
	switch state {
	case pipeline.ExceptionExpired:
		return rowNonCompliant
	case pipeline.ExceptionExpiring, pipeline.ExceptionUnknown:
		return rowUnknown
	case pipeline.ExceptionStale:
		return rowMuted
	case pipeline.ExceptionActive:
		return rowExcepted
	}
	return rowPlain
}

// writeExceptions streams the Exceptions sheet: one row per register entry
// (of this shard's subjects) with its state and its subject's MFA in this
// run. The register is bounded (package exceptions), so is the sheet.
func (x *XLSX) writeExceptions(rep *pipeline.ExceptionReport) error {
	names := []string{"state", "what it means", "days left", "id_type", "user_id", "reason", "approved_by", "expires",
		"ticket", "line", "outcome", "mfa", "compliant"}
	widths := []float64{11, 30, 10, 12, 28, 40, 26, 12, 14, 8, 15, 10, 12}
	header := make([]any, len(names))
	for i, n := range names {
		header[i] = excelize.Cell{StyleID: x.st.header, Value: n}
	}
	sw, err := x.startStream(SheetExceptions, header, widths)
	if err != nil {
		return err
	}
	mask := x.opt.MaskPII
	n := 0
	for _, e := range sortedExceptionEntries(rep) {
		kind := exceptionRowKind(e.State)
		text := func(s string) any {
			if s == "" {
				return excelize.Cell{StyleID: x.st.text[kind]}
			}
			return excelize.Cell{StyleID: x.st.text[kind], Value: s}
		}
		var days, line, compliant any
		if d, ok := daysLeft(e.Expires, rep.AsOf); ok {
			days = d
		}
		if e.Line > 0 {
			line = e.Line
		}
		if e.Compliant != nil {
			compliant = *e.Compliant
		}
		outcome := string(e.Outcome)
		if outcome == "" {
			outcome = "not in this run"
		}
		texts := []string{e.State, exceptionStateText(e.State, rep.WarnDays), "", e.IDType, cellText(e.UserID, mask),
			cellText(e.Reason, mask), cellText(e.ApprovedBy, mask), e.Expires, cellText(e.Ticket, mask), "", outcome, e.MFA}
		lines := 1
		row := make([]any, len(names))
		for i, t := range texts {
			row[i] = text(t)
			lines = max(lines, wrappedLines(t, widths[i]))
		}
		row[2] = excelize.Cell{StyleID: x.st.text[kind], Value: days}
		row[9] = excelize.Cell{StyleID: x.st.text[kind], Value: line}
		row[12] = excelize.Cell{StyleID: x.st.boolean[kind], Value: compliant}
		n++
		cell, err := excelize.CoordinatesToCellName(1, n+1)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, row, rowHeight(lines)); err != nil {
			return err
		}
	}
	return x.finishStream(sw, len(names), n)
}

// exceptionFig is one line of the Summary sheet's exceptions section: a
// label, a value with its style, and the counts beside a share.
type exceptionFig struct {
	label string
	v     any
	style int
	note  string
}

// exceptionSummaryRows writes the Summary sheet's exceptions section: both
// coverage figures, the excepted and the remaining non-compliant users, and
// the register's entries by state.
func exceptionSummaryRows(w *streamRows, st *xlsxStyles, s *pipeline.Summary, final bool) {
	rep := s.Exceptions
	if rep == nil {
		return
	}
	w.add(0, styled(st.section, "Exceptions register"), styled(st.section, nil))
	label := "Coverage with exceptions"
	if !final {
		label += " — NOT FINAL"
	}
	cov, covExc := s.CoverageShare(), s.CoverageWithExceptionsShare()
	rows := []exceptionFig{
		{"Coverage (compliant ÷ checked)", shareCell(cov), st.percent, shareCounts(cov, "compliant", "checked")},
		{label, shareCell(covExc), st.percent, shareCounts(covExc, "compliant + excepted", "checked")},
		{"Compliant", s.Compliant, st.count, ""},
		{"Excepted (non-compliant, active exception)", s.Excepted, st.count, ""},
		{"Non-compliant (no active exception)", s.Unexcepted(), st.count, ""},
		{"Entries active", rep.Active, st.count, ""},
		{fmt.Sprintf("… of which expiring within %d days", rep.WarnDays), rep.Expiring, st.count, ""},
		{"Entries expired (count as non-compliant)", rep.Expired, st.count, ""},
		{"Entries unneeded (user compliant)", rep.Unneeded, st.count, ""},
	}
	if rep.FromStored {
		rows = append(rows, exceptionFig{"Entries stale", "not known", 0, "re-rendered from stored results: give AUDIT_EXCEPTIONS again to list stale entries"})
	} else {
		rows = append(rows, exceptionFig{"Entries stale (name nobody this run could audit)", rep.Stale, st.count, ""})
	}
	if rep.Unknown > 0 {
		rows = append(rows, exceptionFig{"Entries whose user's MFA state is unknown", rep.Unknown, st.count, ""})
	}
	if rep.OtherShard > 0 {
		rows = append(rows, exceptionFig{"Entries of other shards' users (judged there)", rep.OtherShard, st.count, ""})
	}
	asOf := ""
	if !rep.AsOf.IsZero() {
		asOf = rep.AsOf.Format("2006-01-02")
	}
	rows = append(rows, struct {
		label string
		v     any
		style int
		note  string
	}{"Judged as of (UTC day; valid through expires)", asOf, 0, ""})
	for _, r := range rows {
		if r.note != "" {
			w.add(0, styled(st.label, r.label), styled(r.style, r.v), styled(st.note, r.note))
			continue
		}
		w.add(0, styled(st.label, r.label), styled(r.style, r.v))
	}
	reg := rep.Register
	if rep.SHA256 != "" {
		reg += " · SHA-256 " + rep.SHA256
	}
	w.add(0, styled(st.note, "Register: "+reg+". Every entry is on the Exceptions sheet."))
	w.merge(1, 10)
	w.skip()
}
