package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mfa-audit/mfa-audit/internal/redact"
)

// run is `audit run`.
func (e *cmdEnv) run(args []string) int {
	fs := flag.NewFlagSet("audit run", flag.ContinueOnError)
	cfg, problems, err := loadConfig("run", fs, args, e.environ)
	log := newLogger(cfg.LogFormat, e.stdout, cfg.redactor())
	if code, done := e.helpOrUsageError("run", fs, err, usageLogger(log)); done {
		return code
	}
	problems = append(problems, cfg.requireRun()...)
	ctx, stop := signalContext()
	defer stop()
	j := &job{cmd: "run", cfg: cfg, log: log, stdin: e.stdin, stdout: e.stdout, stderr: e.stderr, env: environMap(e.environ)}
	return j.execute(ctx, problems)
}

// usageLogger writes a usage mistake as one error log line.
func usageLogger(log *slog.Logger) func(string) {
	return func(line string) { log.Error(line, "exit_code", exitUsage) }
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

// newLogger logs to w (stdout) as text or JSON (anything but "json" is
// text, so that a bad AUDIT_LOG_FORMAT is itself reported). Every line
// passes through r (redact.Handler): no password is ever logged.
func newLogger(format string, w io.Writer, r *redact.Redactor) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(w, nil)
	if format == "json" {
		h = slog.NewJSONHandler(w, nil)
	}
	return slog.New(redact.Handler(h, r))
}
