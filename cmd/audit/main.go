// Command audit audits multi-factor authentication across a GenAuth
// (Authing) user pool and writes reports for people and machines.
//
//	audit run            the job, configured by environment variables and flags
//	audit demo           the job against a built-in fake API and sample users
//	audit report         re-render reports from a stored run (no API calls)
//	audit fake-genauth   serve the fake GenAuth API for dry runs
//	audit version | help
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mfa-audit/mfa-audit/internal/buildinfo"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit codes (SPEC section 8).
const (
	exitOK         = 0
	exitFailed     = 1 // failed or incomplete
	exitUsage      = 2 // usage or configuration error, before any API call
	exitBelowFloor = 3 // complete, coverage below AUDIT_FAIL_UNDER
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

// realMain runs one command and returns its exit code.
func realMain(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	e := &cmdEnv{environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	switch cmd {
	case "run":
		return e.run(rest)
	case "demo":
		return e.demo(rest)
	case "report":
		return e.report(rest)
	case "fake-genauth":
		return e.fakeGenAuth(rest)
	case "verify":
		return e.verify(rest)
	case "version", "--version":
		fmt.Fprint(stdout, buildinfo.Read().String())
		return exitOK
	case "help":
		return e.help(rest)
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "audit: %s; audit help lists the commands\n", unknownCommand(cmd))
	return exitUsage
}

// cmdEnv is what a command may touch of the process.
type cmdEnv struct {
	environ        []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// toolVersion is the version reports and the User-Agent name: the
// link-time or module version, else "dev-<revision>" (internal/buildinfo).
func toolVersion() string {
	if version != "" {
		return version
	}
	return buildinfo.Read().Version
}
