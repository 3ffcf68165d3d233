package sinks

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// rowSpool holds the data rows of one list sheet (Users, Issues, Changes)
// as SpreadsheetML in a temporary file, until save splices them into the
// sheet's part after the header row that excelize's StreamWriter wrote
// (splicingZip; XLSX.startList makes both).
//
// The XML is what StreamWriter.SetRow writes for the same cells, byte for
// byte (TestRowSpoolMatchesExcelize): inline-string text cells, booleans,
// integers, date-times as serial numbers, the row's height. Only the cost
// differs: no value boxed in an interface, cell names made by appending the
// row number to precomputed column letters, text escaped in one pass. It was
// a tenth of the job's CPU per subject through excelize (README, speed).
//
// A write error sticks: end and rewind report it, and no later row
// reaches the file.
type rowSpool struct {
	file    *os.File
	buf     []byte   // rows not yet written to file
	letters []string // column letters, A, B, ...
	row     []byte   // decimal number of the open row
	err     error
}

// spoolFlushAt is the size at which buffered rows go to the file.
const spoolFlushAt = 64 << 10

func newRowSpool(dir string, mode os.FileMode, ncols int) (*rowSpool, error) {
	f, err := createTemp(dir, ".mfa-audit-rows-*", mode)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // used only through f, as recordSpool
	s := &rowSpool{file: f, buf: make([]byte, 0, spoolFlushAt+8<<10), letters: make([]string, ncols)}
	for i := range s.letters {
		if s.letters[i], err = excelize.ColumnNumberToName(i + 1); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

// begin opens row number row (1 is the header) with a height in points, 0
// for the default. Past Excel's last row it fails as StreamWriter.SetRow
// does, with excelize.ErrMaxRows.
func (s *rowSpool) begin(row int, height float64) error {
	if row > excelize.TotalRows {
		return excelize.ErrMaxRows
	}
	s.row = strconv.AppendInt(s.row[:0], int64(row), 10)
	s.buf = append(s.buf, `<row r="`...)
	s.buf = append(s.buf, s.row...)
	s.buf = append(s.buf, '"')
	if height > 0 {
		s.buf = append(s.buf, ` ht="`...)
		s.buf = strconv.AppendFloat(s.buf, height, 'f', -1, 64)
		s.buf = append(s.buf, `" customHeight="1"`...)
	}
	s.buf = append(s.buf, '>')
	return nil
}

// end closes the open row.
func (s *rowSpool) end() error {
	s.buf = append(s.buf, `</row>`...)
	if len(s.buf) >= spoolFlushAt {
		s.flush()
	}
	return s.err
}

// flush writes the buffered rows to the file.
func (s *rowSpool) flush() {
	if s.err == nil {
		_, s.err = s.file.Write(s.buf)
	}
	s.buf = s.buf[:0]
}

// open writes <c r="REF" s="STYLE" t="TYPE"> (no s for style 0, no t for
// typ "").
func (s *rowSpool) open(col, style int, typ string) {
	b := append(s.buf, `<c r="`...)
	b = append(b, s.letters[col]...)
	b = append(b, s.row...)
	b = append(b, '"')
	if style != 0 {
		b = append(b, ` s="`...)
		b = strconv.AppendInt(b, int64(style), 10)
		b = append(b, '"')
	}
	if typ != "" {
		b = append(b, ` t="`...)
		b = append(b, typ...)
		b = append(b, '"')
	}
	s.buf = append(b, '>')
}

// empty writes a cell without a value (col from 0).
func (s *rowSpool) empty(col, style int) {
	s.open(col, style, "")
	s.buf = append(s.buf, `</c>`...)
}

func (s *rowSpool) boolean(col, style int, v bool) {
	s.open(col, style, "b")
	if v {
		s.buf = append(s.buf, `<v>1</v></c>`...)
	} else {
		s.buf = append(s.buf, `<v>0</v></c>`...)
	}
}

func (s *rowSpool) integer(col, style int, n int64) {
	s.open(col, style, "")
	s.buf = append(s.buf, `<v>`...)
	s.buf = strconv.AppendInt(s.buf, n, 10)
	s.buf = append(s.buf, `</v></c>`...)
}

// time writes t as Excel's serial date-time, as excelize does for a
// time.Time: its wall clock in its own zone. The zero time is an empty
// cell.
func (s *rowSpool) time(col, style int, t time.Time) {
	if t.IsZero() {
		s.empty(col, style)
		return
	}
	_, offset := t.Zone()
	t = t.Add(time.Duration(offset) * time.Second)
	serial, ok := excelSerial(t)
	if !ok {
		// Before 1900: excelize writes the RFC 3339 text.
		s.text(col, style, t.Format(time.RFC3339Nano))
		return
	}
	s.open(col, style, "")
	s.buf = append(s.buf, `<v>`...)
	s.buf = strconv.AppendFloat(s.buf, serial, 'f', -1, 64)
	s.buf = append(s.buf, `</v></c>`...)
}

// text writes an inline-string cell holding v exactly, "" an empty cell.
func (s *rowSpool) text(col, style int, v string) {
	if v == "" {
		s.empty(col, style)
		return
	}
	s.open(col, style, "inlineStr")
	v = truncateUTF16(v, excelize.TotalCellChars)
	if c0, c1 := v[0], v[len(v)-1]; isXMLSpace(c0) || isXMLSpace(c1) {
		s.buf = append(s.buf, `<is><t xml:space="preserve">`...)
	} else {
		s.buf = append(s.buf, `<is><t>`...)
	}
	if strings.Contains(v, "_x") {
		s.buf = append(s.buf, bstrEscape(string(appendXMLText(nil, v)))...)
	} else {
		s.buf = appendXMLText(s.buf, v)
	}
	s.buf = append(s.buf, `</t></is></c>`...)
}

// rewind makes the spool readable from its first row.
func (s *rowSpool) rewind() (io.Reader, error) {
	s.flush()
	if s.err != nil {
		return nil, s.err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(s.file, 64<<10), nil
}

// remove closes and deletes the spool; nil-safe.
func (s *rowSpool) remove() {
	if s == nil || s.file == nil {
		return
	}
	s.file.Close()
	os.Remove(s.file.Name())
	s.file = nil
}

func isXMLSpace(c byte) bool { return c == '\t' || c == '\n' || c == '\r' || c == ' ' }

// truncateUTF16 cuts v to at most n UTF-16 code units, as excelize does to
// a cell's text (Excel's limit of 32,767 characters).
func truncateUTF16(v string, n int) string {
	if len(v) <= n {
		return v // each code unit takes at least one byte
	}
	units := 0
	for i, r := range v {
		if units += utf16.RuneLen(r); units > n {
			return v[:i]
		}
	}
	return v
}

// appendXMLText appends v escaped as encoding/xml.EscapeText escapes it,
// except that a newline stays a newline (as excelize writes cell text).
// Bytes that XML cannot hold become U+FFFD.
func appendXMLText(b []byte, v string) []byte {
	last := 0
	for i := 0; i < len(v); {
		c := v[i]
		var esc string
		width := 1
		switch {
		case c == '"':
			esc = "&#34;"
		case c == '\'':
			esc = "&#39;"
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '\t':
			esc = "&#x9;"
		case c == '\r':
			esc = "&#xD;"
		case c == '\n' || c >= 0x20 && c < utf8.RuneSelf:
			i++
			continue
		case c < 0x20:
			esc = "\uFFFD"
		default:
			r, n := utf8.DecodeRuneInString(v[i:])
			width = n
			if (r != utf8.RuneError || n != 1) && inXMLCharRange(r) {
				i += n
				continue
			}
			esc = "\uFFFD"
		}
		b = append(b, v[last:i]...)
		b = append(b, esc...)
		i += width
		last = i
	}
	return append(b, v[last:]...)
}

// inXMLCharRange is encoding/xml's test for a character XML can hold.
func inXMLCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// bstrEscape escapes text that would read as an escaped character in
// SpreadsheetML (_xHHHH_) so that it shows as written: every underscore
// that starts such a sequence becomes _x005F_, overlapping sequences
// included. excelize's own writer (bstrMarshal) does the same for all but
// two rare cases, where its text reads back wrong: a sequence naming a
// surrogate (_xD800_, dropped) and two sequences sharing an underscore
// (_x0041_x0042_, the second decoded).
func bstrEscape(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i+7 <= len(s); i++ {
		if s[i] == '_' && s[i+1] == 'x' && isHex4(s[i+2:i+6]) && s[i+6] == '_' {
			b.WriteString(s[last:i])
			b.WriteString("_x005F_")
			last = i + 1
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

func isHex4(h string) bool {
	for i := range 4 {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// The first day Excel's 1900 date system counts from, and the day after
// its phantom 29 February 1900 (excelize's timeToExcelTime).
var (
	excelEpoch      = time.Date(1899, time.December, 31, 0, 0, 0, 0, time.UTC)
	excelLeapBugEnd = time.Date(1900, time.March, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
)

// excelSerial is t as a serial date-time of Excel's 1900 date system,
// computed as excelize computes it; false before 1900.
func excelSerial(t time.Time) (float64, bool) {
	if t.Before(excelEpoch) {
		return 0, false
	}
	const day = 24 * time.Hour
	const span = 290 * 364 * day // the longest time.Duration excelize steps by
	result := 0.0
	tt, diff := t, t.Sub(excelEpoch)
	for diff >= span {
		result += float64(span / day)
		tt = tt.Add(-span)
		diff = tt.Sub(excelEpoch)
	}
	rem := diff % day
	result += float64(diff-rem)/float64(day) + float64(rem)/float64(day)
	if t.After(excelLeapBugEnd) {
		result++
	}
	if result <= 0 {
		return 0, false
	}
	return result, true
}

// splicingZip is the zip writer excelize saves through: every part passes
// to zw unchanged, except a list sheet with a rowSpool, whose part is held
// (excelize wrote only its head, header row and tail: kilobytes) and
// written with the spooled rows inserted before </sheetData>.
type splicingZip struct {
	zw      excelize.ZipWriter
	spools  map[string]*rowSpool // by part name, xl/worksheets/sheetN.xml
	pending string               // the held part's name
	held    bytes.Buffer
	out     io.Writer // the held part's zip entry
	spliced int
}

func (z *splicingZip) Create(name string) (io.Writer, error) {
	if err := z.flushHeld(); err != nil {
		return nil, err
	}
	w, err := z.zw.Create(name)
	if err != nil {
		return nil, err
	}
	if _, ok := z.spools[name]; ok {
		z.pending, z.out = name, w
		z.held.Reset()
		return &z.held, nil
	}
	return w, nil
}

func (z *splicingZip) AddFS(fsys fs.FS) error {
	if err := z.flushHeld(); err != nil {
		return err
	}
	return z.zw.AddFS(fsys)
}

func (z *splicingZip) Close() error {
	if err := z.flushHeld(); err != nil {
		return err
	}
	if z.spliced != len(z.spools) {
		return fmt.Errorf("saving the workbook: unexpected excelize behaviour (%d of %d list sheets found in the archive)", z.spliced, len(z.spools))
	}
	return z.zw.Close()
}

// flushHeld writes the held part with its rows spliced in.
func (z *splicingZip) flushHeld() error {
	if z.pending == "" {
		return nil
	}
	name := z.pending
	z.pending = ""
	part := z.held.Bytes()
	at := bytes.LastIndex(part, []byte("</sheetData>"))
	if at < 0 {
		return fmt.Errorf("saving the workbook: unexpected excelize behaviour (no sheetData end in %s)", name)
	}
	rows, err := z.spools[name].rewind()
	if err != nil {
		return fmt.Errorf("reading the spooled rows of %s: %w", name, err)
	}
	if _, err := z.out.Write(part[:at]); err != nil {
		return err
	}
	if _, err := io.Copy(z.out, rows); err != nil {
		return err
	}
	if _, err := z.out.Write(part[at:]); err != nil {
		return err
	}
	z.spliced++
	z.held.Reset()
	return nil
}

// sheetPart is the name of a worksheet's part in the archive: excelize
// keeps sheet N (its sheetId) in xl/worksheets/sheetN.xml. splicingZip
// fails the save when a part so named never comes.
func sheetPart(f *excelize.File, sheet string) (string, error) {
	for id, name := range f.GetSheetMap() {
		if name == sheet {
			return "xl/worksheets/sheet" + strconv.Itoa(id) + ".xml", nil
		}
	}
	return "", fmt.Errorf("sheet %q not in the workbook", sheet)
}
