package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/delivery"
	"github.com/mfa-audit/mfa-audit/genauth"
	"github.com/mfa-audit/mfa-audit/internal/progress"
	"github.com/mfa-audit/mfa-audit/internal/reach"
	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sinks"
	"github.com/mfa-audit/mfa-audit/sources"
)

// job is one audit run: configuration in, exit code out. `audit run` and
// `audit demo` both execute one.
type job struct {
	cmd    string // "run" or "report", for pointers to -h
	cfg    *Config
	log    *slog.Logger
	stdin  io.Reader         // for AUDIT_SOURCE=-
	stdout io.Writer         // where log writes (to guard from the progress bar)
	stderr io.Writer         // progress bar and, on a terminal, the summary for people
	env    map[string]string // the process environment (AWS_* for s3:// outputs)
	// sourceName, when set, names the source in reports instead of the path.
	sourceName string
	// exceptionsData, when set, is the exceptions register (the demo's
	// embedded one) instead of the file AUDIT_EXCEPTIONS names;
	// exceptionsName names it in messages and reports.
	exceptionsData []byte
	exceptionsName string
	// dirs records the output directories made, removed again when the
	// job ends in a configuration error (exit 2 leaves nothing behind).
	dirs sinks.CreatedDirs
	// reach is the start's budget for reaching Postgres (AUDIT_CONNECT_RETRY).
	reach *reach.Budget
}

// budget is the job's one budget for reaching the services it needs.
func (j *job) budget() *reach.Budget {
	if j.reach == nil {
		j.reach = reach.NewBudget(j.cfg.ConnectRetry, j.log)
	}
	return j.reach
}

