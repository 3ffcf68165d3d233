package sinks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

func TestJSONLSink(t *testing.T) {
	want := []string{
		`{"user_id":"5f8d0c3e2a1b4c6d7e8f9a0b","id_type":"user_id","outcome":"ok","totp":true,"face":false,"sms":true,"email":false,"factors":2,"mfa":"strong","compliant":true,"attrs":{"department":"Sales, EMEA","name":"Li \"Wei\"\nsecond line"},"error":"","api_code":"","request_id":"req-1","attempts":1,"checked_at":"2024-05-01T01:30:00.123Z","change":null,"non_compliant_since":null,"exception":null,"run_id":"r1"}`,
		`{"user_id":"alice@example.com","id_type":"email","outcome":"not_found","totp":null,"face":null,"sms":null,"email":null,"factors":null,"mfa":"unknown","compliant":null,"attrs":{"department":"=1+2","name":"张伟 📱"},"error":"user not found; phone +86 138 0013 8000 (HTTP 404)","api_code":"2004","request_id":"req-2","attempts":2,"checked_at":"2024-05-01T01:30:01.123Z","change":null,"non_compliant_since":null,"exception":null,"run_id":"r1"}`,
		`{"user_id":"+cmd|' /C calc'!A0","id_type":"user_id","outcome":"invalid","totp":null,"face":null,"sms":null,"email":null,"factors":null,"mfa":"unknown","compliant":null,"attrs":{"department":"-2","name":"@SUM(A1:A9)"},"error":"line 4: unknown id type","api_code":"","request_id":"","attempts":0,"checked_at":null,"change":null,"non_compliant_since":null,"exception":null,"run_id":"r1"}`,
		`{"user_id":"13800138000","id_type":"phone","outcome":"error","totp":null,"face":null,"sms":null,"email":null,"factors":null,"mfa":"unknown","compliant":null,"attrs":{"name":"\tTab"},"error":"HTTP 503 after 6 attempts","api_code":"","request_id":"","attempts":6,"checked_at":"2024-05-01T01:30:02.123Z","change":null,"non_compliant_since":null,"exception":null,"run_id":"r1"}`,
		`{"user_id":"u5","id_type":"username","outcome":"ok","totp":false,"face":null,"sms":false,"email":false,"factors":0,"mfa":"none","compliant":false,"attrs":{},"error":"","api_code":"","request_id":"","attempts":1,"checked_at":"2024-05-01T01:30:00.123Z","change":"new_gap","non_compliant_since":"2024-04-01","exception":null,"run_id":"r1"}`,
	}
	// Masking is for files meant for people: JSON Lines keeps everything.
	for _, mask := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "mfa-audit.jsonl")
		s, err := NewJSONL(path, Options{MaskPII: mask})
		if err != nil {
			t.Fatal(err)
		}
		fsWrite(t, s, fsAttrNames, fsResults(), fsComplete())
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if !reflect.DeepEqual(got, want) {
			for i := range max(len(got), len(want)) {
				if i >= len(got) || i >= len(want) || got[i] != want[i] {
					t.Errorf("mask=%v line %d:\n got %s\nwant %s", mask, i+1, fsAt(got, i), fsAt(want, i))
				}
			}
		}
		// Every line is JSON with the fields of SPEC section 5 in order.
		for i, line := range got {
			if keys, want := fsJSONKeys(t, line), append(slices.Clone(ResultFields), "run_id"); !reflect.DeepEqual(keys, want) {
				t.Errorf("line %d keys %q, want %q", i+1, keys, want)
			}
		}
	}
}

