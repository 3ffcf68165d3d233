package sinks

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// writeXLSX writes results through the XLSX sink and opens the workbook.
func writeXLSX(t *testing.T, opt Options, run pipeline.RunInfo, results []pipeline.Result, s pipeline.Summary) (*excelize.File, string) {
	t.Helper()
	path := tempPath(t, "audit.xlsx")
	sink, err := NewXLSX(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, sink, run, results, s)
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
	for _, l := range leftovers {
		if l != path && l != path+".incomplete" {
			t.Errorf("temporary file left behind: %s", l)
		}
	}
	return f, path
}

// expectedUserRow is what the Users sheet shows for r, as excelize reads it
// back, computed without the sink's code: booleans TRUE/FALSE, numbers,
// checked_at to the second, text masked when asked and otherwise exact (no
// apostrophe: the cells are text-typed).
func expectedUserRow(r pipeline.Result, attrNames []string, mask bool) []string {
	txt := func(s string, pii bool) string {
		if mask && pii {
			s = MaskPII(s)
		}
		return s
	}
	bl := func(b *bool) string {
		if b == nil {
			return ""
		}
		return strings.ToUpper(strconv.FormatBool(*b))
	}
	row := []string{txt(r.UserID, true), txt(r.IDType, false), string(r.Outcome), bl(r.TOTP), bl(r.Face), bl(r.SMS), bl(r.Email)}
	if r.Factors != nil {
		row = append(row, strconv.Itoa(*r.Factors))
	} else {
		row = append(row, "")
	}
	row = append(row, r.MFA, bl(r.Compliant))
	for _, a := range attrNames {
		v, _ := r.Attrs.Get(a)
		row = append(row, txt(v, true))
	}
	row = append(row, txt(r.Error, true), txt(r.APICode, false), txt(r.RequestID, false), strconv.Itoa(r.Attempts), xlsxTimeText(r.CheckedAt),
		string(r.Change), xlsxDateText(r.NonCompliantSince))
	return trimRight(row)
}

// xlsxDateText is a date cell as a spreadsheet shows it.
func xlsxDateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// xlsxTimeText is a date-time cell as a spreadsheet shows it: to the
// second (the test data has whole and half seconds).
func xlsxTimeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format("2006-01-02 15:04:05")
}

func trimRight(row []string) []string {
	for len(row) > 0 && row[len(row)-1] == "" {
		row = row[:len(row)-1]
	}
	return row
}

// zipParts reads every part of the workbook.
func zipParts(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	parts := map[string]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		parts[zf.Name] = string(b)
	}
	return parts
}

func styleFill(t *testing.T, f *excelize.File, sheet, cell string) string {
	t.Helper()
	id, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Fill.Type != "pattern" || len(st.Fill.Color) == 0 {
		return ""
	}
	return strings.ToUpper(st.Fill.Color[0])
}

// assertNoFormulas checks that no cell of any sheet is a formula, both
// through excelize and in the raw sheet XML.
func assertNoFormulas(t *testing.T, f *excelize.File, parts map[string]string) {
	t.Helper()
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			for j := range row {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
				if fm, err := f.GetCellFormula(sheet, cell); err != nil || fm != "" {
					t.Errorf("%s!%s is a formula %q (%v)", sheet, cell, fm, err)
				}
			}
		}
	}
	formula := regexp.MustCompile(`<f[ >/]`)
	for name, body := range parts {
		if strings.HasPrefix(name, "xl/worksheets/") && formula.MatchString(body) {
			t.Errorf("%s holds a formula element", name)
		}
	}
}

