package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// mainOut runs realMain with environ and args and returns the exit code,
// stdout and stderr.
func mainOut(environ []string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := realMain(args, environ, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHelpPerCommand: -h, --help and `audit help CMD` print that command's
// help on stdout with exit 0: its own flags only, the built-in defaults
// (never the environment's values, which may hold a password), examples.
func TestHelpPerCommand(t *testing.T) {
	environ := []string{"AUDIT_OUTPUT=postgres://audit:hunter2@db/audit", "AUDIT_RATE=77", "AUDIT_REPORT_FROM=/srv/secret-path.jsonl",
		"GENAUTH_ACCESS_KEY_SECRET=s3cr3t"}
	for _, tt := range []struct {
		args       []string
		want, lack []string
	}{
		{[]string{"run", "-h"}, []string{"audit run [flags]", "--rate NUMBER", "[AUDIT_RATE] (default 20)", "--timeout DURATION", "(default out/mfa-audit.xlsx,out/mfa-audit.html)", "Examples:"}, []string{"--report-from"}},
		{[]string{"run", "--help"}, []string{"--rate NUMBER"}, nil},
		{[]string{"help", "run"}, []string{"audit run [flags]", "--source STRING"}, nil},
		{[]string{"report", "-h"}, []string{"audit report [flags]", "--report-from STRING", "--output STRING", "Examples:"}, []string{"--rate", "--source", "--concurrency", "--access-key"}},
		{[]string{"help", "report"}, []string{"--report-from"}, []string{"--rate"}},
		{[]string{"demo", "-h"}, []string{"audit demo [--out DIR]", "--out STRING", "Examples:"}, []string{"--rate"}},
		{[]string{"help", "fake-genauth"}, []string{"--addr STRING", "--faults STRING"}, []string{"--rate"}},
		{[]string{"help"}, []string{"Usage: audit COMMAND", "\n  run ", "\n  report ", "\n  verify ", "\n  help ", "Examples:"}, nil},
		{[]string{"--help"}, []string{"audit run"}, nil},
		{[]string{"-h"}, []string{"audit run"}, nil},
	} {
		code, stdout, stderr := mainOut(environ, tt.args...)
		if code != 0 || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%q lacks %q:\n%s", tt.args, w, stdout)
			}
		}
		for _, line := range strings.Split(stdout, "\n") {
			if len([]rune(line)) > 80 && strings.Contains(strings.TrimSpace(line), " ") {
				t.Errorf("%q: a line wider than 80 columns: %q", tt.args, line)
			}
		}
		for _, l := range append(tt.lack, "hunter2", "77", "secret-path", "s3cr3t") {
			if strings.Contains(stdout, l) {
				t.Errorf("%q shows %q:\n%s", tt.args, l, stdout)
			}
		}
	}
}

// TestUsageMistakeIsOneLine: a bad flag, argument or command gets one line
// that names it and points to -h, exit 2; never the whole usage.
func TestUsageMistakeIsOneLine(t *testing.T) {
	for _, tt := range []struct {
		environ []string
		args    []string
		want    string
	}{
		{nil, []string{"run", "--rat", "5"}, `audit run: unknown flag --rat (did you mean --rate?); audit run -h lists the flags`},
		{nil, []string{"report", "--rate", "5"}, `audit report: unknown flag --rate; audit report -h lists the flags`},
		{nil, []string{"run", "users.csv"}, `audit run: unexpected argument \"users.csv\"`},
		{nil, []string{"demo", "--otu", "x"}, `audit demo: unknown flag --otu (did you mean --out?); audit demo -h lists the flags`},
		{nil, []string{"fake-genauth", "--adr", "x"}, `audit fake-genauth: unknown flag --adr (did you mean --addr?)`},
		{nil, []string{"verify", "--public-kye", "k.pem", "m.json"}, `audit verify: unknown flag --public-kye (did you mean --public-key?); audit verify -h`},
		{nil, []string{"verify"}, `audit verify: want exactly one MANIFEST, got 0; audit verify -h`},
		{nil, []string{"rnu"}, `audit: unknown command "rnu" (did you mean run?); audit help lists the commands`},
		{nil, []string{"help", "reprot"}, `audit help: unknown command "reprot" (did you mean report?)`},
		{[]string{"AUDIT_LOG_FORMAT=json"}, []string{"run", "--bogus"}, `"msg":"audit run: unknown flag --bogus; audit run -h lists the flags"`},
	} {
		code, stdout, stderr := mainOut(tt.environ, tt.args...)
		all := stdout + stderr
		if code != 2 || strings.Count(all, "\n") != 1 || !strings.Contains(all, tt.want) {
			t.Errorf("%q: exit %d, want 2 and one line holding %q:\n%s", tt.args, code, tt.want, all)
		}
	}
}

