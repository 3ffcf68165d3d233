//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sinks

import (
	"os"
	"syscall"
)

// lockTemp takes the writer's lock on its temporary file f; it is released
// when f is closed or the process ends.
func lockTemp(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// abandoned reports whether no live writer holds the temporary file name.
func abandoned(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil
}
