package main

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
)

// load runs loadConfig for cmd over environ and args and returns the
// problems' texts.
func load(t *testing.T, cmd string, environ []string, args ...string) (*Config, []string) {
	t.Helper()
	cfg, problems, err := loadConfig(cmd, flag.NewFlagSet(cmd, flag.ContinueOnError), args, environ)
	if err != nil {
		t.Fatalf("usage error: %v", err)
	}
	var out []string
	for _, p := range problems {
		out = append(out, p.Error())
	}
	return cfg, out
}

func TestOneMessagePerCauseWithTheFix(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want string // the only problem
	}{
		{"AUDIT_TIMEOUT=10", "AUDIT_TIMEOUT: 10 has no unit: did you mean 10s?"},
		{"AUDIT_TIMEOUT=soon", `AUDIT_TIMEOUT: "soon" is not a duration: use a number and a unit, e.g. 10s, 500ms or 2m`},
		{"AUDIT_MASK_PII=maybe", `AUDIT_MASK_PII: "maybe" is not a boolean: use true/false, 1/0, yes/no or on/off`},
		{"AUDIT_RATE=NaN", `AUDIT_RATE: "NaN" is not a number`},
		{"AUDIT_RATE=+Inf", `AUDIT_RATE: "+Inf" is not a number`},
		{"AUDIT_RATE=-1", `AUDIT_RATE: -1: want requests per second, 0 or more (0 = no ceiling)`},
		{"AUDIT_CONCURRENCY=8.5", `AUDIT_CONCURRENCY: "8.5" is not a whole number`},
		{"AUDIT_CONCURRENCY=0", `AUDIT_CONCURRENCY: 0 is outside 1..1024`},
		{"GENAUTH_HOST=api.genauth.ai", `GENAUTH_HOST: "api.genauth.ai" has no scheme: did you mean https://api.genauth.ai?`},
		{"GENAUTH_HOST=ftp://x", `GENAUTH_HOST: "ftp://x" is not an http(s) URL, e.g. https://api.genauth.ai`},
		{"AUDIT_FAILUNDER=99", "AUDIT_FAILUNDER: not a variable audit reads; did you mean AUDIT_FAIL_UNDER?"},
		{"GENAUTH_ACESS_KEY_ID=x", "GENAUTH_ACESS_KEY_ID: not a variable audit reads; did you mean GENAUTH_ACCESS_KEY_ID?"},
		{"AUDIT_RATE_LIMIT=5", "AUDIT_RATE_LIMIT: not a variable audit reads; did you mean AUDIT_RATE?"},
		{"AUDIT_OUTPUTS=a.xlsx", "AUDIT_OUTPUTS: not a variable audit reads; did you mean AUDIT_OUTPUT?"},
		{"GENAUTH_SECRET=x", "GENAUTH_SECRET: not a variable audit reads; did you mean GENAUTH_ACCESS_KEY_SECRET?"},
		{"GENAUTH_HOST=https:/api.genauth.ai", `GENAUTH_HOST: "https:/api.genauth.ai" is not an http(s) URL: did you mean https://api.genauth.ai?`},
		{"GENAUTH_HOST=api.authing.cn:443", `GENAUTH_HOST: "api.authing.cn:443" has no scheme: did you mean https://api.authing.cn:443?`},
		{"GENAUTH_HOST= https://x.example", `GENAUTH_HOST: " https://x.example" has blanks around it: did you mean https://x.example?`},
		{"AUDIT_PROGRESS=off", `AUDIT_PROGRESS: "off" is not auto, always or never (did you mean never?)`},
	} {
		t.Run(tt.env, func(t *testing.T) {
			_, got := load(t, "run", []string{tt.env})
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("got %q\nwant [%q]", got, tt.want)
			}
		})
	}
}

func TestWordsInAnyCase(t *testing.T) {
	cfg, problems := load(t, "run", []string{"AUDIT_POLICY=Strong", "AUDIT_LOG_FORMAT=JSON", "AUDIT_PROGRESS= Never"})
	if problems != nil || cfg.Policy != "strong" || cfg.LogFormat != "json" || cfg.Progress != "never" {
		t.Errorf("%v %q %q %q", problems, cfg.Policy, cfg.LogFormat, cfg.Progress)
	}
}

