package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/evidence"
	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// openSSL returns the openssl command, skipping (or failing in CI) without it.
func openSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
			t.Fatal("openssl is not on PATH but AUDIT_TEST_REQUIRE_ALL says this test must run (apt-get install openssl)")
		}
		t.Skip("openssl is not on PATH (apt-get install openssl)")
	}
	return p
}

// TestEvidenceManifestSignedAndVerified: a run with every file output and a
// key made by openssl writes a manifest whose hashes are the files', signed
// so that openssl alone verifies it; audit verify then catches each kind of
// tampering.
func TestEvidenceManifestSignedAndVerified(t *testing.T) {
	ossl := openSSL(t)
	keys := t.TempDir()
	priv, pub := filepath.Join(keys, "key.pem"), filepath.Join(keys, "pub.pem")
	for _, args := range [][]string{{"genpkey", "-algorithm", "ed25519", "-out", priv}, {"pkey", "-in", priv, "-pubout", "-out", pub}} {
		if out, err := exec.Command(ossl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	os.Chmod(priv, 0o600)
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 300, 11)
	dir := t.TempDir()
	outs := []string{filepath.Join(dir, "r.xlsx"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.csv"), filepath.Join(dir, "r.jsonl")}
	env := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0", "AUDIT_RUN_ID=evidence-1",
		"AUDIT_OUTPUT="+strings.Join(outs, ","), "AUDIT_SIGNING_KEY_FILE="+priv)
	if code, log := runAudit(t, env, "run"); code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 3000))
	}
	manifest := filepath.Join(dir, ManifestName)
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), srv.Secret) {
		t.Fatal("the manifest holds the secret")
	}
	var m evidence.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Schema != evidence.Schema || m.RunID != "evidence-1" || !m.Complete || m.ExitCode != 0 || m.Tool.Go == "" || m.Command != "run" {
		t.Errorf("manifest head: %+v", m)
	}
	if m.Source.Kind != "file" || m.Source.SHA256 != sha256File(t, csvPath) || m.Source.Bytes == nil || m.Source.Rows == nil || *m.Source.Rows == 0 {
		t.Errorf("source: %+v, want the CSV's sha256 %s", m.Source, sha256File(t, csvPath))
	}
	if len(m.Outputs) != 4 {
		t.Fatalf("outputs: %+v", m.Outputs)
	}
	for i, o := range m.Outputs {
		st, _ := os.Stat(outs[i])
		if o.Path != filepath.Base(outs[i]) || o.SHA256 != sha256File(t, outs[i]) || o.Bytes == nil || *o.Bytes != st.Size() {
			t.Errorf("output %d: %+v, want %s with sha256 %s", i, o, outs[i], sha256File(t, outs[i]))
		}
	}
	if m.Summary["unique"] == nil || m.Config["AUDIT_SIGNING_KEY_FILE"] == "" {
		t.Errorf("summary %v / config %v", m.Summary, m.Config)
	}
	// The printed reports tie themselves to the evidence: run id, build
	// revision, the input's SHA-256 and where the manifest is.
	page := string(mustRead(t, outs[1]))
	for _, want := range []string{"evidence-1", "Build revision", m.Source.SHA256, manifest} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML report does not show %q", want)
		}
	}
	wb, err := excelize.OpenFile(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := wb.GetRows("Run")
	wb.Close()
	runSheet := fmt.Sprint(rows)
	for _, want := range []string{"evidence-1", "Build revision", m.Source.SHA256, manifest} {
		if !strings.Contains(runSheet, want) {
			t.Errorf("the workbook's Run sheet does not show %q", want)
		}
	}
	// openssl alone verifies the signature.
	if out, err := exec.Command(ossl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", manifest, "-sigfile", manifest+".sig").CombinedOutput(); err != nil {
		t.Fatalf("openssl does not verify the signature: %v\n%s", err, out)
	}
	verify := func(args ...string) (int, string) {
		return runAudit(t, nil, append([]string{"verify"}, args...)...)
	}
	if code, out := verify(manifest, "--public-key", pub); code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("untouched: exit %d\n%s", code, out)
	}
	// A copy of the folder elsewhere still verifies.
	moved := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", dir, moved).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if code, out := verify(filepath.Join(moved, ManifestName), "--public-key", pub); code != 0 {
		t.Fatalf("copied elsewhere: exit %d\n%s", code, out)
	}
	// One changed byte.
	b, _ := os.ReadFile(filepath.Join(moved, "r.csv"))
	b[len(b)-2] ^= 1
	os.WriteFile(filepath.Join(moved, "r.csv"), b, 0o600)
	if code, out := verify(filepath.Join(moved, ManifestName)); code != 1 || !strings.Contains(out, "changed   r.csv") {
		t.Errorf("changed byte: exit %d\n%s", code, out)
	}
	// A missing file.
	os.Remove(filepath.Join(moved, "r.html"))
	if code, out := verify(filepath.Join(moved, ManifestName)); code != 1 || !strings.Contains(out, "missing   r.html") {
		t.Errorf("missing file: exit %d\n%s", code, out)
	}
	// An edited manifest (its hash of r.csv made to match the change) fails the signature.
	edited := strings.Replace(string(raw), m.Outputs[2].SHA256, sha256File(t, filepath.Join(moved, "r.csv")), 1)
	os.WriteFile(filepath.Join(moved, ManifestName), []byte(edited), 0o600)
	os.WriteFile(filepath.Join(moved, "r.html"), mustRead(t, outs[1]), 0o600)
	if code, out := verify(filepath.Join(moved, ManifestName), "--public-key", pub); code != 1 || !strings.Contains(out, "signature: does not match") {
		t.Errorf("edited manifest: exit %d\n%s", code, out)
	}
	// Another key.
	other := filepath.Join(keys, "other.pem")
	exec.Command(ossl, "genpkey", "-algorithm", "ed25519", "-out", filepath.Join(keys, "o.pem")).Run()
	exec.Command(ossl, "pkey", "-in", filepath.Join(keys, "o.pem"), "-pubout", "-out", other).Run()
	if code, out := verify(manifest, "--public-key", other); code != 1 {
		t.Errorf("wrong public key: exit %d\n%s", code, out)
	}
	if code, _ := verify(); code != 2 {
		t.Errorf("no manifest: exit %d, want 2", code)
	}
	if code, _ := verify(filepath.Join(dir, "r.csv")); code != 2 {
		t.Errorf("not a manifest: exit %d, want 2", code)
	}

	// audit report writes a manifest of its own, naming the JSON Lines it read.
	rdir := t.TempDir()
	code, log := runAudit(t, []string{"AUDIT_REPORT_FROM=" + outs[3], "AUDIT_OUTPUT=" + filepath.Join(rdir, "again.html")}, "report")
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, tail(log, 2000))
	}
	rm, err := os.ReadFile(filepath.Join(rdir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var r evidence.Manifest
	json.Unmarshal(rm, &r)
	if r.Command != "report" || r.Source.Kind != "jsonl" || r.Source.SHA256 != sha256File(t, outs[3]) || len(r.Outputs) != 1 || r.Outputs[0].SHA256 != sha256File(t, filepath.Join(rdir, "again.html")) {
		t.Errorf("report manifest: %s", rm)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSigningKeyProblemsBeforeAnyAPICall: an unreadable, non-Ed25519 or
// world-readable key is exit 2 with no request sent.
func TestSigningKeyProblemsBeforeAnyAPICall(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 20, 3)
	keys := t.TempDir()
	loose := filepath.Join(keys, "loose.pem")
	notKey := filepath.Join(keys, "notkey.pem")
	os.WriteFile(notKey, []byte("hello"), 0o600)
	os.WriteFile(loose, []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIB6c0xgR4bgs2KSq8wW2ylgfTuhnZ8m6P2iC8Q2d4Ahx\n-----END PRIVATE KEY-----\n"), 0o644)
	for _, key := range []string{filepath.Join(keys, "none.pem"), notKey, loose} {
		dir := t.TempDir()
		code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+filepath.Join(dir, "x.jsonl"),
			"AUDIT_SIGNING_KEY_FILE="+key), "run")
		if code != 2 || !strings.Contains(log, "AUDIT_SIGNING_KEY_FILE") {
			t.Errorf("%s: exit %d\n%s", filepath.Base(key), code, tail(log, 1000))
		}
	}
	if c := srv.Counters(); c.Requests+c.TokenCalls != 0 {
		t.Errorf("a bad signing key still sent %d requests", c.Requests+c.TokenCalls)
	}
}

// TestManifestOfAWholePoolRun: the manifest of a genauth:users run records
// the listing's totalCount at its start and end.
func TestManifestOfAWholePoolRun(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{Users: changePool(120, 5)})
	defer srv.Close()
	dir := t.TempDir()
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE=genauth:users", "AUDIT_RATE=0",
		"AUDIT_OUTPUT="+filepath.Join(dir, "pool.jsonl")), "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 2000))
	}
	var m evidence.Manifest
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, ManifestName)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Source.Kind != "genauth:users" || m.Source.TotalCountStart == nil || m.Source.TotalCountEnd == nil ||
		*m.Source.TotalCountStart != 120 || *m.Source.TotalCountEnd != 120 {
		t.Errorf("source: %+v", m.Source)
	}
}
