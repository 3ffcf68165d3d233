package main

import (
	"bytes"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// runAuditIn runs the binary in dir under the umask given (octal, as sh
// takes it) and returns its exit code and output.
func runAuditIn(t *testing.T, dir, umask string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", `umask "$0" && exec "$@"`, umask, auditBin}, args...)...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AUDIT_PROGRESS=never"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// modes lists every file and directory under root with its permission bits.
func modes(t *testing.T, root string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = info.Mode().Perm()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDefaultsFromAnEmptyFolder is the README's first run: the default
// AUDIT_OUTPUT (out/mfa-audit.xlsx and .html) in a folder that has no out/,
// under umask 022 with and without AUDIT_FILE_MODE. Every writer makes its
// folder; every file gets the mode asked for (default 0600), the umask on top.
func TestDefaultsFromAnEmptyFolder(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 200, 3)
	for _, tc := range []struct {
		name, umask, mode string
		file, dir         fs.FileMode
	}{
		{"default mode under umask 022", "022", "", 0o600, 0o700},
		{"AUDIT_FILE_MODE=0644 under umask 022", "022", "0644", 0o644, 0o755},
		{"AUDIT_FILE_MODE=0666 under umask 027", "027", "0666", 0o640, 0o750},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0")
			if tc.mode != "" {
				env = append(env, "AUDIT_FILE_MODE="+tc.mode)
			}
			code, log := runAuditIn(t, dir, tc.umask, env, "run")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, tail(log, 3000))
			}
			got := modes(t, dir)
			want := map[string]fs.FileMode{
				".": 0o700, "out": tc.dir, "out/mfa-audit.xlsx": tc.file, "out/mfa-audit.html": tc.file, "out/mfa-audit.manifest.json": tc.file,
			}
			got["."] = 0o700 // t.TempDir's own mode is not ours
			if len(got) != len(want) {
				t.Errorf("files left: %v, want %v", got, want)
			}
			for p, m := range want {
				if got[p] != m {
					t.Errorf("%s: mode %04o, want %04o", p, got[p], m)
				}
			}
		})
	}
}

// TestConfigurationErrorsLeaveNothingBehind: every exit 2 is found before
// any request and removes the folders the run made (SPEC 3, 8).
func TestConfigurationErrorsLeaveNothingBehind(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 20, 5)
	for _, tc := range []struct {
		name string
		env  []string
		want string // in the log
	}{
		{"an output that cannot be created", []string{"AUDIT_OUTPUT=new/a/b.xlsx,/proc/x/y.xlsx"}, "/proc/x/y.xlsx"},
		{"an output directory that is a file", []string{"AUDIT_OUTPUT=new/r.csv,src.csv/r.html"}, "src.csv/r.html"},
		{"an unreadable source", []string{"AUDIT_OUTPUT=new/r.csv", "AUDIT_SOURCE=missing.csv"}, "AUDIT_SOURCE"},
		{"refused credentials", []string{"AUDIT_OUTPUT=new/deeper/r.csv,new/r.jsonl", "GENAUTH_ACCESS_KEY_SECRET=wrong-secret"}, "GENAUTH_ACCESS_KEY"},
		{"a bad file mode", []string{"AUDIT_OUTPUT=new/r.csv", "AUDIT_FILE_MODE=0400"}, "AUDIT_FILE_MODE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "src.csv"), []byte("user_id\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			srv.ResetCounters()
			env := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0")
			code, log := runAuditIn(t, dir, "022", append(env, tc.env...), "run")
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, tail(log, 3000))
			}
			if !strings.Contains(log, tc.want) {
				t.Errorf("the log does not name %s:\n%s", tc.want, log)
			}
			if c := srv.Counters(); c.Requests != 0 || (tc.name != "refused credentials" && c.TokenCalls != 0) {
				t.Errorf("requests were sent: %+v", c)
			}
			left := modes(t, dir)
			delete(left, ".")
			delete(left, "src.csv")
			if len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestNoPasswordInHelpOrErrors plants one password in every place a user
