//go:build unix

package evidence

import (
	"os"
	"syscall"
)

// umask returns the process's file mode creation mask. Reading it means
// setting it; it is set back at once.
func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
