package genauth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeBoundsAndCleans(t *testing.T) {
	const secret = `sec"ret/+&<x>-9f2`
	c, err := New(Config{AccessKeyID: testKeyID, AccessKeySecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	const tok = "eyJtoken.part-77"
	env := envelope{
		Message:   "echo " + secret + ` sec\"ret\/+\u0026\u003cx\u003e-9f2 ` + "sec%22ret%2F%2B%26%3Cx%3E-9f2 Bearer " + tok + "\x00\x1b[31m" + strings.Repeat("é", 3000),
		RequestID: "Bearer " + tok,
		APICode:   "2004",
	}
	c.sanitize(&env, tok)
	if len(env.Message) > MaxMessage || !utf8.ValidString(env.Message) || !strings.HasSuffix(env.Message, "…") {
		t.Errorf("message of %d bytes, valid %v: %.80q", len(env.Message), utf8.ValidString(env.Message), env.Message)
	}
	for _, bad := range []string{"sec", "eyJtoken", "\x00", "\x1b"} {
		if strings.Contains(env.Message, bad) {
			t.Errorf("message holds %q: %.200q", bad, env.Message)
		}
	}
	if env.RequestID != "" || env.APICode != "2004" {
		t.Errorf("requestId %q apiCode %q", env.RequestID, env.APICode)
	}
	for in, want := range map[string]string{"req-1:a.b_C": "req-1:a.b_C", strings.Repeat("a", 65): "", "a b": "", "<x>": ""} {
		if got := idText(in); got != want {
			t.Errorf("idText(%q) = %q", in, got)
		}
	}
	// A secret cut in half by the cap leaves nothing of itself behind.
	long := strings.Repeat("y", MaxMessage-8) + secret
	if got := c.cleanText(long, MaxMessage, ""); strings.Contains(got, "sec\"r") || strings.Contains(got, "sec") {
		t.Errorf("a cut secret survives: %q", got[len(got)-20:])
	}
}
