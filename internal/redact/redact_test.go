package redact

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://audit:hunter2@db:5432/audit?sslmode=require":  "postgres://audit:xxxxx@db:5432/audit?sslmode=require",
		"postgresql://audit@db/audit":                             "postgresql://audit@db/audit",
		"postgres://db/audit?user=a&password=hunter2":             "postgres://db/audit?user=a&password=xxxxx",
		"postgres://db/audit?sslpassword=hunter2&sslmode=require": "postgres://db/audit?sslpassword=xxxxx&sslmode=require",
		"postgres://db/a?api_key=hunter2&sslcert=c&x_token=abc":   "postgres://db/a?api_key=xxxxx&sslcert=c&x_token=xxxxx",
		"host=db user=a password=hunter2 dbname=x":                "host=db user=a password=xxxxx dbname=x",
		"host=db password='hun ter2' dbname=x":                    "host=db password=xxxxx dbname=x",
		"postgres://a:hunter2@db:bad/x":                           "postgres://a:xxxxx@db:bad/x",
		"postgre://auditor:hunter2@db/x":                          "postgre://auditor:xxxxx@db/x",
		"postgres://a:p@ss/w@db/x":                                "postgres://a:xxxxx@db/x",
		"https://user:hunter2@api.genauth.ai":                     "https://user:xxxxx@api.genauth.ai",
		"out/x.xlsx,postgres://a:hunter2@db/x":                    "out/x.xlsx,postgres://a:xxxxx@db/x",
		"open postgre://a:hunter2@db/x: no such file":             "open postgre://a:xxxxx@db/x: no such file",
		"out/mfa-audit.xlsx":                                      "out/mfa-audit.xlsx",
		"https://api.genauth.ai":                                  "https://api.genauth.ai",
		"user@example.com":                                        "user@example.com",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactorHidesConfiguredPasswords: literal passwords of configured
// values are hidden wherever they appear, in every form, also where their
// shape gives nothing away (a scheme-less user:PW@host quoted in an error).
func TestRedactorHidesConfiguredPasswords(t *testing.T) {
	var r Redactor
	r.AddURL("auditor:S3cr\"et/pw@api.genauth.ai")
	r.AddURL("out/x.xlsx,postgres://u:p%40ssw0rd@db/x?sslpassword=sslpw123")
	r.AddSecret("gen-secret-1")
	for _, msg := range []string{
		`GENAUTH_HOST: "auditor:S3cr\"et/pw@api.genauth.ai" is not a URL`,
		`dial p@ssw0rd and p%40ssw0rd`,
		`sslpw123 rejected`,
		`body {"accessKeySecret":"gen-secret-1"} S3cr\"et/pw S3cr%22et%2Fpw`,
	} {
		got := r.String(msg)
		for _, pw := range []string{"S3cr", "ssw0rd", "sslpw123", "gen-secret-1"} {
			if strings.Contains(got, pw) {
				t.Errorf("String(%q) = %q still holds %q", msg, got, pw)
			}
		}
	}
	if got := r.String("nothing secret here"); got != "nothing secret here" {
		t.Errorf("changed a clean text: %q", got)
	}
}

// TestHandlerRedactsEveryAttribute: messages, strings, errors and groups.
func TestHandlerRedactsEveryAttribute(t *testing.T) {
	var r Redactor
	r.AddSecret("topsecret")
	var b strings.Builder
	log := slog.New(Handler(slog.NewJSONHandler(&b, nil), &r))
	log.With("from", "postgres://a:pw1@db/x").Error("failed topsecret", "err", errors.New("open postgre://a:pw2@db/x"),
		slog.Group("g", "url", "https://h/?token=pw3"), "list", []string{"topsecret"})
	for _, s := range []string{"topsecret", "pw1", "pw2", "pw3"} {
		if strings.Contains(b.String(), s) {
			t.Errorf("%q in %s", s, b.String())
		}
	}
}

func TestError(t *testing.T) {
	if Error(nil, "postgres://u:pw@h/db") != nil {
		t.Error("Error(nil) is not nil")
	}
	base := errors.New("no password here")
	if got := Error(base, "postgres://u:hunter2@h/db"); got != base {
		t.Errorf("an error without the password came back as %v", got)
	}
	for _, tc := range []struct{ url, msg string }{
		{"postgres://u:hunter2@h/db", "cannot parse `postgres://u:hunter2@h/db`"},
		{"postgres://u:p%40ss%2Fw@h/db", "dial p@ss/w and p%40ss%2Fw"},
		{"postgres://h/db?password=hunter2", "password=hunter2 rejected"},
		{"postgres://u:hunter2@h:notaport/db", "invalid port in postgres://u:hunter2@h:notaport/db"},
	} {
		inner := errors.New(tc.msg)
		err := Error(fmt.Errorf("AUDIT_OUTPUT: %w", inner), tc.url)
		if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "p@ss/w") ||
			strings.Contains(msg, "p%40ss%2Fw") || !strings.Contains(msg, "xxxxx") {
			t.Errorf("%s: message %q", tc.url, msg)
		}
		if !errors.Is(err, inner) {
			t.Errorf("%s: the redacted error does not unwrap to the original", tc.url)
		}
	}
}
