// Package buildinfo says which build of the tool is running: the module
// version, the VCS revision and time, whether the tree was modified, and the
// Go version, from the binary's build information (SPEC 15). A version set
// at link time (-ldflags "-X .../buildinfo.Version=v1.2.3") takes the place
// of the module version, for builds without VCS information (a container
// build whose context has no .git).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version and Revision may be set at link time:
//
//	go build -ldflags "-X github.com/mfa-audit/mfa-audit/internal/buildinfo.Version=v1.2.3
//	                   -X github.com/mfa-audit/mfa-audit/internal/buildinfo.Revision=$(git rev-parse HEAD)"
//
// They win over what the build information says.
var (
	Version  = ""
	Revision = ""
)

// Info describes one build.
type Info struct {
	Version  string `json:"version"`  // module version, link-time version, or "dev-<rev>"
	Revision string `json:"revision"` // VCS revision (full hash), "" if unknown
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified"` // the work tree had uncommitted changes
	Go       string `json:"go"`
}

// Read returns the running binary's build information.
func Read() Info {
	in := Info{Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if bi.GoVersion != "" {
			in.Go = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			in.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Revision = s.Value
			case "vcs.time":
				in.Time = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
	}
	if Revision != "" {
		in.Revision = Revision
	}
	if Version != "" {
		in.Version = Version
	}
	if in.Version == "" {
		in.Version = "dev"
		if in.Revision != "" {
			in.Version += "-" + Short(in.Revision)
			if in.Modified {
				in.Version += "-dirty"
			}
		}
	}
	return in
}

// Short returns the first 12 characters of a revision.
func Short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// String is the multi-line text of `audit version`.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit %s\n", in.Version)
	rev := in.Revision
	if rev == "" {
		rev = "unknown (built without VCS information)"
	}
	fmt.Fprintf(&b, "  revision: %s\n", rev)
	if in.Time != "" {
		fmt.Fprintf(&b, "  time:     %s\n", in.Time)
	}
	fmt.Fprintf(&b, "  modified: %t\n", in.Modified)
	fmt.Fprintf(&b, "  go:       %s\n", in.Go)
	return b.String()
}
