package sinks

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// Options are the settings shared by the file sinks.
type Options struct {
	// MaskPII masks e-mail addresses and phone numbers in the files meant
	// for people (CSV, XLSX, HTML); JSON Lines keeps them whole.
	MaskPII bool
	// HTMLMaxRows caps the non-compliant users listed in the HTML report
	// (default 5000).
	HTMLMaxRows int
	// FileMode is the permission of every file written (reports, markers,
	// spools, temporary files) before the umask; 0 means DefaultFileMode.
	// Missing directories are made with DirMode(FileMode).
	FileMode os.FileMode
	// Dirs, when set, records the directories the sinks make, so that a
	// run ending in a configuration error can remove them.
	Dirs *CreatedDirs
	// XLSXMaxRows is the data rows per Users sheet before it continues on
	// "Users (2)" (default and maximum 1,048,575; tests set it low).
	XLSXMaxRows int
	// Outputs are the kinds of every output of the run (KindXLSX,
	// KindCSV, ...), so that the HTML report points to the rows it leaves
	// out only in outputs that exist.
	Outputs []string
}

// DefaultFileMode is the permission of every file the sinks write when
// Options.FileMode is zero: reports hold personal data (SPEC 10).
const DefaultFileMode os.FileMode = 0o600

// fileMode is the mode files are created with; the umask applies on top.
func (o Options) fileMode() os.FileMode {
	if o.FileMode == 0 {
		return DefaultFileMode
	}
	return o.FileMode & os.ModePerm
}

// DirMode is the mode of a directory made for an output whose files have
// mode file: 0700, plus read and search for whoever may read the files
// (0640 gives 0750, 0644 gives 0755). The umask applies on top.
func DirMode(file os.FileMode) os.FileMode {
	r := file & 0o044
	return 0o700 | r | r>>2
}

// CreatedDirs records the directories made for outputs, so that a run that
// stops with a configuration error can remove them again: a run that exits
// 2 leaves nothing behind (SPEC 3). Safe for concurrent use.
type CreatedDirs struct {
	mu   sync.Mutex
	dirs []string // outermost first
}

func (d *CreatedDirs) add(dir string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	d.dirs = append(d.dirs, dir)
	d.mu.Unlock()
}

// Remove deletes the recorded directories, innermost first, as far as they
// are empty, and forgets them; nil-safe.
func (d *CreatedDirs) Remove() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.dirs) - 1; i >= 0; i-- {
		os.Remove(d.dirs[i]) // fails, as it should, on a directory that is not empty
	}
	d.dirs = nil
}

// makeDirs creates dir and its missing parents with mode, recording each
// one made in rec (which may be nil).
func makeDirs(dir string, mode os.FileMode, rec *CreatedDirs) error {
	var missing []string
	for p := filepath.Clean(dir); ; {
		_, err := os.Stat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], mode)
		switch {
		case err == nil:
			rec.add(missing[i])
		case errors.Is(err, fs.ErrExist):
			// made meanwhile by another writer (or a file: the probe says)
		default:
			return err
		}
	}
	return nil
}

// CheckWritable makes the directory of path (recording what it made in
// opt.Dirs) and proves a file can be created there, so a bad output is a
// configuration error before the run. Every file sink calls it from its
// constructor: the defaults work from an empty folder.
func CheckWritable(path string, opt Options) error {
	dir := filepath.Dir(path)
	if err := makeDirs(dir, DirMode(opt.fileMode()), opt.Dirs); err != nil {
		return fmt.Errorf("cannot create the directory %s: %w", dir, unwrapPathError(err))
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	f, err := createTemp(dir, ".mfa-audit-check-*", opt.fileMode())
	if err != nil {
		return fmt.Errorf("directory %s not writable: %w", dir, unwrapPathError(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// unwrapPathError keeps the cause of a *fs.PathError, whose text repeats a
// path the caller names anyway.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// createTemp is os.CreateTemp with the mode given: the file is created with
// O_EXCL under a random name from pattern (its last "*" replaced), and the
// umask applies, unlike a Chmod after the fact.
func createTemp(dir, pattern string, mode os.FileMode) (*os.File, error) {
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	var b [6]byte
	for try := 0; ; try++ {
		rand.Read(b[:])
		name := filepath.Join(dir, prefix+hex.EncodeToString(b[:])+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// atomicFile is written under a temporary name beside its path and renamed
// into place by Commit, so readers never see half a report; Commit also
// removes the temporary files of earlier writers of path that were killed
// (TempLeftovers). A run that is
// not complete also leaves PATH.incomplete holding the reason; a complete
// one removes a stale marker.
type atomicFile struct {
	*os.File
	path string
	mode os.FileMode
}

// createAtomic creates the temporary file of path with opt's file mode,
// making the directory if it went missing since the constructor's check.
func createAtomic(path string, opt Options) (*atomicFile, error) {
	dir := filepath.Dir(path)
	if err := makeDirs(dir, DirMode(opt.fileMode()), nil); err != nil {
		return nil, err
	}
	f, err := createTemp(dir, "."+filepath.Base(path)+".tmp-*", opt.fileMode())
	if err != nil {
		return nil, err
	}
	// Held while this process writes: see TempLeftovers.
	if err := lockTemp(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, path: path, mode: opt.fileMode()}, nil
}

// Commit syncs, closes and renames the file into place and writes or
// removes the incomplete marker. incomplete is "" for a complete run.
func (f *atomicFile) Commit(incomplete string) error {
	if err := f.Sync(); err != nil {
		f.Abort()
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), f.path); err != nil {
		os.Remove(f.Name())
		return err
	}
	syncDir(filepath.Dir(f.path))
	removeLeftovers(f.path)
	return markIncomplete(f.path, incomplete, f.mode)
}

// syncDir makes a rename in dir durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Abort closes and removes the temporary file.
func (f *atomicFile) Abort() {
	f.Close()
	os.Remove(f.Name())
}

// MarkIncomplete writes PATH.incomplete with the reason, or removes it when
// reason is "". The marker gets DefaultFileMode.
func MarkIncomplete(path, reason string) error {
	return markIncomplete(path, reason, DefaultFileMode)
}

// markIncomplete writes PATH.incomplete (under a temporary name, renamed
// into place, so it always has mode) or removes it when reason is "".
func markIncomplete(path, reason string, mode os.FileMode) error {
	marker := path + ".incomplete"
	if reason == "" {
		if err := os.Remove(marker); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	f, err := createTemp(filepath.Dir(marker), "."+filepath.Base(marker)+".tmp-*", mode)
	if err != nil {
		return err
	}
	_, err = f.WriteString("INCOMPLETE RUN: " + reason + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), marker)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// incompleteReason is what PATH.incomplete (and the reports' "Incomplete
// because") says for the run s ended with: "" for a complete run.
func incompleteReason(s *pipeline.Summary) string {
	if s.Complete {
		return ""
	}
	if s.Incomplete != "" {
		return s.Incomplete
	}
	return "the run did not finish"
}
