package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/pgtest"
)

// storedFinal returns the subjects of a run stored with a final outcome.
func storedFinal(t *testing.T, db *pgtest.DB, runID string) map[string]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		"SELECT id_type, user_id, outcome FROM "+db.Quoted()+".results WHERE run_id = $1 AND outcome <> 'error'", runID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var typ, id, outcome string
		if err := rows.Scan(&typ, &id, &outcome); err != nil {
			t.Fatal(err)
		}
		out[genauthtest.SubjectKey(typ, id)] = outcome
	}
	return out
}

func runStatus(t *testing.T, db *pgtest.DB, runID string) (status string, unique int64) {
	t.Helper()
	err := db.Pool.QueryRow(context.Background(),
		"SELECT status, unique_subjects FROM "+db.Quoted()+".runs WHERE run_id = $1", runID).Scan(&status, &unique)
	if err != nil {
		t.Fatal(err)
	}
	return status, unique
}

// TestPostgresKillAndResume kills a run with SIGKILL mid-way and resumes it
// with the same AUDIT_RUN_ID: every subject ends stored exactly once, no
// subject stored before the kill is asked again, and the resumed run's
// reports cover the whole run.
func TestPostgresKillAndResume(t *testing.T) {
	db := pgtest.New(t)
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{Latency: 5 * time.Millisecond}})
	defer srv.Close()
	csvPath, order := messyCSV(t, 6000, 4)
	out := t.TempDir()
	env := append(serverEnv(srv), "PATH="+os.Getenv("PATH"), "AUDIT_PROGRESS=never",
		"AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0", "AUDIT_CONCURRENCY=8",
		"AUDIT_RUN_ID=resume-1", "AUDIT_PG_SCHEMA="+db.Schema)

	first := exec.Command(auditBin, "run")
	first.Env = append(env, "AUDIT_OUTPUT="+db.URL)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until some batches are stored, then kill without warning.
	deadline := time.Now().Add(60 * time.Second)
	stored := func() (n int) {
		db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+db.Quoted()+".results WHERE run_id = 'resume-1'").Scan(&n)
		return n // 0 while the tables do not exist yet
	}
	for stored() < 1000 {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatal("nothing stored after 60 s")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	before := storedFinal(t, db, "resume-1")
	if len(before) >= len(order) {
		t.Fatalf("the run finished before the kill (%d stored)", len(before))
	}
	if st, _ := runStatus(t, db, "resume-1"); st != "running" {
		t.Errorf("killed run has status %q, want running", st)
	}

	jsonl := filepath.Join(out, "resumed.jsonl")
	code, log := runAudit(t, append(env, "AUDIT_OUTPUT="+db.URL+","+jsonl), "run")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, tail(log, 3000))
	}
	after := storedFinal(t, db, "resume-1")
	var total int64
	db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+db.Quoted()+".results WHERE run_id = 'resume-1'").Scan(&total)
	if total != int64(len(order)) || len(after) != len(order) {
		t.Errorf("stored %d rows (%d final) for %d unique subjects", total, len(after), len(order))
	}
	answers := srv.AnsweredSubjects()
	for k, outcome := range before {
		if answers[k] != 1 && outcome != "invalid" {
			t.Errorf("subject %q stored before the kill was answered %d times", k, answers[k])
		}
		if after[k] != outcome {
			t.Errorf("subject %q changed from %s to %s", k, outcome, after[k])
		}
	}
	if st, unique := runStatus(t, db, "resume-1"); st != "complete" || unique != int64(len(order)) {
		t.Errorf("runs row: %s, %d unique; want complete, %d", st, unique, len(order))
	}
	if got := readJSONL(t, jsonl); len(got) != len(order) {
		t.Errorf("the resumed run's JSONL has %d results, want the whole run's %d", len(got), len(order))
	}
}