// assertTextTyped checks that every cell whose value starts like a formula
// is a text cell (inline or shared string) holding that value, with no
// apostrophe, and formatted as text (@) on the list sheets.
func assertTextTyped(t *testing.T, f *excelize.File, sheet string) {
	t.Helper()
	rows, _ := f.GetRows(sheet)
	for i, row := range rows {
		for j, v := range row {
			if v == "" {
				continue
			}
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			if strings.HasPrefix(v, "'") {
				t.Errorf("%s!%s shows an apostrophe: %q", sheet, cell, v)
			}
			if !strings.ContainsRune("=+-@\t\r", rune(v[0])) && !strings.HasPrefix(v, "＝") && !strings.HasPrefix(v, "＋") {
				continue
			}
			if typ, _ := f.GetCellType(sheet, cell); typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
				t.Errorf("%s!%s = %q is not a text cell (type %v)", sheet, cell, v, typ)
			}
			if sheet == "Users" || sheet == "Issues" {
				id, _ := f.GetCellStyle(sheet, cell)
				if st, _ := f.GetStyle(id); st == nil || st.NumFmt != 49 {
					t.Errorf("%s!%s = %q is not formatted as text (@)", sheet, cell, v)
				}
			}
		}
	}
}

func TestXLSXWorkbook(t *testing.T) {
	run := reportRun()
	results := reportResults(300)
	s := summarize(run, results, true, "")
	f, path := writeXLSX(t, Options{}, run, results, s)
	parts := zipParts(t, path)

	if got, want := f.GetSheetList(), []string{"Summary", "Users", "Issues", "Run"}; !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	if f.GetActiveSheetIndex() != 0 {
		t.Errorf("active sheet %d, want Summary", f.GetActiveSheetIndex())
	}

	// Users: header, one row per result, every cell as expected.
	rows, err := f.GetRows("Users")
	if err != nil {
		t.Fatal(err)
	}
	if want := ResultHeader(run.AttrNames); !slices.Equal(rows[0], want) {
		t.Errorf("Users header %q, want %q", rows[0], want)
	}
	if len(rows) != len(results)+1 {
		t.Fatalf("Users has %d rows, want %d", len(rows), len(results)+1)
	}
	for i, r := range results {
		if want := expectedUserRow(r, run.AttrNames, false); !slices.Equal(rows[i+1], want) {
			t.Errorf("Users row %d:\n got %q\nwant %q", i+2, rows[i+1], want)
		}
	}
	// Typed cells: booleans, numbers, date-time.
	for cell, want := range map[string]excelize.CellType{"D2": excelize.CellTypeBool, "A2": excelize.CellTypeInlineString} {
		if got, _ := f.GetCellType("Users", cell); got != want {
			t.Errorf("Users!%s type %v, want %v", cell, got, want)
		}
	}
	// Numbers carry no type attribute (excelize reads them as unset).
	if !regexp.MustCompile(`<c r="H2"( s="[0-9]+")?><v>3</v></c>`).MatchString(parts["xl/worksheets/sheet2.xml"]) {
		t.Errorf("factors is not a number cell")
	}
	lastCol, _ := excelize.ColumnNumberToName(len(rows[0]))
	checkedCol, _ := excelize.ColumnNumberToName(slices.Index(rows[0], "checked_at") + 1)
	if raw, _ := f.GetCellValue("Users", checkedCol+"2", excelize.Options{RawCellValue: true}); !regexp.MustCompile(`^4[0-9]{4}\.[0-9]+$`).MatchString(raw) {
		t.Errorf("checked_at is not a date-time serial number: %q", raw)
	}

	// Highlighting: non-compliant rows red, unknown amber, not found and
	// invalid grey, compliant rows plain, across every column.
	for i, r := range results {
		want := map[rowKind]string{rowPlain: "", rowNonCompliant: "FCE4E4", rowUnknown: "FFF2CC", rowMuted: "EDEDED"}[rowKindOf(&r)]
		for _, col := range []string{"A", "D", "H", lastCol} {
			if got := styleFill(t, f, "Users", fmt.Sprintf("%s%d", col, i+2)); got != want {
				t.Fatalf("Users!%s%d (%s, compliant=%v) fill %q, want %q", col, i+2, r.Outcome, r.Compliant, got, want)
			}
		}
	}
	if fill := styleFill(t, f, "Users", "A1"); fill == "" {
		t.Errorf("header row has no style")
	}

	// Frozen header and auto-filter over all data, on both streamed sheets.
	issues := 0
	for _, r := range results {
		if r.Outcome != pipeline.OutcomeOK {
			issues++
		}
	}
	for sheet, ref := range map[string]string{
		"Users":  fmt.Sprintf("$A$1:$%s$%d", lastCol, len(results)+1),
		"Issues": fmt.Sprintf("$A$1:$M$%d", issues+1),
	} {
		p, err := f.GetPanes(sheet)
		if err != nil || !p.Freeze || p.YSplit != 1 || p.TopLeftCell != "A2" {
			t.Errorf("%s panes %+v (%v), want the header row frozen", sheet, p, err)
		}
		xmlPath := map[string]string{"Users": "xl/worksheets/sheet2.xml", "Issues": "xl/worksheets/sheet3.xml"}[sheet]
		if !strings.Contains(parts[xmlPath], `<autoFilter ref="`+ref+`"`) {
			t.Errorf("%s: no auto-filter over %s", sheet, ref)
		}
	}
	assertFilterNames(t, f)

	// Issues: the not_found, invalid and error results again.
	irows, _ := f.GetRows("Issues")
	if want := []string{"user_id", "id_type", "outcome", "what_happened", "error", "api_code", "request_id", "attempts", "checked_at", "line", "attr.department", "attr.name", "attr.manager"}; !slices.Equal(irows[0], want) {
		t.Errorf("Issues header %q, want %q", irows[0], want)
	}
	if len(irows) != issues+1 {
		t.Errorf("Issues has %d rows, want %d", len(irows)-1, issues)
	}
	n := 1
	for _, r := range results {
		if r.Outcome == pipeline.OutcomeOK {
			continue
		}
		row := irows[n]
		n++
		if what, _ := issueWords(&r); row[0] != r.UserID || row[2] != string(r.Outcome) || row[3] != what || row[4] != r.Error || row[9] != strconv.FormatInt(r.Line, 10) {
			t.Errorf("Issues row %d = %q, for %+v", n, row, r)
		}
	}

	// Formula injection: nothing is a formula; a value that starts like
	// one is a text cell showing it exactly.
	assertNoFormulas(t, f, parts)
	for _, sheet := range f.GetSheetList() {
		assertTextTyped(t, f, sheet)
	}

	// The chart is in the saved file, on the Summary sheet.
	if !strings.Contains(parts["xl/charts/chart1.xml"], "<barChart>") {
		t.Errorf("no bar chart part in the workbook")
	}
	if !strings.Contains(parts["xl/worksheets/sheet1.xml"], "<drawing ") {
		t.Errorf("Summary sheet does not show the chart drawing")
	}

	checkSummarySheet(t, f, &s)

	// Run sheet, without secrets anywhere in the file.
	runRows, _ := f.GetRows("Run")
	runText := fmt.Sprint(runRows)
	for _, want := range []string{run.RunID, run.Version, run.Hostname, run.Source, "AUDIT_CONCURRENCY", "postgres://audit:xxxxx@db/audit"} {
		if !strings.Contains(runText, want) {
			t.Errorf("Run sheet lacks %q", want)
		}
	}
	for name, body := range parts {
		for _, secret := range []string{"must-never-appear", "hunter2", "GENAUTH_ACCESS_KEY_SECRET"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s contains %q", name, secret)
			}
		}
	}
	if _, err := os.Stat(path + ".incomplete"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("complete run left an incomplete marker: %v", err)
	}
}

