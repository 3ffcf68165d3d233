// Package axetest checks HTML reports for accessibility in tests: axe-core
// (WCAG 2.1 A and AA rules and axe's best practices) in Debian's Chromium,
// driven by puppeteer-core from the npm project in .ci/axe (installed there
// by `npm ci`; no browser download). Tests skip, saying why, when node,
// the npm project or Chromium is missing, and fail then when
// AUDIT_TEST_REQUIRE_ALL is set (as in CI).
package axetest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Widths are the viewport widths every report is checked at: a desktop
// and a phone.
var Widths = []int{1280, 375}

// Violation is one axe rule a page breaks.
type Violation struct {
	File   string   `json:"file"`
	Width  int      `json:"width"`
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
	Count  int      `json:"count"`
}

type report struct {
	Checked    int         `json:"checked"`
	Violations []Violation `json:"violations"`
	Requests   []struct {
		File, URL string
	} `json:"requests"`
}

// Check runs axe on each file at each of Widths and fails t for every
// violation and every request a page makes for anything but itself.
func Check(t *testing.T, files ...string) {
	t.Helper()
	dir := projectDir(t)
	node := look(t, "nodejs", "node")
	chromium := look(t, "chromium", "chromium", "chromium-browser")
	ws := make([]string, len(Widths))
	for i, w := range Widths {
		ws[i] = strconv.Itoa(w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{filepath.Join(dir, "check.mjs"), "--chromium", chromium, "--widths", strings.Join(ws, ",")}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("axe:\n%s", stderr.String())
	if err != nil {
		t.Fatalf("axe check: %v\n%s", err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("axe check output: %v\n%s", err, out)
	}
	if want := len(files) * len(Widths); r.Checked != want {
		t.Fatalf("axe checked %d pages, want %d", r.Checked, want)
	}
	for _, v := range r.Violations {
		t.Errorf("axe: %s at %d px: %s (%s, %s, %d nodes):\n  %s", filepath.Base(v.File), v.Width, v.ID, v.Help, v.Impact, v.Count, strings.Join(v.Nodes, "\n  "))
	}
	for _, q := range r.Requests {
		t.Errorf("%s requested %s: a report must load nothing", filepath.Base(q.File), q.URL)
	}
}

// projectDir is .ci/axe of this repository, with its node_modules.
func projectDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", ".ci", "axe")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "puppeteer-core")); err != nil {
		skipOrFail(t, "the npm project "+dir+" is not installed (cd .ci/axe && npm ci; .ci/run does it)")
	}
	return dir
}

func look(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	skipOrFail(t, "none of "+strings.Join(names, ", ")+" is on PATH (apt-get install "+pkg+")")
	return ""
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
		t.Fatalf("%s, but AUDIT_TEST_REQUIRE_ALL says the accessibility check must run", why)
	}
	t.Skip("skipping the accessibility check: " + why)
}
