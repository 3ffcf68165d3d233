//go:build unix

// Package fsmode applies the process's umask to a file mode, for files
// whose mode is set after they are created (a temporary file from
// os.CreateTemp, a file written by a library).
package fsmode

import (
	"os"
	"syscall"
)

// Umask returns the process's file mode creation mask. Reading it means
// setting it, so it is set back at once.
func Umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// Masked returns mode with the umask's bits cleared, as the kernel would
// create a file asked for with mode.
func Masked(mode os.FileMode) os.FileMode { return mode &^ Umask() }
