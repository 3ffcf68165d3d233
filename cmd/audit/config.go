package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// Config is every variable of SPEC section 3. Each also has a flag: the
// variable's name without its GENAUTH_ or AUDIT_ prefix, lower case, with
// dashes (AUDIT_RATE is --rate). A flag wins over the variable.
type Config struct {
	Host            string        `env:"GENAUTH_HOST" envDefault:"https://api.genauth.ai" help:"GenAuth API base URL"`
	AccessKeyID     string        `env:"GENAUTH_ACCESS_KEY_ID" help:"user pool ID or collaborator access key"`
	AccessKeySecret string        `env:"GENAUTH_ACCESS_KEY_SECRET" secret:"true" help:"its secret (prefer the variable or the _FILE form: a flag shows in ps)"`
	SecretFile      string        `env:"GENAUTH_ACCESS_KEY_SECRET_FILE" help:"read the secret from this file (Kubernetes secret volume)"`
	TenantID        string        `env:"GENAUTH_TENANT_ID" help:"sent as x-authing-app-tenant-id"`
	Source          string        `env:"AUDIT_SOURCE" help:"CSV path, - for stdin, postgres:// URL, or genauth:users"`
	SourceQuery     string        `env:"AUDIT_SOURCE_QUERY" help:"SQL for a Postgres source"`
	IDColumn        string        `env:"AUDIT_ID_COLUMN" help:"identifier column (default user_id, else userId, id, else the first)"`
	IDTypeColumn    string        `env:"AUDIT_ID_TYPE_COLUMN" help:"id type column (default id_type, else userIdType, if present)"`
	IDType          string        `env:"AUDIT_ID_TYPE" envDefault:"user_id" help:"id type for rows without one"`
	Output          string        `env:"AUDIT_OUTPUT" envDefault:"out/mfa-audit.xlsx,out/mfa-audit.html" help:"comma-separated outputs: *.xlsx, *.html, *.csv, *.jsonl, postgres://..."`
	Concurrency     int           `env:"AUDIT_CONCURRENCY" envDefault:"8" help:"requests in flight"`
	Rate            float64       `env:"AUDIT_RATE" envDefault:"20" help:"requests per second ceiling (0 = none); lowered while the API answers 429"`
	Timeout         time.Duration `env:"AUDIT_TIMEOUT" envDefault:"10s" help:"per request"`
	Retries         int           `env:"AUDIT_RETRIES" envDefault:"5" help:"retries per user for 429, 5xx, timeouts, resets, malformed answers"`
	MaxUnknown      int64         `env:"AUDIT_MAX_UNKNOWN" envDefault:"0" help:"users whose state may stay unknown before the run counts as failed"`
	Policy          string        `env:"AUDIT_POLICY" envDefault:"any" help:"compliant means: any (a factor bound) or strong (TOTP or face)"`
	FailUnder       float64       `env:"AUDIT_FAIL_UNDER" envDefault:"0" help:"exit 3 when coverage percent is below this (0 = off)"`
	GroupBy         string        `env:"AUDIT_GROUP_BY" help:"attribute to break the summary down by, e.g. department"`
	RunID           string        `env:"AUDIT_RUN_ID" help:"run identifier; reusing one with a Postgres output resumes that run (default: generated, sortable by time)"`
	Shard           string        `env:"AUDIT_SHARD" envDefault:"0/1" help:"i/n: audit only shard i of n (i defaults to JOB_COMPLETION_INDEX; /n takes it from there)"`
	PGSchema        string        `env:"AUDIT_PG_SCHEMA" envDefault:"mfa_audit" help:"schema for the Postgres tables"`
	MaskPII         bool          `env:"AUDIT_MASK_PII" envDefault:"false" help:"mask e-mail addresses and phone numbers in XLSX, HTML and CSV"`
	HTMLMaxRows     int           `env:"AUDIT_HTML_MAX_ROWS" envDefault:"5000" help:"non-compliant users listed in the HTML report"`
	LogFormat       string        `env:"AUDIT_LOG_FORMAT" envDefault:"text" help:"text or json"`
	Progress        string        `env:"AUDIT_PROGRESS" envDefault:"auto" help:"auto, always or never"`
	AllowHTTP       bool          `env:"AUDIT_ALLOW_HTTP" envDefault:"false" help:"allow a plain-http GENAUTH_HOST that is not loopback"`
	ReportFrom      string        `env:"AUDIT_REPORT_FROM" help:"audit report: a postgres:// URL or a results .jsonl file"`

	// Derived by Validate.
	shard   pipeline.Shard
	outputs []output
}

