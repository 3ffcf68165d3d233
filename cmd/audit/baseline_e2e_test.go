package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/pgtest"
)

// changePool is a pool of n users with random factors and no legacy
// answers, every one with a GenAuth-shaped id.
func changePool(n int, seed uint64) []genauthtest.User {
	rng := rand.New(rand.NewPCG(seed, 1))
	users := make([]genauthtest.User, n)
	for i := range users {
		users[i] = genauthtest.User{
			UserID: fmt.Sprintf("%024x", 0xc0ffee000+i), Username: fmt.Sprint("user", i),
			Email: fmt.Sprintf("user%d@example.com", i), DepartmentIDs: []string{fmt.Sprint("dep", i%5)},
			TOTP: rng.Float64() < 0.5, Face: rng.Float64() < 0.1, SMS: rng.Float64() < 0.3, EmailMFA: rng.Float64() < 0.2,
		}
	}
	return users
}

type changeResult struct {
	UserID            string  `json:"user_id"`
	Outcome           string  `json:"outcome"`
	Compliant         *bool   `json:"compliant"`
	Change            *string `json:"change"`
	NonCompliantSince *string `json:"non_compliant_since"`
}

func readChanges(t *testing.T, path string) map[string]changeResult {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]changeResult{}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r changeResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		out[r.UserID] = r
	}
	return out
}

// truthLevel and truthChange restate SPEC 13 for users of the fake, whose
// answers are all "ok": the independent truth the outputs are checked
// against.
func truthLevel(u genauthtest.User) string {
	switch {
	case u.TOTP || u.Face:
		return "strong"
	case u.SMS || u.EmailMFA:
		return "weak"
	}
	return "none"
}

func truthCompliant(u genauthtest.User, policy string) bool {
	if policy == "strong" {
		return truthLevel(u) == "strong"
	}
	return truthLevel(u) != "none"
}

func truthChange(then *genauthtest.User, now genauthtest.User, policy string) string {
	if then == nil {
		return "joined"
	}
	c0, c1 := truthCompliant(*then, policy), truthCompliant(now, policy)
	l0, l1 := truthLevel(*then), truthLevel(now)
	switch {
	case c0 && !c1:
		return "new_gap"
	case !c0 && c1:
		return "fixed"
	case c0 && l0 == "strong" && l1 == "weak":
		return "weakened"
	case l0 == "weak" && l1 == "strong":
		return "strengthened"
	}
	return "unchanged"
}

