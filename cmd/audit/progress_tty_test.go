package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/progress"
)

// TestProgressOnATerminal runs the binary with its stderr on a
// pseudo-terminal of 80 (and 50) columns: the progress is one line, redrawn
// in place, never wider than the terminal, counting subjects answered
// against the file's rows; the run ends with a summary for people that
// lists every report. The log (stdout, not a terminal) has no control
// characters.
func TestProgressOnATerminal(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{Latency: 20 * time.Millisecond}})
	defer srv.Close()
	dir := t.TempDir()
	var rows bytes.Buffer
	rows.WriteString("user_id,department\n")
	for i := range 600 {
		fmt.Fprintf(&rows, "63739db0cd8e8d7d4a%06x,dept%d\n", i, i%5)
	}
	csvPath := filepath.Join(dir, "users.csv")
	os.WriteFile(csvPath, rows.Bytes(), 0o600)

	for _, cols := range []uint16{80, 50} {
		t.Run(strconv.Itoa(int(cols)), func(t *testing.T) {
			out := t.TempDir()
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal here: %v", err)
			}
			defer ptmx.Close()
			if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: cols}); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(auditBin, "run")
			cmd.Env = append(serverEnv(srv), "PATH="+os.Getenv("PATH"), "HOME="+out, "AUDIT_SOURCE="+csvPath,
				"AUDIT_OUTPUT="+filepath.Join(out, "a.jsonl")+","+filepath.Join(out, "a.html"), "AUDIT_CONCURRENCY=4", "AUDIT_RATE=0")
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, tty
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tty.Close()
			var screen bytes.Buffer
			copied := make(chan struct{})
			go func() { io.Copy(&screen, ptmx); close(copied) }() // ends with EIO when the process is gone
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			<-copied
			s := screen.String()
			end := strings.Index(s, "MFA audit complete")
			if end < 0 {
				t.Fatalf("no summary for people on the terminal:\n%q", s)
			}
			bar, summary := s[:end], s[end:]
			if strings.Contains(bar, "\n") {
				t.Errorf("the progress took more than one line:\n%q", bar)
			}
			frames := progress.Frames(bar)
			if len(frames) < 3 {
				t.Fatalf("%d redraws, want several:\n%q", len(frames), bar)
			}
			count := regexp.MustCompile(`\((\d+)/(\d+)\) answered`)
			last := -1
			for _, f := range frames {
				if w := len([]rune(f)); w >= int(cols) {
					t.Errorf("a line %d wide on %d columns: %q", w, cols, f)
				}
				m := count.FindStringSubmatch(f)
				if m == nil {
					continue // before the line count is known: a count without a share
				}
				n, _ := strconv.Atoi(m[1])
				if n < last || m[2] != "600" {
					t.Errorf("frame %q after %d answered: want a growing count of 600", f, last)
				}
				last = n
			}
			if last < 0 {
				t.Errorf("no frame counts answered subjects against the 600 rows:\n%q", bar)
			}
			for _, want := range []string{"coverage", "Reports:", filepath.Join(out, "a.jsonl"), filepath.Join(out, "a.html"), "Exit code 0."} {
				if !strings.Contains(summary, want) {
					t.Errorf("the summary lacks %q:\n%s", want, summary)
				}
			}
			if strings.ContainsAny(log.String(), "\r\x1b") {
				t.Errorf("control characters in the log:\n%q", log.String())
			}
		})
	}
}
