package redact

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://audit:hunter2@db:5432/audit?sslmode=require": "postgres://audit@db:5432/audit?sslmode=require",
		"postgresql://audit@db/audit":                            "postgresql://audit@db/audit",
		"postgres://db/audit?user=a&password=hunter2":            "postgres://db/audit?user=a",
		"host=db user=a password=hunter2 dbname=x":               "host=db user=a password=xxxxx dbname=x",
		"postgres://a:hunter2@db:bad/x":                          "postgres://a@db:bad/x",
		"out/mfa-audit.xlsx":                                     "out/mfa-audit.xlsx",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
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