// TestChangesAgainstAJSONLChain audits a pool, the same pool a month later
// (factors changed, users deleted, joiners) against the first run's JSON
// Lines, and a third time against the second's, under policy strong the
// third time: every subject's change and non_compliant_since must match
// the truth, left subjects are counted, and AUDIT_FAIL_ON_NEW_GAPS gates.
func TestChangesAgainstAJSONLChain(t *testing.T) {
	users := changePool(400, 3)
	srv := genauthtest.NewServer(genauthtest.Options{Users: users})
	defer srv.Close()
	dir := t.TempDir()
	env := append(serverEnv(srv), "AUDIT_SOURCE=genauth:users", "AUDIT_RATE=0")
	run := func(out string, extra ...string) (int, string) {
		return runAudit(t, append(append(env, "AUDIT_OUTPUT="+filepath.Join(dir, out)), extra...), "run")
	}
	if code, log := run("a.jsonl"); code != 0 {
		t.Fatalf("run 1: exit %d\n%s", code, tail(log, 2000))
	}
	// Make the first run a month old, as last month's file would be.
	today := time.Now().UTC().Format("2006-01-02")
	const monthAgo = "2026-10-01"
	a, _ := os.ReadFile(filepath.Join(dir, "a.jsonl"))
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(strings.ReplaceAll(string(a), today, monthAgo)), 0o600); err != nil {
		t.Fatal(err)
	}

	srv.ServeLater(genauthtest.Later{Changed: 0.3, Deleted: 0.05, Joined: 0.05, Seed: 11})
	later := srv.Users()
	code, log := run("b.jsonl", "AUDIT_BASELINE="+filepath.Join(dir, "a.jsonl"))
	if code != 0 {
		t.Fatalf("run 2: exit %d\n%s", code, tail(log, 2000))
	}
	byID := map[string]*genauthtest.User{}
	for i := range users {
		byID[users[i].UserID] = &users[i]
	}
	got := readChanges(t, filepath.Join(dir, "b.jsonl"))
	check := func(run string, got map[string]changeResult, then map[string]*genauthtest.User, now []genauthtest.User, policy string, since func(id string) string) map[string]int {
		counts := map[string]int{}
		for _, u := range now {
			r, ok := got[u.UserID]
			if !ok {
				t.Errorf("%s: %s missing", run, u.UserID)
				continue
			}
			want := truthChange(then[u.UserID], u, policy)
			counts[want]++
			if r.Change == nil || *r.Change != want {
				t.Errorf("%s: %s change %v, want %s", run, u.UserID, deref(r.Change), want)
			}
			wantSince := ""
			if !truthCompliant(u, policy) {
				wantSince = since(u.UserID)
			}
			if deref(r.NonCompliantSince) != wantSince {
				t.Errorf("%s: %s non_compliant_since %q, want %q", run, u.UserID, deref(r.NonCompliantSince), wantSince)
			}
		}
		return counts
	}
	counts := check("run 2", got, byID, later, "any", func(id string) string {
		if u := byID[id]; u != nil && !truthCompliant(*u, "any") {
			return monthAgo
		}
		return today
	})
	left := 0
	for _, u := range users {
		if _, ok := got[u.UserID]; !ok {
			left++
		}
	}
	if left == 0 || counts["new_gap"] == 0 || counts["joined"] == 0 || counts["fixed"] == 0 {
		t.Fatalf("the later pool shows too little change: left %d, %v", left, counts)
	}
	for class, n := range counts {
		if !strings.Contains(log, fmt.Sprintf("change_%s=%d", class, n)) {
			t.Errorf("final log line lacks change_%s=%d:\n%s", class, n, tail(log, 1500))
		}
	}
	if !strings.Contains(log, fmt.Sprintf("change_left=%d", left)) {
		t.Errorf("final log line lacks change_left=%d", left)
	}

	// Third run, policy strong, against the second's file: the gaps that
	// were open under "any" keep their date only if non-compliant then
	// under "strong" too (recomputed from the factors).
	laterByID := map[string]*genauthtest.User{}
	for i := range later {
		laterByID[later[i].UserID] = &later[i]
	}
	code, log = run("c.jsonl", "AUDIT_BASELINE="+filepath.Join(dir, "b.jsonl"), "AUDIT_POLICY=strong")
	if code != 0 {
		t.Fatalf("run 3: exit %d\n%s", code, tail(log, 2000))
	}
	check("run 3", readChanges(t, filepath.Join(dir, "c.jsonl")), laterByID, later, "strong", func(id string) string {
		u := laterByID[id]
		if u != nil && !truthCompliant(*u, "strong") {
			if r := got[id]; r.NonCompliantSince != nil {
				return *r.NonCompliantSince // non-compliant in run 2 too: carried
			}
			return today // compliant under any in run 2, strong-non-compliant as of its check (today)
		}
		return today
	})

	t.Run("AUDIT_FAIL_ON_NEW_GAPS", func(t *testing.T) {
		base := "AUDIT_BASELINE=" + filepath.Join(dir, "a.jsonl")
		if code, log := run("d.jsonl", base, "AUDIT_FAIL_ON_NEW_GAPS=true"); code != 3 {
			t.Errorf("new gaps with the gate: exit %d, want 3\n%s", code, tail(log, 1000))
		}
		if code, _ := run("d.jsonl", "AUDIT_BASELINE="+filepath.Join(dir, "b.jsonl"), "AUDIT_FAIL_ON_NEW_GAPS=true"); code != 0 {
			t.Errorf("no new gap with the gate: exit %d, want 0", code)
		}
		if code, _ := run("d.jsonl", base); code != 0 {
			t.Errorf("new gaps without the gate: exit %d, want 0", code)
		}
		// Unknown subjects beyond AUDIT_MAX_UNKNOWN: 1 wins over 3.
		srv.ResetCounters() // a fresh fault budget per subject
		srv.SetFaults(genauthtest.Faults{ServerErrorRate: 0.5})
		defer srv.SetFaults(genauthtest.Faults{})
		if code, log := run("d.jsonl", base, "AUDIT_FAIL_ON_NEW_GAPS=true", "AUDIT_RETRIES=1"); code != 1 {
			t.Errorf("failed run with new gaps and the gate: exit %d, want 1\n%s", code, tail(log, 1000))
		}
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestBadBaselinesExit2BeforeAnyCall: a baseline that cannot be read, or
// cannot be found, stops the run before any API call, naming
// AUDIT_BASELINE.
func TestBadBaselinesExit2BeforeAnyCall(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Users: changePool(10, 1)})
	defer srv.Close()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.jsonl")
	os.WriteFile(garbage, []byte(`{"user_id":"a","outcome":"ok"}`+"\nnot json\n"), 0o600)
	badChange := filepath.Join(dir, "bad-change.jsonl")
	os.WriteFile(badChange, []byte(`{"user_id":"a","outcome":"ok","change":"better"}`+"\n"), 0o600)
	env := append(serverEnv(srv), "AUDIT_SOURCE=genauth:users", "AUDIT_OUTPUT="+filepath.Join(dir, "out.jsonl"))
	for _, tc := range []struct{ baseline, says string }{
		{filepath.Join(dir, "missing.jsonl"), "no such file"},
		{garbage, "garbage.jsonl line 2"},
		{badChange, "better"},
		{"20261101T020000Z-abcdef", "needs a Postgres output"},
		{"previous", "needs a Postgres output"},
		{"last month", "is not a results .jsonl file"},
	} {
		srv.ResetCounters()
		code, log := runAudit(t, append(env, "AUDIT_BASELINE="+tc.baseline), "run")
		if code != 2 || !strings.Contains(log, "AUDIT_BASELINE") || !strings.Contains(log, tc.says) {
			t.Errorf("AUDIT_BASELINE=%s: exit %d, want 2 naming AUDIT_BASELINE and %q:\n%s", tc.baseline, code, tc.says, tail(log, 800))
		}
		if c := srv.Counters(); c.Requests+c.TokenCalls+c.ListCalls != 0 {
			t.Errorf("AUDIT_BASELINE=%s: %d API calls before exit 2", tc.baseline, c.Requests+c.TokenCalls+c.ListCalls)
		}
		if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err == nil {
			t.Errorf("AUDIT_BASELINE=%s: an output was written", tc.baseline)
		}
	}
}

