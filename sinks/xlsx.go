package sinks

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// MaxXLSXRows is the most data rows a worksheet holds below its header row
// (Excel's limit of 1,048,576 rows less one).
const MaxXLSXRows = excelize.TotalRows - 1

// Sheet names of the workbook, in order. Users continues on "Users (2)",
// "Users (3)" ... past Options.XLSXMaxRows rows.
const (
	SheetSummary = "Summary"
	SheetUsers   = "Users"
	SheetIssues  = "Issues"
	SheetRun     = "Run"
)

// xlsxTimeFormat is the number format of date-time cells (UTC).
const xlsxTimeFormat = "yyyy-mm-dd hh:mm:ss"

// XLSX writes the workbook for compliance officers (SPEC section 7): sheets
// Summary, Users (Users (2) ... past the row limit), Issues and Run.
//
// Users is streamed as results arrive (excelize's StreamWriter spills to a
// temporary file beside the output and keeps at most 16 MB in memory). The
// Issues rows go to a spool file of their own and are streamed into their
// sheet at Close: the sheet has to come after the last Users sheet, and
// excelize cannot move sheets once a streamed one is flushed (MoveSheet
// parses every sheet back and dereferences nil on a spilled one). Summary
// and Run are written at Close, which then streams the zip straight into the
// output file.
//
// Every text cell that came from input or the API goes through SafeCell, and
// no cell is ever written as a formula.
type XLSX struct {
	path    string
	opt     Options
	maxRows int
	run     pipeline.RunInfo

	f  *excelize.File
	st xlsxStyles

	cols    []Column // ResultColumns of the run's attributes
	header  []any
	widths  []float64
	text    []string        // ResultRow buffer
	cellBuf []excelize.Cell // Users row cells; cells points into it
	cells   []any           // Users row for SetRow: *Cell or nil
	issueIx []int           // columns of cols shown on the Issues sheet, -1 for line
	spool   *issueSpool     // the Issues rows until Close

	users      *excelize.StreamWriter
	usersName  string
	usersSheet int // 1 for Users, 2 for Users (2) ...
	usersRows  int // data rows on the current Users sheet

	failed error // the first write error; Close still writes what it can
	done   bool
}

var _ pipeline.Sink = (*XLSX)(nil)

// NewXLSX returns a sink writing the workbook to path. Nothing is created
// before Open; the file appears, complete, at Close.
func NewXLSX(path string, opt Options) (*XLSX, error) {
	if path == "" {
		return nil, errors.New("xlsx output: empty path")
	}
	x := &XLSX{path: path, opt: opt, maxRows: opt.XLSXMaxRows}
	if x.maxRows <= 0 || x.maxRows > MaxXLSXRows {
		x.maxRows = MaxXLSXRows
	}
	return x, nil
}

// Open creates the workbook and its sheets and writes the header rows. It is
// called once, before the first Write.
func (x *XLSX) Open(_ context.Context, run pipeline.RunInfo) error {
	x.run = run
	// The streamed sheets spill to temporary files beside the output: its
	// directory is known to be writable even on a read-only root file system.
	x.f = excelize.NewFile(excelize.Options{TmpDir: filepath.Dir(x.path)})
	if err := x.open(); err != nil {
		x.f.Close()
		x.f = nil
		return fmt.Errorf("xlsx output %s: %w", x.path, err)
	}
	return nil
}

