package sinks

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// SheetChanges lists every subject whose change since the baseline is not
// "unchanged", left subjects included, new gaps first (SPEC 13).
const SheetChanges = "Changes"

// changeRecord is one spooled row of the Changes sheet: its text cells
// (already masked) in changeColumns order, and the typed ones.
type changeRecord struct {
	Kind      uint8
	Text      []string
	Compliant uint8 // 0 null, 1 false, 2 true (gob drops a pointer to false)
	Since     time.Time
	Line      int64
}

func packBool(b *bool) uint8 {
	switch {
	case b == nil:
		return 0
	case *b:
		return 2
	}
	return 1
}

// xlsxChanges spools the rows of the Changes sheet, one spool file per
// change class so that the sheet can list them class by class (new gaps
// first) however the results arrived.
type xlsxChanges struct {
	dir    string
	mode   os.FileMode
	textIx []int // columns of the Users layout shown as text: user_id, id_type, outcome, attributes
	spools [len(changeOrder)]*recordSpool[changeRecord]
}

// changeOrder is the order of the classes on the sheet.
var changeOrder = [...]pipeline.Change{
	pipeline.ChangeNewGap, pipeline.ChangeWeakened, pipeline.ChangeUnknown, pipeline.ChangeLeft,
	pipeline.ChangeJoined, pipeline.ChangeFixed, pipeline.ChangeStrengthened,
}

func changeSlot(c pipeline.Change) int {
	for i, x := range changeOrder {
		if x == c {
			return i
		}
	}
	return -1
}

func newXLSXChanges(dir string, cols []Column, mode os.FileMode) *xlsxChanges {
	c := &xlsxChanges{dir: dir, mode: mode}
	for _, f := range []string{"user_id", "id_type", "outcome"} {
		for i, col := range cols {
			if col.Field == f {
				c.textIx = append(c.textIx, i)
			}
		}
	}
	for i, col := range cols {
		if col.Field == "attrs" {
			c.textIx = append(c.textIx, i)
		}
	}
	return c
}

// add spools r when it changed; text is its Users row, masked.
func (c *xlsxChanges) add(r *pipeline.Result, text []string) error {
	slot := changeSlot(r.Change)
	if slot < 0 {
		return nil // no baseline, or unchanged
	}
	if c.spools[slot] == nil {
		s, err := newRecordSpool[changeRecord](c.dir, "changes", c.mode)
		if err != nil {
			return err
		}
		c.spools[slot] = s
	}
	rec := changeRecord{Kind: uint8(rowKindOf(r)), Compliant: packBool(r.Compliant), Since: r.NonCompliantSince, Line: r.Line}
	rec.Text = make([]string, 0, 3+len(c.textIx))
	rec.Text = append(rec.Text, string(r.Change), r.BaselineMFA, r.MFA)
	for _, ix := range c.textIx {
		rec.Text = append(rec.Text, text[ix])
	}
	return c.spools[slot].add(&rec)
}

func (c *xlsxChanges) remove() {
	if c == nil {
		return
	}
	for _, s := range c.spools {
		s.remove()
	}
}

