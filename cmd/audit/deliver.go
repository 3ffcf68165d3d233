package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mfa-audit/mfa-audit/delivery"
	"github.com/mfa-audit/mfa-audit/evidence"
	"github.com/mfa-audit/mfa-audit/genauth"
	"github.com/mfa-audit/mfa-audit/internal/buildinfo"
	"github.com/mfa-audit/mfa-audit/internal/reach"
	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sinks"
)

// ManifestName is the evidence manifest's file name beside the first file
// output (AUDIT_MANIFEST's default).
const ManifestName = "mfa-audit.manifest.json"

// finisher does what follows a run once the pipeline has closed every
// output (SPEC 15, 16): staged s3:// outputs are uploaded with their
// markers, the report is mailed, the metrics pushed or written, and last
// the evidence manifest is written (signed when a key is given), uploaded
// beside an s3:// first output, and stored in the Postgres runs row.
//
// prepareFinish builds it before any API call, proving what can be proved
// (bucket, key, paths); finish runs once at the end. A delivery that fails
// is logged and makes the exit code 1; the reports stay written.
type finisher struct {
	cfg     *Config
	log     *slog.Logger
	command string // run, report

	s3        *delivery.S3
	stageDir  string // local folder of the staged s3:// outputs
	key       ed25519.PrivateKey
	manifest  string // local manifest path; "" for none
	remote    string // s3:// URL of the manifest, when uploaded
	mail      delivery.MailConfig
	source    evidence.Source
	input     *evidence.HashingReader // stdin as read, else nil
	baseline  *evidence.Ref
	exception *evidence.Ref
}

// prepareFinish checks the delivery and evidence settings and stages the
// s3:// outputs (their local paths are set in cfg.outputs). Every problem is
// returned together; ErrUnreachable-wrapped ones are outages (exit 1).
func prepareFinish(ctx context.Context, cfg *Config, env map[string]string, log *slog.Logger, command string, budget *reach.Budget) (*finisher, error) {
	f := &finisher{cfg: cfg, log: log, command: command}
	errs := f.prepareS3(ctx, env, budget)
	errs = append(errs, f.planManifest()...)
	errs = append(errs, f.prepareMail()...)
	errs = append(errs, checkMetrics(cfg)...)
	if err := errors.Join(errs...); err != nil {
		f.discard()
		return nil, err
	}
	return f, nil
}

// prepareS3 proves every bucket of the s3:// outputs (an outage retried
// within the start-up budget, AUDIT_CONNECT_RETRY, like Postgres; a
// missing bucket or refused credentials not), then stages each output in a
// folder of its own under the temporary directory.
func (f *finisher) prepareS3(ctx context.Context, env map[string]string, budget *reach.Budget) []error {
	var errs []error
	buckets := map[string]bool{}
	for _, o := range f.cfg.outputs {
		if o.remote == "" {
			continue
		}
		obj, err := delivery.ParseS3URL(o.remote)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_OUTPUT: %w", err))
			continue
		}
		if f.s3 == nil {
			if f.s3, err = delivery.NewS3(delivery.S3Config{Endpoint: f.cfg.S3Endpoint, Env: env}); err != nil {
				return append(errs, err)
			}
		}
		if buckets[obj.Bucket] {
			continue
		}
		buckets[obj.Bucket] = true
		err = budget.Connect(ctx, "object storage "+o.remote+" (AUDIT_OUTPUT, AUDIT_S3_ENDPOINT)", func(ctx context.Context) error {
			return f.s3.CheckBucket(ctx, obj.Bucket)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_OUTPUT %s: %w", o.remote, err))
		}
	}
	if len(errs) > 0 || f.s3 == nil {
		return errs
	}
	dir, err := os.MkdirTemp("", "mfa-audit-stage-")
	if err != nil {
		return []error{fmt.Errorf("staging s3:// outputs in %s: %w", os.TempDir(), err)}
	}
	f.stageDir = dir
	for i := range f.cfg.outputs {
		if o := &f.cfg.outputs[i]; o.remote != "" {
			o.path = filepath.Join(dir, strconv.Itoa(i), filepath.Base(o.remote))
			if err := os.Mkdir(filepath.Dir(o.path), 0o700); err != nil {
				errs = append(errs, fmt.Errorf("staging %s: %w", o.remote, err))
			}
		}
	}
	return errs
}

