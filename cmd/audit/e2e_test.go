package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// auditBin is the audit binary built once for the tests that need a real
// process (exit codes, signals).
var auditBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "audit-bin-")
	if err != nil {
		panic(err)
	}
	auditBin = filepath.Join(dir, "audit")
	goTool := "go"
	if _, err := exec.LookPath(goTool); err != nil {
		// A test binary run outside go test, with go off the PATH: the
		// toolchain that built it (go test itself puts it on the PATH).
		//lint:ignore SA1019 no other way to find that toolchain without a go command
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goTool, "build", "-o", auditBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building audit: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// messyCSV writes n rows the way real exports look: a BOM, CRLF, repeats,
// ids of every type, malformed and unknown ids, blank lines, quoted commas
// and newlines, script and formula payloads in attributes. It returns the
// path and the unique subjects in order of first appearance.
func messyCSV(t *testing.T, n int, seed uint64) (string, []subjectKey) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.WriteString("\uFEFFuser_id,id_type,name,department,note\r\n")
	var order []subjectKey
	seen := map[subjectKey]bool{}
	add := func(id, typ, name, dept, note string) {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s\r\n", csvQuote(id), typ, csvQuote(name), dept, csvQuote(note))
		eff := typ
		if eff == "" {
			eff = "user_id"
		}
		k := subjectKey{strings.TrimSpace(eff), strings.TrimSpace(id)}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	types := []string{"user_id", "", "email", "phone", "username", "external_id", "identity", "sync_relation"}
	payloads := []string{"=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2", "@SUM(A1)", "\t=1", "<script>alert(1)</script>", "a,b", "line\nbreak", "quote \"q\""}
	for i := range n {
		if i > 0 && r.IntN(10) == 0 { // a repeat of an earlier row
			k := order[r.IntN(len(order))]
			add(" "+k.id+" ", k.typ, "again", "Dept", "")
			continue
		}
		if r.IntN(50) == 0 {
			b.WriteString("\r\n") // blank line
		}
		typ := types[r.IntN(len(types))]
		var id string
		switch typ {
		case "email":
			id = fmt.Sprintf("user%d@example.com", i)
			if r.IntN(20) == 0 {
				id = fmt.Sprintf("user%d.example.com", i) // malformed: the API answers 400
			}
		case "phone":
			id = fmt.Sprintf("+86 138%08d", i)
		case "identity":
			id = fmt.Sprintf("wechat:o_%d", i)
		case "sync_relation":
			id = fmt.Sprintf("lark:ou_%d", i)
		case "user_id", "":
			// GenAuth ids are 24 hex characters; now and then one of
			// another shape, which the API (and the fake) do not find.
			id = fmt.Sprintf("%08x%016x", i, r.Uint64())
			if r.IntN(40) == 0 {
				id = fmt.Sprintf("u%06d", i)
			}
		default:
			id = fmt.Sprintf("u%06d", i)
		}
		if r.IntN(100) == 0 {
			id = "" // empty id: invalid locally
		}
		if r.IntN(150) == 0 {
			typ = "employee_no" // unknown type: invalid locally
		}
		add(id, typ, fmt.Sprintf("Name %d", i), fmt.Sprintf("D%d", i%7), payloads[r.IntN(len(payloads))])
	}
	path := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, order
}

type subjectKey struct{ typ, id string }

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") || strings.TrimSpace(s) != s {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// genAuthID is the shape of a GenAuth user id.
var genAuthID = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

// expected is the truth for a subject under a Synthesize server.
func expected(k subjectKey) string {
	switch {
	case k.id == "" || !slices.Contains([]string{"user_id", "email", "phone", "username", "external_id", "identity", "sync_relation"}, k.typ):
		return "invalid"
	case !genauthtest.WellFormed(k.typ, k.id):
		return "invalid"
	case k.typ == "user_id" && !genAuthID.MatchString(k.id):
		return "not_found" // as the real API answers
	}
	found, _, _, _, _ := genauthtest.SynthesizedState(k.typ, k.id)
	if !found {
		return "not_found"
	}
	return "ok"
}

type jsonResult struct {
	UserID    string            `json:"user_id"`
	IDType    string            `json:"id_type"`
	Outcome   string            `json:"outcome"`
	TOTP      *bool             `json:"totp"`
	Face      *bool             `json:"face"`
	SMS       *bool             `json:"sms"`
	Email     *bool             `json:"email"`
	Factors   *int              `json:"factors"`
	MFA       string            `json:"mfa"`
	Compliant *bool             `json:"compliant"`
	Attrs     map[string]string `json:"attrs"`
	Error     string            `json:"error"`
	Attempts  int               `json:"attempts"`
}

func readJSONL(t *testing.T, path string) []jsonResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []jsonResult
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r jsonResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, r)
	}
	return out
}