// TestPostgresPreviousBaseline: with a Postgres output the default
// baseline is the latest other complete run of the same source: not a
// later incomplete one, not one of another source. The stored changes
// match the truth, the runs row sums them, and audit report of the second
// run renders the same changes.
func TestPostgresPreviousBaseline(t *testing.T) {
	db := pgtest.New(t)
	users := changePool(300, 5)
	srv := genauthtest.NewServer(genauthtest.Options{Users: users})
	defer srv.Close()
	dir := t.TempDir()
	env := append(serverEnv(srv), "AUDIT_SOURCE=genauth:users", "AUDIT_RATE=0", "AUDIT_PG_SCHEMA="+db.Schema)
	if code, log := runAudit(t, append(env, "AUDIT_OUTPUT="+db.URL, "AUDIT_RUN_ID=r1"), "run"); code != 0 {
		t.Fatalf("run 1: exit %d\n%s", code, tail(log, 2000))
	}
	// Later runs that must not be picked: incomplete, or another source.
	db.Exec(t, `INSERT INTO `+db.Quoted()+`.runs (run_id, started_at, status, source) VALUES
		('r-incomplete', now(), 'incomplete', 'genauth:users'),
		('r-failed', now(), 'failed', 'genauth:users'),
		('r-other', now(), 'complete', 'people.csv')`)
	srv.ServeLater(genauthtest.Later{Changed: 0.3, Deleted: 0.05, Joined: 0.05, Seed: 5})
	later := srv.Users()
	jsonl := filepath.Join(dir, "r2.jsonl")
	code, log := runAudit(t, append(env, "AUDIT_OUTPUT="+db.URL+","+jsonl, "AUDIT_RUN_ID=r2"), "run")
	if code != 0 {
		t.Fatalf("run 2: exit %d\n%s", code, tail(log, 2000))
	}
	if !strings.Contains(log, "baseline=\"run r1\"") {
		t.Errorf("run 2 did not compare with r1:\n%s", tail(log, 2000))
	}
	byID := map[string]*genauthtest.User{}
	for i := range users {
		byID[users[i].UserID] = &users[i]
	}
	want := map[string]string{}
	counts := map[string]int64{}
	for _, u := range later {
		want[u.UserID] = truthChange(byID[u.UserID], u, "any")
		counts[want[u.UserID]]++
	}
	rows, err := db.Pool.Query(context.Background(), `SELECT user_id, coalesce(change, ''), non_compliant_since IS NOT NULL, coalesce(compliant, true)
		FROM `+db.Quoted()+`.results WHERE run_id = 'r2'`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id, change string
		var since, compliant bool
		if err := rows.Scan(&id, &change, &since, &compliant); err != nil {
			t.Fatal(err)
		}
		n++
		if change != want[id] {
			t.Errorf("stored change of %s: %q, want %q", id, change, want[id])
		}
		if since == compliant {
			t.Errorf("%s: compliant %v with non_compliant_since set %v", id, compliant, since)
		}
	}
	if n != len(later) {
		t.Errorf("%d results stored, want %d", n, len(later))
	}
	var stored map[string]float64
	var baseline string
	if err := db.Pool.QueryRow(context.Background(), `SELECT baseline, changes FROM `+db.Quoted()+`.runs WHERE run_id = 'r2'`).Scan(&baseline, &stored); err != nil {
		t.Fatal(err)
	}
	left := int64(len(users) + int(counts["joined"]) - len(later))
	if baseline != "run r1" || int64(stored["left"]) != left || int64(stored["new_gap"]) != counts["new_gap"] || int64(stored["joined"]) != counts["joined"] {
		t.Errorf("runs row: baseline %q, changes %v; want run r1, left %d, %v", baseline, stored, left, counts)
	}

	// audit report of r2 compares with r1 again and renders the same.
	rep := filepath.Join(dir, "report.jsonl")
	code, log = runAudit(t, append(env, "AUDIT_REPORT_FROM="+db.URL, "AUDIT_RUN_ID=r2", "AUDIT_OUTPUT="+rep), "report")
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, tail(log, 2000))
	}
	a, b := readChanges(t, jsonl), readChanges(t, rep)
	for id, r := range a {
		if deref(b[id].Change) != deref(r.Change) || deref(b[id].NonCompliantSince) != deref(r.NonCompliantSince) {
			t.Errorf("report of %s: %v since %v; the run wrote %v since %v", id, deref(b[id].Change), deref(b[id].NonCompliantSince), deref(r.Change), deref(r.NonCompliantSince))
		}
	}

	// A baseline run id that is not in the database: exit 2 naming it.
	srv.ResetCounters()
	code, log = runAudit(t, append(env, "AUDIT_OUTPUT="+db.URL, "AUDIT_BASELINE=r-nope"), "run")
	if code != 2 || !strings.Contains(log, "r-nope") || srv.Counters().TokenCalls != 0 {
		t.Errorf("unknown baseline run: exit %d, %d token calls\n%s", code, srv.Counters().TokenCalls, tail(log, 1000))
	}
}
