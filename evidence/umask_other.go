//go:build !unix

package evidence

import "os"

func umask() os.FileMode { return 0 }