// assertFilterNames checks that each auto-filter's defined name points at
// its own sheet: excelize records the sheet by position.
func assertFilterNames(t *testing.T, f *excelize.File) {
	t.Helper()
	sheets := f.GetSheetList()
	for _, dn := range f.GetDefinedName() {
		if dn.Name != "_xlnm._FilterDatabase" {
			continue
		}
		i := slices.Index(sheets, dn.Scope)
		if i < 0 || !strings.HasPrefix(dn.RefersTo, "'"+dn.Scope+"'!") {
			t.Errorf("filter name scoped %q refers to %q", dn.Scope, dn.RefersTo)
		}
	}
}

// summaryValues maps the labels in column A of Summary to their column B
// raw values.
func summaryValues(t *testing.T, f *excelize.File) map[string]string {
	rows, err := f.GetRows("Summary", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, row := range rows {
		if len(row) >= 2 {
			m[row[0]] = row[1]
		}
	}
	return m
}

func checkSummarySheet(t *testing.T, f *excelize.File, s *pipeline.Summary) {
	t.Helper()
	title, _ := f.GetCellValue("Summary", "A1")
	banner, _ := f.GetCellValue("Summary", "A2")
	if title != "MFA coverage audit" || banner == "" {
		t.Errorf("Summary title %q, banner %q", title, banner)
	}
	v := summaryValues(t, f)
	for label, want := range map[string]int64{
		"Rows read":                     s.RowsRead,
		"Unique subjects":               s.Unique,
		"Duplicate rows (audited once)": s.Duplicates,
		"Checked (ok)":                  s.OK,
		"Not found":                     s.NotFound,
		"Invalid":                       s.Invalid,
		"Unknown (error)":               s.Error,
		"Compliant":                     s.Compliant,
		"Non-compliant":                 s.NonCompliant,
		"TOTP app":                      s.TOTP,
		"Face":                          s.Face,
		"SMS":                           s.SMS,
		"E-mail":                        s.Email,
		"Strong (TOTP or face)":         s.Strong,
		"Weak (SMS or e-mail only)":     s.Weak,
		"None":                          s.None,
	} {
		if got := v[label]; got != strconv.FormatInt(want, 10) {
			t.Errorf("Summary %q = %q, want %d", label, got, want)
		}
	}
	coverageLabel := "Coverage (compliant ÷ checked)"
	if !s.Complete || s.Error > 0 {
		coverageLabel += " — NOT FINAL"
	}
	for label, want := range map[string]pipeline.Share{
		coverageLabel:                        s.CoverageShare(),
		"Completeness (checked ÷ auditable)": s.CompletenessShare(),
	} {
		if !want.Defined() { // nothing to divide by, or an unfinished run's completeness
			if v[label] != pipeline.NA {
				t.Errorf("Summary %q = %q, want %s", label, v[label], pipeline.NA)
			}
			continue
		}
		// The cell holds the value shown, formatted 0.0%, with the counts beside it.
		wantV, _ := want.Fraction()
		got, err := strconv.ParseFloat(v[label], 64)
		if err != nil || got != wantV {
			t.Errorf("Summary %q = %q, want %v", label, v[label], wantV)
		}
		cell := findCell(t, f, "Summary", label)
		id, _ := f.GetCellStyle("Summary", "B"+cell[1:])
		if st, _ := f.GetStyle(id); st == nil || st.CustomNumFmt == nil || *st.CustomNumFmt != "0.0%" {
			t.Errorf("%q is not formatted 0.0%%: %+v", label, st)
		}
		if shown, _ := f.GetCellValue("Summary", "B"+cell[1:]); shown != want.String() {
			t.Errorf("%q shows %q, want %q", label, shown, want.String())
		}
		if beside, _ := f.GetCellValue("Summary", "C"+cell[1:]); !strings.HasPrefix(beside, formatCount(want.N)+" ") {
			t.Errorf("%q: counts beside it %q", label, beside)
		}
	}

	// Group table, worst coverage first, as Summary.Groups() has it.
	rows, _ := f.GetRows("Summary", excelize.Options{RawCellValue: true})
	start := -1
	for i, row := range rows {
		if len(row) > 0 && row[0] == s.Run.GroupBy && len(row) > 1 && row[1] == "Users" {
			start = i + 1
		}
	}
	groups := s.Groups()
	if start < 0 || len(rows)-start != len(groups) {
		t.Fatalf("group table at %d with %d rows, want %d groups", start, len(rows)-start, len(groups))
	}
	for i, g := range groups {
		row := rows[start+i]
		want := []string{g.Name, strconv.FormatInt(g.Unique, 10), strconv.FormatInt(g.OK, 10), strconv.FormatInt(g.Compliant, 10), strconv.FormatInt(g.NonCompliant, 10)}
		if !slices.Equal(row[:5], want) {
			t.Errorf("group row %d = %q, want %q", i, row[:5], want)
		}
	}
}

func findCell(t *testing.T, f *excelize.File, sheet, value string) string {
	t.Helper()
	cells, err := f.SearchSheet(sheet, "^"+regexp.QuoteMeta(value)+"$", true)
	if err != nil || len(cells) == 0 {
		t.Fatalf("%q not on %s (%v)", value, sheet, err)
	}
	return cells[0]
}

func TestXLSXRollOver(t *testing.T) {
	run := reportRun()
	results := reportResults(25)
	s := summarize(run, results, true, "")
	f, path := writeXLSX(t, Options{XLSXMaxRows: 10}, run, results, s)
	if got, want := f.GetSheetList(), []string{"Summary", "Users", "Users (2)", "Users (3)", "Issues", "Run"}; !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	header := ResultHeader(run.AttrNames)
	next := 0
	for _, sheet := range []string{"Users", "Users (2)", "Users (3)"} {
		rows, _ := f.GetRows(sheet)
		if !slices.Equal(rows[0], header) {
			t.Errorf("%s header %q", sheet, rows[0])
		}
		want := min(10, len(results)-next)
		if len(rows)-1 != want {
			t.Errorf("%s has %d data rows, want %d", sheet, len(rows)-1, want)
		}
		for _, row := range rows[1:] {
			if w := expectedUserRow(results[next], run.AttrNames, false); !slices.Equal(row, w) {
				t.Errorf("%s: result %d = %q, want %q", sheet, next, row, w)
			}
			next++
		}
		if p, _ := f.GetPanes(sheet); !p.Freeze || p.YSplit != 1 {
			t.Errorf("%s: header not frozen", sheet)
		}
	}
	if next != len(results) {
		t.Errorf("%d results on the Users sheets, want %d", next, len(results))
	}
	parts := zipParts(t, path)
	filters := 0
	for name, body := range parts {
		if strings.HasPrefix(name, "xl/worksheets/sheet") && strings.Contains(body, "<autoFilter ") {
			filters++
		}
	}
	if filters != 4 {
		t.Errorf("%d sheets with an auto-filter, want 4 (three Users, Issues)", filters)
	}
	assertFilterNames(t, f)
	assertNoFormulas(t, f, parts)
}

func TestXLSXIncomplete(t *testing.T) {
	run := reportRun()
	results := reportResults(40)
	for _, c := range []struct {
		name     string
		complete bool
		reason   string
		keep     func(pipeline.Result) bool
		banner   string
	}{
		{"interrupted", false, "interrupted (SIGTERM) after 40 of 100 users", nil, "INTERRUPTED (SIGTERM) after 40 of 100 users — no figure is final"},
		{"unknowns", true, "", nil, "Run complete, but the MFA state of 4 users is unknown — coverage is not final"},
		{"complete", true, "", func(r pipeline.Result) bool { return r.Outcome != pipeline.OutcomeError }, "Complete run: every user has a final outcome"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rs []pipeline.Result
			for _, r := range results {
				if c.keep == nil || c.keep(r) {
					rs = append(rs, r)
				}
			}
			s := summarize(run, rs, c.complete, c.reason)
			f, path := writeXLSX(t, Options{}, run, rs, s)
			if got, _ := f.GetCellValue("Summary", "A2"); got != c.banner {
				t.Errorf("banner %q, want %q", got, c.banner)
			}
			marker, err := os.ReadFile(path + ".incomplete")
			if c.complete != errors.Is(err, os.ErrNotExist) {
				t.Errorf("incomplete marker: %q, %v", marker, err)
			}
			v := summaryValues(t, f)
			_, final := v["Coverage (compliant ÷ checked)"]
			if final != (c.keep != nil) {
				t.Errorf("coverage shown as final = %v", final)
			}
			checkSummarySheet(t, f, &s)
		})
	}
}

