package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/pgtest"
)

// TestREADMEBlocksInAnEmptyFolder runs the README's sh blocks in order, as a
// newcomer would, with the built binary as `audit`, in an empty folder that
// holds only their export (users.csv) and secret file. Placeholders become
// the fake's values: the pool id, the secret file, the fake's port, and
// postgres://audit@db/audit the test database (blocks that need it skip
// without one). GENAUTH_HOST points at the fake and every proxy variable at
// a closed port, so no block can reach a real host.
func TestREADMEBlocksInAnEmptyFolder(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shBlocks(string(readme))
	if len(blocks) < 3 {
		t.Fatalf("the README has %d sh blocks; the newcomer's path is gone?", len(blocks))
	}
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()

	dir := t.TempDir()
	binDir := filepath.Dir(auditBin)
	var users bytes.Buffer
	users.WriteString("user_id,name,department\n")
	for i := range 40 {
		fmt.Fprintf(&users, "63739db0cd8e8d7d4a%06x,Person %d,dept%d\n", i, i, i%4)
	}
	os.WriteFile(filepath.Join(dir, "users.csv"), users.Bytes(), 0o600)
	os.WriteFile(filepath.Join(dir, "genauth-secret"), []byte(srv.Secret+"\n"), 0o600)
	port := freePort(t)
	pgURL := os.Getenv(pgtest.EnvVar)

	rewrite := strings.NewReplacer(
		"go run ./cmd/audit", "audit",
		"<user pool id>", srv.PoolID,
		"/run/secrets/genauth-secret", filepath.Join(dir, "genauth-secret"),
		"127.0.0.1:8080", "127.0.0.1:"+port,
		"postgres://audit@db/audit", pgURL,
	)
	env := []string{
		"PATH=" + binDir + ":" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8",
		"GENAUTH_HOST=" + srv.URL, // the blocks that do not name a host
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
		// The run id the README's render example names is the one the
		// newcomer's run stored (their own id in real life).
		"AUDIT_RUN_ID=20261127T020000Z-3f9a1c",
		"AUDIT_PG_SCHEMA=readme_" + fmt.Sprint(time.Now().UnixNano()),
	}
	for i, b := range blocks {
		script := rewrite.Replace(b)
		var lines []string
		for _, l := range strings.Split(script, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "go test") {
				continue // the test suite itself
			}
			lines = append(lines, l)
			if strings.HasPrefix(l, "audit fake-genauth") && strings.HasSuffix(strings.TrimSpace(l), "&") {
				// Wait until the fake listens, rather than trusting the
				// README's "sleep 1" on a busy machine.
				lines = append(lines, "for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"+port+") 2>/dev/null && break; sleep 0.05; done")
			}
		}
		script = strings.Join(lines, "\n")
		if strings.Contains(b, "postgres://") && pgURL == "" {
			if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
				t.Fatalf("block %d needs Postgres but %s is unset", i+1, pgtest.EnvVar)
			}
			t.Logf("block %d skipped: it needs Postgres (%s unset)", i+1, pgtest.EnvVar)
			continue
		}
		if h := realHost.FindString(script); h != "" {
			t.Fatalf("block %d would call %s:\n%s", i+1, h, script)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-c", script)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		cancel()
		t.Logf("README block %d (%s): %v", i+1, strings.SplitN(strings.TrimSpace(b), "\n", 2)[0], err)
		if err != nil {
			t.Fatalf("README block %d failed: %v\n--- block\n%s\n--- output\n%s", i+1, err, script, tail(string(out), 3000))
		}
	}
	for _, f := range []string{"out/mfa-audit.xlsx", "out/mfa-audit.html", "out/mfa-audit.csv", "out/mfa-audit.jsonl",
		"out/mfa.xlsx", "out/mfa.html", "out/mfa.jsonl"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if c := srv.Counters(); c.Requests == 0 {
		t.Error("no block asked the fake anything")
	}
}

// realHost finds a GENAUTH_HOST that is not the loopback fake.
var realHost = regexp.MustCompile(`GENAUTH_HOST=https?://[^1l\s][^\s]*`)

// shBlocks returns the README's ```sh fenced blocks, in order.
func shBlocks(md string) []string {
	var out []string
	for rest := md; ; {
		i := strings.Index(rest, "```sh\n")
		if i < 0 {
			return out
		}
		rest = rest[i+len("```sh\n"):]
		j := strings.Index(rest, "```")
		if j < 0 {
			return out
		}
		out = append(out, rest[:j])
		rest = rest[j+3:]
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}
