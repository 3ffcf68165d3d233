// Package redact is the one redaction of the program (SPEC 10): wherever a
// configured value is shown (help, flag errors, configuration errors, logs,
// reports, the runs row), passwords are hidden. It knows a URL's user-info
// password (user:PW@host, also when the URL is malformed or its scheme
// misspelt), every query or key=value parameter whose name holds password,
// secret, token or key (sslpassword included), and, through a Redactor, the
// literal secrets of the configuration in the forms they may be quoted in
// (as is, JSON-escaped, URL-escaped).
package redact

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Placeholder stands where a password was.
const Placeholder = "xxxxx"

var (
	// userInfoRE finds scheme://user:PASSWORD@ in any text: group 1 is up
	// to the colon, the password runs to the last '@' of the token (a
	// password may hold an unescaped '@' or '/').
	userInfoRE = regexp.MustCompile(`(?i)([a-z][a-z0-9+.\-]*://[^\s:/@?#"'<>,]*):[^\s"'<>]*@`)
	// paramRE finds a query parameter (after ? or &) whose name holds
	// password, secret, token or key; group 1 is up to the '='.
	paramRE = regexp.MustCompile(`(?i)([?&][a-z0-9_.\-]*(?:password|passwd|secret|token|key)[a-z0-9_.\-]*=)[^&\s"'<>#,]*`)
	// kvRE finds password=VALUE (quoted or not) in a key=value connection
	// string (host=db user=u password=...).
	kvRE = regexp.MustCompile(`(?i)(^|[\s,;])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&,;]*)`)
)

// Text returns s with every password it can recognise by its shape
// replaced by Placeholder: the user-info password of anything that looks
// like a URL, sensitive query parameters and password= in connection
// strings. Text that holds none comes back unchanged.
func Text(s string) string {
	if !strings.ContainsAny(s, "@=") {
		return s
	}
	s = userInfoRE.ReplaceAllString(s, "${1}:"+Placeholder+"@")
	s = paramRE.ReplaceAllString(s, "${1}"+Placeholder)
	return kvRE.ReplaceAllString(s, "${1}${2}"+Placeholder)
}

// URL returns raw, a URL or connection string (or a comma-separated list of
// them), with its passwords replaced by Placeholder: user:xxxxx@host,
// ?sslpassword=xxxxx, password=xxxxx. It never fails: what it cannot parse
// it treats as text (Text).
func URL(raw string) string {
	return Text(raw)
}

// Error returns err with every occurrence of the password of rawURL (as
// written, and URL-escaped) replaced, and any other password Text
// recognises. It returns err itself when nothing changed (and nil for nil);
// otherwise the result unwraps to err, so errors.Is and errors.As still see
// the original.
func Error(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	var r Redactor
	r.AddURL(rawURL)
	msg := r.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// Redactor hides, besides what Text recognises, the passwords of the
// configured values it was given. The zero value is ready; not safe for
// concurrent Add, safe for concurrent String once built.
type Redactor struct {
	literals []string
}

// minLiteral is the shortest password replaced wherever it appears: a
// shorter one would garble every message (its URL forms are still hidden
// by Text).
const minLiteral = 3

// AddSecret records a secret (an access key secret, a token) to be hidden
// in every form it may be quoted in.
func (r *Redactor) AddSecret(secret string) {
	if len(secret) < minLiteral {
		return
	}
	for _, f := range Forms(secret) {
		if !contains(r.literals, f) {
			r.literals = append(r.literals, f)
		}
	}
}

// AddURL records the passwords a configured value holds: the user-info
// password of each comma-separated URL (also scheme-less user:PW@host or
// with a misspelt scheme), and the values of sensitive query parameters.
func (r *Redactor) AddURL(value string) {
	for _, part := range strings.Split(value, ",") {
		for _, pw := range passwords(strings.TrimSpace(part)) {
			r.AddSecret(pw)
		}
	}
}

// String returns s with every recorded secret and every password Text
// recognises replaced by Placeholder.
func (r *Redactor) String(s string) string {
	if r != nil {
		for _, l := range r.literals {
			if strings.Contains(s, l) {
				s = strings.ReplaceAll(s, l, Placeholder)
			}
		}
	}
	return Text(s)
}

// Forms lists the ways a secret may appear in text: as is, JSON-escaped
// (with and without HTML escaping), and each of those URL-escaped (query
// and path escaping): an echoed request body is JSON, and may come back
// URL-encoded as a whole.
func Forms(secret string) []string {
	if secret == "" {
		return nil
	}
	out := []string{secret}
	add := func(f string) {
		if f != "" && !contains(out, f) {
			out = append(out, f)
		}
	}
	if b, err := json.Marshal(secret); err == nil {
		add(string(b[1 : len(b)-1]))
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if enc.Encode(secret) == nil {
		j := strings.TrimSpace(sb.String())
		add(j[1 : len(j)-1])
	}
	for _, f := range slices.Clone(out[1:]) {
		add(strings.ReplaceAll(f, "/", `\/`)) // as other encoders (PHP, Java) escape it
	}
	for _, f := range slices.Clone(out) {
		add(url.QueryEscape(f))
		add(url.PathEscape(f))
		add(strings.ReplaceAll(url.QueryEscape(f), "+", "%20"))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// passwords lists the passwords a single configured value holds.
func passwords(v string) []string {
	var out []string
	if u, err := url.Parse(v); err == nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
		for k, vals := range u.Query() {
			if sensitive(k) {
				out = append(out, vals...)
			}
		}
	}
	// user:PW@host with or without a (possibly misspelt) scheme, also when
	// net/url cannot parse it: the password runs from the first ':' after
	// the scheme to the last '@'.
	rest := v
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if at := strings.LastIndexByte(rest, '@'); at > 0 {
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			pw := rest[c+1 : at]
			out = append(out, pw)
			if un, err := url.PathUnescape(pw); err == nil && un != pw {
				out = append(out, un)
			}
		}
	}
	for _, m := range paramRE.FindAllString(v, -1) {
		if i := strings.IndexByte(m, '='); i >= 0 {
			out = append(out, m[i+1:])
		}
	}
	for _, m := range kvRE.FindAllStringSubmatch(v, -1) {
		out = append(out, strings.Trim(m[3], "'"))
	}
	return out
}

// sensitive reports whether a parameter name holds password, secret, token
// or key.
func sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "passwd", "secret", "token", "key"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redactedError is an error whose message had a password replaced.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Handler wraps h so that the message and every attribute of every record
// pass through r (a nil r still applies Text): log lines never show a
// password, whoever wrote them.
func Handler(h slog.Handler, r *Redactor) slog.Handler {
	return &handler{h: h, r: r}
}

type handler struct {
	h slog.Handler
	r *Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &handler{h: h.h.WithAttrs(clean), r: h.r}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), r: h.r}
}

// attr redacts one attribute: strings, errors, Stringers and groups.
func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, x := range g {
			clean[i] = h.attr(x)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.r.String(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.r.String(x.String()))
		case []string:
			clean := make([]string, len(x))
			for i, s := range x {
				clean[i] = h.r.String(s)
			}
			return slog.Any(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
