package sinks

import (
	"fmt"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// writeSummarySheet fills Summary: title, completeness banner, headline
// figures, the factor table, a chart and the group table. It is streamed
// too: the group table can have ten thousand rows (pipeline.MaxGroups).
func writeSummarySheet(f *excelize.File, st *xlsxStyles, s *pipeline.Summary, mask bool) error {
	// Sheet properties are written when the stream starts, the view with
	// the first row, the page layout and the chart at Flush.
	if err := printPageSheet(f, SheetSummary, s.Run.RunID); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(SheetSummary)
	if err != nil {
		return err
	}
	for i, width := range []float64{46, 18, 16, 14, 14, 14, 14, 14, 14, 14} {
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return err
		}
	}
	w := &streamRows{sw: sw}
	run := &s.Run
	stat := runStatus(s)
	final := stat.Class == "complete"
	const lastCol = 10

	w.add(28, styled(st.title, "MFA coverage audit"))
	if run.FakeAPI {
		w.add(34, styled(st.banner[statusIndex("incomplete")], "FAKE API: not a real user pool"))
		w.merge(1, lastCol)
		w.add(32, styled(st.bannerDetail, "Every answer came from the built-in fake GenAuth server (the demo or audit fake-genauth, at "+redactValue(run.Host)+"). It says nothing about any real user's MFA."))
		w.merge(1, lastCol)
	}
	w.add(34, styled(st.banner[statusIndex(stat.Class)], stat.Headline))
	w.merge(1, lastCol)
	w.add(32, styled(st.bannerDetail, stat.Detail))
	w.merge(1, lastCol)
	asOf := "Data as of " + formatTime(run.StartedAt)
	if !s.FinishedAt.IsZero() {
		asOf += " to " + formatTime(s.FinishedAt)
	}
	w.add(0, styled(st.note, asOf+" · Policy: "+policyText(run.Policy)))
	w.merge(1, lastCol)
	w.skip()

	coverageLabel := "Coverage (compliant ÷ checked)"
	if !final {
		coverageLabel = "Coverage (compliant ÷ checked) — NOT FINAL"
	}
	w.add(0, styled(st.section, "Headline figures"), styled(st.section, nil))
	chartRow := w.row
	type fig struct {
		label string
		v     any
		style int
		note  string // the counts beside a share
	}
	figs := []fig{
		{"Rows read", s.RowsRead, st.count, ""},
		{"Unique subjects", s.Unique, st.count, ""},
		{"Duplicate rows (audited once)", s.Duplicates, st.count, ""},
	}
	if run.Shard.Sharded() {
		figs = append(figs, fig{"Rows left to other shards", s.OtherShard, st.count, ""})
	}
	figs = append(figs,
		fig{"Checked (ok)", s.OK, st.count, ""},
		fig{"Not found", s.NotFound, st.count, ""},
		fig{"Invalid", s.Invalid, st.count, ""},
		fig{"Unknown (error)", s.Error, st.count, ""},
		fig{"Compliant", s.Compliant, st.count, ""},
		fig{"Non-compliant", s.NonCompliant, st.count, ""},
		fig{label: coverageLabel, v: shareCell(s.CoverageShare()), style: st.percent, note: shareCounts(s.CoverageShare(), "compliant", "checked")},
		fig{label: "Completeness (checked ÷ auditable)", v: shareCell(s.CompletenessShare()), style: st.percent, note: shareCounts(s.CompletenessShare(), "checked", "auditable")},
		fig{"Policy", policyText(run.Policy), 0, ""},
		fig{"Data as of (start, UTC)", timeOrNil(run.StartedAt), st.datetime, ""},
		fig{"Data as of (end, UTC)", timeOrNil(s.FinishedAt), st.datetime, ""},
		fig{"Run complete", yesNo(s.Complete), 0, ""},
	)
	if !s.Complete {
		figs = append(figs, fig{"Incomplete because", incompleteReason(s), st.wrap, ""})
	}
	for _, fg := range figs {
		if fg.note != "" {
			w.add(0, styled(st.label, fg.label), styled(fg.style, fg.v), styled(st.note, fg.note))
			continue
		}
		w.add(0, styled(st.label, fg.label), styled(fg.style, fg.v))
	}
	w.skip()
	exceptionSummaryRows(w, st, s, final)

	// Factor and strength table; the chart beside the headline figures
	// reads from it.
	w.add(0, styled(st.section, "MFA factors and strength"), styled(st.section, nil), styled(st.section, nil))
	w.add(0, styled(st.tableHeader, "Factor / strength"), styled(st.tableHeader, "Users"), styled(st.tableHeader, "Share of checked"))
	header := w.row
	for _, row := range []struct {
		label string
		n     int64
	}{
		{"TOTP app", s.TOTP}, {"Face", s.Face}, {"SMS", s.SMS}, {"E-mail", s.Email},
		{"Strong (TOTP or face)", s.Strong}, {"Weak (SMS or e-mail only)", s.Weak}, {"None", s.None},
	} {
		w.add(0, styled(st.label, row.label), styled(st.count, row.n), styled(st.percent, shareCell(s.ShareOf(row.n))))
	}
	first, last := header+1, w.row
	if w.err != nil {
		return w.err
	}
	writeSummaryChanges(w, st, s)
	if w.err != nil {
		return w.err
	}

	if run.GroupBy != "" {
		w.skip()
		title := []any{styled(st.section, "Coverage by "+run.GroupBy+" (lowest first)")}
		head := []any{}
		for _, h := range []string{run.GroupBy, "Users", "Checked", "Compliant", "Non-compliant", "Not found", "Invalid", "Unknown", "Coverage", "Completeness"} {
			head = append(head, styled(st.tableHeader, h))
			title = append(title, styled(st.section, nil))
		}
		w.add(0, title[:lastCol]...)
		w.add(30, head...)
		row := make([]any, lastCol)
		for _, g := range s.Groups() {
			row[0] = cellText(g.Name, mask)
			for i, n := range []int64{g.Unique, g.OK, g.Compliant, g.NonCompliant, g.NotFound, g.Invalid, g.Error} {
				row[1+i] = styled(st.count, n)
			}
			row[8] = styled(st.percent, shareCell(g.CoverageShare()))
			row[9] = styled(st.percent, shareCell(g.CompletenessShare()))
			w.add(0, row...)
			if w.err != nil {
				return w.err
			}
		}
	}

	if err := f.AddChart(SheetSummary, "E"+strconv.Itoa(chartRow), &excelize.Chart{
		Type: excelize.Bar,
		Series: []excelize.ChartSeries{{
			Name:       "'Summary'!$C$" + strconv.Itoa(header),
			Categories: fmt.Sprintf("'Summary'!$A$%d:$A$%d", first, last),
			Values:     fmt.Sprintf("'Summary'!$C$%d:$C$%d", first, last),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"3D6FA5"}},
		}},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "MFA factors and strength (share of checked users)"}}},
		Legend:    excelize.ChartLegend{Position: "none"},
		Dimension: excelize.ChartDimension{Width: 600, Height: 380},
		PlotArea:  excelize.ChartPlotArea{ShowVal: true, NumFmt: excelize.ChartNumFmt{CustomNumFmt: "0.0%"}},
		XAxis:     excelize.ChartAxis{ReverseOrder: true, Font: excelize.Font{Color: "404040", Size: 9}},
		YAxis:     shareAxis(),
	}); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return sw.Flush()
}