// TestXLSXCloseAfterInterrupt: Close with no results at all (interrupted
// at once) still gives a workbook that says so.
func TestXLSXCloseAfterInterrupt(t *testing.T) {
	run := reportRun()
	s := summarize(run, nil, false, "interrupted before the first answer")
	f, _ := writeXLSX(t, Options{}, run, nil, s)
	if got, _ := f.GetCellValue("Summary", "A2"); !strings.HasPrefix(got, "INTERRUPTED before the first answer") {
		t.Errorf("banner %q", got)
	}
	rows, _ := f.GetRows("Users")
	if len(rows) != 1 {
		t.Errorf("Users has %d rows, want the header only", len(rows))
	}
	if got := summaryValues(t, f)["Coverage (compliant ÷ checked) — NOT FINAL"]; got != "n/a" {
		t.Errorf("coverage with nobody checked = %q, want n/a", got)
	}
}

func TestXLSXMaskPII(t *testing.T) {
	run := reportRun()
	results := reportResults(60)
	s := summarize(run, results, true, "")
	f, path := writeXLSX(t, Options{MaskPII: true}, run, results, s)
	rows, _ := f.GetRows("Users")
	for i, r := range results {
		if want := expectedUserRow(r, run.AttrNames, true); !slices.Equal(rows[i+1], want) {
			t.Errorf("Users row %d:\n got %q\nwant %q", i+2, rows[i+1], want)
		}
	}
	parts := zipParts(t, path)
	for name, body := range parts {
		if strings.HasPrefix(name, "xl/worksheets/") && (strings.Contains(body, "@example.com") || strings.Contains(body, "138 0013 8000")) {
			t.Errorf("%s shows an e-mail address or phone number unmasked", name)
		}
	}
	if !strings.Contains(parts["xl/worksheets/sheet2.xml"], "b***@***.com") {
		t.Errorf("masked addresses missing")
	}
}

