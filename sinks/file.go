package sinks

import (
	"fmt"
	"os"
	"path/filepath"

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
	// XLSXMaxRows is the data rows per Users sheet before it continues on
	// "Users (2)" (default and maximum 1,048,575; tests set it low).
	XLSXMaxRows int
}

// CheckWritable makes the directory of path and proves a file can be
// created there, so a bad output is a configuration error before the run.
func CheckWritable(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".mfa-audit-check-*")
	if err != nil {
		return fmt.Errorf("output %s: directory not writable: %w", path, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
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
}

func createAtomic(path string) (*atomicFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	// Held while this process writes: see TempLeftovers.
	if err := lockTemp(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	// Reports are meant to be read: the usual file mode, not CreateTemp's 0600.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, path: path}, nil
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
	return MarkIncomplete(f.path, incomplete)
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
// reason is "".
func MarkIncomplete(path, reason string) error {
	marker := path + ".incomplete"
	if reason == "" {
		if err := os.Remove(marker); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	return os.WriteFile(marker, []byte("INCOMPLETE RUN: "+reason+"\n"), 0o644)
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
