package sources_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sinks"
	"github.com/mfa-audit/mfa-audit/sources"
)

func jlPtr[T any](v T) *T { return &v }

// storedResults are results as a JSON Lines file keeps them: checked_at in
// UTC to the millisecond, no Line, attributes varying from line to line.
func storedResults() []pipeline.Result {
	at := time.Date(2024, 5, 1, 1, 30, 0, 123_000_000, time.UTC)
	return []pipeline.Result{
		{
			UserID: "5f8d0c3e2a1b4c6d7e8f9a0b", IDType: "user_id", Outcome: pipeline.OutcomeOK,
			TOTP: jlPtr(true), Face: jlPtr(false), SMS: jlPtr(true), Email: jlPtr(false), Factors: jlPtr(2),
			MFA: pipeline.MFAStrong, Compliant: jlPtr(true),
			Attrs:     pipeline.Attrs{{Key: "department", Value: "Sales, EMEA"}, {Key: "name", Value: "Li \"Wei\"\nline\u2028two"}},
			RequestID: "req-1", Attempts: 1, CheckedAt: at,
		},
		{
			UserID: "alice@example.com", IDType: "email", Outcome: pipeline.OutcomeNotFound, MFA: pipeline.MFAUnknown,
			Attrs: pipeline.Attrs{{Key: "department", Value: "=1+2"}, {Key: "name", Value: "张伟 📱"}},
			Error: "user not found (HTTP 404)", APICode: "2004", RequestID: "req-2", Attempts: 2, CheckedAt: at.Add(time.Second),
		},
		{
			UserID: "", IDType: "user_id", Outcome: pipeline.OutcomeInvalid, MFA: pipeline.MFAUnknown,
			Attrs: pipeline.Attrs{{Key: "department", Value: "-2"}, {Key: "name", Value: ""}, {Key: "manager", Value: "bob"}},
			Error: "line 4: empty user id",
		},
		{
			UserID: "13800138000", IDType: "phone", Outcome: pipeline.OutcomeError, MFA: pipeline.MFAUnknown,
			Error: "HTTP 503 after 6 attempts", Attempts: 6, CheckedAt: at.Add(2 * time.Second),
		},
		{
			UserID: "u5", IDType: "username", Outcome: pipeline.OutcomeOK,
			TOTP: jlPtr(false), SMS: jlPtr(false), Email: jlPtr(false), Factors: jlPtr(0),
			MFA: pipeline.MFANone, Compliant: jlPtr(false), Attempts: 1, CheckedAt: at,
			Attrs: pipeline.Attrs{{Key: "department", Value: "Ops"}, {Key: "name", Value: "U"}},
		},
	}
}

func writeStored(t *testing.T, path string, rs []pipeline.Result, sum pipeline.Summary) {
	t.Helper()
	ctx := context.Background()
	s, err := sinks.NewJSONL(path, sinks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, pipeline.RunInfo{RunID: "night-2024-05-01", AttrNames: []string{"department", "name"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := s.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx, sum); err != nil {
		t.Fatal(err)
	}
}

func readStored(t *testing.T, s *sources.ResultsJSONL) ([]pipeline.Result, error) {
	t.Helper()
	var rs []pipeline.Result
	for {
		r, err := s.Next(context.Background())
		if err == pipeline.EOF {
			return rs, nil
		}
		if err != nil {
			return rs, err
		}
		rs = append(rs, r)
	}
}

func TestResultsJSONLRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run-2024-05-01.jsonl")
	want := storedResults()
	writeStored(t, path, want, pipeline.Summary{Complete: true})

	s, err := sources.OpenResultsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run := s.Run()
	if run.RunID != "night-2024-05-01" || run.Source != path || !run.StartedAt.Equal(want[0].CheckedAt) {
		t.Errorf("Run() = %+v", run)
	}
	if !reflect.DeepEqual(run.AttrNames, []string{"department", "name"}) {
		t.Errorf("AttrNames at open = %q", run.AttrNames)
	}
	if complete, why := s.Stored(); !complete || why != "" {
		t.Errorf("Stored() = %v, %q; want complete", complete, why)
	}
	got, err := readStored(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			if i >= len(got) || i >= len(want) || !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("result %d:\n got %+v\nwant %+v", i, jlAt(got, i), jlAt(want, i))
			}
		}
	}
	if names := s.Run().AttrNames; !reflect.DeepEqual(names, []string{"department", "name", "manager"}) {
		t.Errorf("AttrNames after reading = %q", names)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func jlAt(rs []pipeline.Result, i int) any {
	if i < len(rs) {
		return rs[i]
	}
	return "(none)"
}

func TestResultsJSONLIncomplete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	writeStored(t, path, storedResults()[:2], pipeline.Summary{Incomplete: "interrupted by SIGTERM after 2 of 5 subjects"})
	s, err := sources.OpenResultsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if complete, why := s.Stored(); complete || why != "interrupted by SIGTERM after 2 of 5 subjects" {
		t.Errorf("Stored() = %v, %q", complete, why)
	}
	if got, err := readStored(t, s); err != nil || len(got) != 2 {
		t.Errorf("read %d results, %v", len(got), err)
	}
}

