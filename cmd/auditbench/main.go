// Command auditbench measures the scale and speed figures of SPEC section 11
// and prints them as a table: go run ./cmd/auditbench [-quick] [-only a,b]
// [-out FILE.md].
//
// It builds the audit binary and runs it, and the fake GenAuth API
// (`audit fake-genauth`), as child processes, so that the peak RSS of each
// audit run is its own (getrusage of the waited-for child). Inputs are
// generated into a temporary directory that is removed at the end (-keep
// keeps it). Progress goes to stderr, the table to stdout. The exit code is
// 1 when a target is missed or a scenario fails, 0 otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		quick   = fs.Bool("quick", false, "smaller sizes and shorter durations for a smoke run")
		only    = fs.String("only", "", "comma-separated scenarios to run ("+strings.Join(scenarioNames(), ",")+"); default all")
		out     = fs.String("out", "", "also write the table as Markdown to this file")
		bin     = fs.String("bin", "", "use this audit binary instead of building ./cmd/audit")
		pgURL   = fs.String("pg", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL for the postgres scenario")
		keep    = fs.Bool("keep", false, "keep the temporary directory (inputs, outputs, logs)")
		timeout = fs.Duration("timeout", 30*time.Minute, "bound on the whole run; scenarios not started by then are skipped")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./cmd/auditbench [-quick] [-only name,name] [-out FILE.md]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	selected, err := selectScenarios(*only)
	if err != nil {
		fmt.Fprintln(stderr, "auditbench:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "auditbench-")
	if err != nil {
		fmt.Fprintln(stderr, "auditbench:", err)
		return 1
	}
	if *keep {
		fmt.Fprintln(stderr, "auditbench: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	b := &bench{
		dir:   dir,
		quick: *quick,
		pgURL: *pgURL,
		log:   stderr,
		start: time.Now(),
		csvs:  map[int]string{},
	}
	b.tab.Title = "mfa-audit benchmark (SPEC section 11)"
	if *quick {
		b.tab.Title += " — quick run: reduced sizes, targets judged at those sizes"
	}
	b.tab.Header = machineInfo(time.Now())
	loadStart := loadAvg()

	b.bin = *bin
	if b.bin == "" {
		b.progress("building ./cmd/audit")
		if b.bin, err = buildAudit(ctx, dir); err != nil {
			fmt.Fprintln(stderr, "auditbench:", err)
			return 1
		}
	}
	if v := auditVersion(ctx, b.bin); v != "" {
		b.tab.Header = append(b.tab.Header, "audit: "+v)
	}

	for _, sc := range selected {
		if ctx.Err() != nil {
			b.tab.add(row{Scenario: sc.name, Measured: "not run: " + context.Cause(ctx).Error(), Result: resSkip})
			continue
		}
		b.progress("=== %s (load average %s)", sc.name, loadAvg())
		if err := sc.run(ctx, b); err != nil {
			b.progress("%s: %v", sc.name, err)
			b.tab.add(row{Scenario: sc.name, Measured: "error: " + oneLine(err.Error()), Result: resError})
		}
	}

	b.tab.Header = append(b.tab.Header,
		fmt.Sprintf("load average (1/5/15 min): %s at start, %s at end; other work may share the CPUs", loadStart, loadAvg()),
		"total time: "+time.Since(b.start).Round(time.Second).String())
	b.tab.Notes = append(b.tab.Notes, b.notes...)

	b.tab.writeText(stdout)
	if *out != "" {
		f, err := os.Create(*out)
		if err == nil {
			b.tab.writeMarkdown(f)
			err = f.Close()
		}
		if err != nil {
			fmt.Fprintln(stderr, "auditbench:", err)
			return 1
		}
		b.progress("wrote %s", *out)
	}
	if b.tab.failed() {
		return 1
	}
	return 0
}

func selectScenarios(only string) ([]scenario, error) {
	all := scenarios()
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	var out []scenario
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		found := false
		for _, sc := range all {
			if sc.name == name {
				out = append(out, sc)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("-only: unknown scenario %q (have %s)", name, strings.Join(scenarioNames(), ", "))
		}
	}
	return out, nil
}

func scenarioNames() []string {
	var names []string
	for _, sc := range scenarios() {
		names = append(names, sc.name)
	}
	return names
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