// may put one and greps every help and error path for it (SPEC 10).
func TestNoPasswordInHelpOrErrors(t *testing.T) {
	const pw = "Pl4nted-pw-93f1"
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 5, 6)
	base := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_CONNECT_RETRY=0s")
	pgURL := "postgres://auditor:" + pw + "@127.0.0.1:1/x"
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"bad flag value with a Postgres output", []string{"AUDIT_OUTPUT=out/x.xlsx," + pgURL}, []string{"run", "--rate=abc"}},
		{"run -h with a Postgres source", []string{"AUDIT_SOURCE=" + pgURL}, []string{"run", "-h"}},
		{"help run", []string{"AUDIT_SOURCE=" + pgURL, "AUDIT_OUTPUT=" + pgURL}, []string{"help", "run"}},
		{"report --bogus", []string{"AUDIT_REPORT_FROM=" + pgURL}, []string{"report", "--bogus"}},
		{"report -h", []string{"AUDIT_REPORT_FROM=" + pgURL}, []string{"report", "-h"}},
		{"misspelt scheme", []string{"AUDIT_SOURCE=postgre://auditor:" + pw + "@db/x"}, []string{"run"}},
		{"misspelt output scheme", []string{"AUDIT_OUTPUT=postgre://auditor:" + pw + "@db/x"}, []string{"run"}},
		{"misspelt scheme, json log", []string{"AUDIT_SOURCE=postgre://auditor:" + pw + "@db/x", "AUDIT_LOG_FORMAT=json"}, []string{"run"}},
		{"user:PW@ in GENAUTH_HOST", []string{"GENAUTH_HOST=https://auditor:" + pw + "@api.genauth.ai"}, []string{"run"}},
		{"user:PW@ in GENAUTH_HOST without a scheme", []string{"GENAUTH_HOST=auditor:" + pw + "@api.genauth.ai"}, []string{"run"}},
		{"sslpassword", []string{"AUDIT_OUTPUT=postgres://auditor@127.0.0.1:1/x?sslmode=disable&sslpassword=" + pw}, []string{"run"}},
		{"unreachable Postgres output", []string{"AUDIT_OUTPUT=" + pgURL}, []string{"run"}},
		{"unreachable Postgres source", []string{"AUDIT_SOURCE=" + pgURL, "AUDIT_SOURCE_QUERY=select 1 as user_id", "AUDIT_OUTPUT=o/x.csv"}, []string{"run"}},
		{"malformed Postgres URL", []string{"AUDIT_OUTPUT=postgres://auditor:" + pw + "@db:notaport/x"}, []string{"run"}},
		{"report from a malformed URL", []string{"AUDIT_REPORT_FROM=postgres://auditor:" + pw + "@db:x/y", "AUDIT_RUN_ID=r1"}, []string{"report"}},
		{"password flag value", nil, []string{"run", "--output=postgres://auditor:" + pw + "@127.0.0.1:1/x", "--rate=abc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, log := runAuditIn(t, t.TempDir(), "077", append(append([]string{}, base...), tc.env...), tc.args...)
			if strings.Contains(log, pw) {
				t.Errorf("exit %d: the password is shown:\n%s", code, log)
			}
		})
	}
}

