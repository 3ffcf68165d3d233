package sinks

import (
	"archive/zip"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// excelizeMisescapes reports text that excelize's own writer escapes so
// that it reads back wrong (bstrEscape): an escape-like sequence naming a
// surrogate half, or two sharing an underscore other than after _x005F_.
func excelizeMisescapes(s string) bool {
	if surrogateEscape.MatchString(s) {
		return true
	}
	for i := 0; i+13 <= len(s); i++ {
		if escapeLike.MatchString(s[i:i+7]) && escapeLike.MatchString(s[i+6:i+13]) && s[i:i+7] != "_x005F_" {
			return true
		}
	}
	return false
}

var (
	surrogateEscape = regexp.MustCompile(`_x[dD][89a-fA-F][0-9a-fA-F]{2}_`)
	escapeLike      = regexp.MustCompile(`^_x[0-9a-fA-F]{4}_$`)
)

// spoolCell is one cell for the row writers under comparison.
type spoolCell struct {
	kind  byte // 't' text, 'b' boolean, 'i' integer, 'd' time, 'e' empty
	style int
	s     string
	b     bool
	n     int64
	t     time.Time
}

type spoolRow struct {
	height float64
	cells  []spoolCell
}

// rowsViaExcelize is the sheetData content excelize's StreamWriter writes
// for rows (from row 2), as the XLSX sink wrote them before rowSpool.
func rowsViaExcelize(t *testing.T, rows []spoolRow) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		vals := make([]any, len(r.cells))
		for j, c := range r.cells {
			var v any
			switch c.kind {
			case 't':
				if c.s != "" {
					v = c.s
				}
			case 'b':
				v = c.b
			case 'i':
				v = c.n
			case 'd':
				if !c.t.IsZero() { // the sinks leave a zero time empty
					v = c.t
				}
			}
			vals[j] = &excelize.Cell{StyleID: c.style, Value: v}
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, vals, excelize.RowOpts{Height: r.height}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	part := zipPart(t, path, "xl/worksheets/sheet1.xml")
	start := strings.Index(part, "<sheetData>")
	end := strings.Index(part, "</sheetData>")
	if start < 0 || end < start {
		t.Fatalf("no sheetData in %.300s", part)
	}
	return part[start+len("<sheetData>") : end]
}

func zipPart(t *testing.T, path, name string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("%s: no part %s", path, name)
	return ""
}

// rowsViaSpool is the same rows through rowSpool.
func rowsViaSpool(t *testing.T, rows []spoolRow) string {
	t.Helper()
	ncols := 0
	for _, r := range rows {
		ncols = max(ncols, len(r.cells))
	}
	s, err := newRowSpool(t.TempDir(), 0o600, ncols)
	if err != nil {
		t.Fatal(err)
	}
	defer s.remove()
	for i, r := range rows {
		if err := s.begin(i+2, r.height); err != nil {
			t.Fatal(err)
		}
		for j, c := range r.cells {
			switch c.kind {
			case 't':
				s.text(j, c.style, c.s)
			case 'b':
				s.boolean(j, c.style, c.b)
			case 'i':
				s.integer(j, c.style, c.n)
			case 'd':
				s.time(j, c.style, c.t)
			default:
				s.empty(j, c.style)
			}
		}
		if err := s.end(); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := s.rewind()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// spoolTexts are cell texts that exercise every escaping rule.
var spoolTexts = []string{
	"plain", "", " leading space", "trailing\n", "\ttab first", "cr last\r",
	"a\tb\nc\rd", `<&>"'`, "=1+2", "+86 136 9485 8601", "\x01\x1f control",
	"bad \xff\xfe utf-8", "\uFFFE\uFFFF", "\uFFFD ok", "emoji 😀 and 中文",
	"_x0041_", "a_x005F_b", "_x005F_x0041_", "_x12G4_", "__x0041__", "_x005F_x005F_",
	"_x005f_", "x_x00e9_y_x00E9_", "&#xA;", "line1\nline2\n",
	strings.Repeat("long ", 7000),                   // over 32,767 characters
	strings.Repeat("a", 32766) + "😀tail",            // a surrogate pair across the limit
	strings.Repeat("é", 20000),                      // two bytes, one unit each
	strings.Repeat("<", 5) + strings.Repeat("&", 5), // escapes back to back
}

func TestRowSpoolMatchesExcelize(t *testing.T) {
	var rows []spoolRow
	for i, s := range spoolTexts {
		rows = append(rows, spoolRow{height: float64(i%3) * 15, cells: []spoolCell{
			{kind: 't', style: 2, s: s}, {kind: 't', s: s}, {kind: 'e', style: 3},
		}})
	}
	zones := []*time.Location{time.UTC, time.FixedZone("east", 8*3600), time.FixedZone("west", -5*3600-1800)}
	times := []time.Time{
		time.Date(2026, 12, 7, 9, 1, 16, 123456789, time.UTC),
		time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 2, 28, 23, 59, 59, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1899, 12, 31, 0, 0, 0, 1, time.UTC),
		time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2250, 6, 1, 12, 0, 0, 0, time.UTC), // past excelize's longest step
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		{}, // no time: an empty cell
	}
	for i, tm := range times {
		rows = append(rows, spoolRow{cells: []spoolCell{
			{kind: 'd', style: 4, t: tm.In(zones[i%len(zones)])},
			{kind: 'b', style: 5, b: i%2 == 0}, {kind: 'b', b: i%2 == 1},
			{kind: 'i', style: 2, n: int64(i) - 3}, {kind: 'i', n: 1 << 40},
			{kind: 'e'}, {kind: 't', style: 12, s: "x"},
		}})
	}
	// Wide rows: column letters past Z.
	wide := spoolRow{height: 405}
	for i := range 60 {
		wide.cells = append(wide.cells, spoolCell{kind: 't', style: i % 7, s: "c" + strings.Repeat("z", i)})
	}
	rows = append(rows, wide)

	for _, r := range rows {
		for _, c := range r.cells {
			if excelizeMisescapes(c.s) {
				t.Fatalf("%q: excelize escapes it differently (TestXLSXKeepsEscapeLikeText)", c.s)
			}
		}
	}
	got, want := rowsViaSpool(t, rows), rowsViaExcelize(t, rows)
	if got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("rows differ at byte %d:\n got …%.300s\nwant …%.300s", i, got[max(0, i-100):], want[max(0, i-100):])
	}
}

