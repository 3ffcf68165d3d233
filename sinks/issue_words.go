package sinks

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// issueWords says what happened to a subject that was not checked, in words
// a compliance officer acts on (SPEC 7, "Words"), and the technical detail
// for GenAuth support, once: the recorded error text, with the API code and
// request id added only when the text does not already carry them.
func issueWords(r *pipeline.Result) (words, detail string) {
	detail = r.Error
	add := func(label, v string) {
		if v != "" && !strings.Contains(detail, v) {
			if detail != "" {
				detail += " · "
			}
			detail += label + " " + v
		}
	}
	add("apiCode", r.APICode)
	add("requestId", r.RequestID)

	lower := strings.ToLower(r.Error)
	switch r.Outcome {
	case pipeline.OutcomeNotFound:
		return "Not in GenAuth: left, or a wrong identifier", detail
	case pipeline.OutcomeInvalid:
		switch {
		case strings.Contains(lower, "empty user id"):
			return "Identifier empty in the input", detail
		case strings.Contains(lower, "unknown id type"):
			return "Identifier type unknown: not one GenAuth can look up", detail
		}
		return "Identifier malformed for its type", detail
	case pipeline.OutcomeError:
		w := "No answer"
		if r.Attempts > 0 {
			w += " after " + strconv.Itoa(r.Attempts) + " " + plural(int64(r.Attempts), "attempt", "attempts")
		}
		if cause := errorCause(lower); cause != "" {
			w += ": " + cause
		}
		return w + ". MFA state unknown: run the audit again", detail
	}
	return outcomeLabel(r.Outcome), detail
}

var httpStatusRE = regexp.MustCompile(`\bhttp (\d{3})\b`)

// errorCause is the short cause of an unanswered request, from its error
// text: the HTTP status when it was not 200, else the kind of failure.
func errorCause(lower string) string {
	for _, m := range httpStatusRE.FindAllStringSubmatch(lower, -1) {
		if m[1] != "200" {
			return "HTTP " + m[1]
		}
	}
	for _, c := range []struct{ in, say string }{
		{"deadline exceeded", "timed out"},
		{"timeout", "timed out"},
		{"connection refused", "connection refused"},
		{"connection reset", "connection reset"},
		{"no such host", "host not found"},
		{"certificate", "TLS certificate problem"},
		{"rate limit", "rate limited"},
		{"decod", "answer not understood"},
	} {
		if strings.Contains(lower, c.in) {
			return c.say
		}
	}
	return ""
}
