package exceptions

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

func result(id string, outcome pipeline.Outcome, totp bool) pipeline.Result {
	r := pipeline.Result{UserID: id, IDType: "user_id", Outcome: outcome}
	if outcome == pipeline.OutcomeOK {
		r.TOTP = &totp
	}
	r.Classify(pipeline.PolicyAny)
	return r
}

func mustParse(t *testing.T, rows ...string) *Register {
	t.Helper()
	reg, err := Parse("reg.csv", []byte("id_type,user_id,reason,approved_by,expires,ticket\n"+strings.Join(rows, "\n")+"\n"), "user_id")
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// The run's date is 2026-06-10 (any time of that day, UTC).
var runDay = time.Date(2026, 6, 10, 23, 59, 59, 0, time.UTC)

func TestJudgeStates(t *testing.T) {
	reg := mustParse(t,
		"user_id,active,leave,ciso,2026-08-01,T-1",       // 2 non-compliant, far off: active
		"user_id,expiring,leave,ciso,2026-07-10,",        // 3 non-compliant, 30 days: expiring
		"user_id,notyet,leave,ciso,2026-07-11,",          // 4 31 days: active, not expiring
		"user_id,today,leave,ciso,2026-06-10,",           // 5 expires today: still valid, expiring
		"user_id,yesterday,leave,ciso,2026-06-09,",       // 6 expired
		"user_id,compliant,leave,ciso,2026-08-01,",       // 7 compliant: unneeded
		"user_id,compliantold,leave,ciso,2020-01-01,",    // 8 compliant and expired: unneeded
		"user_id,gone,leave,ciso,2026-08-01,",            // 9 not_found: stale
		"user_id,bad,leave,ciso,2026-08-01,",             // 10 invalid: stale
		"user_id,unknown,leave,ciso,2026-08-01,",         // 11 error: unknown
		"user_id,nobody,leave,ciso,2026-08-01,",          // 12 not in the run: stale
		"email,Ann@Example.com,mailbox,ciso,2026-08-01,", // 13 not in the run: stale
	)
	j := NewJudge(reg, runDay, 30, pipeline.Shard{})
	results := []pipeline.Result{
		result("active", pipeline.OutcomeOK, false),
		result("expiring", pipeline.OutcomeOK, false),
		result("notyet", pipeline.OutcomeOK, false),
		result("today", pipeline.OutcomeOK, false),
		result("yesterday", pipeline.OutcomeOK, false),
		result("compliant", pipeline.OutcomeOK, true),
		result("compliantold", pipeline.OutcomeOK, true),
		result("gone", pipeline.OutcomeNotFound, false),
		result("bad", pipeline.OutcomeInvalid, false),
		result("unknown", pipeline.OutcomeError, false),
		result("plain", pipeline.OutcomeOK, false), // no entry
	}
	wantResult := map[string]string{
		"active": "active", "expiring": "active", "notyet": "active", "today": "active",
		"yesterday": "expired", "compliant": "unneeded", "compliantold": "unneeded",
	}
	var sum pipeline.Summary
	for i := range results {
		r := &results[i]
		j.Apply(r)
		sum.Add(r)
		got := ""
		if r.Exception != nil {
			got = r.Exception.State
		}
		if got != wantResult[r.UserID] {
			t.Errorf("%s: exception state %q, want %q", r.UserID, got, wantResult[r.UserID])
		}
	}
	if x := results[0].Exception; x.Reason != "leave" || x.ApprovedBy != "ciso" || x.Expires != "2026-08-01" || x.Ticket != "T-1" {
		t.Errorf("exception fields = %+v", x)
	}
	rep := j.Report()
	wantEntry := []string{"active", "expiring", "active", "expiring", "expired", "unneeded", "unneeded", "stale", "stale", "unknown", "stale", "stale"}
	if len(rep.Entries) != len(wantEntry) {
		t.Fatalf("%d entries", len(rep.Entries))
	}
	for i, w := range wantEntry {
		if e := rep.Entries[i]; e.State != w {
			t.Errorf("entry %s (line %d): state %q, want %q", e.UserID, e.Line, e.State, w)
		}
	}
	if rep.Entries[0].MFA != "none" || rep.Entries[5].MFA != "strong" || rep.Entries[10].Outcome != "" {
		t.Errorf("current MFA not recorded: %+v", rep.Entries)
	}
	got := fmt.Sprintf("active=%d expiring=%d expired=%d unneeded=%d stale=%d unknown=%d",
		rep.Active, rep.Expiring, rep.Expired, rep.Unneeded, rep.Stale, rep.Unknown)
	if want := "active=4 expiring=2 expired=1 unneeded=2 stale=4 unknown=1"; got != want {
		t.Errorf("report counts %s, want %s", got, want)
	}
	// Summary arithmetic: 8 checked, 2 compliant, 6 non-compliant of which
	// 4 excepted, so 2 non-compliant without an active exception.
	c := sum.Counts
	if c.OK != 8 || c.Compliant != 2 || c.NonCompliant != 6 || c.Excepted != 4 || c.Unexcepted() != 2 {
		t.Fatalf("counts = %+v", c)
	}
	if c.Coverage() != 2.0/8 || c.CoverageWithExceptions() != 6.0/8 {
		t.Fatalf("coverage %v, with exceptions %v", c.Coverage(), c.CoverageWithExceptions())
	}
}

func TestJudgeExpiryBoundaryDay(t *testing.T) {
	reg := mustParse(t, "user_id,u,leave,ciso,2026-06-10,")
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC), "active"},
		{time.Date(2026, 6, 10, 23, 59, 59, 999e6, time.UTC), "active"},
		{time.Date(2026, 6, 11, 0, 0, 0, 0, time.UTC), "expired"},
		// 2026-06-11 01:00 in UTC+3 is still 2026-06-10 22:00 UTC.
		{time.Date(2026, 6, 11, 1, 0, 0, 0, time.FixedZone("UTC+3", 3*3600)), "active"},
		{time.Date(2026, 6, 10, 22, 0, 0, 0, time.FixedZone("UTC-3", -3*3600)), "expired"},
	} {
		r := result("u", pipeline.OutcomeOK, false)
		NewJudge(reg, tc.at, 30, pipeline.Shard{}).Apply(&r)
		if r.Exception == nil || r.Exception.State != tc.want {
			t.Errorf("run at %v: %+v, want %s", tc.at, r.Exception, tc.want)
		}
	}
}

