package sources_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/sources"
)

// TestResultsJSONLRunID: the run id of a results file is its run_id field,
// never its name; a file of two runs is refused at the first line of the
// second.
func TestResultsJSONLRunID(t *testing.T) {
	dir := t.TempDir()
	line := func(id, run string) string {
		l := `{"user_id":"` + id + `","id_type":"user_id","outcome":"ok","totp":true,"face":false,"sms":false,"email":false,"checked_at":"2024-05-01T01:30:00Z"`
		if run != "-" {
			l += `,"run_id":"` + run + `"`
		}
		return l + "}\n"
	}
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600)
		return p
	}
	for _, c := range []struct {
		path, want string
	}{
		{write("mfa.jsonl", line("u1", "20240501T010000Z-aaaaaa"), line("u2", "20240501T010000Z-aaaaaa")), "20240501T010000Z-aaaaaa"},
		{write("old.jsonl", line("u1", "-"), line("u2", "-")), ""},
		{write("empty.jsonl"), ""},
	} {
		s, err := sources.OpenResultsJSONL(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Run().RunID; got != c.want {
			t.Errorf("%s: RunID %q, want %q", filepath.Base(c.path), got, c.want)
		}
		if _, err := readStored(t, s); err != nil {
			t.Errorf("%s: %v", filepath.Base(c.path), err)
		}
		s.Close()
	}
	joined := write("joined.jsonl", line("u1", "night-1"), line("u2", "night-1"), "\n", line("u1", "night-2"))
	s, err := sources.OpenResultsJSONL(joined)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = readStored(t, s)
	if err == nil || !strings.Contains(err.Error(), joined+" line 4") || !strings.Contains(err.Error(), `"night-2"`) || !strings.Contains(err.Error(), "one run") {
		t.Errorf("joined files: %v, want an error at line 4 naming both runs", err)
	}
	// A line without run_id amid lines with one is refused too.
	mixed := write("mixed.jsonl", line("u1", "night-1"), line("u2", "-"))
	s2, err := sources.OpenResultsJSONL(mixed)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := readStored(t, s2); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("mixed: %v, want an error at line 2", err)
	}
}
