package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// XLSX is a workbook source (SPEC section 4): AUDIT_SOURCE=FILE.xlsx reads
// the first sheet, FILE.xlsx#Sheet the named one. The first non-blank row
// is the header, the rows below are streamed with excelize's row iterator
// (a large sheet goes through a temporary file, not memory). Cells are the
// text a person sees in the spreadsheet program: number formats applied, so
// an id 000123 stays 000123 whether it is stored as text or as a number
// formatted 000000. It implements pipeline.Source.
type XLSX struct {
	desc  string // path, or path#sheet
	sheet string
	f     *excelize.File
	rows  *excelize.Rows
	row   int // the row Next last read, 1-based
	cols  *columns
	err   error // sticky
}

var _ pipeline.Source = (*XLSX)(nil)

// IsXLSX reports whether an AUDIT_SOURCE names a workbook: a path ending in
// .xlsx (any case), possibly followed by #Sheet.
func IsXLSX(source string) bool {
	path, _ := splitXLSX(source)
	return strings.HasSuffix(strings.ToLower(path), ".xlsx")
}

// splitXLSX splits FILE.xlsx#Sheet into its path and sheet ("" for the
// first); a path ending in .xlsx is taken whole even if it holds a '#'.
func splitXLSX(source string) (path, sheet string) {
	if strings.HasSuffix(strings.ToLower(source), ".xlsx") {
		return source, ""
	}
	if i := strings.LastIndex(strings.ToLower(source), ".xlsx#"); i >= 0 {
		return source[:i+len(".xlsx")], source[i+len(".xlsx#"):]
	}
	return source, ""
}

// OpenXLSX opens the workbook named by source (FILE.xlsx or FILE.xlsx#Sheet)
// and reads the header row of the sheet. opt's Stdin, Delimiter and
// Encoding do not apply. A file that is not a workbook (CSV text named
// .xlsx, an old .xls), a sheet that does not exist (the error lists those
// that do), a sheet without a header and the column errors of OpenCSV are
// errors naming the file.
func OpenXLSX(source string, opt CSVOptions) (*XLSX, error) {
	path, sheet := splitXLSX(source)
	x := &XLSX{desc: source}
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, want an .xlsx workbook", path)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not an .xlsx workbook%s (%v)", path, workbookHint(path), err)
	}
	x.f = f
	fail := func(err error) (*XLSX, error) {
		x.Close()
		return nil, err
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return fail(fmt.Errorf("%s: the workbook has no sheet", path))
	}
	if sheet == "" {
		sheet = sheets[0]
	} else if idx, err := f.GetSheetIndex(sheet); err != nil || idx < 0 {
		return fail(fmt.Errorf("AUDIT_SOURCE %s: no sheet %q in the workbook (sheets: %s)", source, sheet, strings.Join(sheets, ", ")))
	}
	x.sheet = sheet
	if x.rows, err = f.Rows(sheet); err != nil {
		return fail(fmt.Errorf("%s sheet %q: %w", path, sheet, err))
	}
	where := path + " sheet " + strconv.Quote(sheet)
	header, err := x.nextRow()
	if errors.Is(err, io.EOF) {
		return fail(fmt.Errorf("%s: the sheet is empty, want a header row (e.g. user_id, id_type, department)", where))
	}
	if err != nil {
		return fail(err)
	}
	if x.cols, err = newColumns(header, opt, where, "row "+strconv.Itoa(x.row)); err != nil {
		return fail(err)
	}
	return x, nil
}

// workbookHint says what a file that excelize cannot open seems to be.
func workbookHint(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case n == 0:
		return ": the file is empty"
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return ": it is an old-style .xls (or encrypted) file; save it as .xlsx or as CSV"
	case bytes.HasPrefix(head, []byte("PK")):
		return ""
	case notText(head, textEncoding{name: "utf-8"}) == "":
		return ": it looks like text, probably CSV named .xlsx; give it its .csv name"
	}
	return ""
}

// nextRow returns the cells of the next row that has a non-blank cell,
// io.EOF after the last.
func (x *XLSX) nextRow() ([]string, error) {
	for x.rows.Next() {
		x.row++
		cells, err := x.rows.Columns()
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", x.desc, x.row, err)
		}
		if !blank(cells) {
			return cells, nil
		}
	}
	if err := x.rows.Error(); err != nil {
		return nil, fmt.Errorf("%s row %d: %w", x.desc, x.row+1, err)
	}
	return nil, io.EOF
}

// Next returns the subject of the next non-blank row (Line is the row
// number), pipeline.EOF after the last, or an error naming the row where the
// sheet cannot be read. A row with an empty id, an unknown id type or a
// value right of the header's last column is returned with Invalid set
// ("row 7: empty user id"). Attributes are the cells' text byte for byte;
// only the id and id type are trimmed.
func (x *XLSX) Next(ctx context.Context) (pipeline.Subject, error) {
	if x.err != nil {
		return pipeline.Subject{}, x.err
	}
	if err := ctx.Err(); err != nil {
		return pipeline.Subject{}, err
	}
	cells, err := x.nextRow()
	if err != nil {
		x.err = err
		return pipeline.Subject{}, err
	}
	why := ""
	for i := len(x.cols.names); i < len(cells); i++ {
		if strings.TrimSpace(cells[i]) != "" {
			col, _ := excelize.ColumnNumberToName(i + 1)
			why = fmt.Sprintf("a value in column %s, right of the header's %d columns", col, len(x.cols.names))
			break
		}
	}
	return x.cols.subject(cells, x.row, "row", why), nil
}

// AttrNames returns the attribute columns in header order.
func (x *XLSX) AttrNames() []string { return append([]string(nil), x.cols.attrNames...) }

// Describe returns AUDIT_SOURCE as given: the path, with #Sheet if named.
func (x *XLSX) Describe() string { return x.desc }

// Total is -1: the rows of a sheet are not known before reading it.
func (x *XLSX) Total() int64 { return -1 }

// Layout names the id and id-type columns and the sheet.
func (x *XLSX) Layout() Layout {
	l := x.cols.layout()
	l.Sheet = x.sheet
	return l
}

// Close ends the row iterator and closes the workbook, removing its
// temporary files. It may be called more than once.
func (x *XLSX) Close() error {
	var errs []error
	if x.rows != nil {
		errs = append(errs, x.rows.Close())
		x.rows = nil
	}
	if x.f != nil {
		errs = append(errs, x.f.Close())
		x.f = nil
	}
	return errors.Join(errs...)
}
