package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mfa-audit/mfa-audit/delivery/deliverytest"
	"github.com/mfa-audit/mfa-audit/evidence"
	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// deliveryServers returns the real servers .ci/delivery-servers started:
// S3 endpoint, key, secret, Pushgateway URL, SMTP URL, maildir. The test
// skips without them (fails in CI).
func deliveryServers(t *testing.T) []string {
	t.Helper()
	names := []string{"AUDIT_TEST_S3_ENDPOINT", "AUDIT_TEST_S3_ACCESS_KEY", "AUDIT_TEST_S3_SECRET_KEY",
		"AUDIT_TEST_PUSHGATEWAY_URL", "AUDIT_TEST_SMTP_URL", "AUDIT_TEST_SMTP_MAILDIR"}
	var v []string
	for _, n := range names {
		if os.Getenv(n) == "" {
			msg := n + " is unset: start the delivery servers with eval \"$(bash .ci/delivery-servers)\""
			if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
				t.Fatal(msg + ", but AUDIT_TEST_REQUIRE_ALL says this test must run")
			}
			t.Skip(msg)
		}
		v = append(v, os.Getenv(n))
	}
	return v
}

// TestDeliveryToRealServers: reports go to an S3-compatible store, by mail
// and as metrics; objects, attachments and series are read back and
// compared with the run's own record. Then a failed run pushes too and keeps
// the last success; a missing bucket is exit 2 before any API call.
func TestDeliveryToRealServers(t *testing.T) {
	v := deliveryServers(t)
	ctx := context.Background()
	cl, err := minio.New(strings.TrimPrefix(v[0], "http://"), &minio.Options{Creds: credentials.NewStaticV4(v[1], v[2], ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	var id [4]byte
	rand.Read(id[:])
	bucket := "mfa-audit-e2e-" + hex.EncodeToString(id[:])
	if err := cl.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func(key string) []byte {
		t.Helper()
		o, err := cl.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(o)
		if err != nil {
			t.Fatalf("reading s3://%s/%s: %v", bucket, key, err)
		}
		return b
	}
	srv := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer srv.Close()
	csvPath, _ := messyCSV(t, 200, 21)
	local := filepath.Join(t.TempDir(), "r.jsonl")
	prefix := "s3://" + bucket + "/reports/night1/"
	metricsFile := filepath.Join(t.TempDir(), "mfa_audit.prom")
	subject := "e2e-" + hex.EncodeToString(id[:])
	env := append(serverEnv(srv), "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0", "AUDIT_RUN_ID="+subject,
		"AUDIT_OUTPUT="+prefix+"mfa-audit.xlsx,"+prefix+"mfa-audit.html,"+local,
		"AUDIT_S3_ENDPOINT="+v[0], "AWS_ACCESS_KEY_ID="+v[1], "AWS_SECRET_ACCESS_KEY="+v[2], "AWS_REGION=us-east-1",
		"AUDIT_MAIL_TO=compliance@corp.example", "AUDIT_MAIL_FROM=mfa-audit+"+subject+"@corp.example", "AUDIT_SMTP_URL="+v[4],
		"AUDIT_PUSHGATEWAY_URL="+v[3], "AUDIT_METRICS_FILE="+metricsFile)
	code, log := runAudit(t, env, "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(log, 3000))
	}
	// Objects: the manifest beside the first output lists their hashes.
	var m evidence.Manifest
	if err := json.Unmarshal(get("reports/night1/"+ManifestName), &m); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{}
	for _, o := range m.Outputs[:2] {
		key := strings.TrimPrefix(o.Path, "s3://"+bucket+"/")
		b := get(key)
		objects[filepath.Base(key)] = b
		if sum := sha256Bytes(b); sum != o.SHA256 {
			t.Errorf("%s: object sha256 %s, manifest %s", o.Path, sum, o.SHA256)
		}
	}
	st, err := cl.StatObject(ctx, bucket, "reports/night1/mfa-audit.xlsx", minio.StatObjectOptions{})
	if err != nil || st.ContentType != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Errorf("workbook object: %v %q", err, st.ContentType)
	}
	if _, err := cl.StatObject(ctx, bucket, "reports/night1/mfa-audit.xlsx.incomplete", minio.StatObjectOptions{}); err == nil {
		t.Error("a complete run left an .incomplete marker object")
	}
	// Mail: the attachments are the objects, byte for byte; no user list in the body.
	got := receivedMail(t, v[5], "mfa-audit+"+subject+"@corp.example")
	text, atts := got.Text, got.Attachments
	for name, b := range objects {
		if !bytes.Equal(atts[name], b) {
			t.Errorf("attachment %s differs from the object (%d vs %d bytes)", name, len(atts[name]), len(b))
		}
	}
	if !strings.Contains(text, "Coverage") || strings.Contains(text, "@corp.example,") {
		t.Errorf("mail body: %s", text)
	}
	// Metrics, against the JSON Lines record.
	counts := map[string]float64{}
	for _, r := range readJSONL(t, local) {
		counts[r.Outcome]++
	}
	series := pushed(t, v[3])
	for _, o := range []string{"ok", "not_found", "invalid", "error"} {
		if got := series[`mfa_audit_subjects{outcome="`+o+`"}`]; got != counts[o] {
			t.Errorf("pushed subjects{%s} = %v, JSONL has %v", o, got, counts[o])
		}
	}
	success := series["mfa_audit_last_success_timestamp_seconds"]
	if series["mfa_audit_exit_code"] != 0 || success == 0 {
		t.Errorf("pushed exit code %v, last success %v", series["mfa_audit_exit_code"], success)
	}
	prom, err := os.ReadFile(metricsFile)
	if err != nil || !strings.Contains(string(prom), `mfa_audit_subjects{outcome="ok"} `+strconv.Itoa(int(counts["ok"]))) {
		t.Errorf("metrics file: %v\n%s", err, prom)
	}

	// A failed run (every answer a 5xx, no retries) still pushes and
	// mails; the last success stays.
	bad := genauthtest.NewServer(genauthtest.Options{Synthesize: true, Faults: genauthtest.Faults{ServerErrorRate: 1}})
	defer bad.Close()
	env2 := append(serverEnv(bad), "AUDIT_SOURCE="+csvPath, "AUDIT_RATE=0", "AUDIT_RETRIES=0", "AUDIT_RUN_ID="+subject+"-2",
		"AUDIT_OUTPUT="+prefix+"failed.xlsx", "AUDIT_S3_ENDPOINT="+v[0], "AWS_ACCESS_KEY_ID="+v[1], "AWS_SECRET_ACCESS_KEY="+v[2],
		"AUDIT_MAIL_TO=compliance@corp.example", "AUDIT_MAIL_FROM=mfa-audit+"+subject+"-2@corp.example", "AUDIT_SMTP_URL="+v[4],
		"AUDIT_PUSHGATEWAY_URL="+v[3], "AUDIT_METRICS_FILE="+metricsFile)
	if code, log := runAudit(t, env2, "run"); code != 1 {
		t.Fatalf("failed run: exit %d\n%s", code, tail(log, 3000))
	}
	series = pushed(t, v[3])
	if series["mfa_audit_exit_code"] != 1 || series["mfa_audit_last_success_timestamp_seconds"] != success {
		t.Errorf("after a failed run: exit code %v, last success %v (was %v)", series["mfa_audit_exit_code"], series["mfa_audit_last_success_timestamp_seconds"], success)
	}
	subj := receivedMail(t, v[5], "mfa-audit+"+subject+"-2@corp.example").Subject
	if !strings.HasPrefix(subj, "INCOMPLETE ") && !strings.HasPrefix(subj, "FAILED ") {
		t.Errorf("failed run's mail subject %q", subj)
	}

	// A missing bucket: exit 2, no API call.
	none := genauthtest.NewServer(genauthtest.Options{Synthesize: true})
	defer none.Close()
	env3 := append(serverEnv(none), "AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT=s3://no-such-bucket-"+hex.EncodeToString(id[:])+"/x.xlsx",
		"AUDIT_S3_ENDPOINT="+v[0], "AWS_ACCESS_KEY_ID="+v[1], "AWS_SECRET_ACCESS_KEY="+v[2])
	if code, log := runAudit(t, env3, "run"); code != 2 || !strings.Contains(log, "does not exist") {
		t.Errorf("missing bucket: exit %d\n%s", code, tail(log, 1500))
	}
	if c := none.Counters(); c.Requests+c.TokenCalls != 0 {
		t.Errorf("a missing bucket still sent %d requests", c.Requests+c.TokenCalls)
	}
}

func sha256Bytes(b []byte) string { return evidence.HashString(string(b)) }

// pushed reads the Pushgateway's series of job mfa_audit without other
// grouping labels.
func pushed(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "mfa_audit_") || !strings.Contains(line, `job="mfa_audit"`) || strings.Contains(line, `test="`) || strings.Contains(line, `shard="`) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		val, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:strings.IndexByte(line, '{')]
		for _, l := range []string{"outcome", "mfa", "state"} {
			if j := strings.Index(line, l+`="`); j >= 0 {
				k := strings.IndexByte(line[j+len(l)+2:], '"')
				name += "{" + line[j:j+len(l)+2+k+1] + "}"
			}
		}
		out[name] = val
	}
	return out
}

// receivedMail returns the message sent from from, read from the SMTP
// server's maildir.
func receivedMail(t *testing.T, maildir, from string) *deliverytest.Mail {
	t.Helper()
	m, err := deliverytest.Find(maildir, func(m *deliverytest.Mail) bool { return strings.Contains(m.Header.Get("From"), from) })
	if err != nil {
		t.Fatalf("from %s: %v", from, err)
	}
	return m
}