// execute builds the parts, checks everything that can be checked before
// the first MFA call, runs the pipeline and maps the outcome to an exit code.
// problems are the configuration's own (from loadConfig and requireRun):
// they are reported in one list with what execute finds, and with any of
// them no output is created, so that the exit 2 leaves nothing behind.
func (j *job) execute(ctx context.Context, problems []error) int {
	cfg := j.cfg
	if cfg.RunID == "" {
		cfg.RunID = newRunID(time.Now())
	}
	var (
		client *genauth.Client
		src    pipeline.Source
		prog   = &pipeline.Progress{}
	)
	disp := progress.New(progress.Options{
		Mode: cfg.Progress, Out: j.stderr, LogOut: j.stdout, Logger: j.log,
		Total: func() int64 { return src.Total() }, // called after Start, src is open then
		Read: func() progress.Snapshot {
			st := client.Stats()
			return progress.Snapshot{
				Read: prog.RowsRead.Load(), Done: prog.Done.Load(), Skipped: prog.Skipped.Load(), Unknown: prog.Unknown.Load(),
				Resumed: prog.Resumed.Load(), Throttled: st.Throttled, Rate: st.CurrentRate,
			}
		},
	})
	if disp.Bar() && j.stdout != nil { // a log line clears the bar's line first
		j.log = newLogger(cfg.LogFormat, disp.Guard(j.stdout), cfg.redactor())
		disp.SetLogger(j.log)
	}
	client, err := genauth.New(genauth.Config{
		Host:            cfg.Host,
		AccessKeyID:     cfg.AccessKeyID,
		AccessKeySecret: cfg.AccessKeySecret,
		TenantID:        cfg.TenantID,
		Rate:            cfg.Rate,
		Concurrency:     cfg.Concurrency,
		Timeout:         cfg.Timeout,
		Retries:         retries(cfg.Retries),
		AllowHTTP:       cfg.AllowHTTP,
		UserAgent:       "mfa-audit/" + toolVersion(),
		Logger:          j.log,
	})
	// Everything that can be checked without the API is checked first and
	// reported together: the host, every output, a file or SQL source. A
	// check whose variables are already blamed is skipped (one message per
	// cause).
	if err != nil && !cfg.isBlamed("GENAUTH_HOST", "GENAUTH_ACCESS_KEY_ID", "GENAUTH_ACCESS_KEY_SECRET",
		"GENAUTH_ACCESS_KEY_SECRET_FILE", "AUDIT_RATE", "AUDIT_CONCURRENCY", "AUDIT_TIMEOUT", "AUDIT_ALLOW_HTTP") {
		problems = append(problems, fmt.Errorf("GENAUTH_HOST: %w", err))
	}
	var (
		outs   []pipeline.Sink
		prior  pipeline.Prior
		fin    *finisher
		outage error // a service needed at the start did not answer: exit 1
	)
	var finProblem error
	if len(problems) == 0 {
		// The finisher stages s3:// outputs, so it comes before them.
		if fin, err = prepareFinish(ctx, cfg, j.env, j.log, "run", j.budget()); errors.Is(err, delivery.ErrUnreachable) {
			outage = err
		} else {
			finProblem = err
		}
	}
	if len(problems) == 0 && outage == nil {
		if outs, prior, err = openOutputs(ctx, cfg, &j.dirs, j.budget()); err != nil {
			problems = append(problems, err)
		} else if prior == nil { // no Postgres output to resume from
			var jp *sources.JSONLPrior
			if jp, err = jsonlPrior(cfg, j.log); err != nil {
				problems = append(problems, err)
			} else if jp != nil {
				prior = jp
				defer jp.Close()
			}
		}
	}
	if finProblem != nil {
		problems = append(problems, finProblem)
	}
	register, err := j.loadExceptions()
	if err != nil {
		problems = append(problems, err)
	}
	if fin != nil && cfg.Source == "-" {
		j.stdin = fin.wrapStdin(j.stdin)
	}
	// runSrc is src with its first subject read ahead (peekSource); src
	// itself stays for what the start line says of it.
	var runSrc pipeline.Source
	if cfg.Source != poolSource && cfg.Source != "" && !cfg.sourceBlamed() {
		if src, err = j.openSource(ctx, nil); err != nil {
			problems = append(problems, err)
		} else if err := checkGroupBy(cfg.GroupBy, src); err != nil && !cfg.isBlamed("AUDIT_GROUP_BY") {
			problems = append(problems, err)
		} else if err := checkSource(ctx, src); err != nil {
			problems = append(problems, err)
		} else if runSrc, err = peekSource(ctx, src, j.sourceName); err != nil {
			problems = append(problems, err)
		}
	}
	abandon := func() {
		closeAll(outs)
		fin.discard()
		if src != nil {
			src.Close()
		}
	}
	var changes changeSetup
	if len(problems) == 0 {
		desc := j.sourceName
		switch {
		case desc != "":
		case src != nil:
			desc = src.Describe()
		default:
			desc = poolSource
		}
		if changes, err = loadChanges(ctx, cfg, j.log, desc, cfg.RunID, time.Now()); err != nil {
			problems = append(problems, err)
		}
	}
	defer changes.close()
	fin.describeBaseline(changes.baseline)
	if len(problems) > 0 {
		abandon()
		return j.usage(errors.Join(problems...))
	}
	if outage != nil {
		abandon()
		j.log.Error("a service the run needs did not answer; a later run may succeed", "err", outage.Error(), "exit_code", exitFailed)
		return exitFailed
	}
	inputName := j.sourceName
	if inputName == "" {
		inputName = poolSource // opened after the token exchange
		if src != nil {
			inputName = src.Describe()
		}
	}
	if err := fin.describeInput(cfg, inputName); err != nil {
		abandon()
		return j.usage(err)
	}
	// The token exchange proves the credentials before any MFA call and
	// before the whole-pool source lists users.
	if err := client.Authenticate(ctx); err != nil {
		abandon()
		if genauth.ErrorClass(err) == genauth.ClassAuth {
			return j.usage(fmt.Errorf("GENAUTH_ACCESS_KEY_ID / GENAUTH_ACCESS_KEY_SECRET: %w", err))
		}
		j.log.Error("cannot reach the GenAuth API", "host", cfg.Host, "err", err)
		return exitFailed
	}
	if src == nil {
		if src, err = j.openSource(ctx, client); err == nil {
			err = checkGroupBy(cfg.GroupBy, src)
		}
		if err != nil {
			abandon()
			return j.usage(err)
		}
	}
	defer src.Close()

	run := pipeline.RunInfo{
		RunID:     cfg.RunID,
		StartedAt: time.Now(),
		Source:    j.sourceName,
		Host:      cfg.Host,
		Hostname:  hostname(),
		Version:   toolVersion(),
		GroupBy:   cfg.GroupBy,
		Shard:     cfg.shard,
		Config:    cfg.public(),
		Evidence:  fin.evidence(),
		FakeAPI:   client.FakeAPI(),
	}
	if run.FakeAPI {
		j.log.Warn("FAKE API: "+cfg.Host+" is the built-in fake GenAuth server; these answers say nothing about a real user pool", "fake_api", true)
	}
	judge := j.exceptionsJudge(register, &run)
	disp.Start()
	j.log.Info("audit started", append([]any{"run_id", run.RunID, "source", describeSource(src, j.sourceName)},
		append(sourceLayout(src),
			"outputs", len(outs), "concurrency", cfg.Concurrency, "rate", cfg.Rate, "shard", cfg.shard.String())...)...)
	if runSrc == nil {
		runSrc = src // the whole pool: an empty listing is a finding of the run (exit 1)
	}
	window := windowFor(cfg.Concurrency, cfg.Rate)
	sum, runErr := pipeline.Run(ctx, runSrc, outs, run, pipeline.Options{
		Client:        client,
		Policy:        pipeline.Policy(cfg.Policy),
		DefaultIDType: cfg.IDType,
		MaxUnknown:    cfg.MaxUnknown,
		Window:        window,
		Prior:         prior,
		Exceptions:    judge,
		Progress:      prog,
		OnDedupeGrow:  memoryBudget(window, changes.bytes()),
		Baseline:      changes.baseline,
		Trend:         changes.trend,
		Logger:        j.log,
	})
	disp.Stop()
	logPoolListing(j.log, src)
	logExceptionNotes(j.log, &sum)
	code := exitCode(cfg, &sum, runErr)
	in := finishInputs{sum: &sum, stats: client.Stats(), code: code}
	if pool, ok := src.(*sources.Pool); ok {
		start, end, _, _ := pool.Counts()
		s, e := int64(start), int64(end)
		in.totalStart, in.totalEnd = &s, &e
	}
	code = fin.finish(ctx, in)
	logSummary(j.log, cfg, &sum, client.Stats(), code, runErr)
	logOutputs(j.log, cfg)
	if disp.Bar() || progress.IsTerminal(j.stderr) {
		printFinish(j.stderr, progress.Width(j.stderr)-1, cfg, &sum, code, "run")
	}
	return code
}

