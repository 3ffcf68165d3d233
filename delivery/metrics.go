package delivery

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/mfa-audit/mfa-audit/internal/fsmode"
)

// MetricsJob is the Pushgateway job name.
const MetricsJob = "mfa_audit"

// lastSuccess is the one series carried from an earlier run when this one
// did not succeed.
const lastSuccess = "mfa_audit_last_success_timestamp_seconds"

// RunMetrics are the figures of one run, as SPEC 16 names them.
type RunMetrics struct {
	Subjects map[string]int64 // by outcome: ok, not_found, invalid, error
	Users    map[string]int64 // by mfa: strong, weak, none, unknown
	// Coverage and Completeness are ratios in [0,1]; nil when there is
	// nothing to divide by (the series is then left out, not shown as 0).
	Coverage, Completeness *float64
	NewGaps                *int64           // nil without a baseline
	Exceptions             map[string]int64 // by state; nil without a register
	Requests               int64
	Retries                int64
	Throttled              int64
	Duration               time.Duration
	ExitCode               int
	Finished               time.Time
	// Success marks a run whose figures are final (complete: exit 0 or 3);
	// only then is the last-success timestamp set.
	Success bool
	// Grouping labels for the Pushgateway beside job (e.g. shard), so
	// that the pods of an Indexed Job do not overwrite each other.
	Grouping map[string]string
}

// registry renders m as Prometheus metrics. lastOK, when not zero, is the
// last-success time to keep when m is not a success.
func (m RunMetrics) registry(lastOK float64) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	counter := func(name, help string, v int64) {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		c.Add(float64(v))
		reg.MustRegister(c)
	}
	vec := func(name, help, label string, keys []string, vals map[string]int64) {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{label})
		for _, k := range keys {
			g.WithLabelValues(k).Set(float64(vals[k]))
		}
		reg.MustRegister(g)
	}
	vec("mfa_audit_subjects", "Subjects of the last run by outcome.", "outcome", []string{"ok", "not_found", "invalid", "error"}, m.Subjects)
	vec("mfa_audit_users", "Subjects of the last run by MFA strength.", "mfa", []string{"strong", "weak", "none", "unknown"}, m.Users)
	if m.Coverage != nil {
		gauge("mfa_audit_coverage_ratio", "Compliant users / users answered, last run.", *m.Coverage)
	}
	if m.Completeness != nil {
		gauge("mfa_audit_completeness_ratio", "Users answered / users auditable, last run.", *m.Completeness)
	}
	if m.NewGaps != nil {
		gauge("mfa_audit_new_gaps", "Users compliant in the baseline and not in the last run.", float64(*m.NewGaps))
	}
	if m.Exceptions != nil {
		vec("mfa_audit_exceptions", "Exceptions register entries by state, last run.", "state",
			[]string{"active", "expiring", "expired", "unneeded", "stale"}, m.Exceptions)
	}
	counter("mfa_audit_api_requests_total", "HTTP requests to the GenAuth API in the last run.", m.Requests)
	counter("mfa_audit_api_retries_total", "Retried requests in the last run.", m.Retries)
	counter("mfa_audit_api_throttled_total", "Requests the API throttled (429) in the last run.", m.Throttled)
	gauge("mfa_audit_duration_seconds", "Duration of the last run.", m.Duration.Seconds())
	gauge("mfa_audit_exit_code", "Exit code of the last run (0 ok, 1 failed or incomplete, 2 configuration, 3 below policy).", float64(m.ExitCode))
	finished := float64(m.Finished.UnixNano()) / 1e9
	gauge("mfa_audit_last_run_timestamp_seconds", "When the last run finished.", finished)
	switch {
	case m.Success:
		gauge(lastSuccess, "When the last successful (complete) run finished.", finished)
	case lastOK > 0:
		gauge(lastSuccess, "When the last successful (complete) run finished.", lastOK)
	}
	return reg
}

// Push sends m to the Pushgateway at url, job mfa_audit. It replaces the
// series of the names it sends and leaves the others, so a failed run keeps
// the last-success timestamp an earlier run pushed.
func Push(ctx context.Context, url string, m RunMetrics) error {
	p := push.New(url, MetricsJob).Gatherer(m.registry(0)).Client(&http.Client{Timeout: 30 * time.Second})
	for k, v := range m.Grouping {
		p = p.Grouping(k, v)
	}
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("AUDIT_PUSHGATEWAY_URL: pushing metrics: %w", err)
	}
	return nil
}

// WriteFile writes m in the text format for node_exporter's textfile
// collector, atomically (a temporary file renamed into place), with mode
// (under the umask). A failed run keeps the last-success timestamp of the
// file it replaces.
func WriteFile(path string, m RunMetrics, mode os.FileMode) error {
	var keep float64
	if !m.Success {
		keep = readLastSuccess(path)
	}
	if err := prometheus.WriteToTextfile(path, m.registry(keep)); err != nil {
		return fmt.Errorf("AUDIT_METRICS_FILE: %w", err)
	}
	if err := os.Chmod(path, fsmode.Masked(mode)); err != nil {
		return fmt.Errorf("AUDIT_METRICS_FILE: %w", err)
	}
	return nil
}

// readLastSuccess returns the last-success value of an earlier metrics
// file at path, or 0.
func readLastSuccess(path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, lastSuccess+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
}
