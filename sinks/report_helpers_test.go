package sinks

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// Helpers shared by the XLSX and HTML report tests.

// update rewrites the golden files: go test ./sinks -run Golden -update.
var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// hostilePayloads are values that must stay inert in every report: formula
// prefixes for spreadsheets, markup and script for the HTML page.
var hostilePayloads = []string{
	`=HYPERLINK("http://x","y")`,
	`+1`,
	`-1`,
	`@SUM(A1)`,
	"\t=1+1",
	"\r=2+2",
	`＝1+1`,
	`<script>alert("x")</script>`,
	`"><img src=x onerror=alert(1)>`,
	`</style><script>alert(2)</script>`,
	`javascript:alert(3)`,
	`{{.CSS}}`,
	`a & b < c`,
	`=cmd|' /C calc'!A0`,
}

var reportAttrNames = []string{"department", "name", "manager"}

var reportStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func reportRun() pipeline.RunInfo {
	return pipeline.RunInfo{
		RunID:     "20260302T090000Z-4f2a",
		StartedAt: reportStart,
		Source:    "testdata/users.csv",
		Host:      "https://api.genauth.ai",
		Hostname:  "audit-runner-1",
		Version:   "v1.2.3",
		Policy:    pipeline.PolicyAny,
		GroupBy:   "department",
		Shard:     pipeline.Shard{Index: 0, Count: 1},
		AttrNames: reportAttrNames,
		Config: map[string]string{
			"AUDIT_CONCURRENCY":         "8",
			"AUDIT_POLICY":              "any",
			"AUDIT_OUTPUT":              "out/mfa-audit.xlsx,postgres://audit:hunter2@db/audit",
			"GENAUTH_HOST":              "https://api.genauth.ai",
			"GENAUTH_ACCESS_KEY_SECRET": "must-never-appear",
			"AUDIT_GROUP_BY":            "department",
		},
	}
}

func bp(b bool) *bool { return &b }

// reportResults returns n results with every outcome, MFA level and
// attribute shape, hostile payloads spread over every text field. The
// same i always gives the same result.
func reportResults(n int) []pipeline.Result {
	depts := []string{"Finance", "Engineering", "Sales", "", "Legal"}
	out := make([]pipeline.Result, 0, n)
	for i := range n {
		p := hostilePayloads[i%len(hostilePayloads)]
		r := pipeline.Result{
			UserID:    fmt.Sprintf("u%05d", i),
			IDType:    "user_id",
			Attrs:     pipeline.Attrs{{Key: "department", Value: depts[i%len(depts)]}, {Key: "name", Value: "User " + strconv.Itoa(i)}, {Key: "manager", Value: "boss" + strconv.Itoa(i%7) + "@example.com"}},
			Attempts:  1 + i%3,
			CheckedAt: reportStart.Add(time.Duration(i) * 1500 * time.Millisecond),
			Line:      int64(i + 2),
		}
		switch i % 10 {
		case 0, 1, 2: // strong
			r.Outcome, r.TOTP, r.Face, r.SMS, r.Email = pipeline.OutcomeOK, bp(true), bp(i%2 == 0), bp(false), bp(true)
		case 3, 4: // weak
			r.Outcome, r.TOTP, r.Face, r.SMS, r.Email = pipeline.OutcomeOK, bp(false), bp(false), bp(true), nil
		case 5, 6: // none: non-compliant
			r.Outcome, r.TOTP, r.Face, r.SMS, r.Email = pipeline.OutcomeOK, bp(false), bp(false), bp(false), bp(false)
			r.Attrs[1].Value = p // hostile attribute
		case 7:
			r.Outcome = pipeline.OutcomeNotFound
			r.Error = "user not found (apiCode 2004, HTTP 200): " + p
			r.APICode = "2004"
			r.RequestID = "req-" + p
		case 8:
			r.Outcome = pipeline.OutcomeInvalid
			r.UserID = p
			r.IDType = "email"
			r.Error = "invalid id for its type: " + p
			r.CheckedAt = time.Time{}
			r.Attempts = 0
		case 9:
			r.Outcome = pipeline.OutcomeError
			r.Error = "no answer after 6 attempts: HTTP 503 " + p
			r.RequestID = "req-" + strconv.Itoa(i)
			r.Attrs[0].Value = p // hostile group name
		}
		if i%13 == 0 {
			r.Attrs[2].Value = "+86 138 0013 8000" // a phone number for masking
		}
		r.Classify(pipeline.PolicyAny)
		out = append(out, r)
	}
	return out
}

// summarize computes the summary of results independently of any sink.
func summarize(run pipeline.RunInfo, results []pipeline.Result, complete bool, reason string) pipeline.Summary {
	s := pipeline.Summary{Run: run}
	for i := range results {
		s.Add(&results[i])
	}
	s.RowsRead = int64(len(results)) + 3
	s.Duplicates = 3
	s.FinishedAt = reportStart.Add(42 * time.Minute)
	s.Complete = complete
	s.Incomplete = reason
	return s
}

// writeAll drives sink through its life cycle like the pipeline does.
func writeAll(t testing.TB, sink pipeline.Sink, run pipeline.RunInfo, results []pipeline.Result, s pipeline.Summary) {
	t.Helper()
	ctx := context.Background()
	if err := sink.Open(ctx, run); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i, r := range results {
		if err := sink.Write(ctx, r); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	if err := sink.Close(ctx, s); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// lookTool finds the first of names on PATH or skips the test with a clear
// message.
func lookTool(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
		t.Fatalf("none of %v is on PATH, but AUDIT_TEST_REQUIRE_ALL says this test must run (apt-get install %s)", names, pkg)
	}
	t.Skipf("skipping: none of %v is on PATH (CI installs it: apt-get install %s)", names, pkg)
	return ""
}

func tempPath(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}