// TestConfigErrorsInTheChosenLogFormat: with AUDIT_LOG_FORMAT=json every
// problem, the parse errors included, is a JSON log line naming its
// variable, all in one list, nothing on stderr.
func TestConfigErrorsInTheChosenLogFormat(t *testing.T) {
	code, stdout, stderr := mainOut([]string{"AUDIT_LOG_FORMAT=json", "AUDIT_TIMEOUT=10", "AUDIT_MASK_PII=maybe",
		"AUDIT_FAILUNDER=99", "GENAUTH_HOST=api.genauth.ai", "AUDIT_SOURCE=/nonexistent/users.csv",
		"GENAUTH_ACCESS_KEY_ID=id", "GENAUTH_ACCESS_KEY_SECRET=secret"}, "run")
	if code != 2 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var vars []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if v, ok := rec["variable"].(string); ok {
			vars = append(vars, v)
		}
	}
	want := []string{"AUDIT_TIMEOUT", "AUDIT_MASK_PII", "AUDIT_FAILUNDER", "GENAUTH_HOST", "AUDIT_SOURCE"}
	if strings.Join(vars, " ") != strings.Join(want, " ") {
		t.Errorf("problems named %v, want %v:\n%s", vars, want, stdout)
	}
	if !strings.Contains(stdout, "did you mean 10s?") || !strings.Contains(stdout, "did you mean AUDIT_FAIL_UNDER?") ||
		!strings.Contains(stdout, "did you mean https://api.genauth.ai?") || strings.Contains(stdout, "must be positive") {
		t.Errorf("messages:\n%s", stdout)
	}
}

// TestExit2LeavesNothingBehind: a configuration error in an empty folder
// with the default outputs creates no out/ folder, no file.
func TestExit2LeavesNothingBehind(t *testing.T) {
	for _, env := range [][]string{
		{"AUDIT_SOURCE=users.csv", "AUDIT_TIMEOUT=10"},
		{"AUDIT_FAILUNDER=99"},
		{"AUDIT_SOURCE=missing.csv", "GENAUTH_ACCESS_KEY_ID=x", "GENAUTH_ACCESS_KEY_SECRET=y"},
	} {
		dir := t.TempDir()
		os.WriteFile(dir+"/users.csv", []byte("user_id\n63739db0cd8e8d7d4a0c1a11\n"), 0o600)
		cmd := exec.Command(auditBin, "run")
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("%v: %v\n%s", env, err, out)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("%v left %d entries behind (want users.csv only):\n%s", env, len(entries)-1, out)
		}
	}
}

func TestWrapKeepsLinesWithinTheWidth(t *testing.T) {
	text := "To finish this run, run again with AUDIT_RUN_ID=20261206T221017Z-49f075: subjects already answered are not asked again."
	got := wrap(text, 40, "  ")
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if len(l) > 40 && !strings.Contains(l, "AUDIT_RUN_ID=") {
			t.Errorf("line %q is %d wide", l, len(l))
		}
	}
	if strings.Join(strings.Fields(got), " ") != text {
		t.Errorf("wrap changed the words: %q", got)
	}
	if got := wrap("  MFA      1 strong", 80, "  "); got != "  MFA      1 strong\n" {
		t.Errorf("%q", got)
	}
}