// planManifest places the manifest (AUDIT_MANIFEST, else beside the first
// file output, uploaded beside it when that is an s3:// one) and loads the
// signing key.
func (f *finisher) planManifest() []error {
	var errs []error
	switch m := strings.TrimSpace(f.cfg.Manifest); {
	case strings.EqualFold(m, "none"):
	case delivery.IsS3URL(m):
		errs = append(errs, errors.New("AUDIT_MANIFEST: an s3:// manifest goes beside an s3:// first output by itself; give a local path or leave it unset"))
	case m != "":
		f.manifest = m
	default:
		for _, o := range f.cfg.outputs {
			if o.kind == "postgres" {
				continue
			}
			f.manifest = filepath.Join(filepath.Dir(o.path), ManifestName)
			if o.remote != "" {
				f.remote = remoteBeside(o.remote, ManifestName)
			}
			break
		}
	}
	if f.manifest != "" && f.remote == "" && !besideAnOutput(f.cfg, f.manifest) {
		if err := checkCreatable(f.manifest); err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_MANIFEST: %w", err))
		}
	}
	if f.cfg.SigningKeyFile != "" {
		k, err := evidence.LoadSigningKey(f.cfg.SigningKeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_SIGNING_KEY_FILE: %w", err))
		}
		if f.manifest == "" {
			errs = append(errs, errors.New("AUDIT_SIGNING_KEY_FILE: signs the manifest, but AUDIT_MANIFEST is none or there is no file output"))
		}
		f.key = k
	}
	return errs
}

// prepareMail reads the mail settings and the SMTP password.
func (f *finisher) prepareMail() []error {
	cfg := f.cfg
	if cfg.MailTo == "" {
		if cfg.MailFrom != "" || cfg.SMTPURL != "" {
			return []error{errors.New("AUDIT_MAIL_TO: required with AUDIT_MAIL_FROM / AUDIT_SMTP_URL (the comma-separated recipients)")}
		}
		return nil
	}
	var errs []error
	f.mail = delivery.MailConfig{From: cfg.MailFrom, SMTPURL: cfg.SMTPURL, Password: cfg.SMTPPassword, MaxBytes: int64(cfg.MailMaxMB * 1e6)}
	for _, a := range strings.Split(cfg.MailTo, ",") {
		if a = strings.TrimSpace(a); a != "" {
			f.mail.To = append(f.mail.To, a)
		}
	}
	if cfg.SMTPPasswordFile != "" {
		b, err := os.ReadFile(cfg.SMTPPasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_SMTP_PASSWORD_FILE: %w", errors.Unwrap(err)))
		}
		f.mail.Password = strings.TrimSpace(string(b))
	}
	if err := f.mail.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.MailMaxMB < 0 {
		errs = append(errs, fmt.Errorf("AUDIT_MAIL_MAX_MB: %v is negative", cfg.MailMaxMB))
	}
	return errs
}

// checkMetrics checks the Pushgateway URL and the metrics file's place.
func checkMetrics(cfg *Config) []error {
	var errs []error
	if u := cfg.PushgatewayURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			errs = append(errs, fmt.Errorf("AUDIT_PUSHGATEWAY_URL: %q is not an http(s) URL", redact.URL(u)))
		}
	}
	if p := cfg.MetricsFile; p != "" {
		if !strings.HasSuffix(p, ".prom") {
			errs = append(errs, fmt.Errorf("AUDIT_METRICS_FILE: %q must end in .prom (node_exporter's textfile collector reads only those)", p))
		} else if err := checkCreatable(p); err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_METRICS_FILE: %w", err))
		}
	}
	return errs
}

// besideAnOutput reports whether path lies in the folder of a file output,
// whose own check covers it.
func besideAnOutput(cfg *Config, path string) bool {
	for _, o := range cfg.outputs {
		if o.kind != "postgres" && o.remote == "" && filepath.Dir(o.path) == filepath.Dir(path) {
			return true
		}
	}
	return false
}

