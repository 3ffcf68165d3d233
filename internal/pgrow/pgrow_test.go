package pgrow

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/internal/pgtest"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

func TestDecodeAttrs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		json  string
		order []string
		want  pipeline.Attrs
	}{
		{"empty column", "", nil, nil},
		{"empty object", "{}", []string{"a"}, nil},
		{"run order first, then by name", `{"z": "1", "name": "N", "b": "2", "department": "D"}`, []string{"department", "name", "absent"},
			pipeline.Attrs{{Key: "department", Value: "D"}, {Key: "name", Value: "N"}, {Key: "b", Value: "2"}, {Key: "z", Value: "1"}}},
		{"values of other tools", `{"n": 42, "x": null, "o": {"k": true}}`, nil,
			pipeline.Attrs{{Key: "n", Value: "42"}, {Key: "o", Value: `{"k": true}`}, {Key: "x", Value: ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeAttrs([]byte(tc.json), tc.order)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
	if _, err := DecodeAttrs([]byte("[1]"), nil); err == nil {
		t.Error("an array decoded without error")
	}
}

// TestScan reads rows shaped like the results table from a VALUES list.
func TestScan(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT `+Columns+` FROM (VALUES
		('u1', 'user_id', 'ok', true, false, NULL::boolean, true, 2, 'strong', true,
		 '{"name": "N", "department": "D"}'::jsonb, NULL::text, NULL::text, 'rq-1', 1,
		 '2025-03-01 12:00:00+02'::timestamptz, 2::bigint,
		 '{"state": "unneeded", "reason": "R", "approved_by": "A", "expires": "2026-01-31", "ticket": ""}'::jsonb, 'fixed', NULL::date),
		('u2', 'email', 'error', NULL, NULL, NULL, NULL, NULL::int, 'unknown', false,
		 '{}', 'HTTP 503', '503', NULL, 5, NULL, 3, NULL, NULL, '2025-02-03'::date)
	) AS results(user_id, id_type, outcome, totp, face, sms, email, factors, mfa, compliant,
		attrs, error, api_code, request_id, attempts, checked_at, line, exception, change, non_compliant_since)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []pipeline.Result
	for rows.Next() {
		r, err := Scan(rows, []string{"department", "name"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	yes, no, two := true, false, 2
	want := []pipeline.Result{{
		UserID: "u1", IDType: "user_id", Outcome: pipeline.OutcomeOK,
		TOTP: &yes, Face: &no, Email: &yes, Factors: &two, MFA: "strong", Compliant: &yes,
		Attrs:     pipeline.Attrs{{Key: "department", Value: "D"}, {Key: "name", Value: "N"}},
		RequestID: "rq-1", Attempts: 1, CheckedAt: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Line: 2,
		Exception: &pipeline.Exception{State: "unneeded", Reason: "R", ApprovedBy: "A", Expires: "2026-01-31"},
		Change:    pipeline.ChangeFixed,
	}, {
		UserID: "u2", IDType: "email", Outcome: pipeline.OutcomeError, MFA: "unknown", Compliant: &no,
		Error: "HTTP 503", APICode: "503", Attempts: 5, Line: 3,
		NonCompliantSince: time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC),
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
