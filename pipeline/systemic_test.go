package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/genauth"
)

func forbidden() error {
	return &genauth.Error{Class: genauth.ClassFatal, Op: "get-user-mfa-info", HTTPStatus: 200, StatusCode: 403,
		APICode: "1636", Message: "no permission", Attempts: 1}
}

func TestSystemicStop(t *testing.T) {
	html404 := &genauth.Error{Class: genauth.ClassEndpoint, HTTPStatus: 404, Message: "HTTP 404 not found, text/html: check GENAUTH_HOST and its path prefix"}
	teapot := &genauth.Error{Class: genauth.ClassFatal, StatusCode: 418, APICode: "7001", Message: "teapot"}
	notFound := &genauth.Error{Class: genauth.ClassNotFound, StatusCode: 404, APICode: "2004"}
	invalid := &genauth.Error{Class: genauth.ClassInvalid, StatusCode: 400}
	tests := []struct {
		name   string
		ids    func(i int) (idType, id string)
		answer func(idType, id string) error
		cause  string // "" means: the run completes
		fix    string
	}{
		{name: "permission", answer: func(string, string) error { return forbidden() },
			cause: "lacks permission for get-user-mfa-info (apiCode 1636, statusCode 403, HTTP 200)", fix: "grant the access key"},
		{name: "HTML 404", answer: func(string, string) error { return html404 },
			cause: "something other than the GenAuth API (HTTP 404)", fix: "GENAUTH_HOST"},
		{name: "same apiCode", answer: func(string, string) error { return teapot },
			cause: "failed the same way: teapot (apiCode 7001, statusCode 418)"},
		{name: "e-mails as user_id", ids: func(i int) (string, string) { return "user_id", fmt.Sprintf("p%d@example.com", i) },
			answer: func(string, string) error { return notFound },
			cause:  "audited as user_id, look like e-mail addresses", fix: "AUDIT_ID_TYPE=email"},
		{name: "phones as user_id", ids: func(i int) (string, string) { return "user_id", fmt.Sprintf("+86 138 %04d %04d", i, i) },
			answer: func(string, string) error { return notFound }, cause: "look like phone numbers", fix: "AUDIT_ID_TYPE=phone"},
		{name: "phones as email", ids: func(i int) (string, string) { return "email", fmt.Sprintf("1380000%04d", i) },
			answer: func(string, string) error { return invalid }, cause: "audited as email, look like phone numbers", fix: "AUDIT_ID_TYPE=phone"},
		{name: "lark ids as user_id", ids: func(i int) (string, string) { return "user_id", fmt.Sprintf("lark:ou_%x", i*7919) },
			answer: func(string, string) error { return notFound }, cause: "look like synchronised accounts", fix: "AUDIT_ID_TYPE=sync_relation"},
		// Not doomed: people who left, with ids of the right shape.
		{name: "all not found, right shape", ids: func(i int) (string, string) { return "user_id", fmt.Sprintf("%024x", i) },
			answer: func(string, string) error { return notFound }},
		// 40 of the 50 first are e-mails not found; not "nearly all".
		{name: "some e-mails", ids: func(i int) (string, string) {
			if i%5 == 0 {
				return "user_id", fmt.Sprintf("%024x", i)
			}
			return "user_id", fmt.Sprintf("p%d@example.com", i)
		}, answer: func(_, id string) error {
			if strings.Contains(id, "@") {
				return notFound
			}
			return nil
		}},
		// A few ok among the first answers: the key works (for some).
		{name: "a few ok among 403s", answer: func(_, id string) error {
			if strings.HasSuffix(id, "7") {
				return nil
			}
			return forbidden()
		}},
		// Two failures that differ: not one cause.
		{name: "mixed failures", answer: func(_, id string) error {
			if len(id)%2 == 0 {
				return teapot
			}
			return forbidden()
		}},
		// Retries used up is transient, not systemic.
		{name: "retries used up", answer: func(string, string) error {
			return &genauth.Error{Class: genauth.ClassRetryable, HTTPStatus: 503}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := subjects(2000)
			if tt.ids != nil {
				for i := range in {
					in[i].IDType, in[i].UserID = tt.ids(i)
				}
			}
			client := &fakeClient{answer: func(idType, id string) (genauth.MFAInfo, error) {
				if err := tt.answer(idType, id); err != nil {
					return genauth.MFAInfo{}, err
				}
				return genauth.MFAInfo{Attempts: 1}, nil
			}}
			sink := &memSink{t: t}
			const window = 64
			sum, err := Run(context.Background(), &sliceSource{subjects: in}, []Sink{sink}, RunInfo{}, Options{Client: client, MaxUnknown: -1, Window: window})
			if tt.cause == "" {
				if err != nil || !sum.Complete || sum.Stopped || sum.Unique != 2000 {
					t.Fatalf("err %v, complete %v, stopped %v, unique %d: want a complete run", err, sum.Complete, sum.Stopped, sum.Unique)
				}
				return
			}
			var se *SystemicError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SystemicError", err)
			}
			if !strings.Contains(se.Cause, tt.cause) || !strings.Contains(se.Fix, tt.fix) {
				t.Errorf("cause %q, fix %q; want %q and %q", se.Cause, se.Fix, tt.cause, tt.fix)
			}
			// Asking stopped at once: the 50 answers, plus what the
			// window had in flight when the 50th arrived (this client has
			// no limit of its own on requests in flight).
			if n := client.started.Load(); n > SystemicSample+window+1 {
				t.Errorf("%d calls made; want about %d", n, SystemicSample)
			}
			if sum.Complete || !sum.Failed || !sum.Stopped || sink.sum.Incomplete != err.Error() {
				t.Errorf("summary complete %v failed %v stopped %v incomplete %q", sum.Complete, sum.Failed, sum.Stopped, sink.sum.Incomplete)
			}
			if len(sink.results) < SystemicSample || int64(len(sink.results)) != sum.Unique {
				t.Errorf("%d results written, %d unique; want every answered subject written", len(sink.results), sum.Unique)
			}
			if !strings.HasPrefix(sum.Caveat(), "STOPPED EARLY") {
				t.Errorf("caveat %q", sum.Caveat())
			}
		})
	}
}