// checkCreatable proves that a file can later be created at path without
// creating anything now (a run that exits 2 leaves nothing behind): the
// nearest existing folder on the way must be a folder this process can
// write in.
func checkCreatable(path string) error {
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s: %s is not a folder", path, dir)
			}
			f, err := os.CreateTemp(dir, ".mfa-audit-check-*")
			if err != nil {
				return fmt.Errorf("%s: cannot write in %s: %w", path, dir, errors.Unwrap(err))
			}
			f.Close()
			return os.Remove(f.Name())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("%s: %w", path, err)
		}
		dir = parent
	}
}

// remoteBeside returns the s3:// URL of name in the folder of u.
func remoteBeside(u, name string) string {
	i := strings.LastIndexByte(u, '/')
	return u[:i+1] + name
}

// discard removes the staging folder.
func (f *finisher) discard() {
	if f != nil && f.stageDir != "" {
		os.RemoveAll(f.stageDir)
	}
}

// wrapStdin returns stdin hashed as it is read, for the manifest.
func (f *finisher) wrapStdin(r io.Reader) io.Reader {
	f.input = evidence.NewHashingReader(r)
	return f.input
}

// describeInput records what the source is, before the run: a file is
// hashed now, stdin as it is read (wrapStdin).
func (f *finisher) describeInput(cfg *Config, desc string) error {
	s := evidence.Source{Description: desc}
	switch {
	case cfg.Source == poolSource:
		s.Kind = poolSource
	case isPostgresURL(cfg.Source):
		s.Kind, s.Query, s.QuerySHA256 = "postgres", cfg.SourceQuery, evidence.HashString(cfg.SourceQuery)
	case cfg.Source == "-":
		s.Kind = "stdin"
	default:
		s.Kind, s.Path = "file", cfg.Source
		sum, n, err := evidence.HashFile(strings.SplitN(cfg.Source, "#", 2)[0])
		if err != nil {
			return fmt.Errorf("AUDIT_SOURCE: %w", err)
		}
		s.SHA256, s.Bytes = sum, evidence.Int64(n)
	}
	f.source = s
	return f.describeRegister(cfg)
}

// describeRegister records the exceptions register's file for the
// manifest.
func (f *finisher) describeRegister(cfg *Config) error {
	if cfg.Exceptions == "" {
		return nil
	}
	sum, n, err := evidence.HashFile(cfg.Exceptions)
	if err != nil {
		return fmt.Errorf("AUDIT_EXCEPTIONS: %w", err)
	}
	f.exception = &evidence.Ref{Path: cfg.Exceptions, SHA256: sum, Bytes: evidence.Int64(n)}
	return nil
}

// describeBaseline records the baseline the run was compared with.
func (f *finisher) describeBaseline(b *pipeline.Baseline) {
	if f == nil || b == nil {
		return
	}
	info := b.Info()
	ref := &evidence.Ref{RunID: info.RunID, Path: info.File}
	if info.File != "" {
		if sum, n, err := evidence.HashFile(info.File); err == nil {
			ref.SHA256, ref.Bytes = sum, evidence.Int64(n)
		}
	}
	f.baseline = ref
}

// describeReportSource records the stored run `audit report` renders.
func (f *finisher) describeReportSource(cfg *Config) error {
	if isPostgresURL(cfg.ReportFrom) {
		f.source = evidence.Source{Kind: "postgres-run", Description: redact.URL(cfg.ReportFrom) + " run " + cfg.RunID}
		return f.describeRegister(cfg)
	}
	sum, n, err := evidence.HashFile(cfg.ReportFrom)
	if err != nil {
		return fmt.Errorf("AUDIT_REPORT_FROM: %w", err)
	}
	f.source = evidence.Source{Kind: "jsonl", Description: cfg.ReportFrom, Path: cfg.ReportFrom, SHA256: sum, Bytes: evidence.Int64(n)}
	return f.describeRegister(cfg)
}

// evidence is what the reports show of the run's evidence (SPEC 15 part 5).
func (f *finisher) evidence() *pipeline.Evidence {
	e := &pipeline.Evidence{Revision: buildinfo.Read().Revision, Manifest: f.manifest}
	if f.remote != "" {
		e.Manifest = f.remote
	} else if f.manifest != "" {
		if abs, err := filepath.Abs(f.manifest); err == nil {
			e.Manifest = abs
		}
	}
	e.InputSHA256 = func() string {
		if f.input != nil {
			sum, _ := f.input.Sum()
			return sum
		}
		return f.source.SHA256
	}
	return e
}