func (x *XLSX) open() error {
	f := x.f
	if err := f.SetSheetName("Sheet1", SheetSummary); err != nil {
		return err
	}
	// Issues and Run are added at Close, after the last Users sheet.
	if _, err := f.NewSheet(SheetUsers); err != nil {
		return err
	}
	f.SetActiveSheet(0)
	_ = f.SetDocProps(&excelize.DocProperties{
		Title:       "MFA coverage audit",
		Subject:     "Multi-factor authentication coverage of a GenAuth user pool",
		Creator:     "mfa-audit " + x.run.Version,
		Description: "Run " + x.run.RunID,
	})
	var err error
	if x.st, err = newXLSXStyles(f); err != nil {
		return err
	}

	x.cols = ResultColumns(x.run.AttrNames)
	x.header = make([]any, len(x.cols))
	x.widths = make([]float64, len(x.cols))
	for i, c := range x.cols {
		x.header[i] = excelize.Cell{StyleID: x.st.header, Value: c.Name}
		x.widths[i] = columnWidth(c)
	}
	x.cellBuf = make([]excelize.Cell, len(x.cols))
	x.cells = make([]any, len(x.cols))
	// Issues: who, what happened, the input line, then the attributes.
	byField := map[string]int{}
	for i, c := range x.cols {
		if c.Field != "attrs" {
			byField[c.Field] = i
		}
	}
	for _, f := range []string{"user_id", "id_type", "outcome", "error", "api_code", "request_id", "attempts", "checked_at"} {
		x.issueIx = append(x.issueIx, byField[f])
	}
	x.issueIx = append(x.issueIx, -1) // line
	for i, c := range x.cols {
		if c.Field == "attrs" {
			x.issueIx = append(x.issueIx, i)
		}
	}

	x.usersSheet, x.usersName = 1, SheetUsers
	if x.users, err = x.startUsers(); err != nil {
		return err
	}
	x.spool, err = newIssueSpool(filepath.Dir(x.path))
	return err
}

// columnWidth is a readable width, in characters, for a column.
func columnWidth(c Column) float64 {
	switch c.Field {
	case "user_id":
		return 30
	case "id_type", "outcome":
		return 12
	case "totp", "face", "sms", "email", "factors", "mfa", "attempts":
		return 10
	case "compliant":
		return 12
	case "attrs":
		return max(16, min(40, float64(len(c.Name))+4))
	case "error":
		return 48
	case "api_code":
		return 11
	case "request_id":
		return 26
	case "checked_at":
		return 20
	}
	return 14
}

// startStream opens a stream writer on sheet with the frozen, styled
// header row and column widths.
func (x *XLSX) startStream(sheet string, header []any, widths []float64) (*excelize.StreamWriter, error) {
	sw, err := x.f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	for i, w := range widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return nil, err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return nil, err
	}
	if err := sw.SetRow("A1", header, excelize.RowOpts{Height: 20}); err != nil {
		return nil, err
	}
	return sw, nil
}

func (x *XLSX) startUsers() (*excelize.StreamWriter, error) {
	return x.startStream(x.usersName, x.header, x.widths)
}

// finishStream adds the auto-filter over the header and data rows and ends
// the stream. It must run before the next sheet is created: the filter's
// defined name refers to the sheet by position.
func (x *XLSX) finishStream(sw *excelize.StreamWriter, ncols, rows int) error {
	last, err := excelize.CoordinatesToCellName(ncols, rows+1)
	if err != nil {
		return err
	}
	if err := x.f.AutoFilter(sw.Sheet, "A1:"+last, nil); err != nil {
		return err
	}
	return sw.Flush()
}

// Write appends r to the Users sheet, and to Issues when its outcome is not
// ok. After an error the sink stays failed; Close still saves what was
// written.
func (x *XLSX) Write(_ context.Context, r pipeline.Result) error {
	if x.failed != nil {
		return x.failed
	}
	if x.f == nil || x.done {
		return errors.New("xlsx output: Write outside Open and Close")
	}
	if err := x.write(&r); err != nil {
		x.failed = fmt.Errorf("xlsx output %s: %w", x.path, err)
		return x.failed
	}
	return nil
}

