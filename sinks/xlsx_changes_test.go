package sinks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// storedResults is a pipeline.ResultSource over a slice.
type storedResults struct {
	run     pipeline.RunInfo
	results []pipeline.Result
	i       int
}

func (s *storedResults) Run() pipeline.RunInfo { return s.run }
func (s *storedResults) Next(context.Context) (pipeline.Result, error) {
	if s.i >= len(s.results) {
		return pipeline.Result{}, pipeline.EOF
	}
	s.i++
	return s.results[s.i-1], nil
}
func (s *storedResults) Stored() (bool, string) { return true, "" }
func (s *storedResults) Close() error           { return nil }

// changeFixture renders reportResults(n) compared with a baseline a month
// older in which: every tenth subject is missing (joined), subjects 1000+i
// exist only there (left), and the MFA states are rotated so that every
// class occurs; sinks get what the pipeline gives them (Replay).
func changeFixture(t *testing.T, n int, sinks ...pipeline.Sink) pipeline.Summary {
	t.Helper()
	now := reportResults(n)
	var base []pipeline.Result
	monthAgo := reportStart.AddDate(0, -1, 0)
	for i, r := range reportResults(n + 6) {
		if i%10 == 1 && i < n {
			continue // joined since
		}
		if i >= n {
			r.UserID = fmt.Sprintf("gone%02d", i-n) // left since
		}
		// Shift the states by one tenth: subject i had subject i+1's state.
		if i+1 < n {
			o := reportResults(n)[(i+7)%n]
			r.Outcome, r.TOTP, r.Face, r.SMS, r.Email = o.Outcome, o.TOTP, o.Face, o.SMS, o.Email
		}
		r.CheckedAt = monthAgo.Add(time.Duration(i) * time.Second)
		r.Classify(pipeline.PolicyAny)
		pipeline.SetNonCompliantSince(&r, monthAgo)
		base = append(base, r)
	}
	run := reportRun()
	open := func(context.Context) (pipeline.ResultSource, error) {
		return &storedResults{run: pipeline.RunInfo{RunID: "20260202T090000Z-base"}, results: base}, nil
	}
	b, err := pipeline.LoadBaseline(context.Background(), pipeline.BaselineInfo{}, open, pipeline.PolicyAny, pipeline.Shard{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	trend := []pipeline.TrendPoint{
		{RunID: "r-dec", DataAsOf: reportStart.AddDate(0, -3, 0), Coverage: 0.512, Completeness: 0.9},
		{RunID: "r-jan", DataAsOf: reportStart.AddDate(0, -2, 0), Coverage: 0.55, Completeness: 0.97},
		{RunID: "20260202T090000Z-base", DataAsOf: monthAgo, Coverage: 0.601, Completeness: 0.95},
	}
	sum, err := pipeline.Replay(context.Background(), &storedResults{run: run, results: now}, sinks,
		pipeline.ReplayOptions{Baseline: b, Trend: trend, MaxUnknown: -1})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestChangesSheetAndTrend: the Changes sheet lists every subject whose
// change is not unchanged, new gaps first and left ones included, with a
// filter; the Summary shows the baseline and the deltas; the Trend sheet
// has a row per run and a line chart. LibreOffice opens both sheets.
func TestChangesSheetAndTrend(t *testing.T) {
	path := tempPath(t, "changes.xlsx")
	x, err := NewXLSX(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := changeFixture(t, 120, x)
	c := sum.Changes
	if c == nil || c.Count(pipeline.ChangeLeft) != 6 || c.Count(pipeline.ChangeNewGap) == 0 || c.Count(pipeline.ChangeJoined) < 12 {
		t.Fatalf("fixture changes: %+v", c)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{"Summary", "Users", "Issues", "Changes", "Trend", "Run"}) {
		t.Errorf("sheets %v", got)
	}
	rows, err := f.GetRows(SheetChanges)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "change" || rows[0][1] != "user_id" || rows[0][8] != "attr.department" {
		t.Errorf("Changes header %q", rows[0])
	}
	var want int64
	for _, class := range pipeline.ChangeClasses {
		if class != pipeline.ChangeUnchanged {
			want += c.Count(class)
		}
	}
	if int64(len(rows)-1) != want {
		t.Errorf("Changes has %d rows, want %d", len(rows)-1, want)
	}
	// Classes in sheet order, new gaps first, each class together.
	var order []string
	for _, r := range rows[1:] {
		if len(order) == 0 || order[len(order)-1] != r[0] {
			order = append(order, r[0])
		}
	}
	if order[0] != "new_gap" || !slices.Contains(order, "left") || slices.Contains(order, "unchanged") {
		t.Errorf("class order %v", order)
	}
	seen := map[string]bool{}
	for _, o := range order {
		if seen[o] {
			t.Errorf("class %s appears in two runs of rows: %v", o, order)
		}
		seen[o] = true
	}
	for _, r := range rows[1:] {
		if r[0] == "left" && !strings.HasPrefix(r[1], "gone") {
			t.Errorf("left row %q", r)
		}
		if r[0] == "new_gap" && (r[3] == "none" || r[4] != "none" || r[5] != "FALSE") {
			t.Errorf("new_gap row %q: compliant then, not now", r)
		}
	}
	assertFilterNames(t, f)

	summary := summaryValues(t, f)
	if summary["Coverage then"] == "" || summary["Difference"] != c.PointsText(sum.Counts) || summary["left"] != "6" {
		t.Errorf("Summary deltas: then %q, difference %q (want %q), left %q", summary["Coverage then"], summary["Difference"], c.PointsText(sum.Counts), summary["left"])
	}

	trend, _ := f.GetRows(SheetTrend)
	if len(trend) != 5 || trend[4][0] != sum.Run.RunID || trend[1][2] != "51.2%" {
		t.Errorf("Trend rows %q", trend)
	}
	parts := zipParts(t, path)
	var line bool
	for name, body := range parts {
		if strings.HasPrefix(name, "xl/charts/") && strings.Contains(body, "<lineChart>") && strings.Contains(body, "Trend&#39;!$C$2:$C$5") {
			line = true
		}
	}
	if !line {
		t.Error("no line chart reads from the Trend sheet")
	}

	soffice := lookTool(t, "libreoffice-calc-nogui", "soffice", "libreoffice")
	pdftotext := lookTool(t, "poppler-utils", "pdftotext")
	pdf := convertWithLibreOffice(t, soffice, path, "pdf")
	keepPrint(t, pdf)
	text := strings.Join(pdfPages(t, pdftotext, pdf), "\n")
	for _, w := range []string{"new_gap", "gone00", "mfa_before", "Change since", "r-jan", "completeness"} {
		if !strings.Contains(text, w) {
			t.Errorf("LibreOffice's print of the workbook lacks %q", w)
		}
	}
}

// TestChangesSheetCellTypes: the Changes rows, spooled and spliced in at
// save, carry the cells the sheet always had: text in the row kind's text
// style, compliant a boolean and non_compliant_since a date in that kind's
// styles (empty cells keep the style), the row as tall as its tallest
// wrapped text; and no rows stay behind in a spool file.
func TestChangesSheetCellTypes(t *testing.T) {
	path := tempPath(t, "changes.xlsx")
	x, err := NewXLSX(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	changeFixture(t, 120, x)
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(SheetChanges)
	if err != nil {
		t.Fatal(err)
	}
	widths := []float64{14, 30, 12, 12, 12, 12, 20, 12}
	for c := 9; c <= len(rows[0]); c++ {
		col, _ := excelize.ColumnNumberToName(c)
		w, err := f.GetColWidth(SheetChanges, col)
		if err != nil {
			t.Fatal(err)
		}
		widths = append(widths, w)
	}
	kinds := map[int]rowKind{}
	for k := range rowKinds {
		kinds[x.st.text[k]] = k
	}
	var tall, bools, dates int
	for i, r := range rows[1:] {
		row := i + 2
		cell := func(c int) string { name, _ := excelize.CoordinatesToCellName(c+1, row); return name }
		style := func(c int) int {
			s, err := f.GetCellStyle(SheetChanges, cell(c))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		kind, ok := kinds[style(0)]
		if !ok {
			t.Fatalf("row %d: change cell style %d is no text style", row, style(0))
		}
		lines := 1
		for c := range len(widths) {
			v := ""
			if c < len(r) {
				v = r[c]
			}
			switch c {
			case 5:
				if s := style(c); s != x.st.boolean[kind] {
					t.Errorf("row %d compliant: style %d, want %d", row, s, x.st.boolean[kind])
				}
				if typ, _ := f.GetCellType(SheetChanges, cell(c)); v != "" && typ != excelize.CellTypeBool {
					t.Errorf("row %d compliant %q: type %v, want boolean", row, v, typ)
				} else if v != "" {
					bools++
				}
			case 6:
				if s := style(c); s != x.st.day[kind] {
					t.Errorf("row %d non_compliant_since: style %d, want %d", row, s, x.st.day[kind])
				}
				if v != "" {
					if _, err := time.Parse("2006-01-02", v); err != nil {
						t.Errorf("row %d non_compliant_since %q is not shown as a date", row, v)
					}
					dates++
				}
			default:
				if s := style(c); s != x.st.text[kind] {
					t.Errorf("row %d column %d: style %d, want %d", row, c+1, s, x.st.text[kind])
				}
				lines = max(lines, wrappedLines(v, widths[c]))
			}
		}
		h, err := f.GetRowHeight(SheetChanges, row)
		if err != nil {
			t.Fatal(err)
		}
		if want := rowHeight(lines).Height; want > 0 && h != want || want == 0 && h > 15 {
			t.Errorf("row %d: height %v for %d lines", row, h, lines)
		} else if want > 0 {
			tall++
		}
	}
	if tall == 0 || bools == 0 || dates == 0 {
		t.Errorf("the fixture has %d tall rows, %d compliant cells, %d dates: the test checks too little", tall, bools, dates)
	}
	if leftover, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".mfa-audit-*")); len(leftover) > 0 {
		t.Errorf("spool files left: %v", leftover)
	}
}

// TestHTMLSinceSectionAndTrend renders the "Since <date>" section (counts,
// capped new gaps, oldest open gaps) and the trend's SVG, and has Chromium
// render it.
func TestHTMLSinceSectionAndTrend(t *testing.T) {
	path := tempPath(t, "changes.html")
	h, err := NewHTML(path, Options{HTMLMaxRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	sum := changeFixture(t, 120, h)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	text, problems := inspectHTML(t, b)
	for _, p := range problems {
		t.Errorf("report: %s", p)
	}
	text = strings.Join(strings.Fields(text), " ")
	c := sum.Changes
	for _, want := range []string{
		"Since 2 February 2026",
		"Coverage then " + c.Then.CoverageShare().String() + " , now " + sum.CoverageShare().String() + " : " + c.PointsText(sum.Counts),
		fmt.Sprintf("New gaps %d", c.Count(pipeline.ChangeNewGap)),
		fmt.Sprintf("… and %d more new gaps", c.Count(pipeline.ChangeNewGap)-3),
		"Oldest open gaps",
		"Latest complete runs of this source",
	} {
		if !strings.Contains(text, want) {
			i := strings.Index(text, "Coverage then")
			t.Errorf("report lacks %q (%.200s)", want, text[max(i, 0):])
		}
	}
	if n := strings.Count(page, `<polyline class="line line-`); n != 2 {
		t.Errorf("%d trend lines, want 2", n)
	}
	// The oldest gaps come first: a month-old one before this run's.
	if i, j := strings.Index(page, "2026-02-02"), strings.LastIndex(page, "2026-03-02"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("oldest open gaps are not oldest first (%d, %d)", i, j)
	}

	chrome := lookTool(t, "chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	}))
	defer srv.Close()
	dom := runChromium(t, chrome, srv.URL+"/report.html", "--dump-dom")
	shot := filepath.Join(t.TempDir(), "changes.png")
	if dir := os.Getenv("MFA_AUDIT_SCREENSHOT_DIR"); dir != "" {
		shot = filepath.Join(dir, "changes.png")
	}
	runChromium(t, chrome, srv.URL+"/report.html", "--screenshot="+shot, "--window-size=1280,4200", "--hide-scrollbars")
	rendered, _ := inspectHTML(t, dom)
	if !strings.Contains(strings.Join(strings.Fields(rendered), " "), "Oldest open gaps") {
		t.Error("Chromium's DOM lacks the changes section")
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("no screenshot: %v", err)
	}
}
