package sinks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Every file sink writes PATH under a temporary name beside it,
// ".BASE.tmp-*", and renames it into place when done (atomicFile). While
// a writer lives it holds an exclusive lock on its temporary file (flock,
// released by the kernel when the process ends, however it ends), so a
// temporary file that can be locked is a leftover: its writer was killed
// before Close (SIGKILL, out of memory, power loss). A leftover JSON Lines
// file is what a resumed run reads (SPEC 9); a later run that commits PATH
// removes them.

// tempPattern is the glob of the temporary files of path.
func tempPattern(path string) string {
	return "." + filepath.Base(path) + ".tmp-*"
}

// TempLeftovers returns the temporary files of path left behind by writers
// that are no longer running, newest first. Files a live writer holds are
// not listed.
func TempLeftovers(path string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern(path)))
	if err != nil {
		return nil, err
	}
	type left struct {
		name string
		mod  int64
	}
	var out []left
	for _, n := range names {
		if !strings.HasPrefix(filepath.Base(n), "."+filepath.Base(path)+".tmp-") {
			continue
		}
		st, err := os.Lstat(n)
		if err != nil || !st.Mode().IsRegular() || !abandoned(n) {
			continue
		}
		out = append(out, left{n, st.ModTime().UnixNano()})
	}
	slices.SortStableFunc(out, func(a, b left) int {
		switch {
		case a.mod > b.mod:
			return -1
		case a.mod < b.mod:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	files := make([]string, len(out))
	for i, l := range out {
		files[i] = l.name
	}
	return files, nil
}

// removeLeftovers deletes the leftovers of path; best effort. Called once
// PATH holds a newer version: what they held is superseded.
func removeLeftovers(path string) {
	names, _ := TempLeftovers(path)
	for _, n := range names {
		os.Remove(n)
	}
}