func (x *XLSX) write(r *pipeline.Result) error {
	if x.usersRows >= x.maxRows {
		if err := x.rollOver(); err != nil {
			return err
		}
	}
	kind := rowKindOf(r)
	text, style, dstyle := x.st.text[kind], x.st.text[kind], x.st.date[kind]
	x.text = ResultRow(*r, x.run.AttrNames, x.text)
	ProtectRow(x.cols, x.text, x.opt.MaskPII)
	for i, c := range x.cols {
		var v any
		switch c.Kind {
		case TextColumn:
			if x.text[i] != "" {
				v = x.text[i]
			}
		case BoolColumn:
			if b := boolField(r, c.Field); b != nil {
				v = *b
			}
			style = x.st.boolean[kind]
		case IntColumn:
			if c.Field == "factors" {
				if r.Factors != nil {
					v = *r.Factors
				}
			} else {
				v = r.Attempts
			}
		case TimeColumn:
			if !r.CheckedAt.IsZero() {
				v = r.CheckedAt.UTC()
			}
			style = dstyle
		}
		// Pointers into a reused array: boxing a Cell value into an
		// interface would allocate for every cell. An empty unstyled cell
		// is left out.
		if v == nil && style == 0 {
			x.cells[i] = nil
		} else {
			x.cellBuf[i] = excelize.Cell{StyleID: style, Value: v}
			x.cells[i] = &x.cellBuf[i]
		}
		style = text
	}
	x.usersRows++
	cell, err := excelize.CoordinatesToCellName(1, x.usersRows+1)
	if err != nil {
		return err
	}
	if err := x.users.SetRow(cell, x.cells); err != nil {
		return err
	}
	if r.Outcome == pipeline.OutcomeOK {
		return nil
	}
	rec := issueRecord{Kind: uint8(kind), Attempts: r.Attempts, CheckedAt: r.CheckedAt, Line: r.Line}
	for _, ix := range x.issueIx {
		if ix >= 0 && x.cols[ix].Kind == TextColumn {
			rec.Text = append(rec.Text, x.text[ix])
		}
	}
	return x.spool.add(&rec)
}

// writeIssues streams the spooled Issues rows into their sheet.
func (x *XLSX) writeIssues() error {
	header := make([]any, len(x.issueIx))
	widths := make([]float64, len(x.issueIx))
	for i, ix := range x.issueIx {
		if ix < 0 {
			header[i] = excelize.Cell{StyleID: x.st.header, Value: "line"}
			widths[i] = 8
			continue
		}
		header[i] = x.header[ix]
		widths[i] = x.widths[ix]
	}
	sw, err := x.startStream(SheetIssues, header, widths)
	if err != nil {
		return err
	}
	cellBuf := make([]excelize.Cell, len(x.issueIx))
	row := make([]any, len(x.issueIx))
	n := 0
	err = x.spool.each(func(rec *issueRecord) error {
		kind := rowKind(rec.Kind)
		if kind >= rowKinds {
			return fmt.Errorf("issues spool: bad row kind %d", rec.Kind)
		}
		t := 0
		for i, ix := range x.issueIx {
			style := x.st.text[kind]
			var v any
			switch {
			case ix < 0:
				if rec.Line > 0 {
					v = rec.Line
				}
			case x.cols[ix].Kind == TextColumn:
				if t >= len(rec.Text) {
					return errors.New("issues spool: short record")
				}
				if rec.Text[t] != "" {
					v = rec.Text[t]
				}
				t++
			case x.cols[ix].Kind == IntColumn:
				v = rec.Attempts
			case x.cols[ix].Kind == TimeColumn:
				if !rec.CheckedAt.IsZero() {
					v = rec.CheckedAt.UTC()
				}
				style = x.st.date[kind]
			}
			cellBuf[i] = excelize.Cell{StyleID: style, Value: v}
			row[i] = &cellBuf[i]
		}
		n++
		cell, err := excelize.CoordinatesToCellName(1, n+1)
		if err != nil {
			return err
		}
		return sw.SetRow(cell, row)
	})
	if err != nil {
		return err
	}
	return x.finishStream(sw, len(x.issueIx), n)
}

func boolField(r *pipeline.Result, field string) *bool {
	if field == "compliant" {
		return r.Compliant
	}
	return r.Factor(field)
}

// rollOver ends the current Users sheet and continues on the next one.
func (x *XLSX) rollOver() error {
	if err := x.finishStream(x.users, len(x.cols), x.usersRows); err != nil {
		return err
	}
	x.usersSheet++
	x.usersName = fmt.Sprintf("%s (%d)", SheetUsers, x.usersSheet)
	if _, err := x.f.NewSheet(x.usersName); err != nil {
		return err
	}
	x.usersRows = 0
	var err error
	x.users, err = x.startUsers()
	return err
}

