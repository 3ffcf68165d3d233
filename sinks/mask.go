package sinks

import (
	"regexp"
	"strings"
)

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	// A phone number candidate: optional +, digits with spaces, dashes or
	// brackets between them. maskPhones checks its boundaries and length.
	phoneRE = regexp.MustCompile(`\+?\(?[0-9][0-9 \-()]{5,22}[0-9]`)
	dateRE  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`)
)

// MaskPII masks e-mail addresses and phone numbers anywhere in s: an
// address keeps the first character of its local part and its top-level
// domain (a***@***.com); a phone number keeps its last four digits
// (*******1234). Text without either is returned unchanged.
func MaskPII(s string) string {
	if strings.IndexByte(s, '@') >= 0 {
		s = emailRE.ReplaceAllStringFunc(s, maskEmail)
	}
	if countDigits(s) >= 7 {
		s = maskPhones(s)
	}
	return s
}

// maskPhones masks the phone numbers in s: candidates standing alone (not
// inside a longer word such as a hex id) with 7 to 15 digits, not dates.
func maskPhones(s string) string {
	locs := phoneRE.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		i, j := l[0], l[1]
		if (i > 0 && isWordByte(s[i-1])) || (j < len(s) && isWordByte(s[j]) && !endsSentence(s, j)) || dateRE.MatchString(s[i:j]) {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(maskPhone(s[i:j]))
		last = j
	}
	b.WriteString(s[last:])
	return b.String()
}

// endsSentence reports whether s[j] is a full stop that ends the number (a
// "." followed by the end or a space), not a decimal point or a domain dot.
func endsSentence(s string, j int) bool {
	return s[j] == '.' && (j+1 == len(s) || s[j+1] == ' ' || s[j+1] == '\n')
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func maskEmail(addr string) string {
	local, domain, _ := strings.Cut(addr, "@")
	tld := domain
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		tld = domain[i:]
	}
	return local[:1] + "***@***" + tld
}

func maskPhone(p string) string {
	digits := 0
	for _, r := range p {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 7 || digits > 15 {
		return p
	}
	keep := 4
	var b strings.Builder
	seen := 0
	for _, r := range p {
		if r >= '0' && r <= '9' {
			seen++
			if seen <= digits-keep {
				b.WriteByte('*')
				continue
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