// streamingBudget is the memory the Go runtime manages for a run whatever
// its size, beside the stacks of its window: buffers of the sources and
// sinks, the results in progress, and the collector's headroom over them
// (a run of 100,000 subjects keeps about 9 MB live and lets the heap reach
// 20 MB). windowBudget is what one subject in progress adds: its
// goroutine's stack and its result.
const (
	streamingBudget = 24 << 20
	windowBudget    = 32 << 10
)

// memoryBudget sets the Go runtime's soft memory limit to what a run of
// this window needs whatever its size (streamingBudget, windowBudget) plus
// extra, memory held for the whole run (the baseline's table), and returns
// the hook that adds the de-duplication table as it grows (the old and the
// new one while it grows). The tables are counted once: without a limit
// the collector lets the heap reach twice what is live, so RSS would grow
// twice as fast as the tables. A GOMEMLIMIT set by the operator wins: then
// it returns nil.
func memoryBudget(window int, extra int64) func(int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	base := streamingBudget + int64(window)*windowBudget + extra
	debug.SetMemoryLimit(base)
	return func(table int64) {
		debug.SetMemoryLimit(base + table)
	}
}

// windowFor sizes the pipeline's window of subjects in progress: several
// times the requests in flight, and at a rate ceiling enough subjects to go
// on at that rate for the longest retry wait (genauth's 30 s cap on
// Retry-After), so that one subject waiting its turn does not stall the
// others behind it. Capped at 2048 (goroutines and held results).
func windowFor(concurrency int, rate float64) int {
	w := max(256, 16*concurrency)
	if rate > 0 {
		w = max(w, int(rate*genauth.DefaultMaxRetryAfter.Seconds()))
	}
	return min(w, 2048)
}

