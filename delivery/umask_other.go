//go:build !unix

package delivery

import "os"

func umask() os.FileMode { return 0 }
