package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/demo"
	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/progress"
)

// demo is `audit demo [--out DIR]`: the real job against the built-in fake
// GenAuth server on loopback and the embedded sample, writing every file
// report into DIR. It needs no configuration and never calls a real host.
func (e *cmdEnv) demo(args []string) int {
	fs := flag.NewFlagSet("audit demo", flag.ContinueOnError)
	out := fs.String("out", "out", "directory for the reports")
	if code, done := e.helpOrUsageError("demo", fs, parseFlags(fs, args), nil); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "audit demo: unexpected argument %q; audit demo -h lists the flags\n", fs.Arg(0))
		return exitUsage
	}
	// A little latency and a few faults of each kind, so the demo shows
	// retries at work; every subject still gets its true answer.
	srv := genauthtest.NewServer(genauthtest.Options{
		Users: demo.Users(),
		Faults: genauthtest.Faults{
			Latency:          15 * time.Millisecond,
			ThrottleRate:     0.02,
			BodyThrottleRate: 0.01,
			ServerErrorRate:  0.01,
			ResetRate:        0.005,
			MalformedRate:    0.005,
			MixedStatuses:    true,
		},
	})
	defer srv.Close()

	base := filepath.Join(*out, "mfa-audit")
	files := []string{base + ".xlsx", base + ".html", base + ".csv", base + ".jsonl"}
	before := base + ".before.jsonl"
	environ := []string{
		"GENAUTH_HOST=" + srv.URL,
		"GENAUTH_ACCESS_KEY_ID=" + srv.PoolID,
		"GENAUTH_ACCESS_KEY_SECRET=" + srv.Secret,
		"AUDIT_SOURCE=-",
		"AUDIT_CONCURRENCY=16",
		"AUDIT_RATE=400",
		"AUDIT_GROUP_BY=department",
		"AUDIT_PROGRESS=auto", // a bar and the summary for people on a terminal
	}
	ctx, stop := signalContext()
	defer stop()
	newJob := func(extra ...string) *job {
		cfg, problems, err := loadConfig("run", flag.NewFlagSet("demo", flag.ContinueOnError), nil, append(environ, extra...))
		if err != nil || len(problems) > 0 { // a bug in the lines above, not the user's
			panic(fmt.Sprint("demo configuration: ", err, problems))
		}
		return &job{
			cmd: "demo", cfg: cfg, log: newLogger(cfg.LogFormat, e.stdout, cfg.redactor()),
			stdout: e.stdout, stderr: e.stderr, sourceName: "demo sample (400 users, embedded)",
		}
	}
	// Change over time: first the pool as it was a month ago, into a
	// results file dated back a month (the baseline) ...
	first := newJob("AUDIT_OUTPUT="+before, "AUDIT_PROGRESS=never")
	first.log, first.stdout, first.stderr = newLogger("text", io.Discard, nil), io.Discard, io.Discard
	first.stdin = bytes.NewReader(demo.Input())
	if code := first.execute(ctx, nil); code != exitOK {
		fmt.Fprintf(e.stderr, "audit demo: the baseline audit failed (exit %d)\n", code)
		return code
	}
	if err := demo.Backdate(before, time.Now().AddDate(0, -1, 0)); err != nil {
		fmt.Fprintln(e.stderr, "audit demo:", err)
		return exitFailed
	}
	// ... then the same pool today: some users changed their factors, some
	// left, some joined; the HR export changed with it.
	srv.ServeLater(demo.Later)
	srv.ResetCounters() // the faults hit this run too
	j := newJob("AUDIT_OUTPUT="+strings.Join(files, ","), "AUDIT_BASELINE="+before)
	j.stdin = bytes.NewReader(demo.LaterInput(demo.Later))
	// A small register, so the exceptions show at first run.
	j.exceptionsData = demo.Exceptions(time.Now())
	j.exceptionsName = "demo exceptions register (embedded)"
	code := j.execute(ctx, nil)
	if progress.IsTerminal(e.stderr) { // the summary for people listed the reports there
		fmt.Fprintln(e.stderr, "This was the demo: the embedded sample against the built-in fake GenAuth server, compared with")
		fmt.Fprintln(e.stderr, "the same sample a month ago ("+before+"): some users changed, gone or new.")
		fmt.Fprintln(e.stderr, "Open the .html in a browser and the .xlsx in Excel or LibreOffice.")
		return code
	}
	fmt.Fprintln(e.stdout, "\nThe demo audited the embedded sample against the built-in fake GenAuth server, as it was a month ago")
	fmt.Fprintln(e.stdout, "(the baseline, "+before+") and as it is now, with some users changed, gone or new. Reports:")
	for _, f := range append(files, filepath.Join(*out, ManifestName)) {
		abs, _ := filepath.Abs(f)
		fmt.Fprintln(e.stdout, "  ", abs)
	}
	fmt.Fprintf(e.stdout, "Exit code %d. Open the .html in a browser and the .xlsx in Excel or LibreOffice;\n"+
		"`audit verify %s` checks the files against the evidence manifest.\n", code, filepath.Join(*out, ManifestName))
	return code
}