func fsAt(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// jsonKeys returns the top-level keys of a JSON object in order.
func fsJSONKeys(t *testing.T, obj string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", obj)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// marshalJSON is encoding/json's form of s, without HTML escaping.
func fsMarshalJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

var fsJSONStrings = []string{
	"", "plain", `quote " and \ backslash`, "new\nline\r\ttab\b\f", "\x00\x01\x1f\x7f",
	"line\u2028para\u2029end", "bad \xff utf8 \xc3", "truncated \xe2\x82", "<html>&amp;", "用户 📱 é",
	"\ufeffbom", "\ud7ff\ue000\U0010ffff",
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range fsJSONStrings {
		got := string(appendJSONString(nil, s))
		if want := fsMarshalJSON(s); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
		if strings.ContainsAny(got, "\u2028\u2029") {
			t.Errorf("appendJSONString(%q) = %s keeps U+2028/U+2029 raw", s, got)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range fsJSONStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		if want := fsMarshalJSON(s); string(got) != want {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestAppendResultJSONDecodes(t *testing.T) {
	r := fsResults()[0]
	r.Attrs = append(r.Attrs, pipeline.Attr{Key: "k\"\u2028", Value: "v\xff"})
	r.CheckedAt = time.Date(2024, 1, 2, 3, 4, 5, 999_999_999, time.UTC) // milliseconds are cut, not rounded
	line := AppendResultJSON(nil, r)
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	attrs := m["attrs"].(map[string]any)
	if attrs["k\"\u2028"] != "v\ufffd" || m["checked_at"] != "2024-01-02T03:04:05.999Z" || m["factors"] != 2.0 {
		t.Errorf("decoded %v", m)
	}
}

func TestJSONLSinkFiles(t *testing.T) {
	fsTestFiles(t, func(path string) (pipeline.Sink, error) { return NewJSONL(path, Options{}) })
}

func TestJSONLSinkManyLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.jsonl")
	s, err := NewJSONL(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := fsResults()
	const n = 20_000 // more than the write buffer holds
	all := make([]pipeline.Result, n)
	for i := range all {
		all[i] = rs[i%len(rs)]
	}
	fsWrite(t, s, fsAttrNames, all, fsComplete())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("line %d is not JSON: %s", lines+1, sc.Bytes())
		}
		lines++
	}
	if lines != n {
		t.Errorf("%d lines, want %d", lines, n)
	}
}

func BenchmarkJSONLSink(b *testing.B) {
	s, err := NewJSONL(filepath.Join(b.TempDir(), "b.jsonl"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
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

// TestJSONLSinkFlushesWhileRunning: lines reach the temporary file within
// JSONLFlushInterval, with no further Write, so a process killed outright
// leaves them for a resumed run; the temporary file is held (not a
// leftover) until Close.
func TestJSONLSinkFlushesWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "live.jsonl")
		s, err := NewJSONL(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := s.Open(ctx, pipeline.RunInfo{RunID: "r-live"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range fsResults()[:3] {
			if err := s.Write(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		tmp := s.f.Name()
		if b, _ := os.ReadFile(tmp); len(b) != 0 {
			t.Fatalf("%d bytes on disk before the interval: the buffer is not in use", len(b))
		}
		if left, _ := TempLeftovers(path); len(left) != 0 {
			t.Errorf("a live writer's file is listed as a leftover: %v", left)
		}
		time.Sleep(JSONLFlushInterval)
		synctest.Wait()
		b, err := os.ReadFile(tmp)
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(string(b), "\n"); lines != 3 || !strings.HasSuffix(string(b), `"run_id":"r-live"}`+"\n") {
			t.Errorf("after %v the temporary file holds %d lines:\n%s", JSONLFlushInterval, lines, b)
		}
		if err := s.Close(ctx, fsComplete()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("temporary file still there after Close: %v", err)
		}
	})
}

// TestCommitRemovesLeftovers: temporary files of a killed writer (no lock)
// are listed newest first and removed when a later writer commits the same
// path; other files beside it are left alone.
func TestCommitRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.jsonl")
	old := filepath.Join(dir, ".r.jsonl.tmp-111")
	newer := filepath.Join(dir, ".r.jsonl.tmp-222")
	other := filepath.Join(dir, ".other.jsonl.tmp-333")
	for i, n := range []string{old, newer, other} {
		os.WriteFile(n, []byte("x\n"), 0o600)
		mt := time.Now().Add(time.Duration(i-5) * time.Minute)
		os.Chtimes(n, mt, mt)
	}
	left, err := TempLeftovers(path)
	if err != nil || !slices.Equal(left, []string{newer, old}) {
		t.Fatalf("leftovers %v %v, want %v", left, err, []string{newer, old})
	}
	s, _ := NewJSONL(path, Options{})
	fsWrite(t, s, fsAttrNames, fsResults(), fsComplete())
	for _, n := range []string{old, newer} {
		if _, err := os.Stat(n); !os.IsNotExist(err) {
			t.Errorf("%s survived the commit: %v", n, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another output's file was removed: %v", err)
	}
}
