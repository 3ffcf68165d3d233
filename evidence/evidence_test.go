package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKey writes an Ed25519 key pair as PKCS#8 and PKIX PEM files.
func writeKey(t *testing.T, dir string) (priv, pub string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	priv = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	pub = filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// fixture writes two outputs and a manifest listing them; it returns the
// manifest's path.
func fixture(t *testing.T, dir, keyPath string) string {
	t.Helper()
	m := &Manifest{Schema: Schema, RunID: "r1", StartedAt: time.Unix(0, 0).UTC(), FinishedAt: time.Unix(60, 0).UTC(), Complete: true}
	for _, name := range []string{"a.xlsx", "a.jsonl"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("content of "+name), 0o600); err != nil {
			t.Fatal(err)
		}
		sum, n, err := HashFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m.Outputs = append(m.Outputs, Output{Kind: strings.TrimPrefix(filepath.Ext(name), "."), Path: RelPath(dir, p), Bytes: Int64(n), SHA256: sum})
	}
	m.Outputs = append(m.Outputs, Output{Kind: "postgres", Path: "postgres://db/x", Schema: "mfa_audit", RunID: "r1", Rows: Int64(2)})
	var key ed25519.PrivateKey
	if keyPath != "" {
		var err error
		if key, err = LoadSigningKey(keyPath); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "mfa-audit.manifest.json")
	if _, err := Write(path, m, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func states(v *Verification) string {
	var s []string
	for _, c := range v.Checks {
		s = append(s, c.Path+"="+c.State)
	}
	return strings.Join(s, " ")
}

func TestVerify(t *testing.T) {
	keys := t.TempDir()
	priv, pub := writeKey(t, keys)
	pubKey, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub := writeKey(t, t.TempDir())
	otherKey, err := LoadPublicKey(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir, manifest string)
		key    ed25519.PublicKey
		ok     bool
		states string
		sig    string
	}{
		{"untouched", nil, pubKey, true, "a.xlsx=ok a.jsonl=ok postgres://db/x=skipped", "valid"},
		{"untouched without key", nil, nil, true, "a.xlsx=ok a.jsonl=ok postgres://db/x=skipped", "not checked"},
		{"changed byte", func(t *testing.T, dir, _ string) {
			p := filepath.Join(dir, "a.xlsx")
			b, _ := os.ReadFile(p)
			b[0] ^= 1
			os.WriteFile(p, b, 0o600)
		}, pubKey, false, "a.xlsx=changed a.jsonl=ok postgres://db/x=skipped", "valid"},
		{"missing file", func(t *testing.T, dir, _ string) {
			os.Remove(filepath.Join(dir, "a.jsonl"))
		}, pubKey, false, "a.xlsx=ok a.jsonl=missing postgres://db/x=skipped", "valid"},
		{"edited manifest", func(t *testing.T, dir, m string) {
			b, _ := os.ReadFile(m)
			os.WriteFile(m, []byte(strings.Replace(string(b), `"complete": true`, `"complete": false`, 1)), 0o600)
		}, pubKey, false, "a.xlsx=ok a.jsonl=ok postgres://db/x=skipped", "invalid"},
		{"wrong public key", nil, otherKey, false, "a.xlsx=ok a.jsonl=ok postgres://db/x=skipped", "invalid"},
		{"signature removed", func(t *testing.T, _, m string) { os.Remove(m + SigExt) }, pubKey, false, "a.xlsx=ok a.jsonl=ok postgres://db/x=skipped", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			m := fixture(t, dir, priv)
			if tt.tamper != nil {
				tt.tamper(t, dir, m)
			}
			v, err := Verify(m, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if got := states(v); got != tt.states {
				t.Errorf("states = %s, want %s", got, tt.states)
			}
			if v.Signature != tt.sig {
				t.Errorf("signature = %s, want %s", v.Signature, tt.sig)
			}
			if v.OK() != tt.ok {
				t.Errorf("OK = %v, want %v", v.OK(), tt.ok)
			}
		})
	}
}

func TestVerifyCopiedElsewhere(t *testing.T) {
	dir := t.TempDir()
	m := fixture(t, dir, "")
	moved := filepath.Join(t.TempDir(), "evidence")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	v, err := Verify(filepath.Join(moved, filepath.Base(m)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() {
		t.Fatalf("a copied folder does not verify: %s", states(v))
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Verify(filepath.Join(dir, "nope.json"), nil); err == nil {
		t.Error("a missing manifest verified")
	}
	p := filepath.Join(dir, "x.json")
	os.WriteFile(p, []byte(`{"schema":"other"}`), 0o600)
	if _, err := Verify(p, nil); err == nil || !strings.Contains(err.Error(), "not a manifest") {
		t.Errorf("a foreign JSON file: %v", err)
	}
}

func TestLoadSigningKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	priv, pub := writeKey(t, dir)
	if err := os.Chmod(priv, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(priv); err == nil || !strings.Contains(err.Error(), "readable by every user") {
		t.Errorf("world-readable key: %v", err)
	}
	os.Chmod(pub, 0o600)
	if _, err := LoadSigningKey(pub); err == nil || !strings.Contains(err.Error(), "not a PKCS#8") {
		t.Errorf("a public key as the signing key: %v", err)
	}
	if _, err := LoadSigningKey(filepath.Join(dir, "none.pem")); err == nil {
		t.Error("a missing key loaded")
	}
	rsaPath := filepath.Join(dir, "rsa.pem")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024", "-out", rsaPath).CombinedOutput(); err == nil {
		os.Chmod(rsaPath, 0o600)
		if _, err := LoadSigningKey(rsaPath); err == nil || !strings.Contains(err.Error(), "not Ed25519") {
			t.Errorf("an RSA key: %v", err)
		}
	} else {
		t.Logf("openssl not usable, RSA case skipped: %s", out)
	}
}

// TestOpenSSLVerifiesTheSignature signs with a key openssl made and checks
// the signature with openssl alone (SPEC 15).
func TestOpenSSLVerifiesTheSignature(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
			t.Fatal("openssl is not on PATH but AUDIT_TEST_REQUIRE_ALL says this test must run (apt-get install openssl)")
		}
		t.Skip("openssl is not on PATH (apt-get install openssl)")
	}
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	run := func(args ...string) string {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("genpkey", "-algorithm", "ed25519", "-out", priv)
	os.Chmod(priv, 0o600)
	run("pkey", "-in", priv, "-pubout", "-out", pub)
	m := fixture(t, dir, priv)
	out := run("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", m, "-sigfile", m+SigExt)
	if !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl says: %s", out)
	}
	pubKey, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := Verify(m, pubKey); err != nil || v.Signature != "valid" {
		t.Fatalf("Verify with openssl's public key: %v %+v", err, v)
	}
	// A changed manifest fails openssl too.
	b, _ := os.ReadFile(m)
	os.WriteFile(m, append(b, ' '), 0o600)
	if out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", m, "-sigfile", m+SigExt).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified an edited manifest: %s", out)
	}
}

func TestWriteModeAndStaleSignature(t *testing.T) {
	dir := t.TempDir()
	priv, _ := writeKey(t, dir)
	m := fixture(t, dir, priv)
	st, err := os.Stat(m)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf("manifest mode %04o, want no group/other bits with mode 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(m + SigExt); err != nil {
		t.Fatal("no signature written")
	}
	fixture(t, dir, "") // the same run again, unsigned
	if _, err := os.Stat(m + SigExt); !os.IsNotExist(err) {
		t.Error("a stale signature of an earlier manifest was left beside an unsigned one")
	}
}

func TestHashingReader(t *testing.T) {
	h := NewHashingReader(strings.NewReader("abc"))
	b := make([]byte, 2)
	for {
		if _, err := h.Read(b); err != nil {
			break
		}
	}
	sum, n := h.Sum()
	if n != 3 || sum != HashString("abc") {
		t.Errorf("Sum = %s %d", sum, n)
	}
}
