package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/internal/pgtest"
)

// TestTwoNightsMigrateApart: two nights' reports/<date>/mfa.jsonl migrated
// into one Postgres stay two runs, each under the run_id its file carries;
// migrating a night again, or auditing into a complete run id, is exit 2
// with nothing stored; a file without run_id needs AUDIT_RUN_ID.
func TestTwoNightsMigrateApart(t *testing.T) {
	db := pgtest.New(t)
	srv := exportServer(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "users.csv")
	os.WriteFile(src, []byte("user_id,department\n63739db5e0c8a1b2c3d4e5f6,\t=1+2\n63739db5e0c8a1b2c3d4e5f7,Sales\n"), 0o600)
	nights := []string{"2024-05-01", "2024-05-02"}
	runIDs := map[string]string{}
	runIDRE := regexp.MustCompile(`msg="audit started" run_id=(\S+)`)
	for _, night := range nights {
		jsonl := filepath.Join(dir, "reports", night, "mfa.jsonl")
		code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+src, "AUDIT_OUTPUT="+jsonl, "AUDIT_RATE=0"), "run")
		if code != 0 {
			t.Fatalf("night %s: exit %d\n%s", night, code, log)
		}
		m := runIDRE.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no run id in the log:\n%s", log)
		}
		runIDs[night] = m[1]
	}
	if runIDs[nights[0]] == runIDs[nights[1]] {
		t.Fatalf("two nights share the run id %s", runIDs[nights[0]])
	}
	report := func(env ...string) (int, string) {
		t.Helper()
		return runAudit(t, append([]string{"AUDIT_OUTPUT=" + db.URL, "AUDIT_PG_SCHEMA=" + db.Schema}, env...), "report")
	}
	for _, night := range nights {
		code, log := report("AUDIT_REPORT_FROM=" + filepath.Join(dir, "reports", night, "mfa.jsonl"))
		if code != 0 {
			t.Fatalf("migrating %s: exit %d\n%s", night, code, log)
		}
	}
	runs := func() map[string]int64 {
		t.Helper()
		rows, err := db.Pool.Query(context.Background(), "SELECT r.run_id, count(x.*) FROM "+db.Quoted()+".runs r LEFT JOIN "+
			db.Quoted()+".results x ON x.run_id = r.run_id GROUP BY r.run_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var id string
			var n int64
			rows.Scan(&id, &n)
			out[id] = n
		}
		return out
	}
	want := map[string]int64{runIDs[nights[0]]: 2, runIDs[nights[1]]: 2}
	if got := runs(); len(got) != 2 || got[runIDs[nights[0]]] != 2 || got[runIDs[nights[1]]] != 2 {
		t.Fatalf("runs stored %v, want %v (never one run \"mfa\")", got, want)
	}
	var dept string
	db.Pool.QueryRow(context.Background(), "SELECT attrs->>'department' FROM "+db.Quoted()+".results WHERE run_id = $1 AND user_id = '63739db5e0c8a1b2c3d4e5f6'",
		runIDs[nights[0]]).Scan(&dept)
	if dept != "\t=1+2" {
		t.Errorf("department stored as %q, want \"\\t=1+2\" byte for byte", dept)
	}

	// The first night again: its run is complete, nothing is stored.
	code, log := report("AUDIT_REPORT_FROM=" + filepath.Join(dir, "reports", nights[0], "mfa.jsonl"))
	if code != 2 || !strings.Contains(log, "AUDIT_RUN_ID") || !strings.Contains(log, "already holds the complete run") {
		t.Errorf("migrating a night twice: exit %d, want 2 naming AUDIT_RUN_ID and the complete run\n%s", code, log)
	}
	// Auditing into a complete run id: exit 2 before any API call.
	srv.ResetCounters()
	code, log = runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+src, "AUDIT_OUTPUT="+db.URL, "AUDIT_PG_SCHEMA="+db.Schema,
		"AUDIT_RUN_ID="+runIDs[nights[1]]), "run")
	if c := srv.Counters(); code != 2 || c.Requests+c.TokenCalls != 0 || !strings.Contains(log, "already holds the complete run") {
		t.Errorf("run into a complete run id: exit %d with %d MFA and %d token calls, want 2 and none\n%s", code, c.Requests, c.TokenCalls, log)
	}

	// A file written before JSON Lines had run_id needs AUDIT_RUN_ID.
	old := filepath.Join(dir, "reports", "old", "mfa.jsonl")
	os.MkdirAll(filepath.Dir(old), 0o700)
	b, _ := os.ReadFile(filepath.Join(dir, "reports", nights[0], "mfa.jsonl"))
	os.WriteFile(old, regexp.MustCompile(`,"run_id":"[^"]*"`).ReplaceAll(b, nil), 0o600)
	code, log = report("AUDIT_REPORT_FROM=" + old)
	if code != 2 || !strings.Contains(log, "AUDIT_RUN_ID") || !strings.Contains(log, "carry no run_id") {
		t.Errorf("a file without run_id: exit %d, want 2 asking for AUDIT_RUN_ID\n%s", code, log)
	}
	if code, log = report("AUDIT_REPORT_FROM="+old, "AUDIT_RUN_ID=night-old"); code != 0 {
		t.Errorf("with AUDIT_RUN_ID: exit %d\n%s", code, log)
	}
	if got := runs(); len(got) != 3 || got["night-old"] != 2 || got[runIDs[nights[0]]] != 2 || got[runIDs[nights[1]]] != 2 {
		t.Errorf("runs stored %v, want the two nights and night-old, 2 results each", got)
	}
}
