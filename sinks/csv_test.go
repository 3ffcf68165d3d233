package sinks

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

func fsPtr[T any](v T) *T { return &v }

var fsAttrNames = []string{"department", "name"}

var fsCheckedAt = time.Date(2024, 5, 1, 9, 30, 0, 123_456_789, time.FixedZone("CST", 8*3600))

// testResults covers every outcome, nulls, unicode, awkward attributes and
// formula payloads.
func fsResults() []pipeline.Result {
	return []pipeline.Result{
		{
			UserID: "5f8d0c3e2a1b4c6d7e8f9a0b", IDType: "user_id", Outcome: pipeline.OutcomeOK,
			TOTP: fsPtr(true), Face: fsPtr(false), SMS: fsPtr(true), Email: fsPtr(false), Factors: fsPtr(2),
			MFA: pipeline.MFAStrong, Compliant: fsPtr(true),
			Attrs:     pipeline.Attrs{{Key: "department", Value: "Sales, EMEA"}, {Key: "name", Value: "Li \"Wei\"\nsecond line"}},
			RequestID: "req-1", Attempts: 1, CheckedAt: fsCheckedAt,
		},
		{
			UserID: "alice@example.com", IDType: "email", Outcome: pipeline.OutcomeNotFound, MFA: pipeline.MFAUnknown,
			Attrs: pipeline.Attrs{{Key: "department", Value: "=1+2"}, {Key: "name", Value: "张伟 📱"}},
			Error: "user not found; phone +86 138 0013 8000 (HTTP 404)", APICode: "2004", RequestID: "req-2",
			Attempts: 2, CheckedAt: fsCheckedAt.Add(time.Second),
		},
		{
			UserID: "+cmd|' /C calc'!A0", IDType: "user_id", Outcome: pipeline.OutcomeInvalid, MFA: pipeline.MFAUnknown,
			Attrs: pipeline.Attrs{{Key: "department", Value: "-2"}, {Key: "name", Value: "@SUM(A1:A9)"}},
			Error: "line 4: unknown id type", Attempts: 0,
		},
		{
			UserID: "13800138000", IDType: "phone", Outcome: pipeline.OutcomeError, MFA: pipeline.MFAUnknown,
			Attrs: pipeline.Attrs{{Key: "name", Value: "\tTab"}}, // department missing
			Error: "HTTP 503 after 6 attempts", Attempts: 6, CheckedAt: fsCheckedAt.Add(2 * time.Second),
		},
		{
			UserID: "u5", IDType: "username", Outcome: pipeline.OutcomeOK,
			TOTP: fsPtr(false), Face: nil, SMS: fsPtr(false), Email: fsPtr(false), Factors: fsPtr(0),
			MFA: pipeline.MFANone, Compliant: fsPtr(false), Attempts: 1, CheckedAt: fsCheckedAt,
			Change: pipeline.ChangeNewGap, NonCompliantSince: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC),
		},
	}
}

func fsComplete() pipeline.Summary { return pipeline.Summary{Complete: true} }