func ptr[T any](v T) *T { return &v }

// shareAxis is the value axis of the workbook's charts of shares: 0 to
// 100 %, with grid lines.
func shareAxis() excelize.ChartAxis {
	return excelize.ChartAxis{
		Font:           excelize.Font{Color: "404040", Size: 9},
		MajorGridLines: true,
		Minimum:        ptr(0.0),
		Maximum:        ptr(1.0),
		NumFmt:         excelize.ChartNumFmt{CustomNumFmt: "0%"},
	}
}

// shareCell is a share for a cell formatted 0.0%: the shown value
// (pipeline.Share.Fraction), or "n/a" when there is nothing to divide by,
// since 0 % would claim a finding there is none of.
func shareCell(sh pipeline.Share) any {
	if f, ok := sh.Fraction(); ok {
		return f
	}
	return pipeline.NA
}

// shareCounts is the counts behind a share, for the cell beside it:
// "1,234 compliant of 1,600 checked".
func shareCounts(sh pipeline.Share, n, d string) string {
	return formatCount(sh.N) + " " + n + " of " + formatCount(max(sh.D, 0)) + " " + d
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// writeRunSheet fills Run: the run's facts and its configuration, without
// secrets.
func writeRunSheet(f *excelize.File, st *xlsxStyles, s *pipeline.Summary) error {
	w := &sheetWriter{f: f, sheet: SheetRun}
	w.widths(34, 90)
	w.set(1, 1, "Run", st.section)
	w.set(2, 1, nil, st.section)
	r := 1
	for _, d := range runDetails(&s.Run, s) {
		r++
		w.set(1, r, d.Key, st.label)
		switch d.Key {
		case "Started (data as of)":
			w.set(2, r, timeOrNil(s.Run.StartedAt), st.datetime)
		case "Finished":
			w.set(2, r, timeOrNil(s.FinishedAt), st.datetime)
		default:
			w.set(2, r, d.Value, st.wrap)
		}
	}
	cfg := configDetails(s.Run.Config)
	if len(cfg) > 0 {
		r += 2
		w.set(1, r, "Configuration", st.section)
		w.set(2, r, nil, st.section)
		for _, d := range cfg {
			r++
			w.set(1, r, d.Key, st.label)
			w.set(2, r, d.Value, st.wrap)
		}
	}
	return w.err
}
