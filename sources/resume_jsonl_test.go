package sources

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJSONLPrior(t *testing.T) {
	dir := t.TempDir()
	// The killed attempt (newest, first): its last line cut short.
	killed := writeFile(t, dir, ".r.jsonl.tmp-1",
		`{"user_id":"u1","id_type":"user_id","outcome":"ok","totp":true,"face":false,"sms":null,"email":null,"attrs":{"d":"x"},"attempts":2,"checked_at":"2026-12-01T02:00:00.000Z","run_id":"run-7"}`+"\n"+
			`{"user_id":"u2","id_type":"user_id","outcome":"error","error":"HTTP 503","run_id":"run-7"}`+"\n"+
			"\n"+
			`{"user_id":"Ann@Corp.Example","id_type":"email","outcome":"not_found","api_code":2004,"run_id":"run-7"}`+"\n"+
			`{"user_id":"u9","id_type":"user_id","outcome":"ok","tot`)
	// The interrupted attempt before it, finished and marked incomplete.
	earlier := writeFile(t, dir, "r.jsonl",
		`{"user_id":"u1","id_type":"user_id","outcome":"ok","totp":false,"face":false,"run_id":"run-7"}`+"\n"+
			`{"user_id":"u3","id_type":"username","outcome":"invalid","error":"malformed","run_id":"run-7"}`+"\n")
	// Another run's file and a file of no run: passed over.
	other := writeFile(t, dir, "other.jsonl", `{"user_id":"u4","id_type":"user_id","outcome":"ok","run_id":"run-6"}`+"\n")
	old := writeFile(t, dir, "old.jsonl", `{"user_id":"u5","id_type":"user_id","outcome":"ok"}`+"\n")
	p, err := OpenJSONLPrior("run-7", []string{killed, filepath.Join(dir, "missing.jsonl"), earlier, other, old})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !slices.Equal(p.Files(), []string{killed, earlier}) || p.Len() != 4 {
		t.Errorf("files %v, %d results; want the two of run-7, 4 final results", p.Files(), p.Len())
	}
	if passed := strings.Join(p.Passed(), "; "); !strings.Contains(passed, other+" holds run run-6") || !strings.Contains(passed, old+" has no run_id") {
		t.Errorf("passed over: %s", passed)
	}
	ctx := context.Background()
	for _, c := range []struct {
		typ, id string
		want    string // outcome, "" for not found
	}{
		{"user_id", "u1", "ok"},                    // the newest attempt wins
		{"user_id", "u2", ""},                      // error: asked again
		{"email", "ann@corp.example", "not_found"}, // e-mails fold case
		{"user_id", "u9", ""},                      // cut short by the kill
		{"username", "u3", "invalid"},
		{"username", "U3", ""},
		{"user_id", "u4", ""}, // another run's
		{"user_id", "u5", ""},
	} {
		r, found, err := p.Lookup(ctx, pipeline.Subject{IDType: c.typ, UserID: c.id})
		if err != nil {
			t.Fatalf("%s %s: %v", c.typ, c.id, err)
		}
		if found != (c.want != "") || found && (string(r.Outcome) != c.want || !r.Resumed) {
			t.Errorf("%s %s: found %v %+v, want %q", c.typ, c.id, found, r, c.want)
		}
	}
	r, _, _ := p.Lookup(ctx, pipeline.Subject{IDType: "user_id", UserID: "u1"})
	if *r.TOTP != true || r.Attempts != 2 || r.CheckedAt.IsZero() || r.Attrs[0].Value != "x" {
		t.Errorf("u1 read back as %+v", r)
	}
	if r, _, _ := p.Lookup(ctx, pipeline.Subject{IDType: "email", UserID: "ANN@CORP.EXAMPLE"}); r.UserID != "Ann@Corp.Example" || r.APICode != "2004" {
		t.Errorf("e-mail read back as %+v", r)
	}
}

func TestJSONLPriorBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ body, want string }{
		"broken line": {`{"user_id":"u1","outcome":"ok","run_id":"r"}` + "\n" + `{"user_id":` + "\n", "broken line.jsonl line 2"},
		"mixed runs":  {`{"user_id":"u1","outcome":"ok","run_id":"r"}` + "\n" + `{"user_id":"u2","outcome":"ok","run_id":"q"}` + "\n", `mixed runs.jsonl line 2: run_id "q"`},
	} {
		path := writeFile(t, dir, name+".jsonl", c.body)
		if _, err := OpenJSONLPrior("r", []string{path}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", name, err, c.want)
		}
	}
	// Not results at all: passed over, not an error.
	path := writeFile(t, dir, "notes.jsonl", "hello\n")
	if p, err := OpenJSONLPrior("r", []string{path}); err != nil || len(p.Files()) != 0 {
		t.Errorf("a file that is not results: %v %v", p.Files(), err)
	}
}
