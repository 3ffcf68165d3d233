// Package exceptions reads the exceptions register (AUDIT_EXCEPTIONS, SPEC
// section 14): approved, expiring waivers for subjects that may be without
// MFA for a while. Load validates the whole file strictly before any API
// call; a Judge applies it to the results of a run.
//
// A register is small (people approve each entry): it is held in memory,
// and Load refuses one of more than MaxEntries entries or MaxBytes bytes,
// which bounds its memory to a few tens of megabytes.
package exceptions

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// Bounds of a register.
const (
	MaxEntries = 100_000
	MaxBytes   = 32 << 20
)

// maxProblems is how many problems Load lists before summing up the rest.
const maxProblems = 200

// DateLayout is the form of the expires column: YYYY-MM-DD.
const DateLayout = "2006-01-02"

// Columns of the register: the required ones in their documented order,
// then the optional ticket.
var (
	RequiredColumns = []string{"id_type", "user_id", "reason", "approved_by", "expires"}
	OptionalColumns = []string{"ticket"}
)

// Entry is one row of the register.
type Entry struct {
	Line       int64 // the line the row starts on
	IDType     string
	UserID     string
	Reason     string
	ApprovedBy string
	Expires    time.Time // the last valid day, UTC midnight
	Ticket     string
	key        pipeline.Key
}

// ExpiresText is Expires as YYYY-MM-DD.
func (e *Entry) ExpiresText() string { return e.Expires.Format(DateLayout) }

// Key is the entry's subject, canonical as the pipeline compares subjects.
func (e *Entry) Key() pipeline.Key { return e.key }

// Register is a validated exceptions register.
type Register struct {
	Name    string // the path (or the name given to Parse)
	SHA256  string // hex digest of the file's bytes
	Entries []Entry
	byKey   map[pipeline.Key]int
}

// Lookup returns the entry naming k, if any.
func (r *Register) Lookup(k pipeline.Key) (*Entry, bool) {
	i, ok := r.byKey[k]
	if !ok {
		return nil, false
	}
	return &r.Entries[i], true
}

// Error lists every problem of a register, each naming the file and line.
type Error struct {
	Problems []string
}

func (e *Error) Error() string { return strings.Join(e.Problems, "; ") }

// Unwrap returns one error per problem, so that a caller listing joined
// errors shows one line each.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = errors.New(p)
	}
	return out
}

// Load reads and validates the register at path. defaultIDType is the id
// type of rows whose id_type cell is empty (AUDIT_ID_TYPE). Every problem
// is reported together in an *Error, each as "PATH line N: ...".
func Load(path, defaultIDType string) (*Register, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Problems: []string{fmt.Sprintf("%s: cannot read the exceptions register: %v", path, unwrapPath(err))}}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, &Error{Problems: []string{fmt.Sprintf("%s: cannot read the exceptions register: %v", path, unwrapPath(err))}}
	}
	return Parse(path, b, defaultIDType)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse validates the register held in b; name is used in messages.
