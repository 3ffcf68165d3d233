// Package sources yields the subjects of an audit one at a time: from a CSV
// file, an XLSX workbook, a Postgres query or the whole user pool. Every
// source implements pipeline.Source; results stored by an earlier run are
// read back through pipeline.ResultSource.
package sources

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// CSVOptions configure a CSV source (SPEC sections 3 and 4).
type CSVOptions struct {
	// Stdin is read when the path is "-" (os.Stdin when nil).
	Stdin io.Reader
	// IDColumn names the identifier column (AUDIT_ID_COLUMN). Empty: the
	// first of user_id, userId and id present, else the first column.
	IDColumn string
	// IDTypeColumn names the id-type column (AUDIT_ID_TYPE_COLUMN). Empty:
	// id_type, else userIdType, if present.
	IDTypeColumn string
	// DefaultIDType is the id type of rows whose id-type cell is empty, or
	// of every row when there is no id-type column (AUDIT_ID_TYPE;
	// "user_id" when empty).
	DefaultIDType string
	// Delimiter is AUDIT_CSV_DELIMITER: ",", ";" or "tab"; empty: the one
	// of these the header line holds most often (",", when it holds none).
	Delimiter string
	// Encoding is AUDIT_SOURCE_ENCODING (see LookupEncoding); empty: UTF-8.
	// A byte order mark (UTF-8, UTF-16LE, UTF-16BE) wins over it.
	Encoding string
}

// Layout says how a source was read, for the start log line (SPEC section
// 4): the id column, the id-type column or the default type, and for a CSV
// file its delimiter and encoding, for a workbook its sheet.
type Layout struct {
	IDColumn      string
	IDTypeColumn  string // "": none, every row takes DefaultIDType
	DefaultIDType string
	Delimiter     string // CSV: ",", ";" or "tab"
	Encoding      string // CSV: "utf-8", "windows-1252", "utf-16le (byte order mark)" ...
	Sheet         string // XLSX
}

// LogAttrs returns the layout as slog key-value pairs.
func (l Layout) LogAttrs() []any {
	out := []any{"id_column", l.IDColumn}
	if l.IDTypeColumn != "" {
		out = append(out, "id_type_column", l.IDTypeColumn, "default_id_type", l.DefaultIDType)
	} else {
		out = append(out, "id_type", l.DefaultIDType)
	}
	if l.Delimiter != "" {
		out = append(out, "delimiter", l.Delimiter)
	}
	if l.Encoding != "" {
		out = append(out, "encoding", l.Encoding)
	}
	if l.Sheet != "" {
		out = append(out, "sheet", l.Sheet)
	}
	return out
}

// CSV is a streaming CSV source: RFC 4180 with the delimiter found from the
// header line, in the encoding of AUDIT_SOURCE_ENCODING or of its byte
// order mark, LF or CRLF, the first row a header. It implements
// pipeline.Source.
//
// OpenCSV reads the header and, for a file, starts a pre-scan that counts
// its lines and checks its encoding (Check waits for it); Next yields one
// subject per non-blank row, from one goroutine; Close releases the file.
type CSV struct {
	name   string // path, or "stdin"
	closer io.Closer
	r      *csv.Reader
	cols   *columns
	enc    textEncoding
	delim  rune
	// explicitEnc: AUDIT_SOURCE_ENCODING was set (for the error's words).
	explicitEnc bool
	skipped     int   // lines before the CSV text: 1 for a "sep=;" line
	err         error // sticky: once Next failed it keeps failing

	stopScan func()        // ends the pre-scan; nil for stdin
	scanned  chan struct{} // closed when the pre-scan is done
	total    atomic.Int64  // lines of the file, 0 until scanned
	badLine  int           // first line with invalid bytes (0: none); read after scanned
}

var _ pipeline.Source = (*CSV)(nil)

// ParseDelimiter reads an AUDIT_CSV_DELIMITER value: ",", ";", "tab" (or a
// tab character); 0 for "" (found from the header line).
func ParseDelimiter(s string) (rune, error) {
	switch strings.ToLower(s) {
	case "":
		return 0, nil
	case ",", "comma":
		return ',', nil
	case ";", "semicolon":
		return ';', nil
	case "tab", "\t", `\t`:
		return '\t', nil
	}
	return 0, fmt.Errorf("AUDIT_CSV_DELIMITER %q: want , ; or tab (or leave it unset to find it from the header line)", s)
}