// output is one entry of AUDIT_OUTPUT.
type output struct {
	kind string // xlsx, html, csv, jsonl, postgres
	path string // file path or URL
}

// loadConfig reads the environment (environ, as os.Environ) and then the
// flags in args. Every problem is returned together, each naming its
// variable.
func loadConfig(fs *flag.FlagSet, args []string, environ []string) (*Config, error) {
	envMap := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	cfg := &Config{}
	var errs []error
	if err := env.ParseWithOptions(cfg, env.Options{Environment: envMap}); err != nil {
		errs = append(errs, envErrors(err)...)
	}
	registerFlags(fs, cfg)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if err := cfg.resolve(envMap); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// envErrors turns env's aggregate error into one error per variable.
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
			out = append(out, fmt.Errorf("%s: %v", f.Tag.Get("env"), unwrapNum(pe.Err)))
			continue
		}
		out = append(out, e)
	}
	return out
}

func unwrapNum(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("%q is not a valid number", ne.Num)
	}
	return err
}

// resolve applies the cross-field rules that do not depend on the command
// and derives shard and outputs. The secret file is read here.
func (c *Config) resolve(envMap map[string]string) error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...)))
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
	if u, err := url.Parse(c.Host); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("GENAUTH_HOST", "%q is not an http(s) URL", c.Host)
	}
	if !pipeline.ValidIDType(c.IDType) {
		bad("AUDIT_ID_TYPE", "%q is not one of %s", c.IDType, strings.Join(pipeline.IDTypes, ", "))
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		bad("AUDIT_CONCURRENCY", "%d is outside 1..1024", c.Concurrency)
	}
	if c.Rate < 0 {
		bad("AUDIT_RATE", "%v is negative", c.Rate)
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
	if c.Policy != string(pipeline.PolicyAny) && c.Policy != string(pipeline.PolicyStrong) {
		bad("AUDIT_POLICY", "%q is not any or strong", c.Policy)
	}
	if c.FailUnder < 0 || c.FailUnder > 100 {
		bad("AUDIT_FAIL_UNDER", "%v is outside 0..100 (a percentage)", c.FailUnder)
	}
	if c.HTMLMaxRows < 0 {
		bad("AUDIT_HTML_MAX_ROWS", "%d is negative", c.HTMLMaxRows)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("AUDIT_LOG_FORMAT", "%q is not text or json", c.LogFormat)
	}
	if c.Progress != "auto" && c.Progress != "always" && c.Progress != "never" {
		bad("AUDIT_PROGRESS", "%q is not auto, always or never", c.Progress)
	}
	if c.PGSchema == "" {
		bad("AUDIT_PG_SCHEMA", "must not be empty")
	}
	if c.RunID != "" && !validRunID(c.RunID) {
		bad("AUDIT_RUN_ID", "%q: use letters, digits, '-', '_', '.' and ':' (at most 128)", c.RunID)
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
			bad("AUDIT_OUTPUT", "%q: unknown kind (want *.xlsx, *.html, *.csv, *.jsonl or postgres://...)", redact.URL(o))
			continue
		}
		c.outputs = append(c.outputs, output{kind: kind, path: o})
	}
	if len(c.outputs) == 0 {
		bad("AUDIT_OUTPUT", "no output given")
	}
	return errors.Join(errs...)
}

