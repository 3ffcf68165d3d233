package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/pgtest"
)

// TestExceptionsShardsPostgres runs two shards of one run into Postgres,
// each reading the same register: every entry is judged by the shard that
// owns its subject, so the runs row's figures are the whole run's, and
// audit report from the stored run agrees, with the register given again
// or not.
func TestExceptionsShardsPostgres(t *testing.T) {
	db := pgtest.New(t)
	c := newExceptionCase(t, 1500)
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	out := t.TempDir()
	base := append(serverEnv(srv), "AUDIT_SOURCE="+c.csv, "AUDIT_RATE=0", "AUDIT_RUN_ID=exc-shards",
		"AUDIT_PG_SCHEMA="+db.Schema, "AUDIT_EXCEPTIONS="+c.register, "AUDIT_LOG_FORMAT=json")
	var stale, excepted float64
	for i := range 2 {
		code, log := runAudit(t, append(base, fmt.Sprintf("AUDIT_SHARD=%d/2", i),
			"AUDIT_OUTPUT="+db.URL+","+filepath.Join(out, fmt.Sprintf("s%d.jsonl", i))), "run")
		if code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, code, tail(log, 3000))
		}
		f := lastLogLine(t, log)
		stale += f["exceptions_stale"].(float64)
		excepted += f["excepted"].(float64)
	}
	if stale != float64(c.stale) || excepted != float64(c.exceptedN) {
		t.Errorf("shards' logs: stale %v excepted %v, want %d %d", stale, excepted, c.stale, c.exceptedN)
	}

	var (
		status                       string
		exc, expiring, staleN, stExp int64
		covExc                       *float64
		activeRows, expiredRows      int64
	)
	ctx := context.Background()
	err := db.Pool.QueryRow(ctx, "SELECT status, excepted, exceptions_expiring, exceptions_stale, exceptions_expired, coverage_with_exceptions FROM "+
		db.Quoted()+".runs WHERE run_id = 'exc-shards'").Scan(&status, &exc, &expiring, &staleN, &stExp, &covExc)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE exception->>'state' = 'active'), count(*) FILTER (WHERE exception->>'state' = 'expired') FROM "+
		db.Quoted()+".results WHERE run_id = 'exc-shards'").Scan(&activeRows, &expiredRows)
	if err != nil {
		t.Fatal(err)
	}
	wantExpired := int64(0)
	for _, s := range c.wantState {
		if s == "expired" {
			wantExpired++
		}
	}
	if status != "complete" || exc != int64(c.exceptedN) || expiring != int64(c.expiring) || staleN != int64(c.stale) ||
		stExp != wantExpired || activeRows != int64(c.exceptedN) || expiredRows != wantExpired || covExc == nil {
		t.Fatalf("runs row: %s excepted %d expiring %d stale %d expired %d cov %v; results active %d expired %d; want %d %d %d %d",
			status, exc, expiring, staleN, stExp, covExc, activeRows, expiredRows, c.exceptedN, c.expiring, c.stale, wantExpired)
	}

	for _, withRegister := range []bool{true, false} {
		rep := filepath.Join(out, fmt.Sprintf("rep-%v.jsonl", withRegister))
		env := []string{"AUDIT_REPORT_FROM=" + db.URL, "AUDIT_RUN_ID=exc-shards", "AUDIT_PG_SCHEMA=" + db.Schema,
			"AUDIT_OUTPUT=" + rep + "," + filepath.Join(out, fmt.Sprintf("rep-%v.xlsx", withRegister)), "AUDIT_LOG_FORMAT=json"}
		if withRegister {
			env = append(env, "AUDIT_EXCEPTIONS="+c.register)
		}
		code, log := runAudit(t, env, "report")
		if code != 0 {
			t.Fatalf("report (register %v): exit %d\n%s", withRegister, code, tail(log, 3000))
		}
		c.check(t, rep)
		f := lastLogLine(t, log)
		if f["excepted"] != float64(c.exceptedN) || f["exceptions_expiring"] != float64(c.expiring) {
			t.Errorf("report (register %v): %v", withRegister, f)
		}
		if withRegister && f["exceptions_stale"] != float64(c.stale) {
			t.Errorf("report with the register: stale %v, want %d", f["exceptions_stale"], c.stale)
		}
	}
}
