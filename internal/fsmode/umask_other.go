//go:build !unix

// Package fsmode applies the process's umask to a file mode.
package fsmode

import "os"

// Umask returns 0 where there is no umask.
func Umask() os.FileMode { return 0 }

// Masked returns mode.
func Masked(mode os.FileMode) os.FileMode { return mode }