// retries maps AUDIT_RETRIES to genauth.Config.Retries, where 0 means the
// default and a negative number none.
func retries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// usage reports configuration problems: exit 2, nothing written. When
// every problem is a service that could not be reached (an outage, not a
// mistake), it is exit 1 instead: the scheduler retries later (SPEC 8).
func (j *job) usage(err error) int {
	j.dirs.Remove()
	if all := flatten(err); len(all) > 0 && !slices.ContainsFunc(all, func(e error) bool { return !reach.IsUnreachable(e) }) {
		for _, e := range all {
			j.log.Error("cannot reach a service the run needs; nothing was asked or written", "err", e.Error(), "exit_code", exitFailed)
		}
		return exitFailed
	}
	cmd := j.cmd
	if cmd == "" {
		cmd = "run"
	}
	return logProblems(j.log, cmd, flatten(err))
}

// sourceBlamed reports whether a variable that opening the source depends
// on is already reported wrong.
func (c *Config) sourceBlamed() bool {
	for name := range c.blamed {
		if strings.HasPrefix(name, "AUDIT_SOURCE") || strings.HasPrefix(name, "AUDIT_ID") || strings.HasPrefix(name, "AUDIT_CSV") {
			return true
		}
	}
	return false
}

// checkGroupBy makes sure AUDIT_GROUP_BY names one of the source's
// attribute columns: a typo would otherwise put everyone in "(none)".
func checkGroupBy(groupBy string, src pipeline.Source) error {
	if groupBy == "" || slices.Contains(src.AttrNames(), groupBy) {
		return nil
	}
	return fmt.Errorf("AUDIT_GROUP_BY: %s has no attribute column %q (it has: %s)",
		describeSource(src, ""), groupBy, strings.Join(src.AttrNames(), ", "))
}

// poolSource is the AUDIT_SOURCE that audits every user of the pool.
const poolSource = "genauth:users"