// runAudit runs the binary with env and returns its exit code and output.
func runAudit(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(auditBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AUDIT_PROGRESS=never"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

func serverEnv(srv *genauthtest.Server) []string {
	return []string{"GENAUTH_HOST=" + srv.URL, "GENAUTH_ACCESS_KEY_ID=" + srv.PoolID, "GENAUTH_ACCESS_KEY_SECRET=" + srv.Secret}
}

// TestExactlyOnceUnderEveryFault runs the job against a server that
// throttles (both forms), fails with HTML 5xx and body 500s, resets
// connections, answers slowly and malformed, mixes boolean and string
// statuses and expires tokens every two seconds, all at once.
func TestExactlyOnceUnderEveryFault(t *testing.T) {
	faults := genauthtest.Faults{
		Latency:          time.Millisecond,
		ThrottleRate:     0.05,
		RetryAfter:       time.Second,
		BodyThrottleRate: 0.05,
		ServerErrorRate:  0.04,
		Body500Rate:      0.03,
		ResetRate:        0.03,
		MalformedRate:    0.03,
		SlowRate:         0.01,
		SlowDelay:        5 * time.Second,
		MixedStatuses:    true,
		TokenTTL:         2 * time.Second,
	}
	t.Run("body 401s and mixed statuses", func(t *testing.T) { exactlyOnce(t, faults, 3000, 1) })
	// Expired tokens as real HTTP 401s, statuses as booleans only.
	faults.HTTP401, faults.MixedStatuses, faults.BoolStatuses = true, false, true
	t.Run("HTTP 401s and boolean statuses", func(t *testing.T) { exactlyOnce(t, faults, 2000, 8) })
}

func exactlyOnce(t *testing.T, faults genauthtest.Faults, rows int, seed uint64) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Seed: int64(seed), Faults: faults})
	defer srv.Close()
	csvPath, order := messyCSV(t, rows, seed)
	out := t.TempDir()
	jsonl, csvOut := filepath.Join(out, "r.jsonl"), filepath.Join(out, "r.csv")
	code, log := runAudit(t, append(serverEnv(srv),
		"AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+jsonl+","+csvOut,
		// 3 s: above what a loaded CI machine takes to answer a normal
		// request (a client timeout on an answer the server did give would
		// count as answered twice), below the 5 s slow answers.
		"AUDIT_CONCURRENCY=32", "AUDIT_RATE=0", "AUDIT_TIMEOUT=3s", "AUDIT_RETRIES=5"), "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 3000))
	}
	results := readJSONL(t, jsonl)
	if len(results) != len(order) {
		t.Fatalf("%d results for %d unique subjects", len(results), len(order))
	}
	for i, r := range results {
		k := order[i]
		if r.IDType != k.typ && !(k.typ == "" && r.IDType == "user_id") || r.UserID != k.id {
			t.Fatalf("result %d is (%s,%s), want (%s,%s): input order lost", i, r.IDType, r.UserID, k.typ, k.id)
		}
		want := expected(subjectKey{r.IDType, r.UserID})
		if r.Outcome != want {
			t.Errorf("(%s,%s): outcome %s, want %s (%s)", r.IDType, r.UserID, r.Outcome, want, r.Error)
			continue
		}
		if want == "ok" {
			_, totp, face, sms, email := genauthtest.SynthesizedState(r.IDType, r.UserID)
			if *r.TOTP != totp || *r.Face != face || *r.SMS != sms || *r.Email != email {
				t.Errorf("(%s,%s): factors %v %v %v %v, want %v %v %v %v", r.IDType, r.UserID, *r.TOTP, *r.Face, *r.SMS, *r.Email, totp, face, sms, email)
			}
		}
	}
	c := srv.Counters()
	if c.AnsweredTwice != 0 {
		t.Errorf("the server answered %d subjects twice", c.AnsweredTwice)
	}
	// A request the client gave up on (timeout) may still be in the
	// server's handler for a moment while its slot is reused: allow one
	// overlap per slow answer, nothing more.
	if c.MaxInFlight > 32+c.Slow {
		t.Errorf("max in flight %d > AUDIT_CONCURRENCY 32 (+%d slow answers)", c.MaxInFlight, c.Slow)
	}
	if c.TokenExchanges < 2 {
		t.Errorf("token exchanges %d: the 2s tokens were never refreshed?", c.TokenExchanges)
	}
	if strings.Contains(log, srv.Secret) {
		t.Error("the secret appears in the log")
	}
	// The CSV has the same subjects, formulas neutralised.
	csvBytes, err := os.ReadFile(csvOut)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(csvBytes), ",=HYPERLINK") || strings.Contains(string(csvBytes), ",+1+1") {
		t.Error("a formula payload reached the CSV unneutralised")
	}
}