func TestResultsJSONLTolerant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.jsonl")
	content := "\n" +
		`{"user_id":"u1","outcome":"ok","totp":true,"api_code":2004,"attrs":{"n":1,"b":true,"z":null},"future_field":[1]}` + "\n" +
		"   \r\n" +
		`{"user_id":"u2","id_type":"email","outcome":"not_found","checked_at":"2024-05-01T09:30:00.5+08:00"}` + "\r\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := sources.OpenResultsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := readStored(t, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []pipeline.Result{
		{UserID: "u1", Outcome: pipeline.OutcomeOK, TOTP: jlPtr(true), Factors: jlPtr(1), MFA: pipeline.MFAStrong, APICode: "2004",
			Attrs: pipeline.Attrs{{Key: "n", Value: "1"}, {Key: "b", Value: "true"}, {Key: "z", Value: ""}}},
		{UserID: "u2", IDType: "email", Outcome: pipeline.OutcomeNotFound, MFA: pipeline.MFAUnknown,
			CheckedAt: time.Date(2024, 5, 1, 1, 30, 0, 500_000_000, time.UTC)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if run := s.Run(); !run.StartedAt.IsZero() || !reflect.DeepEqual(run.AttrNames, []string{"n", "b", "z"}) {
		t.Errorf("Run() = %+v", run)
	}
}

func TestResultsJSONLErrors(t *testing.T) {
	good := `{"user_id":"u1","outcome":"ok"}`
	tests := []struct {
		name    string
		content string
		atOpen  bool
		want    string
	}{
		{"malformed first line", "{\"user_id\":\n", true, "bad.jsonl line 1:"},
		{"malformed later line", good + "\n\n" + `{"user_id":"u2",` + "\n" + good + "\n", false, "bad.jsonl line 3:"},
		{"no user_id", good + "\n" + `{"outcome":"ok"}` + "\n", false, `bad.jsonl line 2: no "user_id"`},
		{"unknown outcome", good + "\n" + `{"user_id":"u2","outcome":"maybe"}` + "\n", false, `bad.jsonl line 2: outcome "maybe"`},
		{"nested attrs", good + "\n" + `{"user_id":"u2","outcome":"ok","attrs":{"a":{"b":1}}}` + "\n", false, "bad.jsonl line 2: attrs:"},
		{"bad time", good + "\n" + `{"user_id":"u2","outcome":"ok","checked_at":"yesterday"}` + "\n", false, "bad.jsonl line 2: checked_at:"},
		{"not JSON", "user_id,outcome\nu1,ok\n", true, "bad.jsonl line 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := sources.OpenResultsJSONL(path)
			if tt.atOpen {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("OpenResultsJSONL error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := readStored(t, s)
			if len(got) != 1 || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("read %d results, error %v; want 1 and %q", len(got), err, tt.want)
			}
			if _, err2 := s.Next(context.Background()); err2 != err {
				t.Errorf("Next after the error = %v, want the same error", err2)
			}
		})
	}

	t.Run("empty file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "empty.jsonl")
		os.WriteFile(path, nil, 0o644)
		s, err := sources.OpenResultsJSONL(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Next(context.Background()); err != pipeline.EOF {
			t.Errorf("Next = %v, want EOF", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := sources.OpenResultsJSONL(filepath.Join(t.TempDir(), "none.jsonl")); !os.IsNotExist(err) {
			t.Errorf("error %v, want not-exist", err)
		}
	})
}
