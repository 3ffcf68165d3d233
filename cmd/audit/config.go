package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/mfa-audit/mfa-audit/delivery"
	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// environMap turns os.Environ's form into a map.
func environMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Config is every variable of SPEC section 3. Each also has a flag: the
// variable's name without its GENAUTH_ or AUDIT_ prefix, lower case, with
// dashes (AUDIT_RATE is --rate). A flag wins over the variable.
//
// Tags: env names the variable and envDefault its built-in default (the
// only default -h ever shows); help is the -h text; secret hides the value
// everywhere; cmd lists the commands that read it ("run", "report" or
// "run,report"; no cmd tag means both). Adding a field here is all it takes:
// the variable is then known (never reported as misspelt), has its flag,
// its -h line and its README check.
type Config struct {
	Host             string        `env:"GENAUTH_HOST" envDefault:"https://api.genauth.ai" cmd:"run" help:"GenAuth API base URL"`
	AccessKeyID      string        `env:"GENAUTH_ACCESS_KEY_ID" cmd:"run" help:"user pool ID or collaborator access key"`
	AccessKeySecret  string        `env:"GENAUTH_ACCESS_KEY_SECRET" secret:"true" cmd:"run" help:"its secret (prefer the variable or the _FILE form: a flag shows in ps)"`
	SecretFile       string        `env:"GENAUTH_ACCESS_KEY_SECRET_FILE" cmd:"run" help:"read the secret from this file (Kubernetes secret volume)"`
	TenantID         string        `env:"GENAUTH_TENANT_ID" cmd:"run" help:"sent as x-authing-app-tenant-id"`
	Source           string        `env:"AUDIT_SOURCE" cmd:"run" help:"CSV path, - for stdin, FILE.xlsx[#Sheet], postgres:// URL, or genauth:users"`
	SourceQuery      string        `env:"AUDIT_SOURCE_QUERY" cmd:"run" help:"SQL for a Postgres source"`
	IDColumn         string        `env:"AUDIT_ID_COLUMN" cmd:"run" help:"identifier column (default user_id, else userId, id, else the first)"`
	IDTypeColumn     string        `env:"AUDIT_ID_TYPE_COLUMN" cmd:"run" help:"id type column (default id_type, else userIdType, if present)"`
	IDType           string        `env:"AUDIT_ID_TYPE" envDefault:"user_id" cmd:"run" help:"id type for rows without one"`
	SourceEncoding   string        `env:"AUDIT_SOURCE_ENCODING" envDefault:"utf-8" cmd:"run" help:"text encoding of a CSV source: utf-8, windows-1252, gb18030, ... (UTF-16 with a BOM is recognised by itself)"`
	CSVDelimiter     string        `env:"AUDIT_CSV_DELIMITER" cmd:"run" help:"CSV delimiter: , ; or tab (default: found from the header line)"`
	Output           string        `env:"AUDIT_OUTPUT" envDefault:"out/mfa-audit.xlsx,out/mfa-audit.html" help:"comma-separated outputs: *.xlsx, *.html, *.csv, *.jsonl, postgres://..."`
	Concurrency      int           `env:"AUDIT_CONCURRENCY" envDefault:"8" cmd:"run" help:"requests in flight"`
	Rate             float64       `env:"AUDIT_RATE" envDefault:"20" cmd:"run" help:"requests per second ceiling (0 = none); lowered while the API answers 429"`
	Timeout          time.Duration `env:"AUDIT_TIMEOUT" envDefault:"10s" cmd:"run" help:"per request"`
	Retries          int           `env:"AUDIT_RETRIES" envDefault:"5" cmd:"run" help:"retries per user for 429, 5xx, timeouts, resets, malformed answers"`
	MaxUnknown       int64         `env:"AUDIT_MAX_UNKNOWN" envDefault:"0" help:"users whose state may stay unknown before the run counts as failed"`
	Policy           string        `env:"AUDIT_POLICY" envDefault:"any" help:"compliant means: any (a factor bound) or strong (TOTP or face)"`
	FailUnder        float64       `env:"AUDIT_FAIL_UNDER" envDefault:"0" help:"exit 3 when coverage percent is below this (0 = off)"`
	GroupBy          string        `env:"AUDIT_GROUP_BY" help:"attribute to break the summary down by, e.g. department"`
	RunID            string        `env:"AUDIT_RUN_ID" help:"run identifier; reusing one with a Postgres output resumes that run (default: generated, sortable by time)"`
	Shard            string        `env:"AUDIT_SHARD" envDefault:"0/1" cmd:"run" help:"i/n: audit only shard i of n (i defaults to JOB_COMPLETION_INDEX; /n takes it from there)"`
	PGSchema         string        `env:"AUDIT_PG_SCHEMA" envDefault:"mfa_audit" help:"schema for the Postgres tables"`
	MaskPII          bool          `env:"AUDIT_MASK_PII" envDefault:"false" help:"mask e-mail addresses and phone numbers in XLSX, HTML and CSV"`
	HTMLMaxRows      int           `env:"AUDIT_HTML_MAX_ROWS" envDefault:"5000" help:"non-compliant users listed in the HTML report"`
	LogFormat        string        `env:"AUDIT_LOG_FORMAT" envDefault:"text" help:"text or json"`
	Progress         string        `env:"AUDIT_PROGRESS" envDefault:"auto" cmd:"run" help:"auto (a bar on a terminal, else a log line every 10 s), always, or never (no bar; the log lines stay)"`
	AllowHTTP        bool          `env:"AUDIT_ALLOW_HTTP" envDefault:"false" cmd:"run" help:"allow a plain-http GENAUTH_HOST that is not loopback"`
	ReportFrom       string        `env:"AUDIT_REPORT_FROM" cmd:"report" help:"audit report: a postgres:// URL or a results .jsonl file"`
	Exceptions       string        `env:"AUDIT_EXCEPTIONS" help:"exceptions register, a CSV file: id_type,user_id,reason,approved_by,expires[,ticket]"`
	ExceptionWarn    int           `env:"AUDIT_EXCEPTION_WARN_DAYS" envDefault:"30" help:"an active exception expiring within this many days is listed as expiring"`
	Baseline         string        `env:"AUDIT_BASELINE" help:"run to compare with: a results .jsonl file, a run id, previous or none (default: previous with a Postgres output, else none)"`
	FailOnNewGaps    bool          `env:"AUDIT_FAIL_ON_NEW_GAPS" envDefault:"false" help:"exit 3 when any subject is a new_gap since the baseline"`
	ConnectRetry     time.Duration `env:"AUDIT_CONNECT_RETRY" envDefault:"1m" help:"how long to retry a Postgres output or source that cannot be reached at the start (then exit 1); 0 = one attempt"`
	FileMode         string        `env:"AUDIT_FILE_MODE" envDefault:"0600" help:"permission bits (octal) of every file written; the umask applies"`
	Manifest         string        `env:"AUDIT_MANIFEST" help:"evidence manifest path, or none (default: mfa-audit.manifest.json beside the first file output)"`
	SigningKeyFile   string        `env:"AUDIT_SIGNING_KEY_FILE" help:"Ed25519 private key (PKCS#8 PEM) that signs the manifest into MANIFEST.sig"`
	S3Endpoint       string        `env:"AUDIT_S3_ENDPOINT" help:"S3-compatible endpoint URL for s3:// outputs (default AWS); credentials from AWS_*"`
	MailTo           string        `env:"AUDIT_MAIL_TO" help:"comma-separated recipients of the report mail"`
	MailFrom         string        `env:"AUDIT_MAIL_FROM" help:"sender of the report mail"`
	SMTPURL          string        `env:"AUDIT_SMTP_URL" help:"smtp://user@host:587 (STARTTLS) or smtps://user@host:465"`
	SMTPPassword     string        `env:"AUDIT_SMTP_PASSWORD" secret:"true" help:"SMTP password (prefer the _FILE form)"`
	SMTPPasswordFile string        `env:"AUDIT_SMTP_PASSWORD_FILE" help:"read the SMTP password from this file"`
	MailMaxMB        float64       `env:"AUDIT_MAIL_MAX_MB" envDefault:"10" help:"attach the XLSX and HTML while together under this many MB"`
	PushgatewayURL   string        `env:"AUDIT_PUSHGATEWAY_URL" help:"Prometheus Pushgateway URL; metrics pushed at the end of every run (job mfa_audit)"`
	MetricsFile      string        `env:"AUDIT_METRICS_FILE" help:"write the metrics for node_exporter's textfile collector (*.prom)"`

	// Derived by resolve.
	shard    pipeline.Shard
	outputs  []output
	fileMode os.FileMode
	// blamed holds the variables already reported as wrong, so that a
	// check further on does not report the same cause again.
	blamed map[string]bool
}

