package genauth

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mfa-audit/mfa-audit/internal/redact"
)

// Bounds of the text an answer controls (SPEC 10): whatever a hostile or
// broken server sends, no output and no result held in memory grows beyond
// them.
const (
	// MaxMessage is the longest message kept, in bytes.
	MaxMessage = 1 << 10
	// MaxID is the longest requestId or apiCode kept; longer ones, or ones
	// with a character outside [A-Za-z0-9._:-], are dropped.
	MaxID = 64
)

// redactedText stands where the secret or a token was.
const redactedText = "[redacted]"

// sanitize bounds and cleans the server-controlled text of env in place,
// once, as soon as an answer is decoded and before anything (classification,
// errors, results, logs) reads it: the message without the secret and the
// tokens (used is the token the request carried) in any form (as is,
// JSON-escaped, URL-escaped), without control characters, cut to
// MaxMessage bytes; requestId and apiCode kept only when they are short
// identifiers.
func (c *Client) sanitize(env *envelope, used string) {
	env.Message = c.cleanText(env.Message, MaxMessage, used)
	env.RequestID = idText(env.RequestID)
	env.APICode = idText(env.APICode)
}

// idText returns s when it is at most MaxID characters of [A-Za-z0-9._:-],
// else "".
func idText(s string) string {
	if len(s) > MaxID {
		return ""
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == ':' || b == '-') {
			return ""
		}
	}
	return s
}

// cleanText returns s without the secret and the tokens in any of their
// forms, with control characters and invalid UTF-8 replaced, cut to limit
// bytes (on a character boundary, ending in "…"). A secret cut in half at
// the end is removed too.
func (c *Client) cleanText(s string, limit int, used string) string {
	if s == "" {
		return ""
	}
	forms := c.secretForms(used)
	// Work on a window a little longer than limit (plus the longest form, so
	// that a secret straddling limit is still seen whole): a 4 MB message
	// costs no more than a short one.
	longest := 0
	for _, f := range forms {
		longest = max(longest, len(f))
	}
	cut := false
	if w := limit + 4*longest + 16; len(s) > w {
		s, cut = s[:w], true
	}
	for _, f := range forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, redactedText)
		}
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	const ellipsis = "…"
	if len(s) > limit {
		n := limit - len(ellipsis)
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s, cut = s[:n], true
	}
	if cut {
		s = trimPartial(s, forms) + ellipsis
	}
	return s
}

// trimPartial removes from the end of s a beginning of any of forms (three
// bytes or more): what is left of a secret that a cut went through.
func trimPartial(s string, forms []string) string {
	for _, f := range forms {
		for k := min(len(f)-1, len(s)); k >= 3; k-- {
			if strings.HasSuffix(s, f[:k]) {
				s = s[:len(s)-k]
				break
			}
		}
	}
	return s
}

// secretForms lists the secret and the tokens (used, and the current one)
// in every form an echo may carry them in. The list is computed once per
// pair of tokens and kept (formsCache): every answer is cleaned with it,
// and computing it takes longer than the rest of an answer's handling.
func (c *Client) secretForms(used string) []string {
	cur := c.tok.current()
	if fc := c.forms.Load(); fc != nil && fc.used == used && fc.current == cur {
		return fc.forms
	}
	var forms []string
	for _, x := range []string{used, c.secret, cur} {
		if len(x) < 4 { // shorter would garble every message; no real secret is
			continue
		}
		for _, f := range redact.Forms(x) {
			if !slices.Contains(forms, f) {
				forms = append(forms, f)
			}
		}
	}
	c.forms.Store(&formsCache{used: used, current: cur, forms: forms})
	return forms
}

// formsCache is the secretForms of one pair of tokens; read-only once
// stored.
type formsCache struct {
	used, current string
	forms         []string
}
