package sinks

import (
	"testing"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

func TestIssueWords(t *testing.T) {
	for _, tc := range []struct {
		r      pipeline.Result
		words  string
		detail string
	}{
		{
			r: pipeline.Result{Outcome: pipeline.OutcomeNotFound, APICode: "2004", RequestID: "req-7",
				Error: "get-user-mfa-info: not found: user does not exist (apiCode 2004, statusCode 404, HTTP 200, requestId req-7, 1 attempt)"},
			words:  "Not in GenAuth: left, or a wrong identifier",
			detail: "get-user-mfa-info: not found: user does not exist (apiCode 2004, statusCode 404, HTTP 200, requestId req-7, 1 attempt)",
		},
		{
			r:      pipeline.Result{Outcome: pipeline.OutcomeInvalid, Error: "line 7: empty user id"},
			words:  "Identifier empty in the input",
			detail: "line 7: empty user id",
		},
		{
			r:     pipeline.Result{Outcome: pipeline.OutcomeInvalid, Error: `line 8: unknown id type "nickname"`},
			words: "Identifier type unknown: not one GenAuth can look up", detail: `line 8: unknown id type "nickname"`,
		},
		{
			r:      pipeline.Result{Outcome: pipeline.OutcomeInvalid, APICode: "1001", Error: "get-user-mfa-info: invalid: bad email (HTTP 400)"},
			words:  "Identifier malformed for its type",
			detail: "get-user-mfa-info: invalid: bad email (HTTP 400) · apiCode 1001",
		},
		{
			r:      pipeline.Result{Outcome: pipeline.OutcomeError, Attempts: 6, RequestID: "r-9", Error: "get-user-mfa-info: server error (HTTP 503, 6 attempts)"},
			words:  "No answer after 6 attempts: HTTP 503. MFA state unknown: run the audit again",
			detail: "get-user-mfa-info: server error (HTTP 503, 6 attempts) · requestId r-9",
		},
		{
			r:     pipeline.Result{Outcome: pipeline.OutcomeError, Attempts: 1, Error: "Get \"https://x\": context deadline exceeded"},
			words: "No answer after 1 attempt: timed out. MFA state unknown: run the audit again", detail: "Get \"https://x\": context deadline exceeded",
		},
	} {
		words, detail := issueWords(&tc.r)
		if words != tc.words || detail != tc.detail {
			t.Errorf("issueWords(%q)\n got %q / %q\nwant %q / %q", tc.r.Error, words, detail, tc.words, tc.detail)
		}
	}
}