// Close ends the streamed sheets, writes Summary and Run from s, and saves
// the workbook into place; an incomplete run says so at the top of Summary
// and leaves PATH.incomplete. It is called once, also after an interrupted
// run or a failed Write, and does not give up on a cancelled ctx: an
// interrupted run still gets its workbook.
func (x *XLSX) Close(_ context.Context, s pipeline.Summary) error {
	if x.f == nil {
		return errors.New("xlsx output: Close without Open")
	}
	if x.done {
		return nil
	}
	x.done = true
	defer x.f.Close()      // removes the stream's temporary files
	defer x.spool.remove() // and the Issues spool

	if x.failed != nil && s.Complete {
		s.Complete = false
		s.Incomplete = "writing the workbook failed: " + x.failed.Error()
	}
	if s.Run.RunID == "" && s.Run.StartedAt.IsZero() {
		s.Run = x.run
	}
	if err := x.finish(&s); err != nil {
		return fmt.Errorf("xlsx output %s: %w", x.path, err)
	}
	if err := x.save(incompleteReason(&s)); err != nil {
		return fmt.Errorf("xlsx output %s: %w", x.path, err)
	}
	return x.failed
}

func (x *XLSX) finish(s *pipeline.Summary) error {
	if err := x.finishStream(x.users, len(x.cols), x.usersRows); err != nil {
		return err
	}
	for _, name := range []string{SheetIssues, SheetRun} {
		if _, err := x.f.NewSheet(name); err != nil {
			return err
		}
	}
	if err := x.writeIssues(); err != nil {
		return fmt.Errorf("issues sheet: %w", err)
	}
	if err := writeSummarySheet(x.f, &x.st, s, x.opt.MaskPII); err != nil {
		return fmt.Errorf("summary sheet: %w", err)
	}
	if err := writeRunSheet(x.f, &x.st, s); err != nil {
		return fmt.Errorf("run sheet: %w", err)
	}
	if err := presentSheet(x.f, SheetRun); err != nil {
		return err
	}
	// Summary was made the active sheet at Open. SetActiveSheet now would
	// parse every streamed sheet still held in memory back into cells.
	return nil
}

// save writes the zip straight into the output file. excelize's File.Write
// would first build the whole archive in a bytes.Buffer (WriteToBuffer): as
// large as the file itself, over 100 MB at a million users. Its ZipWriter
// hook lets the archive go to the file instead, so Write's own buffer stays
// empty and the streamed sheets are copied from their temporary files.
func (x *XLSX) save(incomplete string) error {
	out, err := createAtomic(x.path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	var zw *zip.Writer
	x.f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw = zip.NewWriter(bw)
		// Fastest deflate: about three times the speed of the default level
		// for a file a few percent larger.
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(w, flate.BestSpeed)
		})
		return zw
	})
	var spill countingWriter
	if err := x.f.Write(&spill); err != nil {
		out.Abort()
		return err
	}
	if zw == nil || spill.n != 0 {
		// Not the excelize this was written for: the archive did not go
		// through the hook.
		out.Abort()
		return fmt.Errorf("saving the workbook: unexpected excelize behaviour (zip writer hook unused, %d bytes buffered)", spill.n)
	}
	if err := bw.Flush(); err != nil {
		out.Abort()
		return err
	}
	return out.Commit(incomplete)
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// rowKind selects the highlighting of a result row.
type rowKind int

const (
	rowPlain        rowKind = iota // compliant
	rowNonCompliant                // checked, policy not met
	rowUnknown                     // outcome error: state unknown
	rowMuted                       // not_found, invalid
	rowKinds
)

func rowKindOf(r *pipeline.Result) rowKind {
	switch r.Outcome {
	case pipeline.OutcomeOK:
		if r.Compliant != nil && !*r.Compliant {
			return rowNonCompliant
		}
		return rowPlain
	case pipeline.OutcomeNotFound, pipeline.OutcomeInvalid:
		return rowMuted
	}
	return rowUnknown
}