// finishInputs holds what the run knows at its end for the finisher.
type finishInputs struct {
	sum   *pipeline.Summary
	stats genauth.Stats
	code  int
	// pool counts of a whole-pool listing, when known
	totalStart, totalEnd *int64
}

// finish delivers and records the run; it returns the final exit code.
func (f *finisher) finish(ctx context.Context, in finishInputs) int {
	defer f.discard()
	ctx = context.WithoutCancel(ctx) // delivery happens also after a signal
	code := in.code
	fail := func(what string, err error) {
		f.log.Error(what+" failed; the reports stay written", "err", err.Error())
		code = exitFailed
	}
	// 1. Uploads.
	for _, o := range f.cfg.outputs {
		if o.remote == "" {
			continue
		}
		obj, _ := delivery.ParseS3URL(o.remote)
		if _, err := os.Stat(o.path); err != nil {
			fail("uploading "+o.remote, fmt.Errorf("no local file to upload: %w", err))
			continue
		}
		if err := f.s3.Upload(ctx, o.path, obj, delivery.ContentType(o.path)); err != nil {
			fail("uploading "+o.remote, err)
			continue
		}
		reason := ""
		if b, err := os.ReadFile(o.path + ".incomplete"); err == nil {
			reason = strings.TrimPrefix(strings.TrimSpace(string(b)), "INCOMPLETE RUN: ")
		}
		if err := f.s3.Mark(ctx, obj, reason); err != nil {
			fail("marking "+o.remote, err)
		}
	}
	// 2. Mail.
	if len(f.mail.To) > 0 {
		if err := f.sendMail(ctx, in.sum, code); err != nil {
			fail("mailing the report", err)
		}
	}
	// 3. Metrics.
	if f.cfg.PushgatewayURL != "" || f.cfg.MetricsFile != "" {
		m := runMetrics(f.cfg, in.sum, in.stats, code)
		if f.cfg.PushgatewayURL != "" {
			if err := delivery.Push(ctx, f.cfg.PushgatewayURL, m); err != nil {
				fail("pushing metrics", err)
			}
		}
		if f.cfg.MetricsFile != "" {
			if err := delivery.WriteFile(f.cfg.MetricsFile, m, f.cfg.fileMode); err != nil {
				fail("writing the metrics file", err)
			}
		}
	}
	// 4. The manifest, last: after every output is closed and delivered.
	if f.manifest != "" || hasPostgres(f.cfg) {
		m := f.buildManifest(ctx, in, code)
		if err := f.writeManifest(ctx, m); err != nil {
			fail("writing the evidence manifest", err)
		}
	}
	return code
}

// writeManifest writes, signs, uploads and stores m.
func (f *finisher) writeManifest(ctx context.Context, m *evidence.Manifest) error {
	var data []byte
	var err error
	if f.manifest != "" {
		if err := os.MkdirAll(filepath.Dir(f.manifest), 0o700); err != nil {
			return err
		}
		if data, err = evidence.Write(f.manifest, m, f.key, f.cfg.fileMode); err != nil {
			return err
		}
		if f.remote != "" {
			obj, _ := delivery.ParseS3URL(f.remote)
			if err := f.s3.Upload(ctx, f.manifest, obj, "application/json"); err != nil {
				return err
			}
			if f.key != nil {
				sig, _ := delivery.ParseS3URL(f.remote + evidence.SigExt)
				if err := f.s3.Upload(ctx, f.manifest+evidence.SigExt, sig, "application/octet-stream"); err != nil {
					return err
				}
			}
			f.log.Info("evidence manifest uploaded", "url", f.remote)
		} else {
			f.log.Info("evidence manifest written", "path", f.manifest, "signed", f.key != nil)
		}
	} else if data, err = evidence.Marshal(m); err != nil {
		return err
	}
	for _, o := range f.cfg.outputs {
		if o.kind != "postgres" {
			continue
		}
		if err := sinks.StorePGManifest(ctx, o.path, f.cfg.PGSchema, f.cfg.RunID, f.cfg.shard.Index, data); err != nil {
			return err
		}
	}
	return nil
}