// writeChanges streams the Changes sheet: the spooled classes in
// changeOrder, the baseline's left subjects in their place (read from the
// baseline again). The sheet was created by finish.
func (x *XLSX) writeChanges(ctx context.Context, s *pipeline.Summary) error {
	c := x.changes
	header := []string{"change", "user_id", "id_type", "mfa_before", "mfa_now", "compliant", "non_compliant_since", "outcome"}
	widths := []float64{14, 30, 12, 12, 12, 12, 20, 12}
	for _, ix := range c.textIx[3:] {
		header = append(header, x.cols[ix].Name)
		widths = append(widths, x.widths[ix])
	}
	hcells := make([]any, len(header))
	for i, h := range header {
		hcells[i] = excelize.Cell{StyleID: x.st.header, Value: h}
	}
	sw, rows, err := x.startList(SheetChanges, hcells, widths)
	if err != nil {
		return err
	}
	n := 0
	put := func(rec *changeRecord) error {
		kind := rowKind(rec.Kind)
		if kind >= rowKinds || len(rec.Text) != 3+len(c.textIx) {
			return fmt.Errorf("changes spool: bad record")
		}
		text := x.st.text[kind]
		// change, user_id, id_type, before, now, then compliant and since,
		// then outcome, attrs...
		lead := [...]string{rec.Text[0], rec.Text[3], rec.Text[4], rec.Text[1], rec.Text[2]}
		tail := rec.Text[5:]
		lines := 1
		for i, v := range lead {
			lines = max(lines, wrappedLines(v, widths[i]))
		}
		for i, v := range tail {
			lines = max(lines, wrappedLines(v, widths[7+i]))
		}
		n++
		if err := rows.begin(n+1, rowHeight(lines).Height); err != nil {
			return err
		}
		for i, v := range lead {
			rows.text(i, text, v)
		}
		if rec.Compliant == 0 {
			rows.empty(5, x.st.boolean[kind])
		} else {
			rows.boolean(5, x.st.boolean[kind], rec.Compliant == 2)
		}
		rows.time(6, x.st.day[kind], rec.Since.UTC())
		for i, v := range tail {
			rows.text(7+i, text, v)
		}
		return rows.end()
	}
	for slot, class := range changeOrder {
		if class == pipeline.ChangeLeft {
			err = s.Changes.Left(ctx, func(r pipeline.Result) error {
				x.text = RunRow(r, x.run, x.text)
				MaskRow(x.cols, x.text, x.opt.MaskPII)
				rec := changeRecord{Kind: uint8(rowMuted)}
				rec.Text = append(rec.Text, string(pipeline.ChangeLeft), r.BaselineMFA, "")
				for _, ix := range c.textIx {
					rec.Text = append(rec.Text, x.text[ix])
				}
				rec.Text[5] = "" // no outcome: not met by this run
				return put(&rec)
			})
		} else if sp := c.spools[slot]; sp != nil {
			err = sp.each(put)
		}
		if err != nil {
			return err
		}
	}
	return x.finishStream(sw, len(header), n)
}

// writeSummaryChanges adds the section on change since the baseline to the
// Summary sheet: the baseline, coverage then and now and the difference,
// and the number of subjects of each class.
func writeSummaryChanges(w *streamRows, st *xlsxStyles, s *pipeline.Summary) {
	c := s.Changes
	if c == nil {
		return
	}
	w.skip()
	title := "Change since the baseline"
	if !c.Recorded && !c.Baseline.DataAsOf.IsZero() {
		title = "Change since " + c.Baseline.DataAsOf.UTC().Format("2006-01-02")
	}
	w.add(0, styled(st.section, title), styled(st.section, nil), styled(st.section, nil))
	if c.Recorded {
		w.add(0, styled(st.note, "As recorded with the stored results; the baseline is not known here (set AUDIT_BASELINE), so subjects who left are not counted."))
	} else {
		w.add(0, styled(st.label, "Baseline"), c.Baseline.Name())
		w.add(0, styled(st.label, "Baseline data as of (UTC)"), styled(st.datetime, timeOrNil(c.Baseline.DataAsOf)))
		if !c.Baseline.Complete {
			w.add(0, styled(st.label, "Baseline incomplete"), styled(st.wrap, "yes: "+c.Baseline.Incomplete+" (changes against it are not final)"))
		}
		w.add(0, styled(st.label, "Coverage then"), styled(st.percent, shareCell(c.Then.CoverageShare())),
			styled(st.note, shareCounts(c.Then.CoverageShare(), "compliant", "checked")))
		w.add(0, styled(st.label, "Coverage now"), styled(st.percent, shareCell(s.CoverageShare())),
			styled(st.note, shareCounts(s.CoverageShare(), "compliant", "checked")))
		w.add(0, styled(st.label, "Difference"), styled(st.label, c.PointsText(s.Counts)))
	}
	w.add(0, styled(st.tableHeader, "Change"), styled(st.tableHeader, "Users"), styled(st.tableHeader, "Meaning"))
	for _, class := range pipeline.ChangeClasses {
		if class == pipeline.ChangeLeft && c.Recorded {
			continue
		}
		w.add(0, styled(st.label, string(class)), styled(st.count, c.Count(class)), styled(st.note, ChangeMeaning(class)))
	}
}

// ChangeMeaning says in words what a change class means.
func ChangeMeaning(c pipeline.Change) string {
	switch c {
	case pipeline.ChangeNewGap:
		return "compliant then, not now"
	case pipeline.ChangeWeakened:
		return "strong then, weak now (still compliant)"
	case pipeline.ChangeUnknown:
		return "not checked now, or unknown then"
	case pipeline.ChangeLeft:
		return "in the baseline, not in this run"
	case pipeline.ChangeJoined:
		return "checked now, absent or not found then"
	case pipeline.ChangeFixed:
		return "not compliant then, compliant now"
	case pipeline.ChangeStrengthened:
		return "weak then, strong now"
	case pipeline.ChangeUnchanged:
		return "same standing as then"
	}
	return ""
}
