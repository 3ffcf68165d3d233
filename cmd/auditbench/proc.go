package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a child gets after SIGTERM before it is killed.
const stopGrace = 15 * time.Second

// buildAudit builds ./cmd/audit of the enclosing module into dir.
func buildAudit(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run auditbench inside the mfa-audit module (go run ./cmd/auditbench)")
	}
	bin := filepath.Join(dir, "audit")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/audit")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/audit: %v\n%s", err, out)
	}
	return bin, nil
}

// auditVersion is the output of `audit version`, one line.
func auditVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return ""
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// childEnv is this process's environment without any AUDIT_ or GENAUTH_
// variable, plus extra ("KEY=value").
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AUDIT_") || strings.HasPrefix(kv, "GENAUTH_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// tailBuffer keeps the last max bytes written to it. Safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// procResult is a finished child process.
type procResult struct {
	Wall      time.Duration
	MaxRSSKiB int64 // peak resident set size (ru_maxrss, KiB on Linux)
	UserCPU   time.Duration
	SysCPU    time.Duration
	ExitCode  int
	Stdout    string // the tail
	Stderr    string // the tail
}

// MaxRSSMiB is the peak RSS in MiB.
func (p *procResult) MaxRSSMiB() float64 { return float64(p.MaxRSSKiB) / 1024 }

// CPU is user plus system time.
func (p *procResult) CPU() time.Duration { return p.UserCPU + p.SysCPU }

// logLine returns the last JSON log line of stdout whose msg is one of msgs.
func (p *procResult) logLine(msgs ...string) (map[string]any, bool) {
	lines := strings.Split(p.Stdout, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		msg, _ := m["msg"].(string)
		for _, want := range msgs {
			if msg == want {
				return m, true
			}
		}
	}
	return nil, false
}

// describe summarizes a failed child for an error message.
func (p *procResult) describe() string {
	tail := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) > 600 {
			s = "…" + s[len(s)-600:]
		}
		return s
	}
	return fmt.Sprintf("exit code %d; stdout: %s; stderr: %s", p.ExitCode, tail(p.Stdout), tail(p.Stderr))
}

// runChild runs bin with args and env to completion, within timeout; on
// timeout or cancellation it sends SIGTERM, then SIGKILL after stopGrace.
// A non-zero exit is not an error: the caller judges ExitCode.
func runChild(ctx context.Context, bin string, args, env []string, timeout time.Duration) (*procResult, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("timed out after %s", timeout))
	defer cancel()
	stdout := &tailBuffer{max: 1 << 20}
	stderr := &tailBuffer{max: 64 << 10}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	waitErr := cmd.Wait()
	res := &procResult{Wall: time.Since(start), Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: -1}
	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode = ps.ExitCode()
		res.UserCPU, res.SysCPU = ps.UserTime(), ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.MaxRSSKiB = ru.Maxrss
		}
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s %s: %w", filepath.Base(bin), strings.Join(args, " "), context.Cause(ctx))
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return res, waitErr
	}
	return res, nil
}

// fakeAPI is a running `audit fake-genauth`.
type fakeAPI struct {
	URL    string
	cmd    *exec.Cmd
	out    *urlWatcher
	done   chan struct{}
	waited error
}

// Credentials the fake accepts by default.
const (
	fakePoolID = "fake-pool-id"
	fakeSecret = "fake-secret"
)

var urlRE = regexp.MustCompile(`url=(https?://[^\s"]+)`)

// urlWatcher collects the fake's output and reports the first url=... it
// logs.
type urlWatcher struct {
	tailBuffer
	once  sync.Once
	found chan string
	line  []byte
}

func (u *urlWatcher) Write(p []byte) (int, error) {
	u.tailBuffer.Write(p)
	u.line = append(u.line, p...)
	for {
		i := bytes.IndexByte(u.line, '\n')
		if i < 0 {
			break
		}
		if m := urlRE.FindSubmatch(u.line[:i]); m != nil {
			url := string(m[1])
			u.once.Do(func() { u.found <- url })
		}
		u.line = u.line[i+1:]
	}
	return len(p), nil
}

// startFake starts the fake API on a free loopback port with the given
// fault switches and waits for it to log its URL.
func startFake(ctx context.Context, bin, faults string) (*fakeAPI, error) {
	args := []string{"fake-genauth", "--addr", "127.0.0.1:0"}
	if faults != "" {
		args = append(args, "--faults", faults)
	}
	w := &urlWatcher{tailBuffer: tailBuffer{max: 64 << 10}, found: make(chan string, 1)}
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &fakeAPI{cmd: cmd, out: w, done: make(chan struct{})}
	go func() {
		f.waited = cmd.Wait()
		close(f.done)
	}()
	select {
	case f.URL = <-w.found:
		return f, nil
	case <-f.done:
		return nil, fmt.Errorf("fake-genauth exited at once: %v: %s", f.waited, strings.TrimSpace(w.String()))
	case <-time.After(15 * time.Second):
		f.Stop()
		return nil, fmt.Errorf("fake-genauth logged no url within 15s: %s", strings.TrimSpace(w.String()))
	case <-ctx.Done():
		f.Stop()
		return nil, context.Cause(ctx)
	}
}

// Stop sends SIGTERM and waits, killing the fake after stopGrace. It
// returns the CPU time the fake used.
func (f *fakeAPI) Stop() time.Duration {
	if f == nil {
		return 0
	}
	select {
	case <-f.done:
	default:
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done:
		case <-time.After(stopGrace):
			_ = f.cmd.Process.Kill()
			<-f.done
		}
	}
	if ps := f.cmd.ProcessState; ps != nil {
		return ps.UserTime() + ps.SystemTime()
	}
	return 0
}

// CPU is the CPU time (user + system) the fake has used so far, read from
// /proc/PID/stat (clock ticks of 10 ms).
func (f *fakeAPI) CPU() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", f.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	return statCPU(string(b))
}

// statCPU parses utime + stime out of a /proc/PID/stat line.
func statCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is this process's user + system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