func hasPostgres(cfg *Config) bool {
	for _, o := range cfg.outputs {
		if o.kind == "postgres" {
			return true
		}
	}
	return false
}

// buildManifest describes the finished run (SPEC 15).
func (f *finisher) buildManifest(ctx context.Context, in finishInputs, code int) *evidence.Manifest {
	s := in.sum
	m := &evidence.Manifest{
		Schema: evidence.Schema, RunID: s.Run.RunID, Command: f.command, Tool: buildinfo.Read(),
		APIHost: redact.URL(s.Run.Host), StartedAt: s.Run.StartedAt.UTC(), FinishedAt: s.FinishedAt.UTC(),
		Complete: s.Complete && !s.Failed, Incomplete: s.Caveat(), ExitCode: code, Config: s.Run.Config,
		Source: f.source, Baseline: f.baseline, Exceptions: f.exception, Summary: manifestSummary(s),
	}
	if f.command == "report" {
		m.APIHost = ""
	}
	if e := s.Exceptions; e != nil && e.SHA256 != "" && m.Exceptions != nil {
		m.Exceptions.SHA256 = e.SHA256 // the bytes that were validated
	}
	if f.input != nil {
		sum, n := f.input.Sum()
		m.Source.SHA256, m.Source.Bytes = sum, evidence.Int64(n)
	}
	if m.Source.Kind == "file" || m.Source.Kind == "stdin" {
		m.Source.Rows = evidence.Int64(s.RowsRead)
	}
	m.Source.TotalCountStart, m.Source.TotalCountEnd = in.totalStart, in.totalEnd
	dir := "."
	if f.manifest != "" {
		dir = filepath.Dir(f.manifest)
	}
	// Input paths as seen from the manifest, like the outputs'.
	if m.Source.Path != "" {
		m.Source.Path = evidence.RelPath(dir, strings.SplitN(m.Source.Path, "#", 2)[0])
	}
	for _, r := range []*evidence.Ref{m.Baseline, m.Exceptions} {
		if r != nil && r.Path != "" {
			r.Path = evidence.RelPath(dir, r.Path)
		}
	}
	for _, o := range f.cfg.outputs {
		out := evidence.Output{Kind: o.kind}
		switch {
		case o.kind == "postgres":
			out.Path, out.Schema, out.RunID = redact.URL(o.path), f.cfg.PGSchema, s.Run.RunID
			if n, err := sinks.PGRunRows(ctx, o.path, f.cfg.PGSchema, s.Run.RunID); err == nil {
				out.Rows = evidence.Int64(n)
			} else {
				f.log.Warn("counting the stored rows for the manifest", "err", err.Error())
			}
		default:
			out.Path = evidence.RelPath(dir, o.path)
			if o.remote != "" {
				out.Path = o.remote
			}
			if sum, n, err := evidence.HashFile(o.path); err == nil {
				out.SHA256, out.Bytes = sum, evidence.Int64(n)
			}
			_, err := os.Stat(o.path + ".incomplete")
			out.Incomplete = err == nil
		}
		m.Outputs = append(m.Outputs, out)
	}
	return m
}

// manifestSummary is the counts of SPEC 6 for the manifest.
func manifestSummary(s *pipeline.Summary) map[string]any {
	c := s.Counts
	return map[string]any{
		"rows_read": s.RowsRead, "unique": c.Unique, "duplicates": s.Duplicates, "other_shard": s.OtherShard,
		"resumed": s.Resumed, "ok": c.OK, "not_found": c.NotFound, "invalid": c.Invalid, "error": c.Error,
		"compliant": c.Compliant, "non_compliant": c.NonCompliant,
		"strong": c.Strong, "weak": c.Weak, "none": c.None,
		"totp": c.TOTP, "face": c.Face, "sms": c.SMS, "email": c.Email,
		"coverage": s.CoverageShare().String(), "completeness": s.CompletenessShare().String(),
		"shard": s.Run.Shard.String(), "policy": string(s.Run.Policy),
	}
}

