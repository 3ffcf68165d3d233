package sinks

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"time"
)

// issueRecord is one spooled row of the Issues sheet: its text cells
// (already masked and formula-safe) in the order of the sheet's text
// columns, and the typed ones.
type issueRecord struct {
	Kind      uint8
	Text      []string
	Attempts  int
	CheckedAt time.Time
	Line      int64
	What      string // what happened, in words (issueWords)
}

// recordSpool keeps records of type T in a temporary file (gob) until they
// are read back in order.
type recordSpool[T any] struct {
	file *os.File
	buf  *bufio.Writer
	enc  *gob.Encoder
	n    int
}

func newRecordSpool[T any](dir, name string, mode os.FileMode) (*recordSpool[T], error) {
	f, err := createTemp(dir, ".mfa-audit-"+name+"-*", mode)
	if err != nil {
		return nil, err
	}
	// Used only through f: unlinked at once, so a process killed outright
	// leaves no spool behind.
	os.Remove(f.Name())
	s := &recordSpool[T]{file: f, buf: bufio.NewWriterSize(f, 64<<10)}
	s.enc = gob.NewEncoder(s.buf)
	return s, nil
}

func (s *recordSpool[T]) add(rec *T) error {
	s.n++
	return s.enc.Encode(rec)
}

// each calls fn for every record, in order.
func (s *recordSpool[T]) each(fn func(*T) error) error {
	if err := s.buf.Flush(); err != nil {
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.file, 64<<10))
	for range s.n {
		var rec T
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("reading the spool: %w", err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}

// remove closes and deletes the spool file; nil-safe.
func (s *recordSpool[T]) remove() {
	if s == nil || s.file == nil {
		return
	}
	s.file.Close()
	os.Remove(s.file.Name()) // where it could not be unlinked while open
	s.file = nil
}