func Parse(name string, b []byte, defaultIDType string) (*Register, error) {
	p := &parser{name: name}
	if len(b) > MaxBytes {
		p.add(0, "larger than %d MiB: a register is meant to list a few thousand approved exceptions", MaxBytes>>20)
		return nil, p.err()
	}
	sum := sha256.Sum256(b)
	reg := &Register{Name: name, SHA256: hex.EncodeToString(sum[:]), byKey: map[pipeline.Key]int{}}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	if !utf8.Valid(b) {
		line := int64(bytes.Count(b[:validPrefix(b)], []byte("\n")) + 1)
		p.add(line, "not UTF-8 text (save the register as CSV UTF-8)")
		return nil, p.err()
	}
	if len(bytes.TrimSpace(b)) == 0 {
		p.add(0, "empty: want the header %s", strings.Join(append(RequiredColumns, OptionalColumns...), ","))
		return nil, p.err()
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = delimiter(b)
	r.FieldsPerRecord = -1
	r.ReuseRecord = false

	header, err := r.Read()
	if err != nil {
		p.csvError(err)
		return nil, p.err()
	}
	cols, ok := p.header(header)
	if !ok {
		return nil, p.err()
	}
	defType := strings.TrimSpace(defaultIDType)
	if defType == "" {
		defType = "user_id"
	}
	first := map[pipeline.Key]int64{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.csvError(err)
			var pe *csv.ParseError
			if errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrFieldCount) || errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote)) {
				continue
			}
			break
		}
		line, _ := r.FieldPos(0)
		ln := int64(line)
		if len(rec) != len(header) {
			p.add(ln, "%d fields, the header has %d", len(rec), len(header))
			continue
		}
		get := func(col string) string {
			if i, ok := cols[col]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		e := Entry{
			Line:       ln,
			IDType:     get("id_type"),
			UserID:     get("user_id"),
			Reason:     get("reason"),
			ApprovedBy: get("approved_by"),
			Ticket:     get("ticket"),
		}
		if e.IDType == "" {
			e.IDType = defType
		}
		bad := false
		if e.UserID == "" {
			p.add(ln, "user_id is empty")
			bad = true
		}
		if !pipeline.ValidIDType(e.IDType) {
			p.add(ln, "id_type %q is not one of %s", e.IDType, strings.Join(pipeline.IDTypes, ", "))
			bad = true
		}
		if e.Reason == "" {
			p.add(ln, "reason is empty: say why the subject may be without MFA")
			bad = true
		}
		if e.ApprovedBy == "" {
			p.add(ln, "approved_by is empty: name who approved the exception")
			bad = true
		}
		exp := get("expires")
		if t, err := time.Parse(DateLayout, exp); err != nil || len(exp) != len(DateLayout) {
			if exp == "" {
				p.add(ln, "expires is empty: want the last valid day as YYYY-MM-DD")
			} else {
				p.add(ln, "expires %q is not a date YYYY-MM-DD", exp)
			}
			bad = true
		} else {
			e.Expires = t.UTC()
		}
		if bad {
			continue
		}
		s := pipeline.Subject{IDType: e.IDType, UserID: e.UserID}
		s.Normalize(defType)
		e.key = s.Key()
		if prev, dup := first[e.key]; dup {
			p.add(ln, "the same subject as line %d (%s %q): one entry per subject", prev, e.IDType, e.UserID)
			continue
		}
		first[e.key] = ln
		if len(reg.Entries) >= MaxEntries {
			p.add(ln, "more than %d entries: a register is meant to list a few thousand approved exceptions", MaxEntries)
			break
		}
		reg.byKey[e.key] = len(reg.Entries)
		reg.Entries = append(reg.Entries, e)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return reg, nil
}

// parser collects the problems of one register.
type parser struct {
	name     string
	problems []string
	more     int
}

func (p *parser) add(line int64, format string, a ...any) {
	if len(p.problems) >= maxProblems {
		p.more++
		return
	}
	where := p.name
	if line > 0 {
		where += " line " + strconv.FormatInt(line, 10)
	}
	p.problems = append(p.problems, where+": "+fmt.Sprintf(format, a...))
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	out := p.problems
	if p.more > 0 {
		out = append(out, fmt.Sprintf("%s: and %d more problems", p.name, p.more))
	}
	return &Error{Problems: out}
}

func (p *parser) csvError(err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return // reported by the caller with the counts
		}
		p.add(int64(pe.Line), "column %d: %v", pe.Column, pe.Err)
		return
	}
	p.add(0, "%v", err)
}

// header maps column names to indexes, reporting missing, unknown and
// repeated columns.
func (p *parser) header(h []string) (map[string]int, bool) {
	cols := map[string]int{}
	known := map[string]bool{}
	for _, c := range append(append([]string{}, RequiredColumns...), OptionalColumns...) {
		known[c] = true
	}
	ok := true
	for i, raw := range h {
		c := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case !known[c]:
			p.add(1, "unknown column %q (the columns are %s, and optionally %s)", raw,
				strings.Join(RequiredColumns, ","), strings.Join(OptionalColumns, ","))
			ok = false
		case hasKey(cols, c):
			p.add(1, "column %q appears twice", raw)
			ok = false
		default:
			cols[c] = i
		}
	}
	for _, c := range RequiredColumns {
		if !hasKey(cols, c) {
			p.add(1, "missing column %q (the header must be %s, ticket optional)", c, strings.Join(RequiredColumns, ","))
			ok = false
		}
	}
	return cols, ok
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

// delimiter finds the header line's delimiter: the most frequent of ',',
// ';' and tab outside quotes (',' on a tie), as spreadsheet programs in
// many locales export.
func delimiter(b []byte) rune {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	counts := map[byte]int{}
	quoted := false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

// validPrefix is the length of b's longest valid UTF-8 prefix.
func validPrefix(b []byte) int {
	n := 0
	for n < len(b) {
		r, size := utf8.DecodeRune(b[n:])
		if r == utf8.RuneError && size == 1 {
			return n
		}
		n += size
	}
	return n
}
