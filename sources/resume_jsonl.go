package sources

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// JSONLPrior is the pipeline.Prior of a run resumed from JSON Lines alone
// (SPEC 9): the results files an earlier attempt of the same run left, its
// finished output or the temporary file of a killed attempt. Only lines whose
// run_id is the run's own count; a file of another run is passed over
// whole. It keeps 16 bytes per stored subject in memory (a hash of its key
// and where its line is) and reads a line back only when its subject is
// looked up. Safe for concurrent use; Close releases the files.
type JSONLPrior struct {
	runID string
	files []*os.File
	used  []string // the files that hold the run's results
	other []string // "PATH holds run X": files passed over
	ents  []priorEntry
}

var _ pipeline.Prior = (*JSONLPrior)(nil)

// priorEntry locates the line of one final result: pos is the file's index
// (upper 24 bits) and the line's offset in it (lower 40 bits).
type priorEntry struct {
	hash uint64
	pos  uint64
}

const priorOffsetBits = 40

// OpenJSONLPrior indexes the final results of run runID held in paths,
// which are read in the order given (the newest attempt first: its result
// for a subject wins). A path that does not exist is skipped, as is a file
// whose first line belongs to another run (or to none: written before
// results carried run_id). A last line without its newline is the one a
// killed writer was writing and is ignored. An undecodable line, or a line
// of another run in a file of this one, is an error naming the file and
// line.
func OpenJSONLPrior(runID string, paths []string) (*JSONLPrior, error) {
	p := &JSONLPrior{runID: runID}
	for _, path := range paths {
		if len(p.files) == 1<<(64-priorOffsetBits) {
			break
		}
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			p.Close()
			return nil, err
		}
		ours, err := p.index(f, path, uint64(len(p.files)))
		if err != nil || !ours {
			f.Close()
		}
		if err != nil {
			p.Close()
			return nil, err
		}
		if ours {
			p.files = append(p.files, f)
			p.used = append(p.used, path)
		}
	}
	slices.SortStableFunc(p.ents, func(a, b priorEntry) int { return cmp.Compare(a.hash, b.hash) })
	p.ents = slices.Clip(p.ents)
	return p, nil
}

// keyLine is the part of a results line the index needs.
type keyLine struct {
	UserID  *string `json:"user_id"`
	IDType  string  `json:"id_type"`
	Outcome string  `json:"outcome"`
	RunID   *string `json:"run_id"`
}

// index adds the final results of f to p.ents; ours is false when the file
// belongs to another run.
func (p *JSONLPrior) index(f *os.File, path string, file uint64) (ours bool, err error) {
	br := bufio.NewReaderSize(f, 256<<10)
	var (
		off  int64
		line int
		mine bool // a line of the run was met
		long []byte
		kl   keyLine
	)
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, b...)
			continue
		}
		if long != nil {
			b = append(long, b...)
			long = nil
		}
		if err == io.EOF {
			return mine, nil // a last line without its newline: cut short by a kill
		}
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", path, err)
		}
		start := off
		off += int64(len(b))
		line++
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		kl = keyLine{}
		if err := json.Unmarshal(b, &kl); err != nil || kl.UserID == nil {
			if !mine {
				p.other = append(p.other, fmt.Sprintf("%s is not a results file of this tool", path))
				return false, nil
			}
			if err == nil {
				err = errors.New(`no "user_id"`)
			}
			return false, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if kl.RunID == nil || *kl.RunID != p.runID {
			if !mine {
				if kl.RunID == nil {
					p.other = append(p.other, fmt.Sprintf("%s has no run_id", path))
				} else {
					p.other = append(p.other, fmt.Sprintf("%s holds run %s", path, *kl.RunID))
				}
				return false, nil
			}
			return false, fmt.Errorf("%s line %d: run_id %q in a file of run %s", path, line, deref(kl.RunID), p.runID)
		}
		mine = true
		if !pipeline.Outcome(kl.Outcome).Final() {
			continue // asked again
		}
		if start >= 1<<priorOffsetBits {
			return false, fmt.Errorf("%s: larger than %d bytes", path, int64(1)<<priorOffsetBits)
		}
		k := pipeline.KeyOf(kl.IDType, *kl.UserID)
		p.ents = append(p.ents, priorEntry{hash: keyHash(k), pos: file<<priorOffsetBits | uint64(start)})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// keyHash is FNV-1a 64 over the key's id type, a zero byte and its id.
func keyHash(k pipeline.Key) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(k.IDType); i++ {
		h = (h ^ uint64(k.IDType[i])) * prime
	}
	h *= prime
	for i := 0; i < len(k.UserID); i++ {
		h = (h ^ uint64(k.UserID[i])) * prime
	}
	return h
}

// Len is the number of final results indexed (a subject answered in two
// attempts counts twice).
func (p *JSONLPrior) Len() int { return len(p.ents) }

// Files are the files the run's results are read from, in the order given.
func (p *JSONLPrior) Files() []string { return slices.Clone(p.used) }

// Passed are the files that were passed over, each with the reason.
func (p *JSONLPrior) Passed() []string { return slices.Clone(p.other) }

// Lookup returns the stored final result of s (its key compared as
// pipeline.KeyOf does) with Resumed set; found is false when no attempt
// answered it finally.
func (p *JSONLPrior) Lookup(_ context.Context, s pipeline.Subject) (pipeline.Result, bool, error) {
	k := s.Key()
	h := keyHash(k)
	i, ok := slices.BinarySearchFunc(p.ents, h, func(e priorEntry, h uint64) int { return cmp.Compare(e.hash, h) })
	if !ok {
		return pipeline.Result{}, false, nil
	}
	var rl resultLine
	for ; i < len(p.ents) && p.ents[i].hash == h; i++ {
		file, off := p.ents[i].pos>>priorOffsetBits, int64(p.ents[i].pos&(1<<priorOffsetBits-1))
		b, err := readLineAt(p.files[file], off)
		if err != nil {
			return pipeline.Result{}, false, fmt.Errorf("reading %s at byte %d: %w", p.used[file], off, err)
		}
		r, err := decodeResultLine(b, &rl)
		if err != nil {
			return pipeline.Result{}, false, fmt.Errorf("%s at byte %d: %w", p.used[file], off, err)
		}
		if r.Key() == k { // else another subject with the same hash
			r.Resumed = true
			return r, true, nil
		}
	}
	return pipeline.Result{}, false, nil
}

// readLineAt reads the line that starts at off, without its newline.
func readLineAt(f *os.File, off int64) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	for {
		n := len(buf)
		buf = buf[:cap(buf)]
		m, err := f.ReadAt(buf[n:], off+int64(n))
		buf = buf[:n+m]
		if i := bytes.IndexByte(buf[n:], '\n'); i >= 0 {
			return buf[:n+i], nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		buf = slices.Grow(buf, len(buf))
	}
}

// Close closes the files; the Prior must not be used afterwards.
func (p *JSONLPrior) Close() error {
	for _, f := range p.files {
		f.Close()
	}
	p.files = nil
	return nil
}