// TestXLSXLibreOffice opens the workbook in LibreOffice, exports every sheet
// to CSV and compares the Users cells with the results written: the file is
// valid for a real spreadsheet program, which evaluates no payload.
func TestXLSXLibreOffice(t *testing.T) {
	soffice := lookTool(t, "libreoffice-calc-nogui", "soffice", "libreoffice")
	run := reportRun()
	results := reportResults(120)
	s := summarize(run, results, false, "interrupted (SIGTERM)")
	_, path := writeXLSX(t, Options{XLSXMaxRows: 100}, run, results, s)

	out := t.TempDir()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	// Comma, double quote, UTF-8, from line 1; "as shown" (date format),
	// no formulas; sheet -1: every sheet to audit-<Sheet>.csv.
	cmd := exec.CommandContext(ctx, soffice, "--headless", "--norestore", "--nolockcheck",
		"-env:UserInstallation=file://"+profile,
		"--convert-to", `csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1`,
		"--outdir", out, path)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice: %v\n%s", err, msg)
	}
	read := func(sheet string) [][]string {
		t.Helper()
		name := filepath.Join(out, "audit-"+sheet+".csv")
		fh, err := os.Open(name)
		if err != nil {
			entries, _ := os.ReadDir(out)
			t.Fatalf("%v (soffice wrote %v; output: %s)", err, entries, msg)
		}
		defer fh.Close()
		cr := csv.NewReader(fh)
		cr.FieldsPerRecord = -1
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}

	var users [][]string
	for _, sheet := range []string{"Users", "Users (2)"} {
		recs := read(sheet)
		if !slices.Equal(recs[0], ResultHeader(run.AttrNames)) {
			t.Errorf("%s header in LibreOffice: %q", sheet, recs[0])
		}
		users = append(users, recs[1:]...)
	}
	if len(users) != len(results) {
		t.Fatalf("LibreOffice sees %d users, want %d", len(users), len(results))
	}
	for i, r := range results {
		want := expectedUserRow(r, run.AttrNames, false)
		got := trimRight(users[i])
		if !slices.Equal(got, want) {
			t.Errorf("user %d in LibreOffice:\n got %q\nwant %q", i, got, want)
		}
	}
	summary := read("Summary")
	if got := summary[1][0]; got != "INTERRUPTED (SIGTERM) — no figure is final" {
		t.Errorf("LibreOffice Summary banner %q", got)
	}
	found := false
	for _, row := range summary {
		if len(row) > 1 && row[0] == "Coverage (compliant ÷ checked) — NOT FINAL" {
			found = true
			if want := s.CoverageShare().String(); row[1] != want {
				t.Errorf("LibreOffice coverage %q, want %q", row[1], want)
			}
		}
	}
	if !found {
		t.Errorf("no coverage line on Summary: %q", summary)
	}
	if issues := read("Issues"); len(issues) != 1+len(results)*3/10 {
		t.Errorf("LibreOffice sees %d issue rows", len(issues)-1)
	}
}