// xlsxStyles are the style ids of the workbook.
type xlsxStyles struct {
	header       int
	text, date   [rowKinds]int
	boolean      [rowKinds]int
	title        int
	section      int
	label        int
	count        int
	percent      int
	datetime     int
	tableHeader  int
	banner       [3]int // complete, unknown, incomplete
	bannerDetail int
	note         int
	wrap         int
}

func newXLSXStyles(f *excelize.File) (xlsxStyles, error) {
	var st xlsxStyles
	var errs []error
	style := func(s *excelize.Style) int {
		// A font without a family falls back to a serif face in
		// LibreOffice: name the workbook's default.
		if s.Font != nil {
			f := *s.Font
			if f.Family == "" {
				f.Family = "Calibri"
			}
			if f.Size == 0 {
				f.Size = 11
			}
			s.Font = &f
		}
		id, err := f.NewStyle(s)
		errs = append(errs, err)
		return id
	}
	fill := func(color string) excelize.Fill {
		return excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{color}}
	}
	timeFmt := xlsxTimeFormat
	boolFmt := `"TRUE";"TRUE";"FALSE"`
	thin := []excelize.Border{{Type: "bottom", Color: "1F4E79", Style: 2}}
	st.header = style(&excelize.Style{
		Font:      &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill:      fill("1F4E79"),
		Alignment: &excelize.Alignment{Vertical: "center"},
		Border:    thin,
	})
	kinds := [rowKinds]struct{ fill, font string }{
		rowPlain:        {"", ""},
		rowNonCompliant: {"FCE4E4", "9C0006"}, // light red: policy not met
		rowUnknown:      {"FFF2CC", "7F6000"}, // amber: state unknown
		rowMuted:        {"EDEDED", "595959"}, // grey: not found / invalid
	}
	for k, c := range kinds {
		s := excelize.Style{}
		if c.fill != "" {
			s.Fill = fill(c.fill)
			s.Font = &excelize.Font{Color: c.font}
		}
		st.text[k] = style(&s)
		s.CustomNumFmt = &timeFmt
		st.date[k] = style(&s)
		// Excel shows a boolean cell as TRUE/FALSE whatever its format;
		// LibreOffice shows the number unless told.
		s.CustomNumFmt = &boolFmt
		s.Alignment = &excelize.Alignment{Horizontal: "center"}
		st.boolean[k] = style(&s)
	}
	st.title = style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 18, Color: "1F4E79"}})
	st.section = style(&excelize.Style{
		Font:   &excelize.Font{Bold: true, Size: 12, Color: "1F4E79"},
		Border: thin,
	})
	st.label = style(&excelize.Style{Font: &excelize.Font{Color: "262626"}})
	st.count = style(&excelize.Style{NumFmt: 3}) // #,##0
	st.percent = style(&excelize.Style{NumFmt: 10, Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Horizontal: "right"}})
	st.datetime = style(&excelize.Style{CustomNumFmt: &timeFmt, Alignment: &excelize.Alignment{Horizontal: "left"}})
	st.tableHeader = style(&excelize.Style{
		Font:      &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill:      fill("1F4E79"),
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center"},
	})
	for i, c := range [3]struct{ fill, font string }{{"E2F0D9", "375623"}, {"FFE699", "7F6000"}, {"C00000", "FFFFFF"}} {
		st.banner[i] = style(&excelize.Style{
			Font:      &excelize.Font{Bold: true, Size: 13, Color: c.font},
			Fill:      fill(c.fill),
			Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
		})
	}
	st.bannerDetail = style(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}, Font: &excelize.Font{Color: "404040"}})
	st.note = style(&excelize.Style{Font: &excelize.Font{Italic: true, Color: "595959"}})
	st.wrap = style(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	return st, errors.Join(errs...)
}

// sheetWriter writes cells of a normal (not streamed) sheet, remembering
// the first error.
type sheetWriter struct {
	f     *excelize.File
	sheet string
	err   error
}

func (w *sheetWriter) set(col, row int, v any, style int) {
	if w.err != nil {
		return
	}
	cell, err := excelize.CoordinatesToCellName(col, row)
	if err == nil {
		err = w.f.SetCellValue(w.sheet, cell, v)
	}
	if err == nil && style != 0 {
		err = w.f.SetCellStyle(w.sheet, cell, cell, style)
	}
	w.err = err
}

