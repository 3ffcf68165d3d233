package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Help is printed only when asked (-h, --help, audit help CMD), on stdout,
// with exit 0, one command at a time. A usage mistake is one line naming it
// and pointing to -h, exit 2.

// commands are audit's commands with their one-line summaries, in the
// order usage lists them.
var commands = []struct{ name, summary string }{
	{"run", "audit the subjects of AUDIT_SOURCE, write AUDIT_OUTPUT"},
	{"demo", "audit sample users against a built-in fake API, write ./out"},
	{"report", "re-render reports from a stored run (Postgres or .jsonl)"},
	{"verify", "check a run's evidence manifest and its signature"},
	{"fake-genauth", "serve the fake GenAuth API for dry runs"},
	{"version", "print the version, revision and Go version"},
	{"help", "this text, or one command's flags and examples"},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "audit: multi-factor authentication audit of a GenAuth (Authing) user pool\n\nUsage: audit COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Examples:
  audit demo --out /tmp/mfa-demo
  GENAUTH_ACCESS_KEY_ID=<pool id> \
    GENAUTH_ACCESS_KEY_SECRET_FILE=/run/secrets/genauth \
    AUDIT_SOURCE=users.csv audit run

Every variable also has a flag (AUDIT_RATE is --rate); a flag wins over the
variable. "audit help run" (or "audit run -h") lists them. Exit codes:
0 complete, 1 failed or incomplete, 2 usage or configuration error,
3 coverage below AUDIT_FAIL_UNDER.
`)
}

// commandHelp holds, per command, what -h says above the flags.
var commandHelp = map[string]string{
	"run": `audit run: audit every subject of AUDIT_SOURCE against the GenAuth API and
write AUDIT_OUTPUT. Configured by environment variables; each has the flag
below (a flag wins over its variable).

Usage:
  audit run [flags]

Examples:
  export GENAUTH_ACCESS_KEY_ID=<user pool id>
  export GENAUTH_ACCESS_KEY_SECRET_FILE=/run/secrets/genauth-secret
  AUDIT_SOURCE=users.csv audit run --output out/mfa.xlsx,out/mfa.html \
    --group-by department
  audit run --source genauth:users --policy strong --fail-under 95
`,
	"report": `audit report: re-render reports from a stored run without calling the API:
from Postgres (AUDIT_REPORT_FROM=postgres://... with AUDIT_RUN_ID) or from a
results .jsonl file. Also the migration path (JSON Lines into Postgres).

Usage:
  audit report [flags]

Examples:
  audit report --report-from out/mfa.jsonl \
    --output out/mfa.xlsx,out/mfa.html
  AUDIT_REPORT_FROM=postgres://audit@db/audit \
    AUDIT_RUN_ID=20261127T020000Z-3f9a1c audit report --output out/mfa.xlsx
`,
	"demo": `audit demo: audit an embedded sample of 400 users against the built-in fake
GenAuth API on loopback and write DIR/mfa-audit.xlsx, .html, .csv and .jsonl.
Needs no configuration and no network; reads no variables.

Usage:
  audit demo [--out DIR]

Examples:
  audit demo
  audit demo --out /tmp/mfa-demo
`,
	"fake-genauth": `audit fake-genauth: serve the fake GenAuth API (the demo pool, and a
synthesized user for any other GenAuth-shaped id) for dry runs of a job.

Usage:
  audit fake-genauth [--addr ADDR] [--faults SPEC]

Examples:
  audit fake-genauth --addr 127.0.0.1:8080 \
    --faults "latency=20ms,throttle=0.05,5xx=0.02"
  GENAUTH_HOST=http://127.0.0.1:8080 GENAUTH_ACCESS_KEY_ID=fake-pool-id \
    GENAUTH_ACCESS_KEY_SECRET=fake-secret AUDIT_SOURCE=users.csv audit run
`,
}

// printHelp writes command cmd's help with the flags of fs.
func printHelp(w io.Writer, cmd string, fs *flag.FlagSet) {
	fmt.Fprint(w, commandHelp[cmd])
	configured := false
	fs.VisitAll(func(f *flag.Flag) {
		_, ok := f.Value.(*fieldValue)
		configured = configured || ok
	})
	if configured {
		fmt.Fprint(w, "\nFlags (a flag wins over the variable in brackets; the defaults are built in):\n")
	} else {
		fmt.Fprint(w, "\nFlags:\n")
	}
	fs.VisitAll(func(f *flag.Flag) {
		kind, text := flag.UnquoteUsage(f)
		kind = strings.ToUpper(kind)
		if fv, ok := f.Value.(*fieldValue); ok {
			kind = fv.kind()
			text += " [" + fv.name + "]"
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s\n%s", strings.TrimSpace(f.Name+" "+kind), wrap("      "+text, 79, ""))
	})
	fmt.Fprint(w, "\nExit codes: 0 complete, 1 failed or incomplete, 2 usage or configuration error,\n3 coverage below AUDIT_FAIL_UNDER.\n")
}

// parseFlags parses args quietly: flag.ErrHelp for -h/--help, else at most
// one error, worded for people (with --, and "did you mean" for an
// unknown flag close to a known one).
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "unknown flag --" + name
		known := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
		if near, d := nearest(name, known); near != "" && d <= max(2, len(name)/3) {
			msg += " (did you mean --" + near + "?)"
		}
		return errors.New(msg)
	}
	return errors.New(singleDash.ReplaceAllString(msg, "$1--$2"))
}

// singleDash finds a flag named the way package flag names it (-rate).
var singleDash = regexp.MustCompile(`(\s)-([a-z])`)

// helpOrUsageError handles what parseFlags returned for command cmd:
// help on stdout (exit 0), or one line naming the mistake and pointing to
// -h (exit 2). done is false when err is nil.
func (e *cmdEnv) helpOrUsageError(cmd string, fs *flag.FlagSet, err error, logLine func(string)) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		printHelp(e.stdout, cmd, fs)
		return exitOK, true
	}
	line := fmt.Sprintf("audit %s: %v; audit %s -h lists the flags", cmd, err, cmd)
	if logLine != nil {
		logLine(line)
	} else {
		fmt.Fprintln(e.stderr, line)
	}
	return exitUsage, true
}

// help is `audit help [COMMAND]`.
func (e *cmdEnv) help(args []string) int {
	if len(args) == 0 {
		usage(e.stdout)
		return exitOK
	}
	switch args[0] {
	case "run", "report", "demo", "fake-genauth", "verify":
		return realMain([]string{args[0], "-h"}, nil, e.stdin, e.stdout, e.stderr)
	case "version", "help":
		usage(e.stdout)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "audit help: %s; audit help lists the commands\n", unknownCommand(args[0]))
	return exitUsage
}

// unknownCommand words an unknown command, with the nearest known one.
func unknownCommand(name string) string {
	known := map[string]bool{}
	for _, c := range commands {
		known[c.name] = true
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if near, d := nearest(name, known); d <= max(2, len(name)/2) {
		msg += fmt.Sprintf(" (did you mean %s?)", near)
	}
	return msg
}
