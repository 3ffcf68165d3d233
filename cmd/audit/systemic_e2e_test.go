package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/pgtest"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// idsCSV writes a CSV of n ids made by id(i), with a name column.
func idsCSV(t *testing.T, n int, id func(i int) string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("user_id,name\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,Person %d\n", csvQuote(id(i)), i)
	}
	path := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func genAuthIDs(i int) string { return fmt.Sprintf("%08x%016x", i, uint64(i)*0x9e3779b97f4a7c15) }

// TestSystemicStops runs the binary as a new user would against runs that
// are doomed from their first answers: each stops within the threshold
// (counted by the server), exits 1 with one log line naming the cause and
// the fix, and writes the answered results into reports marked incomplete.
func TestSystemicStops(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults genauthtest.Faults
		ids    func(int) string
		want   []string // in the final log line
	}{
		{"key without permission", genauthtest.Faults{Forbidden: true}, genAuthIDs,
			[]string{"audit stopped early: the access key lacks permission for get-user-mfa-info (apiCode 1636", "fix: grant the access key"}},
		{"HTML 404 host", genauthtest.Faults{HTML404: true}, genAuthIDs,
			[]string{"audit stopped early: every get-user-mfa-info call was answered by something other than the GenAuth API (HTTP 404)", "fix: set GENAUTH_HOST"}},
		{"e-mails as user_id", genauthtest.Faults{}, func(i int) string { return fmt.Sprintf("person%d@example.com", i) },
			[]string{"audited as user_id, look like e-mail addresses", "fix: set AUDIT_ID_TYPE=email"}},
		{"phones as user_id", genauthtest.Faults{}, func(i int) string { return fmt.Sprintf("+86 138 %04d %04d", i/10000, i%10000) },
			[]string{"audited as user_id, look like phone numbers", "fix: set AUDIT_ID_TYPE=phone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: tc.faults})
			defer srv.Close()
			csvPath := idsCSV(t, 3000, tc.ids)
			out := t.TempDir()
			html, xlsx, jsonl := filepath.Join(out, "r.html"), filepath.Join(out, "r.xlsx"), filepath.Join(out, "r.jsonl")
			code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+csvPath,
				"AUDIT_OUTPUT="+html+","+xlsx+","+jsonl, "AUDIT_RATE=0", "AUDIT_CONCURRENCY=8"), "run")
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, tail(log, 2000))
			}
			for _, w := range tc.want {
				if !strings.Contains(log, w) {
					t.Errorf("log lacks %q:\n%s", w, tail(log, 2000))
				}
			}
			// The 50 answers that decided, plus at most the requests in
			// flight (AUDIT_CONCURRENCY) when the 50th arrived.
			requests := srv.Counters().Requests
			if requests < pipeline.SystemicSample || requests > pipeline.SystemicSample+8 {
				t.Errorf("the server got %d MFA requests; want %d to %d", requests, pipeline.SystemicSample, pipeline.SystemicSample+8)
			}
			results := readJSONL(t, jsonl)
			if len(results) < pipeline.SystemicSample || int64(len(results)) > requests {
				t.Errorf("%d results written for %d requests", len(results), requests)
			}
			for _, p := range []string{html, xlsx, jsonl} {
				marker, err := os.ReadFile(p + ".incomplete")
				if err != nil || !strings.Contains(string(marker), "stopped early") {
					t.Errorf("%s: marker %q, %v", filepath.Base(p), marker, err)
				}
			}
			page, _ := os.ReadFile(html)
			if !strings.Contains(string(page), "STOPPED EARLY") || !strings.Contains(string(page), "the rest of the input was not read") {
				t.Errorf("the HTML report does not say the run stopped early")
			}
		})
	}
}

// TestScatteredForbiddenCompletes: a healthy run with 2 % of its MFA calls
// refused (drawn per request) is not stopped: every subject is answered.
func TestScatteredForbiddenCompletes(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{ForbiddenRate: 0.02}})
	defer srv.Close()
	csvPath := idsCSV(t, 3000, genAuthIDs)
	jsonl := filepath.Join(t.TempDir(), "r.jsonl")
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+jsonl,
		"AUDIT_RATE=0", "AUDIT_MAX_UNKNOWN=300"), "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 2000))
	}
	results := readJSONL(t, jsonl)
	unknown := 0
	for _, r := range results {
		if r.Outcome == "error" {
			unknown++
		}
	}
	if len(results) != 3000 || unknown < 20 || unknown > 120 {
		t.Errorf("%d results, %d unknown; want 3000 with about 60 unknown", len(results), unknown)
	}
	if !strings.Contains(log, "audit finished, but the MFA state of") {
		t.Errorf("final line:\n%s", tail(log, 1500))
	}
}

// TestNothingAudited: a header-only CSV is exit 2 before any API call,
// naming the source, and leaves no report behind.
func TestNothingAudited(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath := idsCSV(t, 0, nil)
	out := filepath.Join(t.TempDir(), "out")
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+csvPath,
		"AUDIT_OUTPUT="+filepath.Join(out, "r.html")+","+filepath.Join(out, "r.xlsx")), "run")
	if code != 2 || !strings.Contains(log, csvPath) || !strings.Contains(log, "yields no subject") {
		t.Fatalf("exit %d, want 2 naming %s\n%s", code, csvPath, log)
	}
	if c := srv.Counters(); c.Requests != 0 || c.TokenCalls != 0 {
		t.Errorf("API calls made: %+v", c)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestResumeAfterSystemicStop: once the key is fixed, the same AUDIT_RUN_ID
// continues the stopped run: its unknown subjects are asked again, the rest
// of the input is read, every subject is answered once and the run ends
// complete.
func TestResumeAfterSystemicStop(t *testing.T) {
	db := pgtest.New(t)
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{Forbidden: true}})
	defer srv.Close()
	csvPath := idsCSV(t, 500, genAuthIDs)
	env := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0", "AUDIT_RUN_ID=stopped-1",
		"AUDIT_PG_SCHEMA="+db.Schema, "AUDIT_OUTPUT="+db.URL)
	if code, log := runAudit(t, env, "run"); code != 1 || !strings.Contains(log, "stopped early") {
		t.Fatalf("first run: exit %d\n%s", code, tail(log, 2000))
	}
	if st, _ := runStatus(t, db, "stopped-1"); st != "failed" {
		t.Errorf("stopped run stored as %q, want failed", st)
	}
	srv.SetFaults(genauthtest.Faults{}) // the key is fixed
	srv.ResetCounters()
	jsonl := filepath.Join(t.TempDir(), "r.jsonl")
	code, log := runAudit(t, append(env, "AUDIT_OUTPUT="+db.URL+","+jsonl), "run")
	if code != 0 {
		t.Fatalf("resumed run: exit %d\n%s", code, tail(log, 2000))
	}
	if st, unique := runStatus(t, db, "stopped-1"); st != "complete" || unique != 500 {
		t.Errorf("runs row %s, %d unique; want complete, 500", st, unique)
	}
	if got := readJSONL(t, jsonl); len(got) != 500 {
		t.Errorf("the resumed run's JSONL has %d results, want 500", len(got))
	}
	if c := srv.Counters(); c.AnsweredTwice != 0 || c.Answered != 500 {
		t.Errorf("resumed run: %d answered, %d twice", c.Answered, c.AnsweredTwice)
	}
}
