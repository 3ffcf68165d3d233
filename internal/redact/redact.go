// Package redact keeps database passwords out of logs, reports and error
// messages. It knows the two forms a PostgreSQL connection string takes: a
// URL (postgres://user:password@host/db?password=...) and a key=value
// string (host=db user=u password=...).
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// placeholder stands where a password was in a key=value connection string
// and in error messages.
const placeholder = "xxxxx"

var (
	// urlPasswordRE finds the user:password@ of a URL that net/url cannot
	// parse (a bad port, say); group 1 is the part before the colon.
	urlPasswordRE = regexp.MustCompile(`(?i)(://[^:/@?#\s]*):[^@/\s]*@`)
	// kvPasswordRE finds password=VALUE, quoted or not, in a key=value
	// connection string.
	kvPasswordRE = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*)`)
)

// URL returns raw, a URL or key=value connection string, without its
// password: a URL loses the password of its userinfo
// (postgres://user@host/db) and its password query parameter; a key=value
// string keeps the key with the value replaced (password=xxxxx). A string
// with no password comes back as it was, give or take the re-encoding of a
// URL.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
		}
		if q := u.Query(); q.Has("password") {
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	s := urlPasswordRE.ReplaceAllString(raw, "$1@")
	return kvPasswordRE.ReplaceAllString(s, "password="+placeholder)
}

// Error returns err with every occurrence of the password of rawURL (as
// written, and URL-escaped) replaced by "xxxxx", in case a driver error
// quoted the connection string. It returns err itself when the message
// holds no password (and nil for nil); otherwise the result unwraps to err,
// so errors.Is and errors.As still see the original.
func Error(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range passwords(rawURL) {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, placeholder)
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// passwords lists the forms in which the password of rawURL may appear.
func passwords(rawURL string) []string {
	var out []string
	if u, err := url.Parse(rawURL); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		if pw := u.Query().Get("password"); pw != "" {
			out = append(out, pw)
		}
	}
	for _, m := range urlPasswordRE.FindAllString(rawURL, -1) {
		if i := strings.LastIndexByte(m, ':'); i > 0 {
			out = append(out, strings.TrimSuffix(m[i+1:], "@"))
		}
	}
	return out
}

// redactedError is an error whose message had a password replaced.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