func TestExitCodes(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 300, 2)
	out := t.TempDir()
	base := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+filepath.Join(out, "a.jsonl"), "AUDIT_RATE=0")

	t.Run("0 complete", func(t *testing.T) {
		if code, log := runAudit(t, base, "run"); code != 0 {
			t.Fatalf("exit %d\n%s", code, tail(log, 2000))
		}
	})
	t.Run("3 below AUDIT_FAIL_UNDER", func(t *testing.T) {
		if code, log := runAudit(t, append(base, "AUDIT_FAIL_UNDER=99"), "run"); code != 3 {
			t.Fatalf("exit %d\n%s", code, tail(log, 2000))
		}
	})
	t.Run("3 from the flag over the variable", func(t *testing.T) {
		if code, _ := runAudit(t, append(base, "AUDIT_FAIL_UNDER=0"), "run", "--fail-under", "99"); code != 3 {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("2 wrong secret before any MFA call", func(t *testing.T) {
		srv.ResetCounters()
		env := append(base, "GENAUTH_ACCESS_KEY_SECRET=wrong-secret-123")
		code, log := runAudit(t, env, "run")
		if code != 2 {
			t.Fatalf("exit %d\n%s", code, log)
		}
		if c := srv.Counters(); c.Requests != 0 {
			t.Errorf("%d MFA calls with a wrong secret", c.Requests)
		}
		if strings.Contains(log, "wrong-secret-123") {
			t.Errorf("the secret is shown: %s", log)
		}
		if !strings.Contains(log, "GENAUTH_ACCESS_KEY") {
			t.Errorf("the message does not name the variable: %s", log)
		}
	})
	t.Run("2 bad configuration, all problems at once", func(t *testing.T) {
		code, log := runAudit(t, []string{"AUDIT_RATE=fast", "AUDIT_POLICY=most", "AUDIT_OUTPUT=x.pdf", "GENAUTH_ACCESS_KEY_SECRET=s3cr3t-value"}, "run")
		if code != 2 {
			t.Fatalf("exit %d\n%s", code, log)
		}
		for _, want := range []string{"AUDIT_RATE", "AUDIT_POLICY", "AUDIT_OUTPUT"} {
			if !strings.Contains(log, want) {
				t.Errorf("%s not named: %s", want, log)
			}
		}
		if strings.Contains(log, "s3cr3t-value") {
			t.Error("secret shown")
		}
	})
	t.Run("2 unreadable source and unwritable output, before any API call", func(t *testing.T) {
		srv.ResetCounters()
		code, log := runAudit(t, append(base, "AUDIT_SOURCE=/nonexistent/users.csv", "AUDIT_OUTPUT=/proc/no/such/dir/a.jsonl"), "run")
		if code != 2 || !strings.Contains(log, "AUDIT_SOURCE") || !strings.Contains(log, "AUDIT_OUTPUT") {
			t.Fatalf("exit %d\n%s", code, log)
		}
		if c := srv.Counters(); c.TokenCalls != 0 || c.Requests != 0 {
			t.Errorf("%d token and %d MFA calls despite the configuration errors", c.TokenCalls, c.Requests)
		}
	})
	t.Run("2 AUDIT_GROUP_BY names no column", func(t *testing.T) {
		code, log := runAudit(t, append(base, "AUDIT_GROUP_BY=departmnet"), "run")
		if code != 2 || !strings.Contains(log, "AUDIT_GROUP_BY") || !strings.Contains(log, "department") {
			t.Fatalf("exit %d\n%s", code, log)
		}
	})
	t.Run("1 more unknowns than AUDIT_MAX_UNKNOWN", func(t *testing.T) {
		bad := genauthtest.NewServer(genauthtest.Options{Synthesize: true, FaultAttempts: -1,
			Faults: genauthtest.Faults{ServerErrorRate: 0.2}})
		defer bad.Close()
		env := append(serverEnv(bad), "AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+filepath.Join(out, "b.jsonl"), "AUDIT_RATE=0", "AUDIT_RETRIES=0")
		if code, log := runAudit(t, env, "run"); code != 1 {
			t.Fatalf("exit %d\n%s", code, tail(log, 2000))
		}
		if code, log := runAudit(t, append(env, "AUDIT_MAX_UNKNOWN=100000"), "run"); code != 0 {
			t.Fatalf("with a generous AUDIT_MAX_UNKNOWN: exit %d\n%s", code, tail(log, 2000))
		}
	})
	t.Run("help and version", func(t *testing.T) {
		if code, out := runAudit(t, nil, "help"); code != 0 || !strings.Contains(out, "audit run") {
			t.Fatalf("help: %d %s", code, out)
		}
		if code, out := runAudit(t, []string{"GENAUTH_ACCESS_KEY_SECRET=hidden-in-help"}, "run", "-h"); code != 0 || !strings.Contains(out, "--rate") && !strings.Contains(out, "-rate") || strings.Contains(out, "hidden-in-help") {
			t.Fatalf("run -h: %d %s", code, out)
		}
		if code, _ := runAudit(t, nil, "bogus"); code != 2 {
			t.Fatalf("unknown command: %d", code)
		}
	})
}

// TestSIGTERMFlushesAndMarksIncomplete: SIGTERM mid-run gives exit 1
// within 5 s, with what was answered written and marked incomplete.
func TestSIGTERMFlushesAndMarksIncomplete(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{Latency: 20 * time.Millisecond}})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 20000, 3)
	out := t.TempDir()
	jsonl := filepath.Join(out, "r.jsonl")
	cmd := exec.Command(auditBin, "run")
	cmd.Env = append(serverEnv(srv), "PATH="+os.Getenv("PATH"), "AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+jsonl+","+filepath.Join(out, "r.csv"),
		"AUDIT_RATE=0", "AUDIT_CONCURRENCY=8", "AUDIT_PROGRESS=never")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has answered a few hundred subjects.
	deadline := time.Now().Add(30 * time.Second)
	for srv.Counters().Answers < 300 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no progress:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not timing the test
	}
	cmd.Process.Signal(syscall.SIGTERM)
	start := time.Now()
	err := cmd.Wait()
	took := time.Since(start)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, tail(log.String(), 2000))
	}
	if took > 5*time.Second {
		t.Errorf("took %v to stop after SIGTERM", took)
	}
	results := readJSONL(t, jsonl)
	if len(results) < 200 {
		t.Errorf("only %d results flushed", len(results))
	}
	marker, err := os.ReadFile(jsonl + ".incomplete")
	if err != nil || !strings.Contains(string(marker), "INCOMPLETE") {
		t.Errorf("no incomplete marker: %v %q", err, marker)
	}
	// The interrupted run re-rendered: the page says it is incomplete and
	// the report exits 1.
	page := filepath.Join(out, "again.html")
	code, rlog := runAudit(t, []string{"AUDIT_REPORT_FROM=" + jsonl, "AUDIT_OUTPUT=" + page}, "report")
	if code != 1 {
		t.Errorf("report of an incomplete run: exit %d\n%s", code, rlog)
	}
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "INTERRUPTED") || !strings.Contains(string(b), "the rest of the input was not read") {
		t.Errorf("the re-rendered page does not say the run was interrupted (%v)", err)
	}
	var asked int64
	for _, r := range results {
		if r.Outcome == "ok" || r.Outcome == "not_found" {
			asked++
		}
	}
	if answered := srv.Counters().Answered; asked > answered {
		t.Errorf("%d ok/not_found results but the server answered %d subjects", asked, answered)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestAdaptsToTheServersRateLimit: a server that accepts 250 requests a
// second and throttles the rest (HTTP 429, Retry-After: 1). The job, with
// no ceiling of its own, lowers its rate to what the server accepts and
// still answers every subject exactly once.
func TestAdaptsToTheServersRateLimit(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{MaxRPS: 250}})
	defer srv.Close()
	csvPath, order := messyCSV(t, 2000, 7)
	jsonl := filepath.Join(t.TempDir(), "r.jsonl")
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+jsonl,
		"AUDIT_RATE=0", "AUDIT_CONCURRENCY=32", "AUDIT_RETRIES=10"), "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 3000))
	}
	results := readJSONL(t, jsonl)
	if len(results) != len(order) {
		t.Fatalf("%d results for %d subjects", len(results), len(order))
	}
	c := srv.Counters()
	if c.AnsweredTwice != 0 {
		t.Errorf("%d subjects answered twice", c.AnsweredTwice)
	}
	if !strings.Contains(log, "lowering the request rate") {
		t.Errorf("the job never lowered its rate:\n%s", tail(log, 2000))
	}
	// Without adapting, 32 workers at zero latency would be throttled on
	// nearly every request; adapting keeps most requests useful.
	t.Logf("%d requests, %d throttled by the server", c.Requests, c.RateLimited)
	if asked := c.Requests; c.RateLimited > asked/2 {
		t.Errorf("%d of %d requests throttled: the rate did not adapt", c.RateLimited, asked)
	}
}
