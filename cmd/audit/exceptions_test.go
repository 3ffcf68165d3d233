package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// exceptionCase is a run of n synthesized subjects with a register holding
// entries in every state, and the independent truth for each subject.
type exceptionCase struct {
	csv, register string
	ids           []string
	compliant     map[string]bool // by id, for found subjects
	found         map[string]bool
	entries       map[string]string // id -> expires
	wantState     map[string]string // id -> exception state in the results ("" none)
	stale         int               // entries naming nobody auditable
	expiring      int
	compliantN    int
	exceptedN     int
	okN           int
}

func hexID(i int) string { return fmt.Sprintf("%024x", 0x5f0000000000+i*7919) }

func newExceptionCase(t *testing.T, n int) *exceptionCase {
	t.Helper()
	dir := t.TempDir()
	c := &exceptionCase{
		csv: filepath.Join(dir, "users.csv"), register: filepath.Join(dir, "exceptions.csv"),
		compliant: map[string]bool{}, found: map[string]bool{}, entries: map[string]string{}, wantState: map[string]string{},
	}
	var b strings.Builder
	b.WriteString("user_id,department\n")
	for i := range n {
		id := hexID(i)
		c.ids = append(c.ids, id)
		fmt.Fprintf(&b, "%s,D%d\n", id, i%5)
		found, totp, face, sms, email := genauthtest.SynthesizedState("user_id", id)
		c.found[id] = found
		if found {
			c.okN++
			c.compliant[id] = totp || face || sms || email
			if c.compliant[id] {
				c.compliantN++
			}
		}
	}
	if err := os.WriteFile(c.csv, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC()
	day := func(d int) string { return today.AddDate(0, 0, d).Format("2006-01-02") }
	// Every third subject has an entry, with an expiry cycling through
	// far off, within the warning days, today (still valid), yesterday
	// (expired) and long ago.
	offsets := []int{200, 10, 0, -1, -400}
	var r strings.Builder
	r.WriteString("\uFEFFid_type,user_id,reason,approved_by,expires,ticket\r\n")
	k := 0
	for i, id := range c.ids {
		if i%3 != 0 {
			continue
		}
		off := offsets[k%len(offsets)]
		k++
		idType := "user_id"
		if k%2 == 0 {
			idType = "" // takes AUDIT_ID_TYPE
		}
		fmt.Fprintf(&r, "%s,%s,\"Reason, %d\",approver%d@example.com,%s,T-%d\r\n", idType, id, k, k, day(off), k)
		c.entries[id] = day(off)
		switch {
		case !c.found[id]:
			c.stale++ // not_found: stale, no exception on the result
		case c.compliant[id]:
			c.wantState[id] = "unneeded"
		case off < 0:
			c.wantState[id] = "expired"
		default:
			c.wantState[id] = "active"
			c.exceptedN++
			if off <= 30 {
				c.expiring++
			}
		}
	}
	// Entries naming no subject of the run.
	for i := range 3 {
		fmt.Fprintf(&r, "user_id,%s,left,ciso,%s,\r\n", hexID(n+1000+i), day(30))
		c.stale++
	}
	if err := os.WriteFile(c.register, []byte(r.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

type jsonException struct {
	UserID    string `json:"user_id"`
	Outcome   string `json:"outcome"`
	Compliant *bool  `json:"compliant"`
	Exception *struct {
		State      string `json:"state"`
		Reason     string `json:"reason"`
		ApprovedBy string `json:"approved_by"`
		Expires    string `json:"expires"`
		Ticket     string `json:"ticket"`
	} `json:"exception"`
}

func (c *exceptionCase) check(t *testing.T, jsonl string) {
	t.Helper()
	b, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(c.ids) {
		t.Fatalf("%d results, want %d", len(lines), len(c.ids))
	}
	for _, l := range lines {
		var r jsonException
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		got := ""
		if r.Exception != nil {
			got = r.Exception.State
			if r.Exception.Expires != c.entries[r.UserID] || !strings.HasPrefix(r.Exception.Reason, "Reason, ") ||
				!strings.HasSuffix(r.Exception.ApprovedBy, "@example.com") || !strings.HasPrefix(r.Exception.Ticket, "T-") {
				t.Errorf("%s: exception fields %+v", r.UserID, *r.Exception)
			}
		}
		if got != c.wantState[r.UserID] {
			t.Errorf("%s (outcome %s): exception %q, want %q", r.UserID, r.Outcome, got, c.wantState[r.UserID])
		}
		if r.Outcome == "ok" && (r.Compliant == nil || *r.Compliant != c.compliant[r.UserID]) {
			t.Errorf("%s: compliant %v changed by the exception", r.UserID, r.Compliant)
		}
	}
}

func TestExceptionsEndToEnd(t *testing.T) {
	c := newExceptionCase(t, 3000)
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	out := t.TempDir()
	jsonl := filepath.Join(out, "a.jsonl")
	env := append(serverEnv(srv), "AUDIT_SOURCE="+c.csv, "AUDIT_RATE=0", "AUDIT_LOG_FORMAT=json",
		"AUDIT_OUTPUT="+jsonl+","+filepath.Join(out, "a.csv")+","+filepath.Join(out, "a.xlsx")+","+filepath.Join(out, "a.html"),
		"AUDIT_EXCEPTIONS="+c.register)

	cov := float64(c.compliantN) / float64(c.okN) * 100
	covExc := float64(c.compliantN+c.exceptedN) / float64(c.okN) * 100
	between := math.Round((cov+covExc)/2*10) / 10
	if covExc-cov < 1 {
		t.Fatalf("the case does not separate the two coverages: %.2f %.2f", cov, covExc)
	}
	code, log := runAudit(t, append(env, fmt.Sprintf("AUDIT_FAIL_UNDER=%v", between)), "run")
	if code != 0 {
		t.Fatalf("with a register, AUDIT_FAIL_UNDER=%v between %.2f and %.2f: exit %d\n%s", between, cov, covExc, code, tail(log, 3000))
	}
	c.check(t, jsonl)
	final := lastLogLine(t, log)
	for k, want := range map[string]float64{
		"excepted": float64(c.exceptedN), "exceptions_stale": float64(c.stale), "exceptions_expiring": float64(c.expiring),
		"compliant": float64(c.compliantN), "non_compliant_without_exception": float64(c.okN - c.compliantN - c.exceptedN),
	} {
		if final[k] != want {
			t.Errorf("log %s = %v, want %v", k, final[k], want)
		}
	}
	if got, want := final["coverage_with_exceptions_pct"].(float64), math.Round(covExc*10)/10; math.Abs(got-want) > 0.1 {
		t.Errorf("coverage_with_exceptions_pct %v, want about %v", got, want)
	}
	csvText, _ := os.ReadFile(filepath.Join(out, "a.csv"))
	header := strings.SplitN(string(csvText), "\n", 2)[0]
	if !strings.HasSuffix(strings.TrimSpace(header), "checked_at,change,non_compliant_since,exception.state,exception.reason,exception.approved_by,exception.expires,exception.ticket") {
		t.Errorf("CSV header %q", header)
	}

	// Without the register the same floor fails: it judges plain coverage.
	env2 := append(serverEnv(srv), "AUDIT_SOURCE="+c.csv, "AUDIT_RATE=0", "AUDIT_OUTPUT="+filepath.Join(out, "b.jsonl"),
		fmt.Sprintf("AUDIT_FAIL_UNDER=%v", between))
	if code, log := runAudit(t, env2, "run"); code != 3 {
		t.Fatalf("without a register: exit %d, want 3\n%s", code, tail(log, 2000))
	}

	// audit report re-judges the stored exceptions against the run's date,
	// and with the register given again also knows the stale entries.
	rep := filepath.Join(out, "r.jsonl")
	code, log = runAudit(t, []string{"AUDIT_REPORT_FROM=" + jsonl, "AUDIT_OUTPUT=" + rep + "," + filepath.Join(out, "r.xlsx"),
		"AUDIT_LOG_FORMAT=json", fmt.Sprintf("AUDIT_FAIL_UNDER=%v", between)}, "report")
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, tail(log, 2000))
	}
	c.check(t, rep)
	if f := lastLogLine(t, log); f["excepted"] != float64(c.exceptedN) || f["exceptions_stale"] != float64(0) {
		t.Errorf("report from stored exceptions: %v", f)
	}
	code, log = runAudit(t, []string{"AUDIT_REPORT_FROM=" + jsonl, "AUDIT_OUTPUT=" + filepath.Join(out, "r2.jsonl"),
		"AUDIT_LOG_FORMAT=json", "AUDIT_EXCEPTIONS=" + c.register}, "report")
	if code != 0 {
		t.Fatalf("report with the register: exit %d\n%s", code, tail(log, 2000))
	}
	c.check(t, filepath.Join(out, "r2.jsonl"))
	if f := lastLogLine(t, log); f["exceptions_stale"] != float64(c.stale) {
		t.Errorf("report with the register: stale %v, want %d", f["exceptions_stale"], c.stale)
	}
}

// lastLogLine decodes the last JSON log line that carries the run's figures.
func lastLogLine(t *testing.T, log string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var m map[string]any
		if json.Unmarshal([]byte(lines[i]), &m) == nil && m["run_id"] != nil && m["exit_code"] != nil {
			return m
		}
	}
	t.Fatalf("no summary line in\n%s", tail(log, 2000))
	return nil
}

func TestBrokenRegisterExits2BeforeAnyAPICall(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	dir := t.TempDir()
	src := filepath.Join(dir, "users.csv")
	os.WriteFile(src, []byte("user_id\n"+hexID(1)+"\n"), 0o600)
	reg := filepath.Join(dir, "reg.csv")
	os.WriteFile(reg, []byte("id_type,user_id,reason,approved_by,expires\r\n"+
		"user_id,,r,a,2030-01-01\r\n"+ // 2 empty user_id
		"user_id,"+hexID(1)+",,a,2030-01-01\r\n"+ // 3 empty reason
		"user_id,"+hexID(2)+",r,,2030-01-01\r\n"+ // 4 empty approved_by
		"user_id,"+hexID(3)+",r,a,01.01.2030\r\n"+ // 5 bad date
		"mail,"+hexID(4)+",r,a,2030-01-01\r\n"+ // 6 unknown id type
		"user_id,"+hexID(5)+",r,a,2030-01-01\r\n"+
		","+hexID(5)+",r,a,2030-01-01\r\n"), 0o600) // 8 same subject as 7
	outDir := filepath.Join(dir, "out")
	cases := []struct {
		name, register string
		want           []string
	}{
		{"every problem", reg, []string{"line 2: user_id is empty", "line 3: reason is empty", "line 4: approved_by is empty",
			`line 5: expires "01.01.2030"`, `line 6: id_type "mail"`, "line 8: the same subject as line 7"}},
		{"unreadable", filepath.Join(dir, "missing.csv"), []string{"missing.csv: cannot read the exceptions register"}},
		{"missing column", writeTemp(t, dir, "nocol.csv", "id_type,user_id,reason,expires\n"), []string{`line 1: missing column "approved_by"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetCounters()
			code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+src, "AUDIT_OUTPUT="+filepath.Join(outDir, "a.jsonl"),
				"AUDIT_EXCEPTIONS="+tc.register), "run")
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, log)
			}
			log = strings.ReplaceAll(log, `\"`, `"`) // the text log quotes its values
			for _, w := range tc.want {
				if !strings.Contains(log, "AUDIT_EXCEPTIONS: "+tc.register) || !strings.Contains(log, w) {
					t.Errorf("log does not say %q naming %s:\n%s", w, tc.register, log)
				}
			}
			if c := srv.Counters(); c.TokenCalls != 0 || c.Requests != 0 {
				t.Errorf("%d token and %d MFA calls", c.TokenCalls, c.Requests)
			}
			if _, err := os.Stat(filepath.Join(outDir, "a.jsonl")); err == nil {
				t.Error("an output was written")
			}
		})
	}
	t.Run("report", func(t *testing.T) {
		code, log := runAudit(t, []string{"AUDIT_REPORT_FROM=" + writeTemp(t, dir, "r.jsonl", `{"user_id":"x","outcome":"ok"}`+"\n"),
			"AUDIT_OUTPUT=" + filepath.Join(outDir, "b.jsonl"), "AUDIT_EXCEPTIONS=" + reg}, "report")
		if code != 2 || !strings.Contains(log, "line 8: the same subject as line 7") {
			t.Fatalf("exit %d\n%s", code, log)
		}
	})
}

func writeTemp(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExceptionsResume re-runs a finished run id: every result comes from
// the earlier attempt's JSON Lines, and is judged again.
func TestExceptionsResume(t *testing.T) {
	c := newExceptionCase(t, 300)
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	jsonl := filepath.Join(t.TempDir(), "a.jsonl")
	env := append(serverEnv(srv), "AUDIT_SOURCE="+c.csv, "AUDIT_RATE=0", "AUDIT_LOG_FORMAT=json", "AUDIT_RUN_ID=exc-resume",
		"AUDIT_OUTPUT="+jsonl, "AUDIT_EXCEPTIONS="+c.register)
	for attempt := range 2 {
		code, log := runAudit(t, env, "run")
		if code != 0 {
			t.Fatalf("attempt %d: exit %d\n%s", attempt, code, tail(log, 3000))
		}
		c.check(t, jsonl)
		f := lastLogLine(t, log)
		if f["excepted"] != float64(c.exceptedN) || f["exceptions_stale"] != float64(c.stale) {
			t.Errorf("attempt %d: %v", attempt, f)
		}
		if attempt == 1 && f["resumed"] != float64(len(c.ids)) {
			t.Errorf("attempt 2 resumed %v of %d", f["resumed"], len(c.ids))
		}
	}
}

// AUDIT_FAIL_UNDER judges the coverage as shown (one decimal), and with a
// register the coverage with exceptions.
func TestFailUnderJudgesTheShownCoverage(t *testing.T) {
	sum := &pipeline.Summary{Complete: true}
	sum.Unique, sum.OK, sum.Compliant, sum.NonCompliant = 3, 3, 2, 1 // 66.666...% shows 66.7%
	for _, tc := range []struct {
		floor    float64
		register bool
		excepted int64
		want     int
	}{
		{66.7, false, 0, exitOK},
		{66.8, false, 0, exitBelowFloor},
		{90, true, 1, exitOK}, // (2 + 1) / 3 = 100%
		{90, false, 1, exitBelowFloor},
		{90, true, 0, exitBelowFloor},
	} {
		s := *sum
		s.Excepted = tc.excepted
		if tc.register {
			s.Exceptions = &pipeline.ExceptionReport{}
		}
		if got := exitCode(&Config{FailUnder: tc.floor}, &s, nil); got != tc.want {
			t.Errorf("floor %v register %v excepted %d: exit %d, want %d", tc.floor, tc.register, tc.excepted, got, tc.want)
		}
	}
}

func TestPrintFinishWithExceptions(t *testing.T) {
	s := &pipeline.Summary{Complete: true}
	s.OK, s.Compliant, s.NonCompliant, s.Excepted = 10, 6, 4, 1
	s.Exceptions = &pipeline.ExceptionReport{Expired: 2, Expiring: 1, Stale: 3, WarnDays: 30}
	var b strings.Builder
	printFinish(&b, 200, &Config{FailUnder: 90}, s, exitBelowFloor, "run")
	for _, want := range []string{
		"BELOW POLICY: coverage with exceptions 70.0% is under AUDIT_FAIL_UNDER 90 %",
		"exceptions    70.0% with exceptions  (1 excepted; 2 expired, 1 expiring within 30 days, 3 stale)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}
