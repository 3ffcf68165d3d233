// Package sources yields the subjects of an audit one at a time: from a CSV
// file, a Postgres query or the whole user pool. Every source implements
// pipeline.Source; results stored by an earlier run are read back through
// pipeline.ResultSource.
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
}

// CSV is a streaming CSV source: RFC 4180, UTF-8 with or without a BOM, LF
// or CRLF, the first row a header. It implements pipeline.Source.
//
// OpenCSV reads the header; Next yields one subject per non-blank row, from
// one goroutine; Close releases the file.
type CSV struct {
	name      string // path, or "stdin"
	closer    io.Closer
	r         *csv.Reader
	idCol     int
	typeCol   int // -1: none
	attrCols  []int
	attrNames []string
	defType   string
	err       error         // sticky: once Next failed it keeps failing
	stopCount func()        // ends the background line count; nil for stdin
	counted   chan struct{} // closed when the count is done
	total     atomic.Int64  // lines of the file, 0 until counted
}

var _ pipeline.Source = (*CSV)(nil)

var bom = []byte("\uFEFF")

// OpenCSV opens the CSV file at path ("-" reads opt.Stdin) and reads its
// header. A file that cannot be read, is empty, has no header or is not CSV
// text is an error naming the file (and the line and column of a parse
// error); so is an IDColumn or IDTypeColumn that is not in the header.
func OpenCSV(path string, opt CSVOptions) (*CSV, error) {
	defType := strings.TrimSpace(opt.DefaultIDType)
	if defType == "" {
		defType = "user_id"
	}
	if !pipeline.ValidIDType(defType) {
		return nil, fmt.Errorf("AUDIT_ID_TYPE %q: unknown id type (want one of %s)", opt.DefaultIDType, strings.Join(pipeline.IDTypes, ", "))
	}
	s := &CSV{name: path, typeCol: -1, defType: defType}
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
		s.stopCount, s.counted = countLinesAsync(path, &s.total)
	}
	if err := s.init(in, opt); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *CSV) init(in io.Reader, opt CSVOptions) error {
	br := bufio.NewReaderSize(in, 64<<10)
	if b, err := br.Peek(len(bom)); err == nil && bytes.Equal(b, bom) {
		br.Discard(len(bom))
	}
	s.r = csv.NewReader(br)
	s.r.FieldsPerRecord = -1
	s.r.ReuseRecord = true
	s.r.TrimLeadingSpace = true // `a, "b, c"` is two fields, not a bare quote

	header, err := s.readRecord()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file, want a header row (e.g. user_id,id_type,department)", s.name)
	}
	if err != nil {
		return err
	}
	line, _ := s.r.FieldPos(0)
	names := make([]string, len(header))
	empty := true
	for i, h := range header {
		if strings.IndexByte(h, 0) >= 0 || !utf8.ValidString(h) {
			return fmt.Errorf("%s line %d: not a CSV text file (binary data or not UTF-8 in the header)", s.name, line)
		}
		names[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(h), "\uFEFF"))
		if names[i] != "" {
			empty = false
		}
	}
	if empty {
		return fmt.Errorf("%s line %d: the header row has no column names", s.name, line)
	}
	names = uniqueNames(names)

	if s.idCol, s.typeCol, err = chooseIDColumns(names, opt.IDColumn, opt.IDTypeColumn, s.name); err != nil {
		return err
	}
	for i, n := range names {
		if i != s.idCol && i != s.typeCol {
			s.attrCols = append(s.attrCols, i)
			s.attrNames = append(s.attrNames, n)
		}
	}
	return nil
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
		return nil, fmt.Errorf("%s line %d column %d: %w", s.name, pe.Line, pe.Column, pe.Err)
	}
	return nil, fmt.Errorf("reading %s: %w", s.name, err)
}

// Next returns the subject of the next non-blank row, pipeline.EOF after the
// last one, or an error naming the file, line and column where the input is
// not CSV; after an error it returns the same error again. A row with an
// empty id or an unknown id type is returned with Invalid set ("line 17:
// empty user id").
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
		line, _ := s.r.FieldPos(0)
		sub := pipeline.Subject{UserID: cell(rec, s.idCol), Line: int64(line)}
		if s.typeCol >= 0 {
			sub.IDType = cell(rec, s.typeCol)
		}
		if len(s.attrCols) > 0 {
			// The record is reused by the next Read; its strings are not,
			// so copying them into a new slice is enough.
			sub.Attrs = make(pipeline.Attrs, len(s.attrCols))
			for i, c := range s.attrCols {
				sub.Attrs[i] = pipeline.Attr{Key: s.attrNames[i], Value: strings.TrimSpace(cell(rec, c))}
			}
		}
		sub.Normalize(s.defType)
		if sub.Invalid != "" {
			sub.Invalid = "line " + strconv.Itoa(line) + ": " + sub.Invalid
		}
		return sub, nil
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
func (s *CSV) AttrNames() []string { return append([]string(nil), s.attrNames...) }

// Describe returns the path, or "stdin" for "-".
func (s *CSV) Describe() string { return s.name }

// Total returns -1: the file is not counted in advance.
// Total estimates the rows of a file as its lines less the header (blank
// lines and quoted line breaks count too), once a background count has
// read the file; -1 before then and for stdin.
func (s *CSV) Total() int64 {
	if s.stopCount == nil {
		return -1 // stdin
	}
	return s.total.Load() - 1
}

// countLinesAsync counts the lines of path in the background into n, which
// holds 0 (so Total is -1) until the count is done; done is closed then.
// stopCount ends the count early; it may be called more than once.
func countLinesAsync(path string, n *atomic.Int64) (stopCount func(), done chan struct{}) {
	stop := make(chan struct{})
	done = make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		buf := make([]byte, 256<<10)
		var lines int64
		last := byte('\n')
		for {
			select {
			case <-stop:
				return
			default:
			}
			k, err := f.Read(buf)
			if k > 0 {
				lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
				last = buf[k-1]
			}
			if err != nil {
				break
			}
		}
		if last != '\n' {
			lines++ // a last line without a line break
		}
		n.Store(lines)
	}()
	return sync.OnceFunc(func() { close(stop) }), done
}

// Close closes the file (not stdin). It may be called more than once.
func (s *CSV) Close() error {
	if s.stopCount != nil {
		s.stopCount()
	}
	if s.closer == nil {
		return nil
	}
	c := s.closer
	s.closer = nil
	return c.Close()
}
