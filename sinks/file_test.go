package sinks

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// withUmask runs fn under the process umask u (tests in this file do not
// run in parallel).
func withUmask(t *testing.T, u int, fn func()) {
	t.Helper()
	old := syscall.Umask(u)
	defer syscall.Umask(old)
	fn()
}

func perm(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestEveryFileGetsTheFileMode: the report, its incomplete marker, the
// temporary file while it is written and the Issues spool all get
// Options.FileMode (default 0600) under the umask; made directories get
// DirMode.
func TestEveryFileGetsTheFileMode(t *testing.T) {
	for _, tc := range []struct {
		mode       fs.FileMode
		umask      int
		file, dirm fs.FileMode
	}{
		{0, 0o022, 0o600, 0o700},
		{0o644, 0o022, 0o644, 0o755},
		{0o664, 0o002, 0o664, 0o755},
		{0o644, 0o077, 0o600, 0o700},
	} {
		withUmask(t, tc.umask, func() {
			dir := t.TempDir()
			opt := Options{FileMode: tc.mode, Dirs: &CreatedDirs{}}
			path := filepath.Join(dir, "a", "b", "r.csv")
			s, err := NewCSV(path, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"a", "a/b"} {
				if m := perm(t, filepath.Join(dir, d)); m != tc.dirm {
					t.Errorf("mode %04o umask %04o: dir %s is %04o, want %04o", tc.mode, tc.umask, d, m, tc.dirm)
				}
			}
			if err := s.Open(context.Background(), pipeline.RunInfo{}); err != nil {
				t.Fatal(err)
			}
			if m := perm(t, s.f.Name()); m != tc.file {
				t.Errorf("mode %04o umask %04o: temporary file %04o, want %04o", tc.mode, tc.umask, m, tc.file)
			}
			if err := s.Close(context.Background(), pipeline.Summary{Incomplete: "test"}); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + ".incomplete"} {
				if m := perm(t, p); m != tc.file {
					t.Errorf("mode %04o umask %04o: %s is %04o, want %04o", tc.mode, tc.umask, filepath.Base(p), m, tc.file)
				}
			}
			sp, err := newRecordSpool[issueRecord](dir, "issues", opt.fileMode())
			if err != nil {
				t.Fatal(err)
			}
			rows, err := newRowSpool(dir, opt.fileMode(), 1)
			if err != nil {
				t.Fatal(err)
			}
			for name, f := range map[string]*os.File{"record spool": sp.file, "row spool": rows.file} {
				st, err := f.Stat() // unlinked at once: fstat
				if err != nil {
					t.Fatal(err)
				}
				if m := st.Mode().Perm(); m != tc.file {
					t.Errorf("%s %04o, want %04o", name, m, tc.file)
				}
			}
			sp.remove()
			rows.remove()
		})
	}
}

// TestCreatedDirsAreRemoved: what CheckWritable made is removed again by
// CreatedDirs.Remove, and nothing that was there before.
func TestCreatedDirsAreRemoved(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "keep"), 0o700); err != nil {
		t.Fatal(err)
	}
	var made CreatedDirs
	for _, p := range []string{"keep/x/y/r.xlsx", "keep/x/r.html", "z/r.jsonl"} {
		if err := CheckWritable(filepath.Join(dir, p), Options{Dirs: &made}); err != nil {
			t.Fatal(err)
		}
	}
	made.Remove()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Errorf("left: %v", entries)
	}
	if e, _ := os.ReadDir(filepath.Join(dir, "keep")); len(e) != 0 {
		t.Errorf("left in keep/: %v", e)
	}
}

// TestEveryFileSinkMakesItsDirectory: XLSX and HTML as well as CSV and
// JSON Lines make their directory in the constructor, before any API call.
func TestEveryFileSinkMakesItsDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"x/r.xlsx", "h/r.html", "c/r.csv", "j/r.jsonl"} {
		p := filepath.Join(dir, name)
		var err error
		switch filepath.Ext(p) {
		case ".xlsx":
			_, err = NewXLSX(p, Options{})
		case ".html":
			_, err = NewHTML(p, Options{})
		case ".csv":
			_, err = NewCSV(p, Options{})
		case ".jsonl":
			_, err = NewJSONL(p, Options{})
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			t.Errorf("%s: directory not made: %v", name, err)
		}
	}
	if _, err := NewXLSX("/proc/x/y.xlsx", Options{}); err == nil {
		t.Error("NewXLSX accepted /proc/x/y.xlsx")
	}
}