// FuzzRowSpoolText: any text makes the same cell as excelize writes.
func FuzzRowSpoolText(f *testing.F) {
	for _, s := range spoolTexts {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if excelizeMisescapes(s) {
			t.Skip("excelize's text reads back wrong (TestXLSXKeepsEscapeLikeText)")
		}
		rows := []spoolRow{{cells: []spoolCell{{kind: 't', style: 2, s: s}}}}
		if got, want := rowsViaSpool(t, rows), rowsViaExcelize(t, rows); got != want {
			t.Fatalf("text %q:\n got %s\nwant %s", s, got, want)
		}
	})
}

// TestXLSXKeepsEscapeLikeText: text that looks like SpreadsheetML's
// escaped characters comes back from the workbook as written, also where
// excelize's own writer gets it wrong.
func TestXLSXKeepsEscapeLikeText(t *testing.T) {
	texts := []string{"a_xD800_b", "_xdfff_", "_x005F_xD800_", "_x0041_x0042_", "_x005F_x0041_x0042_",
		"_x0041_", "_x005F_x0041_", "x_x00e9_y", "_x005F_", "__x0041__"}
	for _, s := range texts[:5] {
		if !excelizeMisescapes(s) {
			t.Fatalf("%q: not a case excelize misescapes", s)
		}
	}
	run := reportRun()
	results := reportResults(len(texts))
	attr := run.AttrNames[0]
	for i := range results {
		results[i].Attrs = pipeline.Attrs{{Key: attr, Value: texts[i]}}
	}
	f, _ := writeXLSX(t, Options{}, run, results, summarize(run, results, true, ""))
	rows, err := f.GetRows("Users")
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "attr."+attr)
	if col < 0 {
		t.Fatalf("no column %q in %q", attr, rows[0])
	}
	for i, want := range texts {
		if got := rows[i+1][col]; got != want {
			t.Errorf("Users row %d: %s %q, want %q", i+2, attr, got, want)
		}
	}
}

// TestRowSpoolRowLimit: past Excel's last row a row fails as excelize's
// StreamWriter fails it.
func TestRowSpoolRowLimit(t *testing.T) {
	s, err := newRowSpool(t.TempDir(), 0o600, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.remove()
	if err := s.begin(excelize.TotalRows, 0); err != nil {
		t.Fatalf("last row: %v", err)
	}
	s.text(0, 0, "x")
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if err := s.begin(excelize.TotalRows+1, 0); !errors.Is(err, excelize.ErrMaxRows) {
		t.Fatalf("row past the limit: %v, want %v", err, excelize.ErrMaxRows)
	}
}