// output is one entry of AUDIT_OUTPUT.
type output struct {
	kind string // xlsx, html, csv, jsonl, postgres
	path string // file path or URL; for an s3:// output the local staging file
	// remote is the s3:// URL of an output written locally first and
	// uploaded when the run ends ("" for the others).
	remote string
}

// loadConfig reads the environment (environ, as os.Environ) and then the
// flags in args for the command cmd ("run" or "report"; the flags are
// registered on fs here).
//
// It returns a usage error (a flag that does not parse, an argument too
// many, flag.ErrHelp) alone, as soon as it meets it; otherwise every
// configuration problem of the variables cmd reads, together, each naming
// its variable, one per cause. A variable with a bad value takes its
// built-in default, so later checks do not complain about it a second
// time; a flag given for it replaces the value and drops the complaint.
func loadConfig(cmd string, fs *flag.FlagSet, args []string, environ []string) (*Config, []error, error) {
	envMap := environMap(environ)
	cfg := &Config{blamed: map[string]bool{}}
	envProblems := map[string]error{} // by variable
	if err := env.ParseWithOptions(cfg, env.Options{Environment: envMap, FuncMap: valueParsers}); err != nil {
		defaults := defaultConfig()
		for _, e := range envErrors(err) {
			var p *problem
			if errors.As(e, &p) && p.field != "" {
				// Keep the built-in default, not the zero a failed parse leaves.
				f := reflect.ValueOf(cfg).Elem().FieldByName(p.field)
				f.Set(reflect.ValueOf(defaults).Elem().FieldByName(p.field))
				envProblems[p.Var] = p
				continue
			}
			envProblems[fmt.Sprint(len(envProblems))] = e
		}
	}
	registerFlags(fs, cfg, cmd)
	if err := parseFlags(fs, args); err != nil {
		return cfg, nil, err
	}
	if fs.NArg() > 0 {
		return cfg, nil, fmt.Errorf("unexpected argument %q (configuration comes from variables and --flags)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { // a flag wins, also over a bad value
		if fv, ok := f.Value.(*fieldValue); ok {
			delete(envProblems, fv.name)
		}
	})
	var problems []error
	for _, f := range configFields() { // in the order of the struct
		if e, ok := envProblems[f.env]; ok {
			problems = append(problems, e)
			cfg.blamed[f.env] = true
			delete(envProblems, f.env)
		}
	}
	for _, e := range envProblems {
		problems = append(problems, e)
	}
	problems = append(problems, unknownVariables(envMap)...)
	problems = append(problems, cfg.resolve(envMap)...)
	return cfg, forCommand(cmd, problems), nil
}