// writeAll runs a sink's lifecycle over rs.
func fsWrite(t *testing.T, s pipeline.Sink, attrNames []string, rs []pipeline.Result, sum pipeline.Summary) {
	t.Helper()
	ctx := context.Background()
	if err := s.Open(ctx, pipeline.RunInfo{RunID: "r1", AttrNames: attrNames}); err != nil {
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

func fsReadCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestCSVSink(t *testing.T) {
	wantHeader := []string{"user_id", "id_type", "outcome", "totp", "face", "sms", "email", "factors", "mfa", "compliant",
		"attr.department", "attr.name", "error", "api_code", "request_id", "attempts", "checked_at", "change", "non_compliant_since"}
	tests := []struct {
		name string
		mask bool
		want [][]string
	}{
		{
			name: "plain",
			want: [][]string{
				wantHeader,
				{"5f8d0c3e2a1b4c6d7e8f9a0b", "user_id", "ok", "true", "false", "true", "false", "2", "strong", "true",
					"Sales, EMEA", "Li \"Wei\"\nsecond line", "", "", "req-1", "1", "2024-05-01T01:30:00.123Z", "", ""},
				{"alice@example.com", "email", "not_found", "", "", "", "", "", "unknown", "",
					"'=1+2", "张伟 📱", "user not found; phone +86 138 0013 8000 (HTTP 404)", "2004", "req-2", "2", "2024-05-01T01:30:01.123Z", "", ""},
				{"'+cmd|' /C calc'!A0", "user_id", "invalid", "", "", "", "", "", "unknown", "",
					"'-2", "'@SUM(A1:A9)", "line 4: unknown id type", "", "", "0", "", "", ""},
				{"13800138000", "phone", "error", "", "", "", "", "", "unknown", "",
					"", "'\tTab", "HTTP 503 after 6 attempts", "", "", "6", "2024-05-01T01:30:02.123Z", "", ""},
				{"u5", "username", "ok", "false", "", "false", "false", "0", "none", "false",
					"", "", "", "", "", "1", "2024-05-01T01:30:00.123Z", "new_gap", "2024-04-01"},
			},
		},
		{
			name: "masked",
			mask: true,
			want: [][]string{
				wantHeader,
				{"5f8d0c3e2a1b4c6d7e8f9a0b", "user_id", "ok", "true", "false", "true", "false", "2", "strong", "true",
					"Sales, EMEA", "Li \"Wei\"\nsecond line", "", "", "req-1", "1", "2024-05-01T01:30:00.123Z", "", ""},
				{"a***@***.com", "email", "not_found", "", "", "", "", "", "unknown", "",
					"'=1+2", "张伟 📱", "user not found; phone +** *** **** 8000 (HTTP 404)", "2004", "req-2", "2", "2024-05-01T01:30:01.123Z", "", ""},
				{"'+cmd|' /C calc'!A0", "user_id", "invalid", "", "", "", "", "", "unknown", "",
					"'-2", "'@SUM(A1:A9)", "line 4: unknown id type", "", "", "0", "", "", ""},
				{"*******8000", "phone", "error", "", "", "", "", "", "unknown", "",
					"", "'\tTab", "HTTP 503 after 6 attempts", "", "", "6", "2024-05-01T01:30:02.123Z", "", ""},
				{"u5", "username", "ok", "false", "", "false", "false", "0", "none", "false",
					"", "", "", "", "", "1", "2024-05-01T01:30:00.123Z", "new_gap", "2024-04-01"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out", "mfa-audit.csv")
			s, err := NewCSV(path, Options{MaskPII: tt.mask})
			if err != nil {
				t.Fatal(err)
			}
			fsWrite(t, s, fsAttrNames, fsResults(), fsComplete())
			got := fsReadCSV(t, path)
			if !reflect.DeepEqual(got, tt.want) {
				for i := range max(len(got), len(tt.want)) {
					var g, w []string
					if i < len(got) {
						g = got[i]
					}
					if i < len(tt.want) {
						w = tt.want[i]
					}
					if !reflect.DeepEqual(g, w) {
						t.Errorf("row %d:\n got %q\nwant %q", i, g, w)
					}
				}
			}
		})
	}
}

func TestCSVSinkNoAttrs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.csv")
	s, err := NewCSV(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fsWrite(t, s, nil, fsResults()[:1], fsComplete())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "user_id,id_type,outcome,totp,face,sms,email,factors,mfa,compliant,error,api_code,request_id,attempts,checked_at,change,non_compliant_since\n" +
		"5f8d0c3e2a1b4c6d7e8f9a0b,user_id,ok,true,false,true,false,2,strong,true,,,req-1,1,2024-05-01T01:30:00.123Z,,\n"
	if string(b) != want {
		t.Errorf("file:\n%s\nwant:\n%s", b, want)
	}
}

func TestResultRowAttrLookup(t *testing.T) {
	r := pipeline.Result{Attrs: pipeline.Attrs{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}, {Key: "extra", Value: "x"}}}
	row := ResultRow(r, []string{"a", "b", "c"}, nil)
	if got := row[10:13]; !reflect.DeepEqual(got, []string{"1", "2", ""}) {
		t.Errorf("attribute cells = %q", got)
	}
	if n, h := len(row), len(ResultHeader([]string{"a", "b", "c"})); n != h {
		t.Errorf("row has %d cells, header %d", n, h)
	}
}

// testSinkFiles checks what a file sink leaves on disk: nothing under the
// path until Close, a marker for an incomplete run removed by a complete
// one, no temporary files, and a harmless Close without Open.
func fsTestFiles(t *testing.T, newSink func(path string) (pipeline.Sink, error)) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "report")
	marker := path + ".incomplete"

	s, err := newSink(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx, pipeline.RunInfo{AttrNames: fsAttrNames}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, fsResults()[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists before Close (%v)", path, err)
	}
	if err := s.Close(ctx, pipeline.Summary{Incomplete: "interrupted by SIGTERM"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("after Close: %v", err)
	}
	b, err := os.ReadFile(marker)
	if err != nil || !strings.Contains(string(b), "interrupted by SIGTERM") {
		t.Errorf("marker %q, %v; want the reason", b, err)
	}
	if err := s.Close(ctx, fsComplete()); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// Incomplete without a reason still leaves a marker.
	s, _ = newSink(path)
	fsWrite(t, s, fsAttrNames, fsResults(), pipeline.Summary{})
	if b, err := os.ReadFile(marker); err != nil || len(b) == 0 {
		t.Errorf("marker %q, %v; want a reason", b, err)
	}

	// A complete run replaces the file and removes the marker.
	s, _ = newSink(path)
	fsWrite(t, s, fsAttrNames, fsResults(), fsComplete())
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("marker still there after a complete run (%v)", err)
	}

	// Close without Open does nothing.
	other := filepath.Join(dir, "never")
	s, _ = newSink(other)
	if err := s.Close(ctx, pipeline.Summary{Incomplete: "x"}); err != nil {
		t.Errorf("Close without Open: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"report"}; !reflect.DeepEqual(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}

	// A directory that cannot be made is a configuration error.
	if _, err := newSink(filepath.Join(path, "sub", "x")); err == nil {
		t.Error("sink under a regular file: no error")
	}
}

func TestCSVSinkFiles(t *testing.T) {
	fsTestFiles(t, func(path string) (pipeline.Sink, error) { return NewCSV(path, Options{}) })
}

func BenchmarkCSVSink(b *testing.B) {
	s, err := NewCSV(filepath.Join(b.TempDir(), "b.csv"), Options{MaskPII: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Open(ctx, pipeline.RunInfo{AttrNames: fsAttrNames}); err != nil {
		b.Fatal(err)
	}
	rs := fsResults()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Write(ctx, rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.Close(ctx, fsComplete())
}
