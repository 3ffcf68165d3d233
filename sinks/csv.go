package sinks

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// CSV writes one row per result in the flat layout of RunColumns (the
// fields of SPEC section 5, attributes as attr.<name> columns, the
// exception as exception.<field> columns for a run with a register), for people:
// every text cell is protected against formula injection (SafeCell) and,
// with Options.MaskPII, e-mail addresses and phone numbers are masked.
//
// The file is written under a temporary name and moved into place by Close;
// an incomplete run also leaves PATH.incomplete saying why.
type CSV struct {
	path string
	opt  Options

	f    *atomicFile
	w    *bufio.Writer
	cols []Column
	run  pipeline.RunInfo
	row  []string
}

var _ pipeline.Sink = (*CSV)(nil)

// NewCSV returns a CSV sink writing to path, after checking that its
// directory can be written (a configuration error otherwise).
func NewCSV(path string, opt Options) (*CSV, error) {
	if err := CheckWritable(path, opt); err != nil {
		return nil, err
	}
	return &CSV{path: path, opt: opt}, nil
}

// Open creates the temporary file and writes the header, whose attribute
// columns are run.AttrNames. It is called once, before any Write.
func (c *CSV) Open(_ context.Context, run pipeline.RunInfo) error {
	f, err := createAtomic(c.path, c.opt)
	if err != nil {
		return fmt.Errorf("csv output %s: %w", c.path, err)
	}
	c.f = f
	c.w = bufio.NewWriterSize(f, 256<<10)
	c.run = run
	c.run.AttrNames = append([]string(nil), run.AttrNames...)
	c.cols = RunColumns(c.run)
	header := make([]string, len(c.cols))
	for i, col := range c.cols {
		header[i] = SafeCell(col.Name)
	}
	if err := writeCSVRecord(c.w, header); err != nil {
		return fmt.Errorf("csv output %s: %w", c.path, err)
	}
	return nil
}

// Write appends the row of r (buffered).
func (c *CSV) Write(_ context.Context, r pipeline.Result) error {
	c.row = RunRow(r, c.run, c.row)
	ProtectRow(c.cols, c.row, c.opt.MaskPII)
	if err := writeCSVRecord(c.w, c.row); err != nil {
		return fmt.Errorf("csv output %s: %w", c.path, err)
	}
	return nil
}

// Close flushes the rows written and moves the file into place, writing
// PATH.incomplete when s is not complete (removing a stale one when it is).
// It is called once, also after a failed Write or an interrupted run; if
// Open was not called or failed it does nothing. If the rows cannot be
// flushed the temporary file is removed and the error returned.
func (c *CSV) Close(_ context.Context, s pipeline.Summary) error {
	if c.f == nil {
		return nil
	}
	f := c.f
	c.f = nil
	if err := c.w.Flush(); err != nil {
		f.Abort()
		return fmt.Errorf("csv output %s: %w", c.path, err)
	}
	if err := f.Commit(incompleteReason(&s)); err != nil {
		return fmt.Errorf("csv output %s: %w", c.path, err)
	}
	return nil
}

// csvSpecial are the characters that make a field quoted: the delimiters a
// spreadsheet may split on (',' and, in many European locales, ';' or tab),
// the quote and line breaks (SPEC 10). encoding/csv quotes only its own
// delimiter, so "x;=1+1" would become two cells, one a formula, in a
// semicolon locale.
const csvSpecial = ",;\"\r\n\t"

// writeCSVRecord writes one RFC 4180 record and a "\n" (as encoding/csv),
// quoting a field that holds a csvSpecial character or begins with a space.
func writeCSVRecord(w *bufio.Writer, rec []string) error {
	for i, f := range rec {
		if i > 0 {
			w.WriteByte(',')
		}
		if f == "" || (!strings.ContainsAny(f, csvSpecial) && f[0] != ' ') {
			w.WriteString(f)
			continue
		}
		w.WriteByte('"')
		for {
			j := strings.IndexByte(f, '"')
			if j < 0 {
				break
			}
			w.WriteString(f[:j+1])
			w.WriteByte('"')
			f = f[j+1:]
		}
		w.WriteString(f)
		w.WriteByte('"')
	}
	return w.WriteByte('\n')
}