// TestXLSXRollOverSpilled rolls over a Users sheet large enough that
// excelize has spilled it to disk (over 16 MB of XML), as at a million
// users: sheet order, row counts and the Issues sheet hold. (excelize's
// MoveSheet, for one, crashes on such a sheet.)
func TestXLSXRollOverSpilled(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	run := reportRun()
	big := strings.Repeat("x", 4000)
	results := reportResults(4500)
	for i := range results {
		results[i].Attrs[1].Value = big
	}
	s := summarize(run, results, true, "")
	path := tempPath(t, "big.xlsx")
	sink, _ := NewXLSX(path, Options{XLSXMaxRows: 4300})
	writeAll(t, sink, run, results, s)

	parts := zipParts(t, path)
	sheets := regexp.MustCompile(`<sheet name="([^"]+)" sheetId="([0-9]+)"`).FindAllStringSubmatch(parts["xl/workbook.xml"], -1)
	var names []string
	for _, m := range sheets {
		names = append(names, m[1])
	}
	if want := []string{"Summary", "Users", "Users (2)", "Issues", "Run"}; !slices.Equal(names, want) {
		t.Fatalf("sheets %q, want %q", names, want)
	}
	rowRE := regexp.MustCompile(`<row r="`)
	for i, want := range []int{1 + 4300, 1 + 200, 1 + 1350} {
		name := fmt.Sprintf("xl/worksheets/sheet%s.xml", sheets[i+1][2])
		body := parts[name]
		if got := len(rowRE.FindAllStringIndex(body, -1)); got != want {
			t.Errorf("%s (%s): %d rows, want %d", names[i+1], name, got, want)
		}
		if !strings.Contains(body, "<autoFilter ") || !strings.Contains(body, `<pane `) {
			t.Errorf("%s: no auto-filter or frozen pane", names[i+1])
		}
	}
	if len(parts["xl/worksheets/sheet2.xml"]) < 16<<20 {
		t.Errorf("Users is only %d bytes: the test no longer makes excelize spill", len(parts["xl/worksheets/sheet2.xml"]))
	}
}