// envErrors turns env's aggregate error into one problem per variable.
func envErrors(err error) []error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []error{err}
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			f, _ := reflect.TypeFor[Config]().FieldByName(pe.Name)
			out = append(out, &problem{Var: f.Tag.Get("env"), Msg: pe.Err.Error(), field: pe.Name})
			continue
		}
		out = append(out, e)
	}
	return out
}

// defaultConfig is the configuration of an empty environment.
func defaultConfig() *Config {
	c := &Config{}
	env.ParseWithOptions(c, env.Options{Environment: map[string]string{}, FuncMap: valueParsers})
	return c
}

// resolve applies the rules on values and between variables, derives shard
// and outputs, and reads the secret file. A variable already blamed for a
// bad value is not blamed again.
func (c *Config) resolve(envMap map[string]string) []error {
	var errs []error
	bad := func(name, format string, a ...any) {
		if !c.blamed[name] {
			errs = append(errs, &problem{Var: name, Msg: fmt.Sprintf(format, a...)})
			c.blamed[name] = true
		}
	}
	if c.SecretFile != "" {
		b, err := os.ReadFile(c.SecretFile)
		switch {
		case err != nil:
			bad("GENAUTH_ACCESS_KEY_SECRET_FILE", "cannot read the secret file: %v", errors.Unwrap(err))
		case c.AccessKeySecret != "":
			bad("GENAUTH_ACCESS_KEY_SECRET_FILE", "set either GENAUTH_ACCESS_KEY_SECRET or GENAUTH_ACCESS_KEY_SECRET_FILE, not both")
		default:
			c.AccessKeySecret = strings.TrimSpace(string(b))
			if c.AccessKeySecret == "" {
				bad("GENAUTH_ACCESS_KEY_SECRET_FILE", "the file %s is empty", c.SecretFile)
			}
		}
	}
	if msg := checkHost(c.Host); msg != "" {
		bad("GENAUTH_HOST", "%s", msg)
	}
	if !pipeline.ValidIDType(c.IDType) {
		bad("AUDIT_ID_TYPE", "%q is not one of %s", c.IDType, strings.Join(pipeline.IDTypes, ", "))
	}
	checkSourceFormat(c, bad)
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("AUDIT_CONCURRENCY", "%d is outside 1..1024", c.Concurrency)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		bad("AUDIT_RATE", "%v: want requests per second, 0 or more (0 = no ceiling)", c.Rate)
	}
	if c.Timeout <= 0 {
		bad("AUDIT_TIMEOUT", "%v must be positive, e.g. 10s", c.Timeout)
	}
	if c.Retries < 0 || c.Retries > 100 {
		bad("AUDIT_RETRIES", "%d is outside 0..100", c.Retries)
	}
	if c.MaxUnknown < 0 {
		bad("AUDIT_MAX_UNKNOWN", "%d is negative", c.MaxUnknown)
	}
	// Words from a list are taken in any case and without surrounding blanks.
	for _, w := range []*string{&c.Policy, &c.LogFormat, &c.Progress} {
		*w = strings.ToLower(strings.TrimSpace(*w))
	}
	if c.Policy != string(pipeline.PolicyAny) && c.Policy != string(pipeline.PolicyStrong) {
		bad("AUDIT_POLICY", "%q is not any or strong", c.Policy)
	}
	if c.FailUnder < 0 || c.FailUnder > 100 || math.IsNaN(c.FailUnder) {
		bad("AUDIT_FAIL_UNDER", "%v is outside 0..100 (a percentage)", c.FailUnder)
	}
	if c.HTMLMaxRows < 0 {
		bad("AUDIT_HTML_MAX_ROWS", "%d is negative", c.HTMLMaxRows)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("AUDIT_LOG_FORMAT", "%q is not text or json", c.LogFormat)
	}
	if c.Progress != "auto" && c.Progress != "always" && c.Progress != "never" {
		hint := ""
		if b, err := parseBool(c.Progress); err == nil {
			hint = map[bool]string{true: " (did you mean always?)", false: " (did you mean never?)"}[b]
		}
		bad("AUDIT_PROGRESS", "%q is not auto, always or never%s", c.Progress, hint)
	}
	if c.ExceptionWarn < 0 || c.ExceptionWarn > 3660 {
		bad("AUDIT_EXCEPTION_WARN_DAYS", "%d is outside 0..3660 (days)", c.ExceptionWarn)
	}
	if c.PGSchema == "" {
		bad("AUDIT_PG_SCHEMA", "must not be empty")
	}
	if c.RunID != "" && !validRunID(c.RunID) {
		bad("AUDIT_RUN_ID", "%q: use letters, digits, '-', '_', '.' and ':' (at most 128)", c.RunID)
	}
	if err := checkBaseline(c.Baseline); err != nil {
		errs = append(errs, err)
	}
	if m, err := parseFileMode(c.FileMode); err != nil {
		bad("AUDIT_FILE_MODE", "%v", err)
	} else {
		c.fileMode = m
	}
	shard, err := parseShard(c.Shard, envMap["JOB_COMPLETION_INDEX"])
	if err != nil {
		bad("AUDIT_SHARD", "%v", err)
	}
	c.shard = shard
	c.outputs = nil
	for _, o := range strings.Split(c.Output, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		kind := outputKind(o)
		if kind == "" {
			errs = append(errs, &problem{Var: "AUDIT_OUTPUT", Msg: fmt.Sprintf("%q: unknown kind (want *.xlsx, *.html, *.csv, *.jsonl or postgres://...)", redact.URL(o))})
			c.blamed["AUDIT_OUTPUT"] = true
			continue
		}
		out := output{kind: kind, path: o}
		if delivery.IsS3URL(o) {
			if kind == "postgres" {
				bad("AUDIT_OUTPUT", "%q: an s3:// output is a file (*.xlsx, *.html, *.csv, *.jsonl)", o)
				continue
			}
			out.path, out.remote = "", o // staged by prepareFinish
		}
		c.outputs = append(c.outputs, out)
	}
	if len(c.outputs) == 0 {
		bad("AUDIT_OUTPUT", "no output given")
	}
	return errs
}

