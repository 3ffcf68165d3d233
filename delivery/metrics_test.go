package delivery

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/push"
)

func sample(success bool, finished time.Time, exit int) RunMetrics {
	cov, comp := 0.8125, 1.0
	gaps := int64(3)
	return RunMetrics{
		Subjects:     map[string]int64{"ok": 380, "not_found": 12, "invalid": 5, "error": 3},
		Users:        map[string]int64{"strong": 200, "weak": 109, "none": 71, "unknown": 20},
		Coverage:     &cov,
		Completeness: &comp,
		NewGaps:      &gaps,
		Exceptions:   map[string]int64{"active": 4, "expired": 1},
		Requests:     450, Retries: 50, Throttled: 20,
		Duration: 95 * time.Second, ExitCode: exit, Finished: finished, Success: success,
	}
}

// series reads name{labels} value lines from the text format.
func series(t *testing.T, text string, filter string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "mfa_audit_") || !strings.Contains(line, filter) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		key := line[:i]
		if j := strings.IndexByte(key, '{'); j >= 0 {
			// keep only the SPEC's own label (outcome, mfa, state)
			labels := strings.Split(strings.Trim(key[j:], "{}"), ",")
			kept := ""
			for _, l := range labels {
				if strings.HasPrefix(l, "outcome=") || strings.HasPrefix(l, "mfa=") || strings.HasPrefix(l, "state=") {
					kept = "{" + l + "}"
				}
			}
			key = key[:j] + kept
		}
		out[key] = v
	}
	return out
}

func TestMetricsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mfa_audit.prom")
	ok := time.Date(2026, 12, 5, 2, 30, 0, 0, time.UTC)
	if err := WriteFile(path, sample(true, ok, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := ok.Add(24 * time.Hour)
	if err := WriteFile(path, sample(false, failed, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := series(t, string(b), "")
	want := map[string]float64{
		`mfa_audit_subjects{outcome="ok"}`:         380,
		`mfa_audit_subjects{outcome="error"}`:      3,
		`mfa_audit_users{mfa="none"}`:              71,
		`mfa_audit_users{mfa="unknown"}`:           20,
		"mfa_audit_coverage_ratio":                 0.8125,
		"mfa_audit_completeness_ratio":             1,
		"mfa_audit_new_gaps":                       3,
		`mfa_audit_exceptions{state="active"}`:     4,
		`mfa_audit_exceptions{state="stale"}`:      0,
		"mfa_audit_api_requests_total":             450,
		"mfa_audit_api_retries_total":              50,
		"mfa_audit_api_throttled_total":            20,
		"mfa_audit_duration_seconds":               95,
		"mfa_audit_exit_code":                      1,
		"mfa_audit_last_run_timestamp_seconds":     float64(failed.Unix()),
		"mfa_audit_last_success_timestamp_seconds": float64(ok.Unix()),
	}
	for k, v := range want {
		if got, found := s[k]; !found || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, found, v)
		}
	}
}

func TestMetricsPushgateway(t *testing.T) {
	v := testServer(t, "a Prometheus Pushgateway", "AUDIT_TEST_PUSHGATEWAY_URL")
	var id [4]byte
	rand.Read(id[:])
	group := map[string]string{"test": hex.EncodeToString(id[:])}
	t.Cleanup(func() { push.New(v[0], MetricsJob).Grouping("test", group["test"]).Delete() })
	ok := time.Date(2026, 12, 5, 2, 30, 0, 0, time.UTC)
	m := sample(true, ok, 0)
	m.Grouping = group
	if err := Push(context.Background(), v[0], m); err != nil {
		t.Fatal(err)
	}
	failed := sample(false, ok.Add(24*time.Hour), 1)
	failed.Grouping = group
	failed.Coverage = nil
	if err := Push(context.Background(), v[0], failed); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(v[0] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	s := series(t, b.String(), `test="`+group["test"]+`"`)
	if got := s["mfa_audit_last_success_timestamp_seconds"]; got != float64(ok.Unix()) {
		t.Errorf("last success after a failed push = %v, want the earlier success %v", got, ok.Unix())
	}
	if got := s["mfa_audit_exit_code"]; got != 1 {
		t.Errorf("exit code %v", got)
	}
	if got := s["mfa_audit_last_run_timestamp_seconds"]; got != float64(ok.Add(24*time.Hour).Unix()) {
		t.Errorf("last run %v", got)
	}
	if got := s[`mfa_audit_subjects{outcome="ok"}`]; got != 380 {
		t.Errorf("subjects ok %v", got)
	}
}