func (w *sheetWriter) widths(ws ...float64) {
	for i, width := range ws {
		if w.err == nil {
			col, _ := excelize.ColumnNumberToName(i + 1)
			w.err = w.f.SetColWidth(w.sheet, col, col, width)
		}
	}
}

// cellText is s ready for a cell: SafeCell, masked first when asked.
func cellText(s string, mask bool) string {
	if mask {
		s = MaskPII(s)
	}
	return SafeCell(s)
}

func statusIndex(class string) int {
	switch class {
	case "complete":
		return 0
	case "unknown":
		return 1
	}
	return 2
}

// streamRows writes the rows of a streamed sheet top to bottom,
// remembering the first error.
type streamRows struct {
	sw  *excelize.StreamWriter
	row int
	err error
}

// add writes cells (values or excelize.Cell) as the next row, height 0
// meaning the default.
func (w *streamRows) add(height float64, cells ...any) {
	w.row++
	if w.err != nil {
		return
	}
	cell, _ := excelize.CoordinatesToCellName(1, w.row)
	w.err = w.sw.SetRow(cell, cells, excelize.RowOpts{Height: height})
}

// skip leaves a row empty.
func (w *streamRows) skip() { w.row++ }

// merge merges columns c1 to c2 of the last row written.
func (w *streamRows) merge(c1, c2 int) {
	if w.err != nil {
		return
	}
	a, _ := excelize.CoordinatesToCellName(c1, w.row)
	b, _ := excelize.CoordinatesToCellName(c2, w.row)
	w.err = w.sw.MergeCell(a, b)
}

func styled(style int, v any) excelize.Cell { return excelize.Cell{StyleID: style, Value: v} }

// writeSummarySheet fills Summary: title, completeness banner, headline
// figures, the factor table, a chart and the group table. It is streamed
// too: the group table can have ten thousand rows (pipeline.MaxGroups).
func writeSummarySheet(f *excelize.File, st *xlsxStyles, s *pipeline.Summary, mask bool) error {
	// Sheet properties are written when the stream starts, the view with
	// the first row, the page layout and the chart at Flush.
	if err := presentSheet(f, SheetSummary); err != nil {
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
	w.add(34, styled(st.banner[statusIndex(stat.Class)], stat.Headline))
	w.merge(1, lastCol)
	w.add(32, styled(st.bannerDetail, stat.Detail))
	w.merge(1, lastCol)
	asOf := "Data as of " + formatTime(run.StartedAt)
	if !s.FinishedAt.IsZero() {
		asOf += " to " + formatTime(s.FinishedAt)
	}
	w.add(0, styled(st.note, SafeCell(asOf+" · Policy: "+policyText(run.Policy))))
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
	}
	figs := []fig{
		{"Rows read", s.RowsRead, st.count},
		{"Unique subjects", s.Unique, st.count},
		{"Duplicate rows (audited once)", s.Duplicates, st.count},
	}
	if run.Shard.Sharded() {
		figs = append(figs, fig{"Rows left to other shards", s.OtherShard, st.count})
	}
	figs = append(figs,
		fig{"Checked (ok)", s.OK, st.count},
		fig{"Not found", s.NotFound, st.count},
		fig{"Invalid", s.Invalid, st.count},
		fig{"Unknown (error)", s.Error, st.count},
		fig{"Compliant", s.Compliant, st.count},
		fig{"Non-compliant", s.NonCompliant, st.count},
		fig{coverageLabel, coverageCell(s.Counts), st.percent},
		fig{"Completeness (checked ÷ auditable)", s.Completeness(), st.percent},
		fig{"Policy", policyText(run.Policy), 0},
		fig{"Data as of (start, UTC)", timeOrNil(run.StartedAt), st.datetime},
		fig{"Data as of (end, UTC)", timeOrNil(s.FinishedAt), st.datetime},
		fig{"Run complete", yesNo(s.Complete), 0},
	)
	if !s.Complete {
		figs = append(figs, fig{"Incomplete because", SafeCell(incompleteReason(s)), st.wrap})
	}
	for _, fg := range figs {
		w.add(0, styled(st.label, fg.label), styled(fg.style, fg.v))
	}
	w.skip()

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
		w.add(0, styled(st.label, row.label), styled(st.count, row.n), styled(st.percent, s.Share(row.n)))
	}
	first, last := header+1, w.row
	if w.err != nil {
		return w.err
	}

	if run.GroupBy != "" {
		w.skip()
		title := []any{styled(st.section, SafeCell("Coverage by "+run.GroupBy+" (lowest first)"))}
		head := []any{}
		for _, h := range []string{SafeCell(run.GroupBy), "Users", "Checked", "Compliant", "Non-compliant", "Not found", "Invalid", "Unknown", "Coverage", "Completeness"} {
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
			row[8] = styled(st.percent, coverageCell(g.Counts))
			row[9] = styled(st.percent, g.Completeness())
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
		YAxis: excelize.ChartAxis{
			Font:           excelize.Font{Color: "404040", Size: 9},
			MajorGridLines: true,
			Minimum:        ptr(0.0),
			Maximum:        ptr(1.0),
			NumFmt:         excelize.ChartNumFmt{CustomNumFmt: "0%"},
		},
	}); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return sw.Flush()
}

