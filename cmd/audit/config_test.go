package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsAndFlagsOverEnv(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg, problems, err := loadConfig("run", fs, []string{"--rate", "7.5", "--mask-pii", "--timeout", "3s"},
		[]string{"AUDIT_RATE=99", "AUDIT_CONCURRENCY=4", "AUDIT_OUTPUT=a.xlsx, b.jsonl ,postgres://u:pw@h/db"})
	if err != nil || problems != nil {
		t.Fatal(err, problems)
	}
	if cfg.Rate != 7.5 || cfg.Concurrency != 4 || !cfg.MaskPII || cfg.Timeout != 3*time.Second || cfg.Retries != 5 || cfg.Policy != "any" {
		t.Errorf("config %+v", cfg)
	}
	kinds := []string{}
	for _, o := range cfg.outputs {
		kinds = append(kinds, o.kind)
	}
	if !reflect.DeepEqual(kinds, []string{"xlsx", "jsonl", "postgres"}) {
		t.Errorf("outputs %v", kinds)
	}
	if pub := cfg.public(); strings.Contains(pub["AUDIT_OUTPUT"], "pw") {
		t.Errorf("password in the public config: %v", pub["AUDIT_OUTPUT"])
	}
}

func TestConfigErrorsNameEveryVariable(t *testing.T) {
	_, problems, _ := loadConfig("run", flag.NewFlagSet("t", flag.ContinueOnError), nil, []string{
		"AUDIT_CONCURRENCY=zero", "AUDIT_TIMEOUT=10", "AUDIT_POLICY=all", "AUDIT_SHARD=4/4",
		"AUDIT_LOG_FORMAT=xml", "AUDIT_PROGRESS=sometimes", "AUDIT_ID_TYPE=uid", "AUDIT_FAIL_UNDER=101",
		"GENAUTH_HOST=ftp://x", "GENAUTH_ACCESS_KEY_SECRET_FILE=/nonexistent/secret", "AUDIT_RUN_ID=a b",
	})
	err := errors.Join(problems...)
	if err == nil {
		t.Fatal("no error")
	}
	if len(problems) != 11 {
		t.Errorf("%d problems for 11 causes:\n%v", len(problems), err)
	}
	for _, v := range []string{"AUDIT_CONCURRENCY", "AUDIT_TIMEOUT", "AUDIT_POLICY", "AUDIT_SHARD", "AUDIT_LOG_FORMAT",
		"AUDIT_PROGRESS", "AUDIT_ID_TYPE", "AUDIT_FAIL_UNDER", "GENAUTH_HOST", "GENAUTH_ACCESS_KEY_SECRET_FILE", "AUDIT_RUN_ID"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("%s not named in:\n%v", v, err)
		}
	}
}

func TestSecretFileIsTrimmedAndNeverShown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(path, []byte("  hunter2-secret\n"), 0o600)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var help strings.Builder
	fs.SetOutput(&help)
	cfg, problems, err := loadConfig("run", fs, nil, []string{"GENAUTH_ACCESS_KEY_SECRET_FILE=" + path})
	if err != nil || problems != nil || cfg.AccessKeySecret != "hunter2-secret" {
		t.Fatalf("%v %v %q", err, problems, cfg.AccessKeySecret)
	}
	fs.PrintDefaults()
	for k, v := range cfg.public() {
		if strings.Contains(v, "hunter2") {
			t.Errorf("%s shows the secret", k)
		}
	}
	cfg2, _, _ := loadConfig("run", flag.NewFlagSet("t", flag.ContinueOnError), nil, []string{"GENAUTH_ACCESS_KEY_SECRET=hunter2-secret"})
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs2.SetOutput(&help)
	registerFlags(fs2, cfg2, "run")
	fs2.PrintDefaults()
	printHelp(&help, "run", fs2)
	if !strings.Contains(help.String(), "--access-key-secret STRING") || !strings.Contains(help.String(), "--rate NUMBER") {
		t.Errorf("-h lacks flags or their kinds:\n%s", help.String())
	}
	if strings.Contains(help.String(), "hunter2") {
		t.Error("--help shows the secret")
	}
}

func TestShardFromJobCompletionIndex(t *testing.T) {
	cfg, problems, err := loadConfig("run", flag.NewFlagSet("t", flag.ContinueOnError), nil, []string{"AUDIT_SHARD=/4", "JOB_COMPLETION_INDEX=2"})
	if err != nil || problems != nil || cfg.shard.Index != 2 || cfg.shard.Count != 4 {
		t.Fatalf("%v %v %+v", err, problems, cfg.shard)
	}
	if err := errors.Join(cfg.requireRun()...); err == nil || !strings.Contains(err.Error(), "AUDIT_RUN_ID") {
		t.Errorf("a sharded run without a run id: %v", err)
	}
}

// TestREADMEDocumentsEveryVariable keeps the configuration table honest.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		row := "| `" + name + "` | `--" + flagName(name) + "` |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no configuration row %q", row)
		}
	}
	for _, cmd := range []string{"go run ./cmd/audit demo", "go test ./..."} {
		if !strings.Contains(string(readme), cmd) {
			t.Errorf("README.md does not show %q", cmd)
		}
	}
}

func TestWindowCoversTheLongestRetryWaitAtTheRate(t *testing.T) {
	for _, tt := range []struct {
		concurrency int
		rate        float64
		want        int
	}{
		{8, 0, 256},     // no ceiling: several times the requests in flight
		{32, 0, 512},    //
		{8, 20, 600},    // 20/s for 30 s
		{8, 1000, 2048}, // capped
	} {
		if got := windowFor(tt.concurrency, tt.rate); got != tt.want {
			t.Errorf("windowFor(%d, %v) = %d, want %d", tt.concurrency, tt.rate, got, tt.want)
		}
	}
}