func delimName(r rune) string {
	if r == '\t' {
		return "tab"
	}
	return string(r)
}

// OpenCSV opens the CSV file at path ("-" reads opt.Stdin) and reads its
// header. A file that cannot be read, is empty, has no header or is not CSV
// text is an error naming the file, the line and, where it helps, the fix
// (a workbook named .csv, UTF-16 without a byte order mark); so is an
// IDColumn or IDTypeColumn that is not in the header, and a bad Delimiter
// or Encoding.
func OpenCSV(path string, opt CSVOptions) (*CSV, error) {
	delim, err := ParseDelimiter(opt.Delimiter)
	if err != nil {
		return nil, err
	}
	enc, err := lookupEncoding(opt.Encoding)
	if err != nil {
		return nil, err
	}
	s := &CSV{name: path, delim: delim, explicitEnc: strings.TrimSpace(opt.Encoding) != ""}
	var in io.Reader
	if path == "-" {
		s.name = "stdin"
		in = opt.Stdin
		if in == nil {
			in = os.Stdin
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s: is a directory, want a CSV file", path)
		}
		in, s.closer = f, f
	}
	if err := s.init(in, enc, opt); err != nil {
		s.Close()
		return nil, err
	}
	if s.closer != nil {
		s.startScan(path)
	}
	return s, nil
}

func (s *CSV) init(in io.Reader, enc textEncoding, opt CSVOptions) error {
	raw := bufio.NewReaderSize(in, 64<<10)
	head, _ := raw.Peek(512)
	s.enc = chooseEncoding(head, enc)
	if why := notText(head[min(s.enc.bom, len(head)):], s.enc); why != "" {
		return fmt.Errorf("%s line 1: not a CSV text file: %s", s.name, why)
	}
	raw.Discard(s.enc.bom)
	br := raw
	if s.enc.enc != nil {
		br = bufio.NewReaderSize(s.enc.reader(raw), 64<<10)
	}
	if d, ok := sepLine(br); ok {
		// Excel's "sep=;" line names the delimiter; the header follows.
		if s.delim == 0 {
			s.delim = d
		}
		s.skipped = 1
	}
	if s.delim == 0 {
		s.delim = sniffDelimiter(br)
	}
	s.r = csv.NewReader(br)
	s.r.Comma = s.delim
	s.r.FieldsPerRecord = -1
	s.r.ReuseRecord = true

	header, err := s.readRecord()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file, want a header row (e.g. user_id,id_type,department)", s.name)
	}
	if err != nil {
		return err
	}
	line := s.line()
	for _, h := range header {
		if strings.IndexByte(h, 0) >= 0 {
			return fmt.Errorf("%s line %d: not a CSV text file: binary data (NUL bytes) in the header", s.name, line)
		}
		if !s.enc.valid(h) {
			return s.encodingError(line)
		}
	}
	s.cols, err = newColumns(header, opt, s.name, "line "+strconv.Itoa(line))
	return err
}

func (s *CSV) encodingError(line int) error {
	return &EncodingError{Source: s.name, Line: line, Encoding: s.enc, explicit: s.explicitEnc}
}

// line is the line of the file where the record just read starts.
func (s *CSV) line() int {
	line, _ := s.r.FieldPos(0)
	return line + s.skipped
}

// sepLine reads a first line "sep=X" (X one of , ; or tab), which Excel
// writes and reads to name the delimiter, and returns X.
func sepLine(br *bufio.Reader) (rune, bool) {
	b, _ := br.Peek(8)
	if len(b) < 5 || !bytes.EqualFold(b[:4], []byte("sep=")) {
		return 0, false
	}
	d := rune(b[4])
	if d != ',' && d != ';' && d != '\t' {
		return 0, false
	}
	rest := b[5:]
	switch {
	case bytes.HasPrefix(rest, []byte("\r\n")):
		br.Discard(7)
	case bytes.HasPrefix(rest, []byte("\n")):
		br.Discard(6)
	default:
		return 0, false
	}
	return d, true
}

// sniffDelimiter returns the delimiter the header line (the first line that
// is not empty) holds most often outside quotes: ';' or tab before ',' only
// when more frequent; ',' when it holds none.
func sniffDelimiter(br *bufio.Reader) rune {
	var head []byte
	for n := 4 << 10; ; n *= 2 {
		b, err := br.Peek(n)
		head = b
		if err != nil || n >= br.Size() || headerEnd(b) >= 0 {
			break
		}
	}
	if end := headerEnd(head); end >= 0 {
		head = head[:end]
	}
	counts := map[rune]int{}
	quoted := false
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[rune(c)]++
		}
	}
	best := ','
	for _, d := range []rune{';', '\t'} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return best
}