func ptr[T any](v T) *T { return &v }

// coverageCell is the coverage of c for a percentage cell, or "n/a" when
// no user was checked: 0 % would claim a finding there is none of.
func coverageCell(c pipeline.Counts) any {
	if c.OK == 0 {
		return "n/a"
	}
	return c.Coverage()
}

// presentSheet makes a sheet read like a page: no grid lines, printed in
// landscape one page wide.
func presentSheet(f *excelize.File, sheet string) error {
	return errors.Join(
		f.SetSheetView(sheet, 0, &excelize.ViewOptions{ShowGridLines: ptr(false)}),
		f.SetPageLayout(sheet, &excelize.PageLayoutOptions{
			Size:        ptr(9), // A4
			Orientation: ptr("landscape"),
			FitToWidth:  ptr(1),
			FitToHeight: ptr(0),
		}),
		f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: ptr(true)}),
	)
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
			w.set(2, r, SafeCell(d.Value), st.wrap)
		}
	}
	cfg := configDetails(s.Run.Config)
	if len(cfg) > 0 {
		r += 2
		w.set(1, r, "Configuration", st.section)
		w.set(2, r, nil, st.section)
		for _, d := range cfg {
			r++
			w.set(1, r, SafeCell(d.Key), st.label)
			w.set(2, r, SafeCell(d.Value), st.wrap)
		}
	}
	return w.err
}

// issueRecord is one spooled row of the Issues sheet: its text cells
// (already masked and formula-safe) in the order of the sheet's text
// columns, and the typed ones.
type issueRecord struct {
	Kind      uint8
	Text      []string
	Attempts  int
	CheckedAt time.Time
	Line      int64
}

// issueSpool keeps the Issues rows in a temporary file until Close.
type issueSpool struct {
	file *os.File
	buf  *bufio.Writer
	enc  *gob.Encoder
	n    int
}

func newIssueSpool(dir string) (*issueSpool, error) {
	f, err := os.CreateTemp(dir, ".mfa-audit-issues-*")
	if err != nil {
		return nil, err
	}
	s := &issueSpool{file: f, buf: bufio.NewWriterSize(f, 64<<10)}
	s.enc = gob.NewEncoder(s.buf)
	return s, nil
}

func (s *issueSpool) add(rec *issueRecord) error {
	s.n++
	return s.enc.Encode(rec)
}

// each calls fn for every spooled record, in order.
func (s *issueSpool) each(fn func(*issueRecord) error) error {
	if s.n == 0 {
		return nil
	}
	if err := s.buf.Flush(); err != nil {
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.file, 64<<10))
	for range s.n {
		var rec issueRecord
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("reading the issues spool: %w", err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}

// remove closes and deletes the spool file; nil-safe.
func (s *issueSpool) remove() {
	if s == nil || s.file == nil {
		return
	}
	s.file.Close()
	os.Remove(s.file.Name())
	s.file = nil
}
