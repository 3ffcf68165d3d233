package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// TestMixedCaseEmailsAreOneSubject: rows naming one e-mail in several cases
// are one subject, asked once, shown as first written; the rest count as
// duplicates.
func TestMixedCaseEmailsAreOneSubject(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{})
	defer srv.Close()
	srv.AddUsers(genauthtest.User{UserID: "64f1c2a9e4b0a1b2c3d4e5f6", Email: "user7@corp.example", TOTP: true},
		genauthtest.User{UserID: "64f1c2a9e4b0a1b2c3d4e5f7", Email: "ann@corp.example"})
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	os.WriteFile(src, []byte("user_id,id_type,dept\n"+
		"User7@Corp.Example,email,A\n"+
		"ann@corp.example,email,B\n"+
		"USER7@CORP.EXAMPLE,email,C\n"+
		" user7@corp.example ,email,D\n"), 0o600)
	jsonl := filepath.Join(dir, "r.jsonl")
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+src, "AUDIT_OUTPUT="+jsonl, "AUDIT_RATE=0"), "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	res := readJSONL(t, jsonl)
	if len(res) != 2 || res[0].UserID != "User7@Corp.Example" || res[0].Attrs["dept"] != "A" || res[1].UserID != "ann@corp.example" {
		t.Fatalf("results %+v, want User7@Corp.Example (as first written) and ann@corp.example", res)
	}
	if res[0].Outcome != "ok" || res[0].TOTP == nil || !*res[0].TOTP {
		t.Errorf("first result %+v, want the user's TOTP binding", res[0])
	}
	if !strings.Contains(log, "duplicates=2") || !strings.Contains(log, "unique=2") {
		t.Errorf("summary line does not count 2 duplicates of 2 unique:\n%s", log)
	}
	if n := srv.Counters().Requests; n != 2 {
		t.Errorf("%d MFA requests, want 2", n)
	}
}