// TestShardsReportAndMigration: four shard processes give the same results
// as one process; `audit report` from Postgres and from the JSONL gives the
// same results and figures as the original run.
func TestShardsReportAndMigration(t *testing.T) {
	db := pgtest.New(t)
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, order := messyCSV(t, 4000, 5)
	out := t.TempDir()
	base := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0", "AUDIT_PG_SCHEMA="+db.Schema, "AUDIT_GROUP_BY=department")

	single := filepath.Join(out, "single.jsonl")
	if code, log := runAudit(t, append(base, "AUDIT_RUN_ID=single", "AUDIT_OUTPUT="+db.URL+","+single), "run"); code != 0 {
		t.Fatalf("single: exit %d\n%s", code, tail(log, 2000))
	}

	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range 4 {
		wg.Go(func() {
			codes[i], _ = runAudit(t, append(base, "AUDIT_RUN_ID=sharded", "AUDIT_SHARD=/4",
				"JOB_COMPLETION_INDEX="+string(rune('0'+i)), "AUDIT_OUTPUT="+db.URL), "run")
		})
	}
	wg.Wait()
	if !reflect.DeepEqual(codes, []int{0, 0, 0, 0}) {
		t.Fatalf("shard exit codes %v", codes)
	}
	if st, unique := runStatus(t, db, "sharded"); st != "complete" || unique != int64(len(order)) {
		t.Errorf("sharded runs row: %s, %d unique; want complete, %d", st, unique, len(order))
	}
	if a, b := storedFinal(t, db, "single"), storedFinal(t, db, "sharded"); !reflect.DeepEqual(a, b) {
		t.Errorf("four shards stored %d final results, one process %d; they differ", len(b), len(a))
	}

	// Report from Postgres: the same results in the same order.
	fromPG := filepath.Join(out, "from-pg.jsonl")
	if code, log := runAudit(t, []string{"AUDIT_REPORT_FROM=" + db.URL, "AUDIT_RUN_ID=sharded", "AUDIT_PG_SCHEMA=" + db.Schema,
		"AUDIT_OUTPUT=" + fromPG + "," + filepath.Join(out, "from-pg.xlsx") + "," + filepath.Join(out, "from-pg.html")}, "report"); code != 0 {
		t.Fatalf("report from Postgres: exit %d\n%s", code, tail(log, 2000))
	}
	want := readJSONL(t, single)
	if got := readJSONL(t, fromPG); !sameResults(t, got, want) {
		t.Errorf("report from Postgres differs from the single run (%d vs %d results)", len(got), len(want))
	}

	// Migration: the single run's JSONL into Postgres under a new run id.
	if code, log := runAudit(t, []string{"AUDIT_REPORT_FROM=" + single, "AUDIT_RUN_ID=migrated", "AUDIT_PG_SCHEMA=" + db.Schema,
		"AUDIT_GROUP_BY=department", "AUDIT_OUTPUT=" + db.URL}, "report"); code != 0 {
		t.Fatalf("report from JSONL into Postgres: exit %d\n%s", code, tail(log, 2000))
	}
	if a, b := storedFinal(t, db, "single"), storedFinal(t, db, "migrated"); !reflect.DeepEqual(a, b) {
		t.Errorf("migrated run has %d final results, the original %d", len(b), len(a))
	}
	var figures [2][6]int64
	for i, id := range []string{"single", "migrated"} {
		err := db.Pool.QueryRow(context.Background(), "SELECT unique_subjects, ok, not_found, invalid, compliant, totp FROM "+db.Quoted()+".runs WHERE run_id = $1", id).
			Scan(&figures[i][0], &figures[i][1], &figures[i][2], &figures[i][3], &figures[i][4], &figures[i][5])
		if err != nil {
			t.Fatal(err)
		}
	}
	if figures[0] != figures[1] {
		t.Errorf("figures of the original %v and the migrated run %v differ", figures[0], figures[1])
	}
	var groupBy string
	db.Pool.QueryRow(context.Background(), "SELECT group_by FROM "+db.Quoted()+".runs WHERE run_id = 'migrated'").Scan(&groupBy)
	if groupBy != "department" {
		t.Errorf("migrated run grouped by %q, want the AUDIT_GROUP_BY given to audit report", groupBy)
	}
}

var requestIDRE = regexp.MustCompile(`requestId [0-9a-f-]+`)

// sameResults compares results ignoring when and how often they were asked.
func sameResults(t *testing.T, a, b []jsonResult) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		// Different runs asked the API separately: attempts and request ids differ.
		x.Attempts, y.Attempts = 0, 0
		x.Error, y.Error = requestIDRE.ReplaceAllString(x.Error, ""), requestIDRE.ReplaceAllString(y.Error, "")
		if !reflect.DeepEqual(x, y) {
			t.Logf("result %d differs:\n%+v\n%+v", i, x, y)
			return false
		}
	}
	return true
}
