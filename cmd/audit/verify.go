package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mfa-audit/mfa-audit/evidence"
)

// verify is `audit verify MANIFEST [--public-key PEM]` (SPEC 15): every
// file the manifest lists hashed again, the signature checked when a key is
// given. Exit 0 when all match, 1 when anything differs or is missing, 2
// for usage errors.
func (e *cmdEnv) verify(args []string) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pubPath := fs.String("public-key", "", "Ed25519 public key (PEM) whose signature MANIFEST.sig must carry")
	fs.Usage = func() {}
	// Flags may come before or after the manifest's path.
	var pos []string
	for rest := args; ; {
		if err := parseFlags(fs, rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				verifyHelp(e.stdout)
				return exitOK
			}
			fmt.Fprintf(e.stderr, "audit verify: %v; audit verify -h shows how to use it\n", err)
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(e.stderr, "audit verify: want exactly one MANIFEST, got %d; audit verify -h shows how to use it\n", len(pos))
		return exitUsage
	}
	var pub ed25519.PublicKey
	if *pubPath != "" {
		k, err := evidence.LoadPublicKey(*pubPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "audit verify: --public-key: %v\n", err)
			return exitUsage
		}
		pub = k
	}
	v, err := evidence.Verify(pos[0], pub)
	if err != nil {
		fmt.Fprintf(e.stderr, "audit verify: %v\n", err)
		return exitUsage
	}
	m := v.Manifest
	fmt.Fprintf(e.stdout, "manifest  %s (run %s, %s, exit code %d, built by %s)\n", pos[0], m.RunID, completeWord(m.Complete), m.ExitCode, m.Tool.Version)
	switch v.Signature {
	case "valid":
		fmt.Fprintf(e.stdout, "%-9s signature by %s\n", "ok", *pubPath)
	case "invalid":
		fmt.Fprintf(e.stdout, "%-9s signature: does not match this manifest and key (the manifest was changed, or signed by another key)\n", "changed")
	case "missing":
		fmt.Fprintf(e.stdout, "%-9s signature %s\n", "missing", pos[0]+evidence.SigExt)
	default:
		fmt.Fprintf(e.stdout, "%-9s signature not checked (give --public-key to check it)\n", "-")
	}
	for _, c := range v.Checks {
		what := c.Path
		if c.Role != "output" {
			what = c.Role + " " + c.Path
		}
		switch c.State {
		case evidence.StateSkipped:
			fmt.Fprintf(e.stdout, "%-9s %s (not a file: not checked)\n", "-", what)
		case evidence.StateAbsent:
			fmt.Fprintf(e.stdout, "%-9s %s (input not present here: not checked)\n", "-", what)
		default:
			fmt.Fprintf(e.stdout, "%-9s %s\n", c.State, what)
		}
	}
	if !v.OK() {
		fmt.Fprintln(e.stdout, "FAILED: the files or the manifest are not the ones the run produced.")
		return exitFailed
	}
	fmt.Fprintln(e.stdout, "verified: every listed file matches the manifest.")
	return exitOK
}

func completeWord(c bool) string {
	if c {
		return "complete"
	}
	return "INCOMPLETE"
}

func verifyHelp(w io.Writer) {
	fmt.Fprint(w, `Usage: audit verify MANIFEST [--public-key PEM]

Checks the evidence of a run: every file MANIFEST lists is hashed again and
compared, and with --public-key the signature MANIFEST.sig is checked (it is
then required). Relative paths resolve against the manifest's folder, so a
folder copied elsewhere still verifies.

Flags:
  --public-key PEM   Ed25519 public key, e.g. from: openssl pkey -in key.pem -pubout -out pub.pem

Exit codes: 0 every file matches (and the signature is valid), 1 a file is
changed or missing or the signature does not match, 2 usage error.

Example:
  audit verify out/mfa-audit.manifest.json --public-key audit-pub.pem
`)
}