// requireRun checks what `audit run` needs beyond resolve.
func (c *Config) requireRun() error {
	var errs []error
	if c.AccessKeyID == "" {
		errs = append(errs, errors.New("GENAUTH_ACCESS_KEY_ID: required (the user pool ID or an access key)"))
	}
	if c.AccessKeySecret == "" {
		errs = append(errs, errors.New("GENAUTH_ACCESS_KEY_SECRET: required (or GENAUTH_ACCESS_KEY_SECRET_FILE)"))
	}
	switch {
	case c.Source == "":
		errs = append(errs, errors.New("AUDIT_SOURCE: required (a CSV path, - for stdin, a postgres:// URL or genauth:users)"))
	case isPostgresURL(c.Source) && strings.TrimSpace(c.SourceQuery) == "":
		errs = append(errs, errors.New("AUDIT_SOURCE_QUERY: required with a Postgres AUDIT_SOURCE"))
	}
	if c.shard.Sharded() && c.RunID == "" {
		errs = append(errs, fmt.Errorf("AUDIT_RUN_ID: required with AUDIT_SHARD %s, so that every shard writes into one run", c.shard))
	}
	return errors.Join(errs...)
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
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		if name == "" || f.Tag.Get("secret") != "" {
			continue
		}
		val := fmt.Sprint(v.Field(i).Interface())
		if val == "" {
			continue
		}
		if strings.Contains(name, "SOURCE") || strings.Contains(name, "OUTPUT") || strings.Contains(name, "REPORT_FROM") {
			parts := strings.Split(val, ",")
			for j := range parts {
				parts[j] = redact.URL(parts[j])
			}
			val = strings.Join(parts, ",")
		}
		out[name] = val
	}
	return out
}

// registerFlags adds one flag per variable to fs, defaulting to the value
// the environment gave.
func registerFlags(fs *flag.FlagSet, c *Config) {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		usage := f.Tag.Get("help") + " [" + name + "]"
		fs.Var(&fieldValue{v: v.Field(i), secret: f.Tag.Get("secret") != ""}, flagName(name), usage)
	}
	fs.Usage = func() { printFlags(fs) }
}

// printFlags is the -h text of a command's flags: one line a flag with its
// value's kind, variable and default (never a secret's value).
func printFlags(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage of %s (each flag also reads the variable in brackets; a flag wins):\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		kind := ""
		if fv, ok := f.Value.(*fieldValue); ok {
			kind = fv.kind()
		}
		fmt.Fprintf(w, "  --%s\n      %s", strings.TrimSpace(f.Name+" "+kind), f.Usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// kind names the value a flag takes, for -h.
func (f *fieldValue) kind() string {
	switch f.v.Interface().(type) {
	case bool:
		return ""
	case int, int64:
		return "N"
	case float64:
		return "NUMBER"
	case time.Duration:
		return "DURATION"
	}
	return "STRING"
}

// flagName maps AUDIT_RATE to rate and GENAUTH_ACCESS_KEY_ID to access-key-id.
func flagName(envName string) string {
	n := strings.TrimPrefix(strings.TrimPrefix(envName, "AUDIT_"), "GENAUTH_")
	return strings.ToLower(strings.ReplaceAll(n, "_", "-"))
}

// fieldValue is a flag.Value over one Config field.
type fieldValue struct {
	v      reflect.Value
	secret bool
}

func (f *fieldValue) String() string {
	if f == nil || !f.v.IsValid() || f.secret {
		return ""
	}
	return fmt.Sprint(f.v.Interface())
}

func (f *fieldValue) IsBoolFlag() bool { return f.v.IsValid() && f.v.Kind() == reflect.Bool }

func (f *fieldValue) Set(s string) error {
	switch f.v.Interface().(type) {
	case string:
		f.v.SetString(s)
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("want true or false")
		}
		f.v.SetBool(b)
	case int, int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("want a whole number")
		}
		f.v.SetInt(n)
	case float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errors.New("want a number")
		}
		f.v.SetFloat(x)
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("want a duration with a unit, e.g. 10s")
		}
		f.v.SetInt(int64(d))
	default:
		return fmt.Errorf("unsupported flag type %s", f.v.Type())
	}
	return nil
}
