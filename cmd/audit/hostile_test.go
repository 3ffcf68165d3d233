package main

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// The secret and token of the hostile server: each has a core that every
// encoding of it (as is, JSON, URL, XML and HTML escaped) still contains.
const (
	hostileSecretCore = "SECRETCORE7351"
	hostileSecret     = hostileSecretCore + `"/+&<x> q`
	hostileTokenCore  = "TOKENCORE9264"
	hostileToken      = "eyJ" + hostileTokenCore + "x.y_z"
)

// hostileServer is a stand-in GenAuth that echoes what it was sent. With
// refuse it refuses the token exchange and echoes the request body. Every
// tenth user (by arrival) gets a not-found answer whose message, apiCode
// and requestId echo the Authorization header and the secret in every
// encoding; with huge, that message is padded to 3.9 MB.
func hostileServer(t *testing.T, refuse, huge bool) *httptest.Server {
	var n atomic.Int64
	pad := ""
	if huge {
		pad = strings.Repeat("x", 3_900_000)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := func(v any) { json.NewEncoder(w).Encode(v) }
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/api/v3/get-management-token":
			if refuse {
				enc(map[string]any{"statusCode": 401, "apiCode": string(body), "requestId": string(body),
					"message": "bad credentials: " + string(body) + " " + url.QueryEscape(string(body))})
				return
			}
			enc(map[string]any{"statusCode": 200, "data": map[string]any{"access_token": hostileToken, "expires_in": 7200}})
		case "/api/v3/get-user-mfa-info":
			if n.Add(1)%10 != 0 {
				enc(map[string]any{"statusCode": 200, "requestId": "req-1",
					"data": map[string]any{"totpStatus": "enabled", "faceMfaStatus": "disabled", "smsMfaStatus": "disabled", "emailMfaStatus": "disabled"}})
				return
			}
			js, _ := json.Marshal(hostileSecret)
			echo := r.Header.Get("Authorization") + " " + hostileSecret + " " + string(js) + " " +
				url.QueryEscape(hostileSecret) + " " + url.PathEscape(hostileSecret) + " " + strconv.Quote(r.Header.Get("Authorization"))
			enc(map[string]any{"statusCode": 404, "apiCode": echo, "requestId": r.Header.Get("Authorization"),
				"message": "user not found " + echo + pad + echo})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// leaks reports which cores appear in s.
func leaks(s string) []string {
	var out []string
	for _, core := range []string{hostileSecretCore, hostileTokenCore} {
		if strings.Contains(s, core) {
			out = append(out, core)
		}
	}
	return out
}

// fileText is a file's text, or for a workbook the text of every part.
func fileText(t *testing.T, p string) string {
	t.Helper()
	if filepath.Ext(p) != ".xlsx" {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var b strings.Builder
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&b, rc)
		rc.Close()
	}
	return b.String()
}

// TestHostileServerEchoesSecrets: nothing the server echoes puts the
// secret or the token into the log or any output (SPEC 10).
func TestHostileServerEchoesSecrets(t *testing.T) {
	srv := hostileServer(t, false, false)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("user_id\n")
	for i := range 60 {
		fmt.Fprintf(&b, "63739db1a2b3c4d5e6f7%04d\n", i)
	}
	os.WriteFile(in, []byte(b.String()), 0o600)
	outs := []string{"r.jsonl", "r.csv", "r.xlsx", "r.html"}
	code, log := runAuditIn(t, dir, "077", []string{"GENAUTH_HOST=" + srv.URL, "GENAUTH_ACCESS_KEY_ID=pool",
		"GENAUTH_ACCESS_KEY_SECRET=" + hostileSecret, "AUDIT_SOURCE=" + in, "AUDIT_RATE=0",
		"AUDIT_OUTPUT=" + strings.Join(outs, ","), "AUDIT_LOG_FORMAT=json"}, "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 3000))
	}
	if l := leaks(log); l != nil {
		t.Errorf("the log holds %v", l)
	}
	for _, o := range outs {
		if l := leaks(fileText(t, filepath.Join(dir, o))); l != nil {
			t.Errorf("%s holds %v", o, l)
		}
	}
	// The not-found rows keep a bounded message and no apiCode or requestId.
	for _, r := range readJSONL(t, filepath.Join(dir, "r.jsonl")) {
		if r.Outcome != "not_found" {
			continue
		}
		if len(r.Error) > 1200 || !strings.Contains(r.Error, "user not found") || strings.Contains(r.Error, "Bearer eyJ") {
			t.Errorf("error text (%d bytes) %.200q", len(r.Error), r.Error)
		}
	}
	for _, w := range []string{`"api_code":"Bearer`, `"request_id":"Bearer`} {
		if strings.Contains(fileText(t, filepath.Join(dir, "r.jsonl")), w) {
			t.Errorf("JSON Lines keep %s", w)
		}
	}
}

// TestRefusedExchangeEchoingTheSecret: the exit-2 line of a refused token
// exchange whose answer echoes the request body holds no secret.
func TestRefusedExchangeEchoingTheSecret(t *testing.T) {
	srv := hostileServer(t, true, false)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte("user_id\n63739db1a2b3c4d5e6f70001\n"), 0o600)
	for _, format := range []string{"text", "json"} {
		code, log := runAuditIn(t, dir, "077", []string{"GENAUTH_HOST=" + srv.URL, "GENAUTH_ACCESS_KEY_ID=pool",
			"GENAUTH_ACCESS_KEY_SECRET=" + hostileSecret, "AUDIT_SOURCE=" + in, "AUDIT_OUTPUT=o/r.csv",
			"AUDIT_LOG_FORMAT=" + format}, "run")
		if code != 2 {
			t.Fatalf("exit %d, want 2\n%s", code, log)
		}
		if l := leaks(log); l != nil {
			t.Errorf("%s log holds %v:\n%s", format, l, log)
		}
		if !strings.Contains(log, "refused") {
			t.Errorf("%s log does not say the exchange was refused:\n%s", format, log)
		}
	}
}

