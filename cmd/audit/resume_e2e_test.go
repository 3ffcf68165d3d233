package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// jsonlLine is a results line as the resume test reads it.
type jsonlLine struct {
	UserID  string `json:"user_id"`
	IDType  string `json:"id_type"`
	Outcome string `json:"outcome"`
	Error   string `json:"error"`
	RunID   string `json:"run_id"`
}

// readLines reads the complete lines of a results file (a last line cut
// short by a kill is left out).
func readLines(t *testing.T, path string) []jsonlLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var out []jsonlLine
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l jsonlLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, l)
	}
	return out
}

// TestJSONLKillAndResume kills a file-only run with SIGKILL mid-way and
// re-runs it with the same AUDIT_RUN_ID: the re-run reads the killed
// attempt's temporary JSON Lines file, asks only the rest, writes outputs
// that cover the whole run, and removes the killed attempt's temporary
// files. A results file of another run at the same path is not mixed in.
func TestJSONLKillAndResume(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{Latency: 5 * time.Millisecond}})
	defer srv.Close()
	csvPath, order := messyCSV(t, 6000, 5)
	out := t.TempDir()
	jsonl, csvOut, xlsx := filepath.Join(out, "r.jsonl"), filepath.Join(out, "r.csv"), filepath.Join(out, "r.xlsx")

	// Last night's file at the same path, of another run: every subject
	// with an outcome the server would never give.
	var other strings.Builder
	for _, k := range order {
		fmt.Fprintf(&other, `{"user_id":%q,"id_type":%q,"outcome":"not_found","error":"from the other run","run_id":"other-run"}`+"\n", k.id, effType(k.typ))
	}
	os.WriteFile(jsonl, []byte(other.String()), 0o600)

	env := append(serverEnv(srv), "PATH="+os.Getenv("PATH"), "AUDIT_PROGRESS=never",
		"AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0", "AUDIT_CONCURRENCY=8", "AUDIT_RUN_ID=jsonl-resume-1",
		"AUDIT_OUTPUT="+jsonl+","+csvOut+","+xlsx)
	first := exec.Command(auditBin, "run")
	first.Env = env
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the killed attempt's temporary file holds 1,000 lines (it
	// is flushed every two seconds), then kill without warning.
	tmpJSONL := func() string {
		m, _ := filepath.Glob(filepath.Join(out, ".r.jsonl.tmp-*"))
		if len(m) == 1 {
			return m[0]
		}
		return ""
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if p := tmpJSONL(); p != "" && len(readLines(t, p)) >= 1000 {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			first.Wait()
			t.Fatal("no 1,000 lines in the temporary file after 60 s")
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	killedTmp := tmpJSONL()
	before := map[string]string{}
	resumable := 0 // final and sent to the API (rows invalid locally are never looked up)
	for _, l := range readLines(t, killedTmp) {
		if l.RunID != "jsonl-resume-1" {
			t.Fatalf("killed attempt's line of run %q", l.RunID)
		}
		if l.Outcome != "error" {
			before[genauthtest.SubjectKey(l.IDType, l.UserID)] = l.Outcome
			if l.UserID != "" && pipeline.ValidIDType(l.IDType) {
				resumable++
			}
		}
	}
	if len(before) >= len(order) {
		t.Fatalf("the run finished before the kill (%d final)", len(before))
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".r.*.tmp-*")); len(left) < 2 {
		t.Errorf("the kill left %v; want the temporary JSONL and CSV files at least", left)
	}

	code, log := runAudit(t, env, "run")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, tail(log, 3000))
	}
	if !strings.Contains(log, "resuming the run from its JSON Lines") || !strings.Contains(log, fmt.Sprintf("resumed=%d", resumable)) {
		t.Errorf("the log does not say %d results were resumed:\n%s", resumable, tail(log, 3000))
	}
	after := readLines(t, jsonl)
	if len(after) != len(order) {
		t.Fatalf("the resumed run's JSONL has %d results, want the whole run's %d", len(after), len(order))
	}
	answers := srv.AnsweredSubjects()
	for i, l := range after {
		k := order[i]
		if l.UserID != k.id || l.IDType != effType(k.typ) {
			t.Fatalf("result %d is (%s,%s), want (%s,%s): input order lost", i, l.IDType, l.UserID, effType(k.typ), k.id)
		}
		if l.RunID != "jsonl-resume-1" || l.Error == "from the other run" {
			t.Fatalf("result %d (%s,%s) came from run %q (%s): another run's file was mixed in", i, l.IDType, l.UserID, l.RunID, l.Error)
		}
		// Stored before the kill: not asked again. Answered in the killed
		// attempt's last seconds, not yet on disk: asked again.
		key := genauthtest.SubjectKey(l.IDType, l.UserID)
		was, stored := before[key]
		switch {
		case stored && was != l.Outcome:
			t.Errorf("(%s,%s) changed from %s to %s", l.IDType, l.UserID, was, l.Outcome)
		case stored && was != "invalid" && answers[key] != 1:
			t.Errorf("(%s,%s) stored before the kill was answered %d times by the server, want once", l.IDType, l.UserID, answers[key])
		case !stored && l.Outcome != "invalid" && answers[key] == 0:
			t.Errorf("(%s,%s) is %s but was never answered", l.IDType, l.UserID, l.Outcome)
		}
	}
	if rows := len(fsCSVRows(t, csvOut)); rows != len(order)+1 {
		t.Errorf("the resumed run's CSV has %d rows, want a header and %d", rows, len(order))
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) != 0 {
		t.Errorf("left behind after the resumed run: %v", left)
	}
	if _, err := os.Stat(jsonl + ".incomplete"); !os.IsNotExist(err) {
		t.Errorf("the complete resumed run left an incomplete marker: %v", err)
	}
}

// effType is the id type a row without one takes.
func effType(typ string) string {
	if typ == "" {
		return "user_id"
	}
	return typ
}

// fsCSVRows splits a CSV output into records, enough to count them.
func fsCSVRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}
