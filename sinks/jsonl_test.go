package sinks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

func TestJSONLSink(t *testing.T) {
	want := []string{
		`{"user_id":"5f8d0c3e2a1b4c6d7e8f9a0b","id_type":"user_id","outcome":"ok","totp":true,"face":false,"sms":true,"email":false,"factors":2,"mfa":"strong","compliant":true,"attrs":{"department":"Sales, EMEA","name":"Li \"Wei\"\nsecond line"},"error":"","api_code":"","request_id":"req-1","attempts":1,"checked_at":"2024-05-01T01:30:00.123Z","change":null,"non_compliant_since":null,"exception":null}`,
		`{"user_id":"alice@example.com","id_type":"email","outcome":"not_found","totp":null,"face":null,"sms":null,"email":null,"factors":null,"mfa":"unknown","compliant":null,"attrs":{"department":"=1+2","name":"张伟 📱"},"error":"user not found; phone +86 138 0013 8000 (HTTP 404)","api_code":"2004","request_id":"req-2","attempts":2,"checked_at":"2024-05-01T01:30:01.123Z","change":null,"non_compliant_since":null,"exception":null}`,
		`{"user_id":"+cmd|' /C calc'!A0","id_type":"user_id","outcome":"invalid","totp":null,"face":null,"sms":null,"email":null,"factors":null,"mfa":"unknown","compliant":null,"attrs":{"department":"-2","name":"@SUM(A1:A9)"},"error":"line 4: unknown id type","api_code":"","request_id":"","attempts":0,"checked_at":null,"change":null,"non_compliant_since":null,"exception":null}`,
		`{"user_id":"13800138000","id_type":"phone","outcome":"error","totp":null,"face":null,"sms":null,"email":null,"factors":null,"mfa":"unknown","compliant":null,"attrs":{"name":"\tTab"},"error":"HTTP 503 after 6 attempts","api_code":"","request_id":"","attempts":6,"checked_at":"2024-05-01T01:30:02.123Z","change":null,"non_compliant_since":null,"exception":null}`,
		`{"user_id":"u5","id_type":"username","outcome":"ok","totp":false,"face":null,"sms":false,"email":false,"factors":0,"mfa":"none","compliant":false,"attrs":{},"error":"","api_code":"","request_id":"","attempts":1,"checked_at":"2024-05-01T01:30:00.123Z","change":"new_gap","non_compliant_since":"2024-04-01","exception":null}`,
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
			if keys := fsJSONKeys(t, line); !reflect.DeepEqual(keys, ResultFields) {
				t.Errorf("line %d keys %q, want %q", i+1, keys, ResultFields)
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
