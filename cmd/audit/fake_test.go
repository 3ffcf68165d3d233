package main

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// TestFakeGenAuthCommandServesARun starts `audit fake-genauth` as its own
// process, as a CronJob dry run would, audits a CSV against it and stops it
// with SIGTERM.
func TestFakeGenAuthCommandServesARun(t *testing.T) {
	fake := exec.Command(auditBin, "fake-genauth", "--addr", "127.0.0.1:0", "--faults", "latency=1ms,throttle=0.05,mixed=true")
	stdout, err := fake.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Process.Kill()
	lines := bufio.NewScanner(stdout)
	urlRE := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)`)
	var url string
	for url == "" && lines.Scan() {
		if m := urlRE.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatal("fake-genauth never said where it listens")
	}
	go io.Copy(io.Discard, stdout)

	csvPath, order := messyCSV(t, 500, 6)
	jsonl := filepath.Join(t.TempDir(), "r.jsonl")
	code, log := runAudit(t, []string{"GENAUTH_HOST=" + url, "GENAUTH_ACCESS_KEY_ID=fake-pool-id", "GENAUTH_ACCESS_KEY_SECRET=fake-secret",
		"AUDIT_SOURCE=" + csvPath, "AUDIT_OUTPUT=" + jsonl, "AUDIT_RATE=0"}, "run")
	if code != 0 {
		t.Fatalf("run against fake-genauth: exit %d\n%s", code, tail(log, 2000))
	}
	if got := readJSONL(t, jsonl); len(got) != len(order) {
		t.Errorf("%d results for %d subjects", len(got), len(order))
	}
	fake.Process.Signal(syscall.SIGTERM)
	if err := fake.Wait(); err != nil {
		t.Errorf("fake-genauth after SIGTERM: %v", err)
	}
}