// checkHost says what is wrong with a GENAUTH_HOST, and how to fix it, or
// returns "".
func checkHost(host string) string {
	u, err := url.Parse(host)
	if err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return ""
	}
	shown := redact.URL(host)
	if t := strings.TrimSpace(host); t != host && checkHost(t) == "" {
		return fmt.Sprintf("%q has blanks around it: did you mean %s?", shown, redact.URL(t))
	}
	rest, lower := host, strings.ToLower(host)
	for _, scheme := range []string{"https:", "http:"} {
		if strings.HasPrefix(lower, scheme) {
			rest = host[len(scheme):]
			break
		}
	}
	rest = strings.TrimLeft(rest, "/")
	if rest != "" && !strings.ContainsAny(rest, " \t") && !strings.Contains(rest, "://") {
		fixed := "https://" + rest
		if checkHost(fixed) == "" {
			if rest == strings.TrimLeft(host, "/") {
				return fmt.Sprintf("%q has no scheme: did you mean %s?", shown, redact.URL(fixed))
			}
			return fmt.Sprintf("%q is not an http(s) URL: did you mean %s?", shown, redact.URL(fixed))
		}
	}
	return fmt.Sprintf("%q is not an http(s) URL, e.g. https://api.genauth.ai", shown)
}

// requireRun checks what `audit run` needs beyond resolve.
func (c *Config) requireRun() []error {
	var errs []error
	need := func(name, msg string) {
		if !c.blamed[name] {
			errs = append(errs, &problem{Var: name, Msg: msg})
			c.blamed[name] = true
		}
	}
	if c.AccessKeyID == "" {
		need("GENAUTH_ACCESS_KEY_ID", "required (the user pool ID or an access key)")
	}
	if c.AccessKeySecret == "" && c.SecretFile == "" {
		need("GENAUTH_ACCESS_KEY_SECRET", "required (or GENAUTH_ACCESS_KEY_SECRET_FILE)")
	}
	switch {
	case c.Source == "":
		need("AUDIT_SOURCE", "required (a CSV path, - for stdin, a postgres:// URL or genauth:users)")
	case isPostgresURL(c.Source) && strings.TrimSpace(c.SourceQuery) == "":
		need("AUDIT_SOURCE_QUERY", "required with a Postgres AUDIT_SOURCE")
	}
	if c.shard.Sharded() && c.RunID == "" {
		need("AUDIT_RUN_ID", fmt.Sprintf("required with AUDIT_SHARD %s, so that every shard writes into one run", c.shard))
	}
	return errs
}