func TestBooleansInEveryUsualSpelling(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "yes": true, "Yes": true, "on": true,
		"false": false, "0": false, "no": false, "off": false, "OFF": false} {
		cfg, problems := load(t, "run", []string{"AUDIT_MASK_PII=" + v, "AUDIT_ALLOW_HTTP=" + v})
		if problems != nil || cfg.MaskPII != want || cfg.AllowHTTP != want {
			t.Errorf("%s: %v %v %v", v, cfg.MaskPII, cfg.AllowHTTP, problems)
		}
		cfg, problems = load(t, "run", nil, "--mask-pii="+v)
		if problems != nil || cfg.MaskPII != want {
			t.Errorf("--mask-pii=%s: %v %v", v, cfg.MaskPII, problems)
		}
	}
}

// TestFlagWinsOverABadVariable: the flag replaces the value, so the
// variable's mistake no longer matters.
func TestFlagWinsOverABadVariable(t *testing.T) {
	cfg, problems := load(t, "run", []string{"AUDIT_RATE=abc", "AUDIT_TIMEOUT=10", "AUDIT_MASK_PII=maybe"},
		"--rate", "0", "--timeout", "3s", "--mask-pii=off")
	if problems != nil || cfg.Rate != 0 || cfg.Timeout.Seconds() != 3 || cfg.MaskPII {
		t.Fatalf("%v %+v", problems, cfg)
	}
	// Without the flag, a bad value keeps the built-in default and only
	// its own message.
	cfg, problems = load(t, "run", []string{"AUDIT_RATE=abc"})
	if len(problems) != 1 || cfg.Rate != 20 {
		t.Fatalf("%v rate %v", problems, cfg.Rate)
	}
}

// TestEveryConfigVariableIsKnown: the known names come from Config's tags,
// so a variable another part adds is never reported as misspelt, and the
// test suite's own variables are not the program's business.
func TestEveryConfigVariableIsKnown(t *testing.T) {
	var environ []string
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Tag.Get("env"); name != "" {
			environ = append(environ, name+"=")
		}
	}
	environ = append(environ, "AUDIT_TEST_DATABASE_URL=postgres://x", "AUDIT_TEST_REQUIRE_ALL=1", "JOB_COMPLETION_INDEX=0", "HOME=/root")
	if len(environ) < 25 {
		t.Fatalf("only %d variables found in Config's tags", len(environ))
	}
	if _, problems := load(t, "run", environ); problems != nil {
		t.Errorf("known variables reported: %v", problems)
	}
}

// TestReportIgnoresWhatOnlyRunReads: a file of variables shared by the two
// commands need not be right about what the other one reads; misspellings
// are still caught.
func TestReportIgnoresWhatOnlyRunReads(t *testing.T) {
	_, problems := load(t, "report", []string{"AUDIT_TIMEOUT=10", "AUDIT_REPORT_FROM=r.jsonl", "AUDIT_POLICY=most", "AUDIT_SORUCE=x"})
	if len(problems) != 2 || !strings.HasPrefix(problems[1], "AUDIT_POLICY") || !strings.Contains(problems[0], "did you mean AUDIT_SOURCE?") {
		t.Errorf("%q", problems)
	}
}

func TestABadFlagIsOneUsageError(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--rat", "3"}, "unknown flag --rat (did you mean --rate?)"},
		{[]string{"--timeout", "10"}, `invalid value "10" for flag --timeout: 10 has no unit: did you mean 10s?`},
		{[]string{"--rate"}, "flag needs an argument: --rate"},
		{[]string{"users.csv"}, `unexpected argument "users.csv" (configuration comes from variables and --flags)`},
	} {
		_, problems, err := loadConfig("run", flag.NewFlagSet("run", flag.ContinueOnError), tt.args, nil)
		if err == nil || err.Error() != tt.want || problems != nil {
			t.Errorf("%q: %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, _, err := loadConfig("run", flag.NewFlagSet("run", flag.ContinueOnError), []string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "abc", 3}, {"AUDIT_FAILUNDER", "AUDIT_FAIL_UNDER", 1}, {"AUDIT_RTAE", "AUDIT_RATE", 1}, {"kitten", "sitting", 3}} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