// TestUnreachablePostgresIsAnOutage: a Postgres output or source that
// cannot be reached is retried for AUDIT_CONNECT_RETRY and then exit 1 (the
// scheduler retries), with no request sent and nothing left behind; a
// Postgres that refuses the role is exit 2 at once.
func TestUnreachablePostgresIsAnOutage(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 5, 7)
	down := "postgres://auditor:pw@127.0.0.1:1/x?connect_timeout=2"
	cases := []struct {
		name string
		env  []string
		args []string
		want int
	}{
		{"output", []string{"AUDIT_SOURCE=" + csvPath, "AUDIT_OUTPUT=new/r.csv," + down}, []string{"run"}, 1},
		{"source", []string{"AUDIT_SOURCE=" + down, "AUDIT_SOURCE_QUERY=select 1 as user_id", "AUDIT_OUTPUT=new/r.csv"}, []string{"run"}, 1},
		{"report source", []string{"AUDIT_REPORT_FROM=" + down, "AUDIT_RUN_ID=r1", "AUDIT_OUTPUT=new/r.csv"}, []string{"report"}, 1},
		{"output and a bad value", []string{"AUDIT_SOURCE=" + csvPath, "AUDIT_OUTPUT=new/r.csv," + down, "AUDIT_POLICY=bogus"}, []string{"run"}, 2},
	}
	if base := os.Getenv("AUDIT_TEST_DATABASE_URL"); base != "" {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword("no_such_role_h15", "pw")
		cases = append(cases, struct {
			name string
			env  []string
			args []string
			want int
		}{"refused role", []string{"AUDIT_SOURCE=" + csvPath, "AUDIT_OUTPUT=new/r.csv," + u.String()}, []string{"run"}, 2})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			srv.ResetCounters()
			env := append(serverEnv(srv), "AUDIT_CONNECT_RETRY=3s")
			code, log := runAuditIn(t, dir, "022", append(env, tc.env...), tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\n%s", code, tc.want, log)
			}
			if tc.want == 1 && (!strings.Contains(log, "retrying") || !strings.Contains(log, "unreachable after")) {
				t.Errorf("the log does not show the retries:\n%s", log)
			}
			if c := srv.Counters(); c.Requests+c.TokenCalls != 0 {
				t.Errorf("requests were sent: %+v", c)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestFakeListensOnLoopbackOnly: audit fake-genauth refuses an address
// other machines can reach unless --allow-remote is given.
func TestFakeListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:0"} {
		code, log := runAuditIn(t, t.TempDir(), "022", nil, "fake-genauth", "--addr", addr)
		if code != 2 || !strings.Contains(log, "--allow-remote") {
			t.Errorf("--addr %s: exit %d\n%s", addr, code, log)
		}
	}
	for addr, allow := range map[string]bool{"127.0.0.1:8080": false, "localhost:1": false, "[::1]:1": false, "0.0.0.0:8080": true} {
		if err := checkFakeAddr(addr, allow); err != nil {
			t.Errorf("%s (allow-remote %v): %v", addr, allow, err)
		}
	}
}

// TestFakeAPIIsSaid: a run answered by the built-in fake says FAKE API in
// its log, the HTML banner and the workbook's Summary; a run against
// another server never does.
func TestFakeAPIIsSaid(t *testing.T) {
	fake := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer fake.Close()
	other := hostileServer(t, false, false)
	csvPath, _ := messyCSV(t, 30, 8)
	for _, tc := range []struct {
		name string
		env  []string
		want bool
	}{
		{"the fake", serverEnv(fake), true},
		{"another server", []string{"GENAUTH_HOST=" + other.URL, "GENAUTH_ACCESS_KEY_ID=pool", "GENAUTH_ACCESS_KEY_SECRET=" + hostileSecret}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, log := runAuditIn(t, dir, "022", append(tc.env, "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0",
				"AUDIT_MAX_UNKNOWN=100", "AUDIT_OUTPUT=r.xlsx,r.html"), "run")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, tail(log, 2000))
			}
			for name, text := range map[string]string{"log": log, "r.html": fileText(t, filepath.Join(dir, "r.html")), "r.xlsx": fileText(t, filepath.Join(dir, "r.xlsx"))} {
				if got := strings.Contains(text, "FAKE API"); got != tc.want {
					t.Errorf("%s says FAKE API: %v, want %v", name, got, tc.want)
				}
			}
		})
	}
	// The demo too.
	dir := t.TempDir()
	code, log := runAuditIn(t, dir, "022", nil, "demo", "--out", dir)
	if code != 0 || !strings.Contains(log, "FAKE API") || !strings.Contains(fileText(t, filepath.Join(dir, "mfa-audit.html")), "FAKE API") {
		t.Errorf("demo: exit %d, or no FAKE API\n%s", code, tail(log, 2000))
	}
}
