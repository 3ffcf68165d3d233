package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

func poolOf(n int) []genauthtest.User {
	var us []genauthtest.User
	for i := range n {
		us = append(us, genauthtest.User{UserID: fmt.Sprintf("65a0%020x", i), Username: fmt.Sprintf("user%d", i), TOTP: i%3 == 0})
	}
	return us
}

// TestWholePoolCompleteWhileItChanges: the listing's order shifts between
// pages when no sort is asked and users come and go during the run; every
// user present from start to end is audited exactly once and the run is
// complete.
func TestWholePoolCompleteWhileItChanges(t *testing.T) {
	users := poolOf(640)
	srv := genauthtest.NewServer(genauthtest.Options{Users: users,
		List: genauthtest.ListBehaviour{UnstableOrder: true, AddPerPage: 4, RemovePerPage: 3}})
	defer srv.Close()
	jsonl := filepath.Join(t.TempDir(), "pool.jsonl")
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE=genauth:users", "AUDIT_OUTPUT="+jsonl, "AUDIT_RATE=0"), "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 3000))
	}
	if !strings.Contains(log, "whole pool listed") || !strings.Contains(log, "total_count_start=640") || !strings.Contains(log, "order=\"createdAt asc, userId asc\"") {
		t.Errorf("no listing line with the counts and the order:\n%s", tail(log, 3000))
	}
	got := map[string]int{}
	for _, r := range readJSONL(t, jsonl) {
		got[r.UserID]++
	}
	present := map[string]bool{}
	for _, u := range srv.Users() {
		present[u.UserID] = true
	}
	for _, u := range users {
		if present[u.UserID] && got[u.UserID] != 1 {
			t.Errorf("%s (there from start to end) audited %d times", u.UserID, got[u.UserID])
		}
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s audited %d times", id, n)
		}
	}
}

// TestWholePoolIncompleteSaysWhyEverywhere: a listing that cannot be
// complete (the API quietly ends deep pages) makes the run incomplete,
// exit 1, with the reason in every report.
func TestWholePoolIncompleteSaysWhyEverywhere(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Users: poolOf(300),
		List: genauthtest.ListBehaviour{MaxWindow: 200, MaxWindowQuiet: true}})
	defer srv.Close()
	dir := t.TempDir()
	jsonl, html, xlsx := filepath.Join(dir, "p.jsonl"), filepath.Join(dir, "p.html"), filepath.Join(dir, "p.xlsx")
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE=genauth:users", "AUDIT_OUTPUT="+jsonl+","+html+","+xlsx, "AUDIT_RATE=0"), "run")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, tail(log, 3000))
	}
	const why = "listed 200 unique users, fewer than the pool holds (totalCount 300 at the start, 300 at the end)"
	if !strings.Contains(log, why) {
		t.Errorf("the log does not say %q:\n%s", why, tail(log, 3000))
	}
	for _, p := range []string{jsonl, html, xlsx} {
		b, err := os.ReadFile(p + ".incomplete")
		if err != nil || !strings.Contains(string(b), why) {
			t.Errorf("%s.incomplete: %v %q", p, err, b)
		}
	}
	if b, _ := os.ReadFile(html); !strings.Contains(string(b), why) {
		t.Errorf("the HTML report does not give the reason")
	}
	f, err := excelize.OpenFile(xlsx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, _ := f.GetRows("Summary")
	found := false
	for _, r := range rows {
		found = found || strings.Contains(strings.Join(r, " "), why)
	}
	if !found {
		t.Errorf("the workbook's Summary does not give the reason: %q", rows)
	}
	if n := len(readJSONL(t, jsonl)); n != 200 {
		t.Errorf("%d results, want the 200 listed", n)
	}
}