func TestJudgeWarnDaysBoundary(t *testing.T) {
	reg := mustParse(t, "user_id,a,x,y,2026-06-17,", "user_id,b,x,y,2026-06-18,")
	j := NewJudge(reg, runDay, 7, pipeline.Shard{})
	for _, id := range []string{"a", "b"} {
		r := result(id, pipeline.OutcomeOK, false)
		j.Apply(&r)
	}
	rep := j.Report()
	if rep.Entries[0].State != "expiring" || rep.Entries[1].State != "active" {
		t.Fatalf("states %s %s", rep.Entries[0].State, rep.Entries[1].State)
	}
	// Zero warning days: only an entry expiring today is listed.
	j = NewJudge(mustParse(t, "user_id,a,x,y,2026-06-10,", "user_id,b,x,y,2026-06-11,"), runDay, 0, pipeline.Shard{})
	for _, id := range []string{"a", "b"} {
		r := result(id, pipeline.OutcomeOK, false)
		j.Apply(&r)
	}
	rep = j.Report()
	if rep.Entries[0].State != "expiring" || rep.Entries[1].State != "active" {
		t.Fatalf("warn 0: states %s %s", rep.Entries[0].State, rep.Entries[1].State)
	}
}

// Each shard judges the entries of its own subjects; the shards' reports
// add up to the unsharded one, and an entry naming nobody is stale in
// exactly one shard.
func TestJudgeShards(t *testing.T) {
	var rows []string
	var ids []string
	for i := range 40 {
		id := fmt.Sprintf("u%02d", i)
		ids = append(ids, id)
		rows = append(rows, "user_id,"+id+",r,a,2026-08-01,")
	}
	rows = append(rows, "user_id,ghost1,r,a,2026-08-01,", "user_id,ghost2,r,a,2026-08-01,")
	reg := mustParse(t, rows...)
	run := func(sh pipeline.Shard) *pipeline.ExceptionReport {
		j := NewJudge(reg, runDay, 30, sh)
		for i, id := range ids {
			r := result(id, pipeline.OutcomeOK, i%3 == 0)
			if sh.Owns(r.Key()) {
				j.Apply(&r)
			}
		}
		return j.Report()
	}
	whole := run(pipeline.Shard{})
	var active, unneeded, stale, entries, other int64
	for i := range 3 {
		rep := run(pipeline.Shard{Index: i, Count: 3})
		active += rep.Active
		unneeded += rep.Unneeded
		stale += rep.Stale
		entries += int64(len(rep.Entries))
		other += rep.OtherShard
		if int64(len(rep.Entries))+rep.OtherShard != int64(len(reg.Entries)) {
			t.Fatalf("shard %d: %d entries + %d other != %d", i, len(rep.Entries), rep.OtherShard, len(reg.Entries))
		}
	}
	if active != whole.Active || unneeded != whole.Unneeded || stale != whole.Stale || stale != 2 || entries != int64(len(reg.Entries)) {
		t.Fatalf("shards: active %d unneeded %d stale %d entries %d; whole: %+v", active, unneeded, stale, entries, whole)
	}
}