// A healthy run with 2 % scattered permission errors completes.
func TestScatteredForbiddenCompletes(t *testing.T) {
	client := &fakeClient{answer: func(_, id string) (genauth.MFAInfo, error) {
		var n int
		fmt.Sscanf(id, "u%d", &n)
		if n%50 == 3 {
			return genauth.MFAInfo{}, forbidden()
		}
		return genauth.MFAInfo{Attempts: 1}, nil
	}}
	sum, err := Run(context.Background(), &sliceSource{subjects: subjects(3000)}, nil, RunInfo{}, Options{Client: client, MaxUnknown: -1})
	if err != nil || !sum.Complete || sum.Error != 60 || sum.OK != 2940 {
		t.Fatalf("err %v complete %v error %d ok %d", err, sum.Complete, sum.Error, sum.OK)
	}
}

func TestLooksLike(t *testing.T) {
	for _, tc := range []struct{ idType, id, want string }{
		{"user_id", "ann@example.com", "email"},
		{"email", "ann@example.com", ""},
		{"user_id", "+86 138 0000 0000", "phone"},
		{"user_id", "13800000000", "phone"},
		{"user_id", "000123", "username"},
		{"phone", "13800000000", ""},
		{"user_id", "lark:ou_1714b609aa69b073", "sync_relation"},
		{"user_id", "61f0a08c4282:wx_7ffc083e7f", "identity"},
		{"user_id", "ou_1714b609aa69b073", "sync_relation"},
		{"identity", "61f0a08c4282:wx_7ffc083e7f", ""},
		{"user_id", "63739db00d92600aeac5d935", ""},
		{"user_id", "EMP-10001", "username"},
		{"external_id", "EMP-10001", ""},
		{"username", "emma.smith1", ""},
	} {
		if got := looksLike(tc.idType, tc.id); got != tc.want {
			t.Errorf("looksLike(%s, %q) = %q, want %q", tc.idType, tc.id, got, tc.want)
		}
	}
}