// isBlamed reports whether any of the variables was already reported wrong.
func (c *Config) isBlamed(names ...string) bool {
	for _, n := range names {
		if c.blamed[n] {
			return true
		}
	}
	return false
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func outputKind(o string) string {
	if isPostgresURL(o) {
		return "postgres"
	}
	lower := strings.ToLower(o)
	for _, k := range []string{"xlsx", "html", "csv", "jsonl"} {
		if strings.HasSuffix(lower, "."+k) {
			return k
		}
	}
	return ""
}

// parseShard reads "i/n", or "/n" with i from JOB_COMPLETION_INDEX (an
// Indexed Job's pod index). An explicit i always wins.
func parseShard(s, completionIndex string) (pipeline.Shard, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/") {
		if completionIndex == "" {
			return pipeline.Shard{}, fmt.Errorf("%q needs JOB_COMPLETION_INDEX for its index", s)
		}
		s = strings.TrimSpace(completionIndex) + s
	}
	return pipeline.ParseShard(s)
}

// parseFileMode reads AUDIT_FILE_MODE: octal permission bits that let the
// owner read and write (the spools are read back).
func parseFileMode(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 8, 32)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not an octal mode such as 0600 or 0640", s)
	case n&^0o777 != 0:
		return 0, fmt.Errorf("%q: only permission bits (0000 to 0777)", s)
	case n&0o600 != 0o600:
		return 0, fmt.Errorf("%q: the owner must be able to read and write (e.g. 0600, 0640, 0644)", s)
	}
	return os.FileMode(n), nil
}

func validRunID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return false
		}
	}
	return true
}

// public returns the configuration for reports and the runs row: every
// variable that is set or defaulted, without secrets, URLs redacted.
func (c *Config) public() map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(c).Elem()
	for _, f := range configFields() {
		if f.secret {
			continue
		}
		val := fmt.Sprint(v.FieldByName(f.field).Interface())
		if val == "" {
			continue
		}
		out[f.env] = redact.URL(val)
	}
	return out
}

// configField describes one variable of Config, from its tags.
type configField struct {
	field, env, def, help string
	secret                bool
	cmds                  []string // nil: every command that reads the configuration
	typ                   reflect.Type
}

// configFields lists Config's variables in the order of the struct.
func configFields() []configField {
	t := reflect.TypeFor[Config]()
	var out []configField
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		cf := configField{field: f.Name, env: name, def: f.Tag.Get("envDefault"), help: f.Tag.Get("help"),
			secret: f.Tag.Get("secret") != "", typ: f.Type}
		if c := f.Tag.Get("cmd"); c != "" {
			cf.cmds = strings.Split(c, ",")
		}
		out = append(out, cf)
	}
	return out
}

// readBy reports whether the command cmd reads this variable.
func (f configField) readBy(cmd string) bool {
	if f.cmds == nil {
		return true
	}
	for _, c := range f.cmds {
		if c == cmd {
			return true
		}
	}
	return false
}