// headerEnd returns the end of the first non-empty line of b (the index of
// its line break outside quotes), or -1 if b holds no complete one.
func headerEnd(b []byte) int {
	start := 0
	for start < len(b) && (b[start] == '\n' || b[start] == '\r') {
		start++
	}
	quoted := false
	for i := start; i < len(b); i++ {
		switch b[i] {
		case '"':
			quoted = !quoted
		case '\n':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// columns is where the id, the id type and the attributes are in the rows
// of a CSV file or a sheet: the header, read once.
type columns struct {
	names     []string // trimmed, unique
	idCol     int
	typeCol   int // -1: none
	attrCols  []int
	attrNames []string
	defType   string
}

// newColumns reads a header row. where names the input ("users.csv"), at
// the header's position ("line 1", "row 1").
func newColumns(header []string, opt CSVOptions, where, at string) (*columns, error) {
	defType := strings.TrimSpace(opt.DefaultIDType)
	if defType == "" {
		defType = "user_id"
	}
	if !pipeline.ValidIDType(defType) {
		return nil, fmt.Errorf("AUDIT_ID_TYPE %q: unknown id type (want one of %s)", opt.DefaultIDType, strings.Join(pipeline.IDTypes, ", "))
	}
	names := make([]string, len(header))
	empty := true
	for i, h := range header {
		names[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(h), "\uFEFF"))
		if names[i] != "" {
			empty = false
		}
	}
	if empty {
		return nil, fmt.Errorf("%s %s: the header row has no column names (want e.g. user_id,id_type,department)", where, at)
	}
	names = uniqueNames(names)
	c := &columns{names: names, defType: defType}
	var err error
	if c.idCol, c.typeCol, err = chooseIDColumns(names, opt.IDColumn, opt.IDTypeColumn, where); err != nil {
		return nil, err
	}
	if opt.IDColumn == "" && csvColumn(names, "user_id", "userId", "id") < 0 && looksLikeID(names[c.idCol]) {
		return nil, fmt.Errorf("%s %s: no header row: the first row holds %q, which looks like a user id, not a column name; add a header line (e.g. user_id,id_type,department) or name the id column with AUDIT_ID_COLUMN", where, at, names[c.idCol])
	}
	for i, n := range names {
		if i != c.idCol && i != c.typeCol {
			c.attrCols = append(c.attrCols, i)
			c.attrNames = append(c.attrNames, n)
		}
	}
	return c, nil
}

// idShaped matches values that are identifiers rather than column names: a
// GenAuth user id, an e-mail address, a phone number.
var idShaped = regexp.MustCompile(`^(?:[0-9a-fA-F]{24}|[^@\s]+@[^@\s]+\.[^@\s]+|\+?[0-9][0-9 ()-]{5,})$`)

func looksLikeID(s string) bool { return idShaped.MatchString(s) }

// subject builds the subject of one row: the id and id type trimmed (by
// Normalize), the attributes byte for byte. invalid, when not empty, is why
// the source rejects the row; the subject's Invalid then says it after the
// row's place ("line 4: 4 fields, header has 5"), where Normalize finds no
// other reason.
func (c *columns) subject(rec []string, line int, where, invalid string) pipeline.Subject {
	sub := pipeline.Subject{UserID: cell(rec, c.idCol), Line: int64(line)}
	if c.typeCol >= 0 {
		sub.IDType = cell(rec, c.typeCol)
	}
	if len(c.attrCols) > 0 {
		// A reused record's strings are not reused: copying them into a
		// new slice is enough.
		sub.Attrs = make(pipeline.Attrs, len(c.attrCols))
		for i, col := range c.attrCols {
			sub.Attrs[i] = pipeline.Attr{Key: c.attrNames[i], Value: cell(rec, col)}
		}
	}
	sub.Invalid = invalid
	sub.Normalize(c.defType)
	if sub.Invalid != "" {
		sub.Invalid = where + " " + strconv.Itoa(line) + ": " + sub.Invalid
	}
	return sub
}

func (c *columns) layout() Layout {
	l := Layout{IDColumn: c.names[c.idCol], DefaultIDType: c.defType}
	if c.typeCol >= 0 {
		l.IDTypeColumn = c.names[c.typeCol]
	}
	return l
}

// chooseIDColumns picks the id and id-type columns among names (SPEC
// section 3): idColumn if set, else user_id, userId, id, else the first
// column; idTypeColumn if set, else id_type or userIdType if present (typ
// -1 if not). The fallbacks never pick the other column. where names the
// input in errors ("users.csv").
func chooseIDColumns(names []string, idColumn, idTypeColumn, where string) (id, typ int, err error) {
	typ = -1
	if idTypeColumn != "" {
		if typ = csvColumn(names, idTypeColumn); typ < 0 {
			return 0, 0, fmt.Errorf("AUDIT_ID_TYPE_COLUMN %q is not a column of %s (columns: %s)", idTypeColumn, where, strings.Join(names, ", "))
		}
	}
	if idColumn != "" {
		if id = csvColumn(names, idColumn); id < 0 {
			return 0, 0, fmt.Errorf("AUDIT_ID_COLUMN %q is not a column of %s (columns: %s)", idColumn, where, strings.Join(names, ", "))
		}
		if id == typ {
			return 0, 0, fmt.Errorf("AUDIT_ID_COLUMN %q and AUDIT_ID_TYPE_COLUMN %q are the same column of %s", idColumn, idTypeColumn, where)
		}
		if idTypeColumn == "" {
			typ = columnExcept(names, id, "id_type", "userIdType")
		}
		return id, typ, nil
	}
	if idTypeColumn == "" {
		typ = csvColumn(names, "id_type", "userIdType")
	}
	if id = columnExcept(names, typ, "user_id", "userId", "id"); id >= 0 {
		return id, typ, nil
	}
	if typ != 0 {
		return 0, typ, nil
	}
	if len(names) == 1 {
		return 0, 0, fmt.Errorf("%s: the only column %q is the id-type column; no column holds the user id (set AUDIT_ID_COLUMN)", where, names[0])
	}
	return 1, typ, nil
}

// csvColumn returns the index of the first of want present in names: each
// candidate is matched exactly first, then ignoring case. -1 if none is.
func csvColumn(names []string, want ...string) int {
	return columnExcept(names, -1, want...)
}

// columnExcept is csvColumn leaving column skip aside.
func columnExcept(names []string, skip int, want ...string) int {
	for _, w := range want {
		w = strings.TrimSpace(w)
		for i, n := range names {
			if i != skip && n == w {
				return i
			}
		}
		for i, n := range names {
			if i != skip && strings.EqualFold(n, w) {
				return i
			}
		}
	}
	return -1
}

// uniqueNames names empty header cells column_N (N 1-based) and renames
// repeats NAME_2, NAME_3 ... so that every column has a name of its own.
func uniqueNames(names []string) []string {
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			n = "column_" + strconv.Itoa(i+1)
		}
		base := n
		for k := 2; seen[n]; k++ {
			n = base + "_" + strconv.Itoa(k)
		}
		seen[n] = true
		names[i] = n
	}
	return names
}