func TestStoredJudgeReEvaluates(t *testing.T) {
	// Stored as active by a run on 2026-06-10; rendered again for a run
	// dated after expiry, and after the subject enrolled.
	r1 := result("a", pipeline.OutcomeOK, false)
	r1.Exception = &pipeline.Exception{State: "active", Reason: "r", ApprovedBy: "a", Expires: "2026-06-10"}
	r2 := result("b", pipeline.OutcomeOK, true)
	r2.Exception = &pipeline.Exception{State: "active", Reason: "r", ApprovedBy: "a", Expires: "2026-08-01"}
	r3 := result("c", pipeline.OutcomeOK, false)
	s := NewStored(time.Date(2026, 6, 11, 8, 0, 0, 0, time.UTC), 30)
	for _, r := range []*pipeline.Result{&r1, &r2, &r3} {
		s.Apply(r)
	}
	if r1.Exception.State != "expired" || r2.Exception.State != "unneeded" || r3.Exception != nil {
		t.Fatalf("states %+v %+v %+v", r1.Exception, r2.Exception, r3.Exception)
	}
	rep := s.Report()
	if !rep.FromStored || len(rep.Entries) != 2 || rep.Expired != 1 || rep.Unneeded != 1 {
		t.Fatalf("report %+v", rep)
	}
	if NewStored(runDay, 30).Report() != nil {
		t.Fatal("a run without exceptions has no report")
	}
}

// E-mail identifiers match in any case, as subjects are compared; the
// register keeps the entry as written.
func TestJudgeEmailCaseInsensitive(t *testing.T) {
	reg := mustParse(t, "email,Ann.Lee@Example.COM,leave,ciso,2026-08-01,", "username,Bob,leave,ciso,2026-08-01,")
	j := NewJudge(reg, runDay, 30, pipeline.Shard{})
	a := result("ann.lee@example.com", pipeline.OutcomeOK, false)
	a.IDType = "email"
	b := result("bob", pipeline.OutcomeOK, false)
	b.IDType = "username"
	j.Apply(&a)
	j.Apply(&b)
	if a.Exception == nil || a.Exception.State != "active" {
		t.Fatalf("e-mail in another case: %+v", a.Exception)
	}
	if b.Exception != nil {
		t.Fatalf("usernames are compared exactly: %+v", b.Exception)
	}
	rep := j.Report()
	if rep.Entries[0].UserID != "Ann.Lee@Example.COM" || rep.Entries[0].State != "active" || rep.Entries[1].State != "stale" {
		t.Fatalf("entries %+v", rep.Entries)
	}
	_, err := Parse("reg.csv", []byte("id_type,user_id,reason,approved_by,expires\nemail,ann@x.com,a,b,2026-01-01\nemail,ANN@X.COM,a,b,2026-01-01\n"), "user_id")
	if err == nil || !strings.Contains(err.Error(), "line 3: the same subject as line 2") {
		t.Fatalf("the same e-mail in two cases: %v", err)
	}
}
