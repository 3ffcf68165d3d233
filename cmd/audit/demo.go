package main

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
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
	environ := []string{
		"GENAUTH_HOST=" + srv.URL,
		"GENAUTH_ACCESS_KEY_ID=" + srv.PoolID,
		"GENAUTH_ACCESS_KEY_SECRET=" + srv.Secret,
		"AUDIT_SOURCE=-",
		"AUDIT_OUTPUT=" + files[0] + "," + files[1] + "," + files[2] + "," + files[3],
		"AUDIT_CONCURRENCY=16",
		"AUDIT_RATE=400",
		"AUDIT_GROUP_BY=department",
		"AUDIT_PROGRESS=auto", // a bar and the summary for people on a terminal
	}
	cfg, problems, err := loadConfig("run", flag.NewFlagSet("demo", flag.ContinueOnError), nil, environ)
	if err != nil || len(problems) > 0 { // a bug in the lines above, not the user's
		panic(fmt.Sprint("demo configuration: ", err, problems))
	}
	ctx, stop := signalContext()
	defer stop()
	j := &job{
		cmd:        "demo",
		cfg:        cfg,
		log:        newLogger(cfg.LogFormat, e.stdout, cfg.redactor()),
		stdin:      bytes.NewReader(demo.Input()),
		stdout:     e.stdout,
		stderr:     e.stderr,
		sourceName: "demo sample (400 users, embedded)",
		// A small register, so the exceptions show at first run.
		exceptionsData: demo.Exceptions(time.Now()),
		exceptionsName: "demo exceptions register (embedded)",
	}
	code := j.execute(ctx, nil)
	if progress.IsTerminal(e.stderr) { // the summary for people listed the reports there
		fmt.Fprintln(e.stderr, "This was the demo: the embedded sample against the built-in fake GenAuth server.")
		fmt.Fprintln(e.stderr, "Open the .html in a browser and the .xlsx in Excel or LibreOffice.")
		return code
	}
	fmt.Fprintln(e.stdout, "\nThe demo audited the embedded sample against the built-in fake GenAuth server. Reports:")
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		fmt.Fprintln(e.stdout, "  ", abs)
	}
	fmt.Fprintf(e.stdout, "Exit code %d. Open the .html in a browser and the .xlsx in Excel or LibreOffice.\n", code)
	return code
}