// runMetrics turns the run into the metrics of SPEC 16.
func runMetrics(cfg *Config, s *pipeline.Summary, st genauth.Stats, code int) delivery.RunMetrics {
	c := s.Counts
	m := delivery.RunMetrics{
		Subjects: map[string]int64{"ok": c.OK, "not_found": c.NotFound, "invalid": c.Invalid, "error": c.Error},
		Users:    map[string]int64{"strong": c.Strong, "weak": c.Weak, "none": c.None, "unknown": c.Unique - c.OK},
		Requests: st.Requests, Retries: st.Retries, Throttled: st.Throttled,
		Duration: s.FinishedAt.Sub(s.Run.StartedAt), ExitCode: code, Finished: s.FinishedAt,
		Success: s.Complete && (code == exitOK || code == exitBelowFloor),
	}
	if v, ok := s.CoverageShare().Fraction(); ok {
		m.Coverage = &v
	}
	if v, ok := s.CompletenessShare().Fraction(); ok {
		m.Completeness = &v
	}
	if ch := s.Changes; ch != nil && !ch.Recorded {
		n := ch.Count(pipeline.ChangeNewGap)
		m.NewGaps = &n
	}
	if e := s.Exceptions; e != nil {
		m.Exceptions = map[string]int64{"active": e.Active, "expiring": e.Expiring, "expired": e.Expired,
			"unneeded": e.Unneeded, "stale": e.Stale}
	}
	if cfg.shard.Sharded() {
		m.Grouping = map[string]string{"shard": strconv.Itoa(cfg.shard.Index)}
	}
	return m
}

// sendMail sends the one message of SPEC 16.
func (f *finisher) sendMail(ctx context.Context, s *pipeline.Summary, code int) error {
	date := s.FinishedAt.UTC().Format("2006-01-02")
	subject := fmt.Sprintf("MFA audit %s: coverage %s, completeness %s", date, s.CoverageShare(), s.CompletenessShare())
	switch {
	case code == exitFailed && s.Complete:
		subject = "FAILED " + subject
	case code == exitFailed || !s.Complete:
		subject = "INCOMPLETE " + subject
	}
	var lines []string
	add := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	if c := s.Caveat(); c != "" {
		add("%s", c)
		add("")
	}
	add("Run %s, data as of %s (UTC).", s.Run.RunID, s.FinishedAt.UTC().Format("2006-01-02 15:04"))
	add("Coverage (compliant / answered): %s (%d of %d)", s.CoverageShare(), s.Compliant, s.OK)
	add("Completeness (answered / auditable): %s", s.CompletenessShare())
	add("Users: %d checked, %d compliant, %d without compliant MFA, %d not found, %d invalid, %d unknown",
		s.Unique, s.Compliant, s.NonCompliant, s.NotFound, s.Invalid, s.Error)
	add("Exit code %d.", code)
	var attach []delivery.Attachment
	var where []string
	for _, o := range f.cfg.outputs {
		loc := o.path
		if o.remote != "" {
			loc = o.remote
		} else if abs, err := filepath.Abs(o.path); err == nil {
			loc = abs
		}
		if o.kind == "postgres" {
			loc = redact.URL(o.path)
		}
		where = append(where, loc)
		if o.kind == "xlsx" || o.kind == "html" {
			attach = append(attach, delivery.Attachment{Path: o.path, Where: loc})
		}
	}
	add("")
	add("Reports: %s", strings.Join(where, ", "))
	text := strings.Join(lines, "\n") + "\n"
	var h strings.Builder
	h.WriteString("<!doctype html><html><body style=\"font-family:sans-serif\">")
	for _, l := range lines {
		if l == "" {
			continue
		}
		h.WriteString("<p>" + template.HTMLEscapeString(l) + "</p>")
	}
	h.WriteString("</body></html>")
	attached, err := delivery.Send(ctx, f.mail, delivery.Message{Subject: subject, Text: text, HTML: template.HTML(h.String()), Attach: attach})
	if err != nil {
		return err
	}
	f.log.Info("report mailed", "to", strings.Join(f.mail.To, ","), "attached", strings.Join(attached, ","))
	return nil
}
