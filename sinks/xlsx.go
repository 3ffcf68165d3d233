package sinks

import (
	"archive/zip"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
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

// xlsxDateFormat is the number format of date cells.
const xlsxDateFormat = "yyyy-mm-dd"

// XLSX writes the workbook for compliance officers (SPEC section 7): sheets
// Summary, Users (Users (2) ... past the row limit), Issues and Run.
//
// Users is streamed as results arrive: excelize's StreamWriter writes the
// sheet's settings and header row, and the data rows go to a spool file
// beside the output as SpreadsheetML (rowSpool, a tenth of the cost of
// StreamWriter.SetRow, and nothing held in memory), spliced in after the
// header row at save. The Issues (and Changes) records go to spool files of
// their own and become rows at Close, the same way: those sheets have to
// come after the last Users sheet, and excelize cannot move sheets once a
// streamed one is flushed (MoveSheet parses every sheet back and
// dereferences nil on a spilled one). Summary and Run are written at Close,
// which then streams the zip straight into the output file.
//
// No cell is ever written as a formula: every text cell is a text-typed
// cell (an inline or shared string, number format @) holding the exact
// value, so that a value starting with = + - @ shows as written and is
// never evaluated; the apostrophe of SafeCell is for CSV only (SPEC 7).
type XLSX struct {
	path    string
	opt     Options
	maxRows int
	run     pipeline.RunInfo

	f  *excelize.File
	st xlsxStyles

	cols    []Column // RunColumns of the run
	header  []any
	widths  []float64
	text    []string                  // RunRow buffer
	issueIx []int                     // columns of cols shown on the Issues sheet, issueLine / issueWhat for those of its own
	spool   *recordSpool[issueRecord] // the Issues rows until Close
	changes *xlsxChanges              // the Changes rows until Close

	users      *excelize.StreamWriter // the current Users sheet: settings and header row
	rows       *rowSpool              // its data rows
	spools     map[string]*rowSpool   // the data rows of every Users sheet, by part name
	usersName  string
	usersSheet int // 1 for Users, 2 for Users (2) ...
	usersRows  int // data rows on the current Users sheet

	failed error // the first write error; Close still writes what it can
	done   bool
}

var _ pipeline.Sink = (*XLSX)(nil)

// NewXLSX returns a sink writing the workbook to path, after checking that
// its directory can be written (made if missing). The file appears,
// complete, at Close.
func NewXLSX(path string, opt Options) (*XLSX, error) {
	if path == "" {
		return nil, errors.New("xlsx output: empty path")
	}
	if err := CheckWritable(path, opt); err != nil {
		return nil, err
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
	if err := setDocProps(f, &x.run, time.Time{}); err != nil {
		return err
	}
	var err error
	if x.st, err = newXLSXStyles(f); err != nil {
		return err
	}

	x.cols = RunColumns(x.run)
	x.header = make([]any, len(x.cols))
	x.widths = make([]float64, len(x.cols))
	for i, c := range x.cols {
		x.header[i] = excelize.Cell{StyleID: x.st.header, Value: c.Name}
		x.widths[i] = columnWidth(c)
	}
	x.spools = map[string]*rowSpool{}
	// Issues: who, what happened in words, the technical detail, the
	// input line, then the attributes.
	byField := map[string]int{}
	for i, c := range x.cols {
		if c.Field != "attrs" {
			byField[c.Field] = i
		}
	}
	for _, f := range []string{"user_id", "id_type", "outcome"} {
		x.issueIx = append(x.issueIx, byField[f])
	}
	x.issueIx = append(x.issueIx, issueWhat)
	for _, f := range []string{"error", "api_code", "request_id", "attempts", "checked_at"} {
		x.issueIx = append(x.issueIx, byField[f])
	}
	x.issueIx = append(x.issueIx, issueLine)
	for i, c := range x.cols {
		if c.Field == "attrs" {
			x.issueIx = append(x.issueIx, i)
		}
	}

	x.usersSheet, x.usersName = 1, SheetUsers
	if err := x.startUsers(); err != nil {
		return err
	}
	x.changes = newXLSXChanges(filepath.Dir(x.path), x.cols, x.opt.fileMode())
	x.spool, err = newRecordSpool[issueRecord](filepath.Dir(x.path), "issues", x.opt.fileMode())
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
		return max(24, min(40, float64(len(c.Name))+4))
	case "error":
		return 48
	case "api_code":
		return 11
	case "request_id":
		return 26
	case "checked_at", "non_compliant_since":
		return 20
	case "exception":
		if c.Sub == "reason" {
			return 36
		}
		return max(14, float64(len(c.Name))+2)
	case "change":
		return 13
	}
	return 14
}

// wrappedLines estimates the lines a text cell of width (in characters)
// wraps into. Spreadsheets do not grow a row written with wrapped text on
// their own (LibreOffice prints it over the next row), so a list sheet's row
// is given the height of its tallest cell.
func wrappedLines(s string, width float64) int {
	perLine := max(int(width*1.15), 1) // proportional text: narrower than the digit 0 of the width unit
	lines := 0
	for part := range strings.SplitSeq(s, "\n") {
		lines += max(1, (utf8.RuneCountInString(part)+perLine-1)/perLine)
	}
	return max(lines, 1)
}

// rowHeight is the row options for a row of lines lines of text: the
// default height for one.
func rowHeight(lines int) excelize.RowOpts {
	if lines <= 1 {
		return excelize.RowOpts{}
	}
	return excelize.RowOpts{Height: 15 * float64(min(lines, 27))}
}

// startStream opens a stream writer on a list sheet (one row per subject)
// with its print setup (printListSheet), the frozen, styled header row and
// column widths. Every list sheet starts here.
func (x *XLSX) startStream(sheet string, header []any, widths []float64) (*excelize.StreamWriter, error) {
	if err := printListSheet(x.f, sheet, x.run.RunID); err != nil {
		return nil, err
	}
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

// startList starts a list sheet: its settings and header row through a
// stream writer (startStream), its data rows in a rowSpool that save
// splices in after the header row.
func (x *XLSX) startList(sheet string, header []any, widths []float64) (*excelize.StreamWriter, *rowSpool, error) {
	part, err := sheetPart(x.f, sheet)
	if err != nil {
		return nil, nil, err
	}
	sw, err := x.startStream(sheet, header, widths)
	if err != nil {
		return nil, nil, err
	}
	rows, err := newRowSpool(filepath.Dir(x.path), x.opt.fileMode(), len(header))
	if err != nil {
		return nil, nil, err
	}
	x.spools[part] = rows
	return sw, rows, nil
}

// startUsers starts the Users sheet x.usersName.
func (x *XLSX) startUsers() (err error) {
	x.users, x.rows, err = x.startList(x.usersName, x.header, x.widths)
	return err
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
	x.text = RunRow(*r, x.run, x.text)
	MaskRow(x.cols, x.text, x.opt.MaskPII)
	lines := 1
	for i, c := range x.cols {
		if c.Kind == TextColumn {
			lines = max(lines, wrappedLines(x.text[i], x.widths[i]))
		}
	}
	x.usersRows++
	rows := x.rows
	if err := rows.begin(x.usersRows+1, rowHeight(lines).Height); err != nil {
		return err
	}
	text := x.st.text[kind]
	for i, c := range x.cols {
		switch c.Kind {
		case TextColumn:
			rows.text(i, text, x.text[i])
		case BoolColumn:
			if b := boolField(r, c.Field); b != nil {
				rows.boolean(i, x.st.boolean[kind], *b)
			} else {
				rows.empty(i, x.st.boolean[kind])
			}
		case IntColumn:
			switch {
			case c.Field != "factors":
				rows.integer(i, text, int64(r.Attempts))
			case r.Factors != nil:
				rows.integer(i, text, int64(*r.Factors))
			default:
				rows.empty(i, text)
			}
		case TimeColumn:
			rows.time(i, x.st.date[kind], r.CheckedAt.UTC())
		case DateColumn:
			rows.time(i, x.st.day[kind], r.NonCompliantSince.UTC())
		default:
			rows.empty(i, text)
		}
	}
	if err := rows.end(); err != nil {
		return err
	}
	if err := x.changes.add(r, x.text); err != nil {
		return err
	}
	if r.Outcome == pipeline.OutcomeOK {
		return nil
	}
	rec := issueRecord{Kind: uint8(kind), Attempts: r.Attempts, CheckedAt: r.CheckedAt, Line: r.Line}
	rec.What, _ = issueWords(r)
	for _, ix := range x.issueIx {
		if ix >= 0 && x.cols[ix].Kind == TextColumn {
			rec.Text = append(rec.Text, x.text[ix])
		}
	}
	return x.spool.add(&rec)
}

// Columns of the Issues sheet that are not result fields (issueIx).
const (
	issueLine = -1 // the input line
	issueWhat = -2 // what happened, in words (issueWords)
)

// writeIssues streams the spooled Issues rows into their sheet.
func (x *XLSX) writeIssues() error {
	header := make([]any, len(x.issueIx))
	widths := make([]float64, len(x.issueIx))
	for i, ix := range x.issueIx {
		switch ix {
		case issueLine:
			header[i] = excelize.Cell{StyleID: x.st.header, Value: "line"}
			widths[i] = 8
			continue
		case issueWhat:
			header[i] = excelize.Cell{StyleID: x.st.header, Value: "what_happened"}
			widths[i] = 40
			continue
		}
		header[i] = x.header[ix]
		widths[i] = x.widths[ix]
	}
	sw, rows, err := x.startList(SheetIssues, header, widths)
	if err != nil {
		return err
	}
	n := 0
	err = x.spool.each(func(rec *issueRecord) error {
		kind := rowKind(rec.Kind)
		if kind >= rowKinds {
			return fmt.Errorf("issues spool: bad row kind %d", rec.Kind)
		}
		// The text cells in the order of the sheet's text columns.
		lines := 1
		t := 0
		for i, ix := range x.issueIx {
			switch {
			case ix == issueWhat:
				lines = max(lines, wrappedLines(rec.What, widths[i]))
			case ix >= 0 && x.cols[ix].Kind == TextColumn:
				if t >= len(rec.Text) {
					return errors.New("issues spool: short record")
				}
				lines = max(lines, wrappedLines(rec.Text[t], widths[i]))
				t++
			}
		}
		n++
		if err := rows.begin(n+1, rowHeight(lines).Height); err != nil {
			return err
		}
		text := x.st.text[kind]
		t = 0
		for i, ix := range x.issueIx {
			switch {
			case ix == issueLine:
				if rec.Line > 0 {
					rows.integer(i, text, rec.Line)
				} else {
					rows.empty(i, text)
				}
			case ix == issueWhat:
				rows.text(i, text, rec.What)
			case x.cols[ix].Kind == TextColumn:
				rows.text(i, text, rec.Text[t])
				t++
			case x.cols[ix].Kind == IntColumn:
				rows.integer(i, text, int64(rec.Attempts))
			case x.cols[ix].Kind == TimeColumn:
				rows.time(i, x.st.date[kind], rec.CheckedAt.UTC())
			default:
				rows.empty(i, text)
			}
		}
		return rows.end()
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
	return x.startUsers()
}

// Close ends the streamed sheets, writes Summary and Run from s, and saves
// the workbook into place; an incomplete run says so at the top of Summary
// and leaves PATH.incomplete. It is called once, also after an interrupted
// run or a failed Write, and does not give up on a cancelled ctx: an
// interrupted run still gets its workbook.
func (x *XLSX) Close(ctx context.Context, s pipeline.Summary) error {
	if x.f == nil {
		return errors.New("xlsx output: Close without Open")
	}
	if x.done {
		return nil
	}
	x.done = true
	defer x.f.Close()      // removes the stream's temporary files
	defer x.spool.remove() // and the Issues spool
	defer x.changes.remove()
	defer func() {
		for _, s := range x.spools {
			s.remove()
		}
	}()

	if x.failed != nil && s.Complete {
		s.Complete = false
		s.Incomplete = "writing the workbook failed: " + x.failed.Error()
	}
	if s.Run.RunID == "" && s.Run.StartedAt.IsZero() {
		s.Run = x.run
	}
	if err := x.finish(context.WithoutCancel(ctx), &s); err != nil {
		return fmt.Errorf("xlsx output %s: %w", x.path, err)
	}
	if err := x.save(incompleteReason(&s)); err != nil {
		return fmt.Errorf("xlsx output %s: %w", x.path, err)
	}
	return x.failed
}

func (x *XLSX) finish(ctx context.Context, s *pipeline.Summary) error {
	if err := x.finishStream(x.users, len(x.cols), x.usersRows); err != nil {
		return err
	}
	sheets := []string{SheetIssues}
	if s.Exceptions != nil {
		sheets = append(sheets, SheetExceptions)
	}
	if s.Changes != nil {
		sheets = append(sheets, SheetChanges)
	}
	if len(s.Trend) > 0 {
		sheets = append(sheets, SheetTrend)
	}
	sheets = append(sheets, SheetRun)
	for _, name := range sheets {
		if _, err := x.f.NewSheet(name); err != nil {
			return err
		}
	}
	if err := x.writeIssues(); err != nil {
		return fmt.Errorf("issues sheet: %w", err)
	}
	if s.Exceptions != nil {
		if err := x.writeExceptions(s.Exceptions); err != nil {
			return fmt.Errorf("exceptions sheet: %w", err)
		}
	}
	if s.Changes != nil {
		if err := x.writeChanges(ctx, s); err != nil {
			return fmt.Errorf("changes sheet: %w", err)
		}
	}
	if err := writeSummarySheet(x.f, &x.st, s, x.opt.MaskPII); err != nil {
		return fmt.Errorf("summary sheet: %w", err)
	}
	if len(s.Trend) > 0 {
		if err := writeTrendSheet(x.f, &x.st, s); err != nil {
			return fmt.Errorf("trend sheet: %w", err)
		}
	}
	if err := writeRunSheet(x.f, &x.st, s); err != nil {
		return fmt.Errorf("run sheet: %w", err)
	}
	if err := printPageSheet(x.f, SheetRun, s.Run.RunID); err != nil {
		return err
	}
	if err := setDocProps(x.f, &s.Run, s.FinishedAt); err != nil {
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
	out, err := createAtomic(x.path, x.opt)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	var zw *zip.Writer
	x.f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw = zip.NewWriter(bw)
		// Fastest deflate, and klauspost's rather than the standard
		// library's: twice its speed at level 1 for a slightly smaller
		// file (506 vs 237 MB/s on a Users sheet, README speed section).
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(w, flate.BestSpeed)
		})
		// The Users rows join their sheets on the way (rowSpool).
		return &splicingZip{zw: zw, spools: x.spools}
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
	rowExcepted                    // non-compliant with an active exception
	rowKinds
)

func rowKindOf(r *pipeline.Result) rowKind {
	switch r.Outcome {
	case pipeline.OutcomeOK:
		if r.Compliant != nil && !*r.Compliant {
			if r.Exception.Excepted() {
				return rowExcepted
			}
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
	day          [rowKinds]int // a date without time (non_compliant_since)
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
	dayFmt := xlsxDateFormat
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
		rowExcepted:     {"DDEBF7", "1F3864"}, // light blue: excepted (approved exception)
	}
	for k, c := range kinds {
		// Text format (@): the cell stays text even when edited. Text
		// wraps within its column, so that a printed page shows whole
		// values rather than cutting them at the next cell.
		s := excelize.Style{NumFmt: 49, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}}
		if c.fill != "" {
			s.Fill = fill(c.fill)
			s.Font = &excelize.Font{Color: c.font}
		}
		st.text[k] = style(&s)
		s.NumFmt = 0
		s.Alignment = &excelize.Alignment{Vertical: "top"}
		s.CustomNumFmt = &timeFmt
		st.date[k] = style(&s)
		s.CustomNumFmt = &dayFmt
		st.day[k] = style(&s)
		// Excel shows a boolean cell as TRUE/FALSE whatever its format;
		// LibreOffice shows the number unless told.
		s.CustomNumFmt = &boolFmt
		s.Alignment = &excelize.Alignment{Horizontal: "center", Vertical: "top"}
		st.boolean[k] = style(&s)
	}
	st.title = style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 18, Color: "1F4E79"}})
	st.section = style(&excelize.Style{
		Font:   &excelize.Font{Bold: true, Size: 12, Color: "1F4E79"},
		Border: thin,
	})
	st.label = style(&excelize.Style{Font: &excelize.Font{Color: "262626"}})
	st.count = style(&excelize.Style{NumFmt: 3}) // #,##0
	// A share cell holds the shown value (pipeline.Share.Fraction).
	pctFmt := "0.0%"
	st.percent = style(&excelize.Style{CustomNumFmt: &pctFmt, Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Horizontal: "right"}})
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

// cellText is s ready for a text cell: masked when asked, otherwise exact.
func cellText(s string, mask bool) string {
	if mask {
		s = MaskPII(s)
	}
	return s
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