// readRecord reads the next record, naming the file, line and column in a
// parse error.
func (s *CSV) readRecord() ([]string, error) {
	rec, err := s.r.Read()
	if err == nil || err == io.EOF {
		return rec, err
	}
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		hint := ""
		if errors.Is(pe.Err, csv.ErrBareQuote) {
			hint = fmt.Sprintf(` (a field holding " must be quoted as a whole, the quote right after the delimiter %q; if the file's delimiter is not %[1]q, set AUDIT_CSV_DELIMITER)`, delimName(s.delim))
		}
		return nil, fmt.Errorf("%s line %d column %d: %w%s", s.name, pe.Line+s.skipped, pe.Column, pe.Err, hint)
	}
	return nil, fmt.Errorf("reading %s: %w", s.name, err)
}

// Next returns the subject of the next non-blank row, pipeline.EOF after the
// last one, or an error naming the file, line and column where the input is
// not CSV (an *EncodingError where its bytes are not valid in its
// encoding); after an error it returns the same error again. A row with an
// empty id, an unknown id type or another number of fields than the header
// is returned with Invalid set ("line 17: empty user id", "line 18: 4
// fields, header has 5"). Attributes are the cells byte for byte; only the
// id and id type are trimmed.
func (s *CSV) Next(ctx context.Context) (pipeline.Subject, error) {
	if s.err != nil {
		return pipeline.Subject{}, s.err
	}
	select {
	case <-ctx.Done():
		return pipeline.Subject{}, ctx.Err()
	default:
	}
	for {
		rec, err := s.readRecord()
		if err != nil {
			s.err = err
			return pipeline.Subject{}, err
		}
		if blank(rec) {
			continue
		}
		line := s.line()
		for _, c := range rec {
			if !s.enc.valid(c) {
				s.err = s.encodingError(line)
				return pipeline.Subject{}, s.err
			}
		}
		why := ""
		if len(rec) != len(s.cols.names) {
			why = fmt.Sprintf("%d fields, header has %d", len(rec), len(s.cols.names))
		}
		return s.cols.subject(rec, line, "line", why), nil
	}
}