// TestMegabyteMessagesStayBounded: a 3.9 MB message on one answer in ten of
// 400 users keeps every output small and the process's memory bounded.
func TestMegabyteMessagesStayBounded(t *testing.T) {
	srv := hostileServer(t, false, true)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("user_id\n")
	for i := range 400 {
		fmt.Fprintf(&b, "63739db1a2b3c4d5e6f7%04d\n", i)
	}
	os.WriteFile(in, []byte(b.String()), 0o600)
	outs := []string{"r.jsonl", "r.csv", "r.xlsx", "r.html"}
	cmd := exec.Command(auditBin, "run")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AUDIT_PROGRESS=never", "GENAUTH_HOST=" + srv.URL, "GENAUTH_ACCESS_KEY_ID=pool",
		"GENAUTH_ACCESS_KEY_SECRET=" + hostileSecret, "AUDIT_SOURCE=" + in, "AUDIT_RATE=0", "AUDIT_CONCURRENCY=8",
		"AUDIT_OUTPUT=" + strings.Join(outs, ",")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(string(out), 3000))
	}
	// Without the cap every output was about 150 MB; capped, the 40 long
	// messages add 40 KiB at most.
	for _, o := range outs {
		st, err := os.Stat(filepath.Join(dir, o))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1<<20 {
			t.Errorf("%s is %d bytes", o, st.Size())
		}
	}
	// Answers are read (at most 4 MiB each, 8 in flight) and dropped: peak
	// RSS stays far from the gigabytes an uncapped reorder window reached.
	// 320 MiB leaves room for the collector's pace on a busy machine (CI
	// measured 220 MiB once; a quiet run about 120).
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if rss := ru.Maxrss << 10; rss > 320<<20 {
			t.Errorf("peak RSS %d MiB", rss>>20)
		} else {
			t.Logf("peak RSS %d MiB", rss>>20)
		}
	}
	if len(out) > 64<<10 {
		t.Errorf("the log is %d bytes", len(out))
	}
}
