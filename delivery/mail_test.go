package delivery

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/delivery/deliverytest"
)

// received finds the message with subject in the SMTP server's maildir and
// returns its plain body and attachments by file name.
func received(t *testing.T, maildir, subject string) (string, map[string][]byte) {
	t.Helper()
	m, err := deliverytest.Find(maildir, func(m *deliverytest.Mail) bool { return m.Subject == subject })
	if err != nil {
		t.Fatalf("subject %q: %v", subject, err)
	}
	return m.Text, m.Attachments
}

func TestMailAttachesUnderTheCap(t *testing.T) {
	v := testServer(t, "an SMTP server", "AUDIT_TEST_SMTP_URL", "AUDIT_TEST_SMTP_MAILDIR")
	dir := t.TempDir()
	xlsx, html := filepath.Join(dir, "mfa-audit.xlsx"), filepath.Join(dir, "mfa-audit.html")
	xb := make([]byte, 300_000)
	rand.Read(xb)
	os.WriteFile(xlsx, xb, 0o600)
	os.WriteFile(html, []byte("<!doctype html><p>report ü</p>"), 0o600)
	var id [4]byte
	rand.Read(id[:])
	subject := "MFA coverage 81.2 %, completeness 100.0 % – 2026-12-06 " + hex.EncodeToString(id[:])
	cfg := MailConfig{To: []string{"compliance@corp.example", "ciso@corp.example"}, From: "mfa-audit@corp.example", SMTPURL: v[0], MaxBytes: 10 << 20}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := Send(context.Background(), cfg, Message{
		Subject: subject, Text: "Coverage 81.2 %\n", HTML: "<p>Coverage 81.2 %</p>",
		Attach: []Attachment{{Path: xlsx, Where: xlsx}, {Path: html, Where: html}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("attached %v", got)
	}
	text, atts := received(t, v[1], subject)
	if !strings.Contains(text, "Coverage 81.2 %") {
		t.Errorf("plain body %q", text)
	}
	if !bytes.Equal(atts["mfa-audit.xlsx"], xb) {
		t.Errorf("the workbook attachment is not byte-identical (%d bytes)", len(atts["mfa-audit.xlsx"]))
	}
	if string(atts["mfa-audit.html"]) != "<!doctype html><p>report ü</p>" {
		t.Errorf("the HTML attachment differs: %q", atts["mfa-audit.html"])
	}

	// Over the cap: the workbook is named, not attached.
	subject2 := subject + " capped"
	cfg.MaxBytes = 100_000
	got, err = Send(context.Background(), cfg, Message{
		Subject: subject2, Text: "Coverage\n",
		Attach: []Attachment{{Path: xlsx, Where: "s3://bucket/mfa-audit.xlsx"}, {Path: html, Where: html}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "mfa-audit.html" {
		t.Errorf("attached %v under a 100 kB cap", got)
	}
	text, atts = received(t, v[1], subject2)
	if _, ok := atts["mfa-audit.xlsx"]; ok || !strings.Contains(text, "s3://bucket/mfa-audit.xlsx") {
		t.Errorf("capped mail: attachments %d, text %q", len(atts), text)
	}
}

func TestMailConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  MailConfig
		want string
	}{
		{MailConfig{To: []string{"a@b"}, From: "x@y", SMTPURL: "smtp://u:pw@host:587"}, "holds a password"},
		{MailConfig{To: []string{"a@b"}, SMTPURL: "smtp://host"}, "AUDIT_MAIL_FROM: required"},
		{MailConfig{To: []string{"a@b"}, From: "x@y"}, "AUDIT_SMTP_URL: required"},
		{MailConfig{To: []string{"nobody"}, From: "x@y", SMTPURL: "smtp://host"}, "AUDIT_MAIL_TO"},
		{MailConfig{To: []string{"a@b"}, From: "x@y", SMTPURL: "http://host"}, "AUDIT_SMTP_URL: not smtp"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pw@") {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestMailRefusesPlaintextToARemoteHost: STARTTLS is required except to
// loopback; a server without it is refused, nothing is sent.
func TestMailRequiresSTARTTLSOffLoopback(t *testing.T) {
	tgt, err := parseSMTPURL("smtp://mail.corp.example")
	if err != nil || tgt.loopback || tgt.port != 587 {
		t.Fatalf("%+v %v", tgt, err)
	}
	tgt, err = parseSMTPURL("smtps://127.0.0.1")
	if err != nil || !tgt.loopback || tgt.port != 465 || !tgt.implicit {
		t.Fatalf("%+v %v", tgt, err)
	}
}