func cell(rec []string, i int) string {
	if i < len(rec) {
		return rec[i]
	}
	return ""
}

// blank reports whether every cell of rec is empty or white space.
func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// AttrNames returns the attribute columns (every column but the id and
// id-type columns) in header order, trimmed and made unique.
func (s *CSV) AttrNames() []string { return append([]string(nil), s.cols.attrNames...) }

// Describe returns the path, or "stdin" for "-".
func (s *CSV) Describe() string { return s.name }

// Layout names the id and id-type columns, the delimiter and the encoding.
func (s *CSV) Layout() Layout {
	l := s.cols.layout()
	l.Delimiter, l.Encoding = delimName(s.delim), s.enc.String()
	return l
}

// Total estimates the rows of a file as its lines less the header (blank
// lines and quoted line breaks count too), once the pre-scan has read the
// file; -1 before then and for stdin.
func (s *CSV) Total() int64 {
	if s.stopScan == nil {
		return -1 // stdin
	}
	return s.total.Load() - 1 - int64(s.skipped)
}

// Check waits for the pre-scan of a file and returns an *EncodingError
// naming the first line whose bytes are not valid in the file's encoding,
// or nil; so a bad byte anywhere in the file is found before the first API
// call. For stdin it returns nil at once: Next finds such bytes as it
// meets them.
func (s *CSV) Check(ctx context.Context) error {
	if s.scanned == nil {
		return nil
	}
	select {
	case <-s.scanned:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.badLine > 0 {
		return s.encodingError(s.badLine)
	}
	return nil
}

// startScan reads the file a second time in the background, decoded as Next
// reads it: it counts its lines into s.total (which holds 0, so that Total
// is -1, until then) and notes the first line with bytes that are invalid
// in the encoding. stopScan ends it early; scanned is closed when it ends.
func (s *CSV) startScan(path string) {
	stop := make(chan struct{})
	s.scanned = make(chan struct{})
	s.stopScan = sync.OnceFunc(func() { close(stop) })
	enc := s.enc
	go func() {
		defer close(s.scanned)
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := f.Seek(int64(enc.bom), io.SeekStart); err != nil {
			return
		}
		br := bufio.NewReaderSize(enc.reader(f), 256<<10)
		var (
			lines              int64
			atLineStart, valid = true, true
			carry              []byte // a rune cut by the end of the buffer
		)
		for k := 0; ; k++ {
			if k%1024 == 0 {
				select {
				case <-stop:
					return
				default:
				}
			}
			b, err := br.ReadSlice('\n')
			if len(b) > 0 {
				if atLineStart {
					lines++
					valid = true
				}
				atLineStart = b[len(b)-1] == '\n'
				// A line longer than the buffer comes in pieces: a rune cut
				// between two of them is checked whole.
				if len(carry) > 0 {
					n := 0
					for n < len(b) && n < 3 && !utf8.RuneStart(b[n]) {
						n++
					}
					carry = append(carry, b[:n]...)
					valid = valid && enc.validBytes(carry)
					b, carry = b[n:], carry[:0]
				}
				if errors.Is(err, bufio.ErrBufferFull) {
					cut := runeCut(b)
					carry = append(carry, b[cut:]...)
					b = b[:cut]
				}
				valid = valid && enc.validBytes(b)
				if !valid && s.badLine == 0 {
					s.badLine = int(lines)
				}
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		s.total.Store(lines)
	}()
}

// runeCut returns where an incomplete UTF-8 sequence at the end of b
// starts (len(b) if there is none).
func runeCut(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}

// Close closes the file (not stdin) and ends the pre-scan. It may be called
// more than once.
func (s *CSV) Close() error {
	if s.stopScan != nil {
		s.stopScan()
	}
	if s.closer == nil {
		return nil
	}
	c := s.closer
	s.closer = nil
	return c.Close()
}
