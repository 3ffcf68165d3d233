package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// run is `audit run`.
func (e *cmdEnv) run(args []string) int {
	fs := flag.NewFlagSet("audit run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfg, err := loadConfig(fs, args, e.environ)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		err = cfg.requireRun()
	}
	if err != nil {
		printConfigErrors(e.stderr, err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()
	j := &job{cfg: cfg, log: newLogger(cfg.LogFormat, e.stdout), stdin: e.stdin, stderr: e.stderr}
	return j.execute(ctx)
}

// signalContext is cancelled by the first SIGINT or SIGTERM (stop asking,
// flush, mark incomplete); a second one kills the process at once.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore the default action for a second signal
	}()
	return ctx, stop
}

// printConfigErrors lists every configuration problem, one a line.
func printConfigErrors(w io.Writer, err error) {
	fmt.Fprintln(w, "audit: configuration error:")
	for _, e := range flatten(err) {
		fmt.Fprintln(w, "  -", e)
	}
}

// newLogger logs to w (stdout) as text or JSON.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