// openSource opens AUDIT_SOURCE; client is needed only for poolSource.
func (j *job) openSource(ctx context.Context, client *genauth.Client) (pipeline.Source, error) {
	cfg := j.cfg
	switch {
	case cfg.Source == poolSource:
		src, err := sources.OpenPool(ctx, client)
		if err != nil {
			return nil, fmt.Errorf("AUDIT_SOURCE: %w", err)
		}
		return src, nil
	case isPostgresURL(cfg.Source):
		var src *sources.Postgres
		err := j.budget().Connect(ctx, "Postgres source (AUDIT_SOURCE "+redact.URL(cfg.Source)+")", func(ctx context.Context) (err error) {
			src, err = sources.OpenPostgres(ctx, cfg.Source, cfg.SourceQuery, sources.PostgresOptions{
				IDColumn: cfg.IDColumn, IDTypeColumn: cfg.IDTypeColumn, DefaultIDType: cfg.IDType,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	return openFileSource(cfg, j.stdin)
}

// openOutputs builds every sink of AUDIT_OUTPUT, proving each can be
// written (making missing directories, recorded in dirs), and, when a Postgres output already holds results of the run id,
// the Prior that resumes it. All problems are returned together.
func openOutputs(ctx context.Context, cfg *Config, dirs *sinks.CreatedDirs, b *reach.Budget) ([]pipeline.Sink, pipeline.Prior, error) {
	opt := sinks.Options{MaskPII: cfg.MaskPII, HTMLMaxRows: cfg.HTMLMaxRows, FileMode: cfg.fileMode, Dirs: dirs}
	for _, o := range cfg.outputs {
		opt.Outputs = append(opt.Outputs, o.kind)
	}
	var (
		outs  []pipeline.Sink
		prior pipeline.Prior
		errs  []error
	)
	for _, o := range cfg.outputs {
		var (
			s   pipeline.Sink
			err error
		)
		if o.path == "" { // an s3:// output that could not be staged: said already
			continue
		}
		switch o.kind {
		case "xlsx":
			s, err = sinks.NewXLSX(o.path, opt)
		case "html":
			s, err = sinks.NewHTML(o.path, opt)
		case "csv":
			s, err = sinks.NewCSV(o.path, opt)
		case "jsonl":
			s, err = sinks.NewJSONL(o.path, opt)
		case "postgres":
			var pg *sinks.Postgres
			err = b.Connect(ctx, "Postgres output (AUDIT_OUTPUT "+redact.URL(o.path)+")", func(ctx context.Context) (err error) {
				pg, err = sinks.NewPostgres(ctx, o.path, sinks.PostgresSinkOptions{Schema: cfg.PGSchema})
				return err
			})
			if err == nil {
				// A complete run is never stored into again (SPEC 2, 5).
				if err = pg.CheckNotComplete(ctx, cfg.RunID); err != nil {
					pg.Discard()
				}
			}
			if err == nil && prior == nil {
				prior, err = pg.Prior(ctx, cfg.RunID)
			}
			s = pg
		}
		if err != nil {
			if o.kind != "postgres" { // the Postgres sink names AUDIT_OUTPUT itself
				err = fmt.Errorf("AUDIT_OUTPUT %s: %w", o.path, err)
			}
			errs = append(errs, err)
			continue
		}
		outs = append(outs, s)
	}
	if len(errs) > 0 {
		closeAll(outs)
		return nil, nil, errors.Join(errs...)
	}
	return outs, prior, nil
}

// closeAll releases sinks that were built but will not run.
func closeAll(outs []pipeline.Sink) {
	for _, s := range outs {
		if c, ok := s.(interface{ Discard() }); ok {
			c.Discard()
		}
	}
}

// logSummary writes the final summary line (SPEC section 6).
func logSummary(log *slog.Logger, cfg *Config, s *pipeline.Summary, st genauth.Stats, code int, runErr error) {
	dur := s.FinishedAt.Sub(s.Run.StartedAt)
	attrs := []any{
		"run_id", s.Run.RunID, "complete", s.Complete, "exit_code", code,
		"api", apiWord(s.Run.FakeAPI),
		"rows_read", s.RowsRead, "unique", s.Unique, "duplicates", s.Duplicates,
		"ok", s.OK, "not_found", s.NotFound, "invalid", s.Invalid, "unknown", s.Error,
		"compliant", s.Compliant, "non_compliant", s.NonCompliant,
		"coverage_pct", logShare(s.CoverageShare()), "completeness_pct", logShare(s.CompletenessShare()),
		"strong", s.Strong, "weak", s.Weak, "none", s.None,
		"totp", s.TOTP, "face", s.Face, "sms", s.SMS, "email", s.Email,
		"resumed", s.Resumed, "other_shards", s.OtherShard,
		"requests", st.Requests, "retries", st.Retries, "throttled", st.Throttled,
		"duration", dur.Round(time.Millisecond).String(),
		"users_per_sec", round1(float64(s.Unique) / max(dur.Seconds(), 1e-9)),
	}
	attrs = append(attrs, exceptionLogAttrs(s)...)
	if s.Run.Policy != "" {
		attrs = append(attrs, "policy", string(s.Run.Policy))
	}
	if !s.Complete {
		attrs = append(attrs, "incomplete", s.Incomplete)
	}
	attrs = append(attrs, changeLogAttrs(s)...)
	if runErr != nil {
		attrs = append(attrs, "err", runErr.Error())
	}
	level, msg, more := verdictLine(cfg, s, code, runErr)
	log.Log(context.Background(), level, msg, append(more, attrs...)...)
}

// logShare is a share for the log line: the percentage every report shows
// (76.8), or "n/a" when there is nothing to divide by.
func logShare(sh pipeline.Share) any {
	if p, ok := sh.Percent(); ok {
		return p
	}
	return pipeline.NA
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// newRunID returns an identifier that sorts by start time:
// 20261127T175500Z-3f9a1c.
func newRunID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func describeSource(src pipeline.Source, override string) string {
	if override != "" {
		return override
	}
	return src.Describe()
}

// flatten splits a joined error into its parts.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// apiWord names what answered the run in its last log line.
func apiWord(fake bool) string {
	if fake {
		return "FAKE API"
	}
	return "GenAuth"
}
